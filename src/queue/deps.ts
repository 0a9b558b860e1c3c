/**
 * BullMQ and ioredis are optional peer dependencies: they are imported only when a queue is used,
 * so `import "videoscore2-native"` works without them and says what to install when they are missing.
 */
import { VideoScoreError } from "../addon/errors.js";

type BullMQ = typeof import("bullmq");
/** What we use of ioredis (its CJS default export makes `typeof import` differ between module modes). */
type IORedis = { Redis: typeof import("ioredis").Redis };

let bull: Promise<BullMQ> | undefined;
let ioredis: Promise<IORedis> | undefined;

function missing(name: string, e: unknown): VideoScoreError {
  return new VideoScoreError("ERR_INVALID_OPTION", `Expected ${name} to be installed for queue scoring but it could not be imported: npm install bullmq ioredis`, { cause: e });
}

/** The bullmq module. @throws VideoScoreError ERR_INVALID_OPTION when it is not installed. */
export function loadBullMQ(): Promise<BullMQ> {
  bull ??= import("bullmq").catch((e: unknown) => {
    bull = undefined;
    throw missing("bullmq", e);
  });
  return bull;
}

/** The ioredis module. @throws VideoScoreError ERR_INVALID_OPTION when it is not installed. */
export function loadIORedis(): Promise<IORedis> {
  ioredis ??= import("ioredis").then(
    (m) => ({ Redis: m.Redis }),
    (e: unknown) => {
      ioredis = undefined;
      throw missing("ioredis", e);
    },
  );
  return ioredis;
}
