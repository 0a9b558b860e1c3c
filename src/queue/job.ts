/**
 * What travels on the queue: the job's data, its id (derived from what is scored, so a rerun of a
 * producer finds the jobs it already added), and how a failure is written into `failedReason`.
 */
import { createHash } from "node:crypto";
import type { ScoreOptions } from "../scorer/options.js";
import type { ScoreResult } from "../scorer/result.js";

/** The queue name used when none is given (CLI and library). */
export const DEFAULT_QUEUE = "videoscore2";

/**
 * How long finished jobs (completed or failed) stay in Redis: 7 days. Long enough for a producer
 * that was killed to be rerun and collect what finished instead of scoring it again.
 */
export const DEFAULT_KEEP_SECONDS = 7 * 24 * 3600;

/** Score options a job can carry: everything of {@link ScoreOptions} that is data, not a callback. */
export type QueueScoreOptions = Omit<ScoreOptions, "prompt" | "signal" | "onToken" | "onProgress">;

/**
 * The version of the job format: the job data and the job's value. Producers and workers of any
 * language read only their own version and refuse another with ERR_QUEUE_FORMAT, so releases that
 * changed the format refuse each other instead of misreading. Raised whenever either shape changes.
 */
export const JOB_FORMAT = 1;

/** One job's data. `video` is an absolute path on storage every worker mounts at the same place. */
export interface ScoreJobData {
  /** {@link JOB_FORMAT}. */
  v: typeof JOB_FORMAT;
  video: string;
  prompt: string;
  options: QueueScoreOptions;
}

/** Progress a worker reports through the job (what `onProgress` of a local score receives). */
export interface ScoreJobProgress {
  phase: "sample" | "encode" | "prefill" | "generate";
  done: number;
  total: number;
}

/** The job's value when it completes: the result, with the format's version. */
export interface ScoreJobResult {
  v: typeof JOB_FORMAT;
  result: ScoreResult;
}

/** JSON with object keys sorted, so equal options give equal ids whatever order they were written in. */
function canonicalJSON(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJSON).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.keys(v as object)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJSON((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

/**
 * The job id of a (video, prompt, options): `vs2-` + sha256. BullMQ ignores an add whose id exists,
 * which is what makes a rerun collect instead of enqueueing again. (BullMQ refuses ids with ":".)
 */
export function scoreJobId(data: Pick<ScoreJobData, "video" | "prompt" | "options">): string {
  return `vs2-${createHash("sha256").update(canonicalJSON([data.video, data.prompt, data.options])).digest("hex")}`;
}

/** `failedReason` of a failed job: "ERR_CODE: message", so any BullMQ tool shows the code first. */
export function failureReason(code: string, message: string): string {
  return `${code}: ${message}`;
}

/** Reads back {@link failureReason}; a reason without a code (a crash) is ERR_INTERNAL. */
export function parseFailureReason(reason: string | undefined): { code: string; message: string } {
  const m = /^(ERR_[A-Z_]+): ([\s\S]*)$/.exec(reason ?? "");
  if (m) return { code: m[1]!, message: m[2]! };
  return { code: "ERR_INTERNAL", message: reason || "the job failed without a reason" };
}
