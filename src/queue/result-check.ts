/**
 * A completed job's value comes from whoever can write to Redis, not necessarily one of our workers:
 * before a collector hands it on (to the CLI's output, to the HTML report) it must be a ScoreResult
 * whose every field has its type, numbers that are numbers. Anything else is ERR_QUEUE_FORMAT.
 */
import { VideoScoreError } from "../addon/errors.js";
import type { ScoreResult } from "../scorer/result.js";
import { JOB_FORMAT } from "./job.js";

type Check = (v: unknown, at: string) => void;

class Bad extends Error {}
const fail = (at: string, expected: string, v: unknown): never => {
  const shown = typeof v === "string" ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) : Array.isArray(v) ? "an array" : v === null ? "null" : typeof v;
  throw new Bad(`${at} is ${shown}, expected ${expected}`);
};

const finite: Check = (v, at) => void (typeof v === "number" && Number.isFinite(v) ? 0 : fail(at, "a finite number", v));
const int: Check = (v, at) => void (Number.isInteger(v) ? 0 : fail(at, "an integer", v));
const str: Check = (v, at) => void (typeof v === "string" ? 0 : fail(at, "a string", v));
const oneOf = (...xs: string[]): Check => (v, at) => void (xs.includes(v as string) ? 0 : fail(at, xs.map((x) => JSON.stringify(x)).join(" or "), v));
const nullable = (c: Check): Check => (v, at) => void (v === null ? 0 : c(v, at));
const optional = (c: Check): Check => (v, at) => void (v === undefined ? 0 : c(v, at));
const arrayOf = (c: Check, length?: number): Check => (v, at) => {
  if (!Array.isArray(v) || (length !== undefined && v.length !== length)) return fail(at, length === undefined ? "an array" : `an array of ${length}`, v);
  v.forEach((x, i) => c(x, `${at}[${i}]`));
};
const score: Check = (v, at) => void (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 5 ? 0 : fail(at, "an integer in [1, 5]", v));
const object = (shape: Record<string, Check>): Check => (v, at) => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return fail(at, "an object", v);
  for (const [k, c] of Object.entries(shape)) c((v as Record<string, unknown>)[k], at ? `${at}.${k}` : k);
};

const DIMENSION = object({
  score: nullable(score),
  soft: nullable(finite),
  expected: nullable(finite),
  probs: nullable(arrayOf(finite, 5)),
  rawProbs: nullable(arrayOf(finite, 5)),
  tokenIndex: int,
  mean: optional(nullable(finite)),
  std: optional(nullable(finite)),
  majority: optional(nullable(score)),
  agreement: optional(finite),
  answered: optional(int),
});
const DIMS = { visualQuality: DIMENSION, textAlignment: DIMENSION, physicalConsistency: DIMENSION };
const TEXT = { rationale: str, text: str, tokens: arrayOf(int), stopReason: oneOf("eos", "max_tokens") };
const RESULT = object({
  ...DIMS,
  ...TEXT,
  mode: oneOf("think", "direct"),
  samples: optional(arrayOf(object({ ...DIMS, ...TEXT, seed: int }))),
  unanswered: optional(int),
  frames: object({ count: int, width: int, height: int, indices: arrayOf(int), sourceWidth: int, sourceHeight: int, totalFrames: int, nativeFps: finite }),
  timings: object(
    Object.fromEntries(
      ["sampleMs", "sampleTotalMs", "encodeMs", "prefillMs", "generateMs", "totalMs", "promptTokens", "generatedTokens", "decodedTokens", "sharedSteps", "tokensPerSecond"].map((k) => [k, finite]),
    ),
  ),
});

/**
 * `v` as a ScoreResult.
 * @throws VideoScoreError ERR_QUEUE_FORMAT naming the first field that is not what a worker writes.
 */
export function checkScoreResult(v: unknown, what: string, at = ""): ScoreResult {
  try {
    RESULT(v, at);
  } catch (e) {
    if (!(e instanceof Bad)) throw e;
    throw new VideoScoreError("ERR_QUEUE_FORMAT", `${what} completed with a value that is not a ScoreResult (${e.message.replace(/^ is/, "the value is")}): it was not written by a videoscore2 worker of this release`);
  }
  return v as ScoreResult;
}

/**
 * The result of a completed job's value (`{ v, result }`).
 * @throws VideoScoreError ERR_QUEUE_FORMAT when it is of another format version or not a ScoreResult.
 */
export function checkJobResult(value: unknown, what: string): ScoreResult {
  const v = typeof value === "object" && value !== null && !Array.isArray(value) ? (value as { v?: unknown }).v : undefined;
  if (v !== JOB_FORMAT) {
    if (v !== undefined)
      throw new VideoScoreError("ERR_QUEUE_FORMAT", `${what} completed with a result in queue format v${JSON.stringify(v)}, and this collector reads v${JOB_FORMAT}: producer and workers must be releases with the same queue format (docs/queue.md)`);
    // Says which field is wrong when it is not even a result; a bare result is of an older format.
    checkScoreResult(value, what);
    throw new VideoScoreError("ERR_QUEUE_FORMAT", `${what} completed with a result in queue format without a version (no "v" field), and this collector reads v${JOB_FORMAT}: producer and workers must be releases with the same queue format (docs/queue.md)`);
  }
  return checkScoreResult((value as { result?: unknown }).result, what, "result");
}
