/**
 * `videoscore2 worker`: one process, one model, scoring jobs from a Redis queue until SIGTERM or
 * SIGINT; then it takes no new job, finishes the running one and exits 0 (a second signal quits at once).
 */
import { basename } from "node:path";
import { createScoringWorker, type ScoringWorkerEvent } from "../../queue/worker.js";
import { DEFAULT_QUEUE } from "../../queue/job.js";
import { redisUnreachable } from "../../queue/connection.js";
import { allowOnly, EXIT, intOpt, UsageError, type CliValues } from "../args.js";
import { displayText, firstLine } from "../display.js";
import { loadOptionsFrom, resolveModel } from "../scoring.js";

const WORKER_OPTIONS = ["redis", "queue", "model", "mmproj", "allow-root", "concurrency", "lock-duration", "gpu-layers", "gpu", "gpu-device", "threads", "context-size", "parallel", "max-tokens", "samples", "quiet"] as const;

/** The log line of a job's event, escaped: a file name holding a newline stays on its line. */
export function workerEventLine(e: Exclude<ScoringWorkerEvent, { type: "error" }>): string {
  const name = displayText(basename(e.video));
  if (e.type === "start") return `start ${displayText(e.jobId)} ${name} (attempt ${e.attempt})`;
  if (e.type === "completed") return `done ${displayText(e.jobId)} ${name} ${(e.ms / 1000).toFixed(1)} s`;
  return `failed ${displayText(e.jobId)} ${name}: ${e.code}: ${firstLine(e.message, e.video, basename(e.video))}${e.willRetry ? " (will retry)" : ""}`;
}

export async function workerCommand(values: CliValues, positionals: string[], ctx: { stderr: NodeJS.WriteStream }): Promise<number> {
  allowOnly(values, "worker", WORKER_OPTIONS);
  if (positionals.length) throw new UsageError("worker takes no arguments: the videos come from the queue");
  if (!values.redis) throw new UsageError("worker needs --redis redis://host:port");
  const concurrency = intOpt(values, "concurrency", 1) ?? 1;
  const lockMs = intOpt(values, "lock-duration", 200) ?? 30_000;
  const m = await resolveModel(values, false);
  const why = await redisUnreachable(values.redis, 10_000);
  if (why) throw new UsageError(`no Redis answers at ${values.redis} (${why})`);
  // One event, one line: a job's file name must not forge another (src/cli/display.ts).
  const log = (s: string) => values.quiet || ctx.stderr.write(`${displayText(s)}\n`);

  // Installed before the model loads, so a signal during loading is not the default (kill) either.
  let stopping: ((sig: NodeJS.Signals) => void) | undefined;
  let early: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) stopping(sig);
    else if (early) process.exit(EXIT.interrupted);
    else early = sig;
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  let lastError = "";
  log(`loading ${m.model} + ${m.mmproj} …`);
  const worker = await createScoringWorker({
    connection: values.redis,
    queue: values.queue ?? DEFAULT_QUEUE,
    model: m.model,
    mmproj: m.mmproj,
    load: loadOptionsFrom(values),
    concurrency,
    // Ceilings of what a job may ask for, not what it gets.
    maxTokens: intOpt(values, "max-tokens", 1),
    samples: intOpt(values, "samples", 1),
    allowRoots: values["allow-root"]?.length ? values["allow-root"] : [process.cwd()],
    lockDurationMs: lockMs,
    // Another worker notices a lapsed lock within half a lock of it lapsing.
    stalledIntervalMs: Math.max(100, Math.floor(lockMs / 2)),
    onEvent: (e: ScoringWorkerEvent) => {
      if (e.type !== "error") log(workerEventLine(e));
      else if (e.message !== lastError) log(`redis: ${(lastError = e.message)}`); // once per kind while it reconnects
    },
  });
  log(`ready: worker ${worker.name} on queue "${worker.queue}" at ${values.redis}`);
  const closed = new Promise<void>((resolve, reject) => {
    let count = 0;
    stopping = (sig) => {
      if (++count > 1) process.exit(EXIT.interrupted);
      log(`${sig}: finishing the running job, taking no new one (again to quit at once)`);
      worker.close().then(resolve, reject);
    };
    if (early) stopping(early);
  });
  await closed;
  log("stopped");
  return EXIT.ok;
}
