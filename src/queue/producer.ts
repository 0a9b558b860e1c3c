/**
 * The producer's side: enqueueScores adds one job per (video, prompt, options), keyed by them, and
 * collectScores waits for those jobs and hands back each result once.
 */
import { resolve } from "node:path";
import { invalidOption, type VideoScoreError } from "../addon/errors.js";
import type { ScoreResult } from "../scorer/result.js";
import { closeClient, redisClient, type QueueConnection, type RedisClientLike } from "./connection.js";
import { loadBullMQ } from "./deps.js";
import { checkJobResult } from "./result-check.js";
import { DEFAULT_KEEP_SECONDS, DEFAULT_QUEUE, JOB_FORMAT, parseFailureReason, scoreJobId, type QueueScoreOptions, type ScoreJobData, type ScoreJobProgress } from "./job.js";

/** Where the jobs are. */
export interface QueueClientOptions {
  /** Redis URL or an ioredis client (with `maxRetriesPerRequest: null`). */
  connection: QueueConnection;
  /** Queue name (default "videoscore2"). */
  queue?: string;
}

/** One video to score on the queue. A relative `video` is resolved against this process's folder. */
export interface ScoreJobInput {
  video: string;
  prompt: string;
  options?: QueueScoreOptions;
}

/** Options of {@link enqueueScores}. */
export interface EnqueueOptions extends QueueClientOptions {
  /** How long finished jobs stay in Redis for a rerun to collect (default 7 days). */
  keepSeconds?: number;
  /** Tries for a job that fails for a transient reason (default 3; bad input is never retried). */
  attempts?: number;
}

/** What {@link enqueueScores} returns; hand it to {@link collectScores}. */
export interface EnqueuedScores {
  queue: string;
  /** The job id of each input, in input order (equal inputs share one job). */
  ids: string[];
  /** Each input's job data (absolute video path). */
  jobs: ScoreJobData[];
  /** Jobs added now. */
  added: number;
  /** Inputs whose job was already in the queue (waiting, running or finished): not added again. */
  existing: number;
}

/** One collected job. */
export type CollectedScore = {
  index: number;
  id: string;
  video: string;
  prompt: string;
  /** The worker that finished it (`job.processedBy`). */
  processedBy?: string;
} & ({ ok: true; result: ScoreResult } | { ok: false; error: { code: string; message: string } });

/** Options of {@link collectScores}. */
export interface CollectOptions extends QueueClientOptions {
  /** Stops collecting (the jobs stay queued; a later collect picks them up). */
  signal?: AbortSignal;
  /** Each job as it finishes, once. */
  onResult?: (r: CollectedScore) => void;
  /** Progress a worker reports for a running job (every input sharing the job). */
  onProgress?: (p: ScoreJobProgress, index: number) => void;
  /**
   * How often the states of unfinished jobs are read (default 1000 ms). Finished jobs are normally
   * seen at once through BullMQ's events; the sweep catches what events miss (a reconnection).
   */
  pollMs?: number;
}

const CHUNK = 200;

async function inChunks<T, R>(xs: readonly T[], f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < xs.length; i += CHUNK) out.push(...(await Promise.all(xs.slice(i, i + CHUNK).map(f))));
  return out;
}

/**
 * Adds a job per input unless a job with its key (video + prompt + options) is already in the
 * queue, so a producer that is rerun does not score again what is queued or finished.
 */
export async function enqueueScores(items: readonly ScoreJobInput[], options: EnqueueOptions): Promise<EnqueuedScores> {
  if (!Array.isArray(items)) throw invalidOption("items", "an array of { video, prompt, options }", items);
  const keep = options.keepSeconds ?? DEFAULT_KEEP_SECONDS;
  const attempts = options.attempts ?? 3;
  if (!(Number.isInteger(keep) && keep > 0)) throw invalidOption("keepSeconds", "an integer > 0", keep);
  if (!(Number.isInteger(attempts) && attempts >= 1)) throw invalidOption("attempts", "an integer >= 1", attempts);
  const jobs = items.map((it, i): ScoreJobData => {
    if (!it || typeof it.video !== "string" || typeof it.prompt !== "string") throw invalidOption(`items[${i}]`, "{ video: string, prompt: string }", it);
    // Through JSON once, so the data hashed is the data stored.
    return JSON.parse(JSON.stringify({ v: JOB_FORMAT, video: resolve(it.video), prompt: it.prompt, options: it.options ?? {} })) as ScoreJobData;
  });
  const ids = jobs.map(scoreJobId);
  const name = options.queue ?? DEFAULT_QUEUE;
  const { Queue } = await loadBullMQ();
  const conn = await redisClient(options.connection);
  const queue = new Queue<ScoreJobData>(name, { connection: conn.client as never });
  queue.on("error", () => undefined); // a reconnection; the commands wait for it
  try {
    const unique = [...new Map(ids.map((id, i) => [id, i])).entries()];
    const states = await inChunks(unique, ([id]) => queue.getJobState(id));
    const toAdd = unique.filter((_, k) => states[k] === "unknown");
    for (let i = 0; i < toAdd.length; i += CHUNK)
      await queue.addBulk(
        toAdd.slice(i, i + CHUNK).map(([id, idx]) => ({
          name: "score",
          data: jobs[idx]!,
          // An add whose jobId exists is ignored by BullMQ: two producers racing still make one job.
          opts: { jobId: id, attempts, backoff: { type: "exponential", delay: 1000 }, removeOnComplete: { age: keep }, removeOnFail: { age: keep } },
        })),
      );
    return { queue: name, ids, jobs, added: toAdd.length, existing: items.length - toAdd.length };
  } finally {
    await queue.close().catch(() => undefined);
    await closeClient(conn);
  }
}

/**
 * Whether reading one job failed on what is stored under its key, not on the connection: JSON fields
 * (data, opts, stacktrace) that do not parse or parse to the wrong kind of value, or a key that is
 * not a hash (WRONGTYPE). Connection trouble makes commands wait (maxRetriesPerRequest: null) or
 * throws ioredis' own errors, which are none of these.
 */
function unreadableJob(e: unknown): e is Error {
  return e instanceof SyntaxError || e instanceof TypeError || (e instanceof Error && e.name === "ReplyError" && e.message.startsWith("WRONGTYPE"));
}

/**
 * Waits for the jobs of an {@link enqueueScores} call and returns their results in input order
 * (undefined where `signal` stopped the wait first). Each job is reported once, however many times
 * it ran (a worker killed mid-job, a retry).
 */
export async function collectScores(enqueued: Pick<EnqueuedScores, "ids" | "jobs">, options: CollectOptions): Promise<(CollectedScore | undefined)[]> {
  const { Queue, QueueEvents, Job } = await loadBullMQ();
  const name = options.queue ?? DEFAULT_QUEUE;
  const pollMs = options.pollMs ?? 1000;
  const out: (CollectedScore | undefined)[] = new Array(enqueued.ids.length).fill(undefined);
  const pending = new Map<string, number[]>();
  enqueued.ids.forEach((id, i) => pending.set(id, [...(pending.get(id) ?? []), i]));
  if (pending.size === 0) return out;

  const conn = await redisClient(options.connection);
  // QueueEvents blocks on its connection (XREAD): it gets its own.
  const eventsConn = { client: conn.client.duplicate() as RedisClientLike, owned: true };
  (eventsConn.client as unknown as { on(e: string, f: () => void): void }).on("error", () => undefined);
  const queue = new Queue<ScoreJobData>(name, { connection: conn.client as never });
  queue.on("error", () => undefined);
  const events = new QueueEvents(name, { connection: eventsConn.client as never });
  events.on("error", () => undefined);
  const checking = new Set<string>();

  const settle = (id: string, make: (index: number) => CollectedScore) => {
    const idx = pending.get(id);
    if (!idx) return;
    pending.delete(id);
    for (const i of idx) {
      out[i] = make(i);
      options.onResult?.(out[i]!);
    }
  };
  const check = async (id: string): Promise<void> => {
    if (!pending.has(id) || checking.has(id) || options.signal?.aborted) return;
    checking.add(id);
    try {
      const state = await queue.getJobState(id);
      if (state !== "completed" && state !== "failed" && state !== "unknown") return;
      const base = (i: number, processedBy?: string) => ({ index: i, id, video: enqueued.jobs[i]!.video, prompt: enqueued.jobs[i]!.prompt, ...(processedBy ? { processedBy } : {}) });
      let job: Awaited<ReturnType<typeof Job.fromId>>;
      try {
        job = state === "unknown" ? undefined : await Job.fromId(queue, id);
      } catch (e) {
        // A job stored as BullMQ cannot have stored it is that clip's failure, not the end of the collect.
        if (!unreadableJob(e)) throw e;
        const message = `job ${id} in queue "${name}" cannot be read (${e.message}): it was not written by BullMQ; remove it (BullMQ's queue.remove(id)) and enqueue again`;
        settle(id, (i) => ({ ...base(i), ok: false, error: { code: "ERR_QUEUE_FORMAT", message } }));
        return;
      }
      if (!job) settle(id, (i) => ({ ...base(i), ok: false, error: { code: "ERR_INTERNAL", message: `job ${id} is not in queue "${name}" (removed, or its retention lapsed): enqueue it again` } }));
      else if (state === "completed") {
        // Whoever can write to Redis can complete a job with anything: only a ScoreResult is a result.
        let result: ScoreResult;
        try {
          result = checkJobResult(job.returnvalue, `job ${id}`);
        } catch (e) {
          const err = e as VideoScoreError;
          settle(id, (i) => ({ ...base(i, job.processedBy), ok: false, error: { code: err.code, message: err.message } }));
          return;
        }
        settle(id, (i) => ({ ...base(i, job.processedBy), ok: true, result }));
      } else settle(id, (i) => ({ ...base(i, job.processedBy), ok: false, error: parseFailureReason(job.failedReason) }));
    } finally {
      checking.delete(id);
    }
  };
  events.on("completed", ({ jobId }) => void check(jobId).catch(() => undefined));
  events.on("failed", ({ jobId }) => void check(jobId).catch(() => undefined));
  events.on("progress", ({ jobId, data }) => {
    for (const i of pending.get(jobId) ?? []) options.onProgress?.(data as ScoreJobProgress, i);
  });

  try {
    await events.waitUntilReady();
    while (pending.size > 0 && !options.signal?.aborted) {
      await inChunks([...pending.keys()], check);
      if (pending.size === 0) break;
      await new Promise<void>((r) => {
        const t = setTimeout(done, pollMs);
        function done() {
          clearTimeout(t);
          options.signal?.removeEventListener("abort", done);
          r();
        }
        options.signal?.addEventListener("abort", done, { once: true });
      });
    }
    return out;
  } finally {
    await events.close().catch(() => undefined);
    await queue.close().catch(() => undefined);
    await closeClient(eventsConn);
    await closeClient(conn);
  }
}
