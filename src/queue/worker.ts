/**
 * createScoringWorker: one process, one model (one GPU), consuming score jobs from a BullMQ queue.
 */
import { hostname } from "node:os";
import type { Job, Worker } from "bullmq";
import { invalidOption, VideoScoreError } from "../addon/errors.js";
import type { LoadOptions } from "../scorer/options.js";
import { VideoScorer } from "../scorer/scorer.js";
import { allowedRoots, resolveAllowed } from "./allow-roots.js";
import { closeClient, redisClient, type QueueConnection } from "./connection.js";
import { loadBullMQ } from "./deps.js";
import { applyCeilings, resolveCeilings, type JobCeilings } from "./job-limits.js";
import { DEFAULT_QUEUE, failureReason, JOB_FORMAT, type ScoreJobData, type ScoreJobProgress, type ScoreJobResult } from "./job.js";

/**
 * Options of {@link createScoringWorker}. Give `model` + `mmproj` (loaded, and freed on close) or a `scorer` you own.
 * `limits`, `maxTokens` and `samples` are ceilings: a job may lower them, never raise them (docs/queue.md).
 */
export interface ScoringWorkerOptions extends JobCeilings {
  /** Redis URL or an ioredis client (with `maxRetriesPerRequest: null`). */
  connection: QueueConnection;
  /** Queue name (default "videoscore2"). */
  queue?: string;
  model?: string;
  mmproj?: string;
  /** Further load options for `model` + `mmproj` (threads, contextSize, gpu…): the same defaults as the CLI. */
  load?: Omit<LoadOptions, "model" | "mmproj">;
  /** A loaded scorer to use instead of `model` + `mmproj`; the worker does not dispose it. */
  scorer?: VideoScorer;
  /**
   * Jobs held at once (default 1). One scorer generates one clip at a time, so with more the extra
   * jobs are sampled ahead while one generates (like scoreMany's concurrency), not scored in
   * parallel; other workers cannot take a job this worker holds.
   */
  concurrency?: number;
  /** Folders whose files jobs may name (default: the current folder). See docs/queue.md. */
  allowRoots?: readonly string[];
  /** How long a job's lock lasts without renewal (default 30 000 ms): a killed worker's job is taken again after about this long. */
  lockDurationMs?: number;
  /** How often this worker looks for jobs whose lock lapsed (default 30 000 ms). */
  stalledIntervalMs?: number;
  /** Name recorded on every job it processes (`job.processedBy`); default host:pid. */
  name?: string;
  /** Called when a job starts and when it settles (for logs). */
  onEvent?: (e: ScoringWorkerEvent) => void;
}

/** What {@link ScoringWorkerOptions.onEvent} receives. */
export type ScoringWorkerEvent =
  | { type: "start"; jobId: string; video: string; attempt: number }
  | { type: "completed"; jobId: string; video: string; ms: number }
  | { type: "failed"; jobId: string; video: string; code: string; message: string; willRetry: boolean }
  | { type: "error"; message: string };

/** A running worker. */
export interface ScoringWorker {
  readonly name: string;
  readonly queue: string;
  /** Takes no new job, lets the running ones finish, then frees the model (when it loaded it) and the connections. */
  close(): Promise<void>;
}

/**
 * Bad input is not transient: retrying cannot help, so these fail the job at once
 * (BullMQ's UnrecoverableError). Everything else (ERR_INTERNAL, a score aborted by shutdown) may retry.
 */
const PERMANENT = new Set([
  "ERR_INPUT_NOT_FOUND", "ERR_INPUT_UNREADABLE", "ERR_INPUT_NOT_ALLOWED", "ERR_NO_VIDEO_STREAM", "ERR_DECODE", "ERR_VIDEO_TOO_SHORT",
  "ERR_VIDEO_LIMITS", "ERR_INVALID_OPTION", "ERR_CONTEXT_FULL", "ERR_QUEUE_FORMAT",
]);

/** Progress writes go to Redis: at most one per phase change or per this many ms. */
const PROGRESS_EVERY_MS = 250;

function checkJobData(d: unknown): ScoreJobData {
  const o = d as Partial<ScoreJobData> | null;
  if (!o || typeof o !== "object") throw invalidOption("job data", "{ v, video, prompt, options }", d);
  // Before anything else is read: a job of another format may mean something else by every field.
  if (o.v !== JOB_FORMAT)
    throw new VideoScoreError(
      "ERR_QUEUE_FORMAT",
      `The job is in queue format ${o.v === undefined ? "without a version (no \"v\" field)" : `v${JSON.stringify(o.v)}`}, and this worker reads v${JOB_FORMAT}: producer and workers must be releases with the same queue format (docs/queue.md)`,
    );
  if (typeof o.prompt !== "string") throw invalidOption("job prompt", "a string", o.prompt);
  if (o.options !== undefined && (typeof o.options !== "object" || o.options === null || Array.isArray(o.options))) throw invalidOption("job options", "an object", o.options);
  return { v: JOB_FORMAT, video: o.video as string, prompt: o.prompt, options: o.options ?? {} };
}

/**
 * Starts a worker: loads the model (unless given a scorer), connects, and scores jobs until closed.
 * A job's value is its ScoreResult; a failure's `failedReason` is "ERR_CODE: message".
 * @throws VideoScoreError ERR_INVALID_OPTION, ERR_MODEL_LOAD, … (loading), before any job is taken.
 */
export async function createScoringWorker(options: ScoringWorkerOptions): Promise<ScoringWorker> {
  const { Worker, UnrecoverableError } = await loadBullMQ();
  const queue = options.queue ?? DEFAULT_QUEUE;
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw invalidOption("concurrency", "an integer >= 1", concurrency);
  const roots = await allowedRoots(options.allowRoots ?? [process.cwd()]);
  const ceilings = resolveCeilings(options);
  if (!options.scorer && (!options.model || !options.mmproj)) throw invalidOption("model", "model + mmproj paths, or a scorer", options.model);
  const scorer = options.scorer ?? (await VideoScorer.load({ ...options.load, model: options.model!, mmproj: options.mmproj! }));
  const ownsScorer = !options.scorer;
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const emit = (e: ScoringWorkerEvent) => {
    try {
      options.onEvent?.(e);
    } catch {
      /* a logging callback must not fail a job */
    }
  };

  const process_ = async (job: Job<ScoreJobData, ScoreJobResult>): Promise<ScoreJobResult> => {
    const t0 = performance.now();
    const jobId = job.id ?? "?";
    const video = typeof job.data?.video === "string" ? job.data.video : String(job.data?.video);
    emit({ type: "start", jobId, video, attempt: job.attemptsMade + 1 });
    let lastPhase = "";
    let lastAt = 0;
    const report = (p: ScoreJobProgress) => {
      const now = performance.now();
      if (p.phase === lastPhase && now - lastAt < PROGRESS_EVERY_MS && p.done !== p.total) return;
      lastPhase = p.phase;
      lastAt = now;
      // Not awaited: a score must not wait on Redis, and a lost progress write loses nothing.
      job.updateProgress({ ...p }).catch(() => undefined);
    };
    try {
      const data = checkJobData(job.data);
      const path = await resolveAllowed(data.video, roots);
      // Callbacks cannot travel in a job; anything else the scorer checks itself.
      const { signal: _s, onToken: _t, onProgress: _p, prompt: _q, ...opts } = data.options as Record<string, unknown>;
      const bounded = applyCeilings(opts, ceilings);
      const result = await scorer.score(path, { ...bounded, prompt: data.prompt, onProgress: report });
      emit({ type: "completed", jobId, video, ms: performance.now() - t0 });
      return { v: JOB_FORMAT, result };
    } catch (e) {
      const err = e instanceof VideoScoreError ? e : new VideoScoreError("ERR_INTERNAL", e instanceof Error ? e.message : String(e), { cause: e });
      const permanent = PERMANENT.has(err.code);
      const attempts = job.opts.attempts ?? 1;
      emit({ type: "failed", jobId, video, code: err.code, message: err.message, willRetry: !permanent && job.attemptsMade + 1 < attempts });
      const reason = failureReason(err.code, err.message);
      throw permanent ? new UnrecoverableError(reason) : new Error(reason);
    }
  };

  const conn = await redisClient(options.connection);
  let worker: Worker<ScoreJobData, ScoreJobResult>;
  try {
    worker = new Worker<ScoreJobData, ScoreJobResult>(queue, process_, {
      connection: conn.client as never,
      concurrency,
      name,
      lockDuration: options.lockDurationMs ?? 30_000,
      stalledInterval: options.stalledIntervalMs ?? 30_000,
      // A job whose worker died is taken again this many times before it is failed as stalled.
      maxStalledCount: 3,
      autorun: true,
    });
    worker.on("error", (e) => emit({ type: "error", message: e.message }));
  } catch (e) {
    await closeClient(conn);
    if (ownsScorer) await scorer.dispose();
    throw e;
  }

  let closing: Promise<void> | undefined;
  return {
    name,
    queue,
    close() {
      closing ??= (async () => {
        // close() without force: no new job is fetched, the running ones finish and are saved.
        await worker.close();
        if (ownsScorer) await scorer.dispose();
        await closeClient(conn);
      })();
      return closing;
    },
  };
}
