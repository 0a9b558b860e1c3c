/**
 * A job's options come from whoever can write to the queue, and they spend the worker's time: the
 * worker's own bounds (its CLI flags or createScoringWorker options) are ceilings a job may lower,
 * never raise.
 *
 * - `limits` are bounds on decoding work: a job's bound above the worker's is the worker's (a clip
 *   within both scores the same either way), `deadlineSeconds: 0` ("none") included, and decoder
 *   `threads` at most the worker's (one per core when it set none).
 * - `maxTokens` and `samples` change what is computed: a job asking for more than the worker allows
 *   is refused (ERR_INVALID_OPTION, not retried) rather than scored as something it did not ask for;
 *   left unset, they are the scorer's default or the worker's ceiling, whichever is lower.
 *
 * Frame-sampling options need no ceiling of their own: the frames' tokens must fit the worker's
 * `contextSize` (a load option, which a job cannot touch), and decoding is bounded by `limits`.
 */
import { availableParallelism } from "node:os";
import { invalidOption, VideoScoreError } from "../addon/errors.js";
import { resolveLimits, type ResolvedLimits, type VideoLimits } from "../video/limits.js";

/** What a worker allows a job (each the most a job may ask for). */
export interface JobCeilings {
  /** The worker's video limits (default: the library's, as for a local score). */
  limits?: VideoLimits;
  /** Most tokens a job may generate (default 1024, score's default). */
  maxTokens?: number;
  /** Most chains of thought a job may draw (default 1). */
  samples?: number;
}

/** {@link JobCeilings} checked, defaults applied. */
export interface ResolvedCeilings {
  limits: ResolvedLimits;
  /** Decoder threads a job may use: the worker's `limits.threads`, else one per core. */
  decodeThreads: number;
  /** Whether the worker set `limits.threads` (then a job that sets none gets it too). */
  threadsSet: boolean;
  maxTokens: number;
  samples: number;
}

/** score()'s defaults of the options given ceilings here. */
const SCORE_DEFAULTS = { maxTokens: 1024, samples: 1 } as const;

function ceilingInt(name: string, v: unknown, def: number, max: number): number {
  if (v === undefined) return def;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > max) throw invalidOption(name, `an integer in [1, ${max}]`, v);
  return v;
}

/** @throws VideoScoreError ERR_INVALID_OPTION naming the first bad ceiling. */
export function resolveCeilings(c: JobCeilings): ResolvedCeilings {
  const limits = resolveLimits(c.limits);
  const threadsSet = c.limits?.threads !== undefined && limits.threads > 0;
  return {
    limits,
    decodeThreads: threadsSet ? limits.threads : availableParallelism(),
    threadsSet,
    maxTokens: ceilingInt("maxTokens", c.maxTokens, SCORE_DEFAULTS.maxTokens, 65536),
    samples: ceilingInt("samples", c.samples, SCORE_DEFAULTS.samples, 64),
  };
}

/** 0 is "no deadline": the largest bound there is. */
const deadline = (s: number) => (s === 0 ? Infinity : s);

/**
 * A job's score options with the worker's ceilings applied.
 * @throws VideoScoreError ERR_INVALID_OPTION for a bad limit, or maxTokens / samples above the ceiling.
 */
export function applyCeilings(opts: Record<string, unknown>, c: ResolvedCeilings): Record<string, unknown> {
  const refuse = (name: string, v: unknown, max: number, flag: string) =>
    new VideoScoreError("ERR_INVALID_OPTION", `The job asks for ${name} ${String(v)} but this worker allows at most ${max} (its ${flag}): a job may lower a worker's ceilings, not raise them`);
  const out: Record<string, unknown> = { ...opts };
  for (const [name, flag] of [["maxTokens", "--max-tokens"], ["samples", "--samples"]] as const) {
    const v = opts[name];
    const max = c[name];
    if (v === undefined) {
      if (max < SCORE_DEFAULTS[name]) out[name] = max;
    } else if (typeof v === "number" && v > max) throw refuse(name, v, max, flag);
  }
  // Checked as a local score checks them; then each bound is the lower of the job's and the worker's.
  const asked = (opts.limits ?? {}) as VideoLimits;
  const job = resolveLimits(opts.limits);
  const w = c.limits;
  const limits: ResolvedLimits = {
    maxPixelsPerFrame: Math.min(job.maxPixelsPerFrame, w.maxPixelsPerFrame),
    maxFrames: Math.min(job.maxFrames, w.maxFrames),
    deadlineSeconds: Math.min(deadline(job.deadlineSeconds), deadline(w.deadlineSeconds)),
    threads: 0,
  };
  if (limits.deadlineSeconds === Infinity) limits.deadlineSeconds = 0;
  const { threads: _t, ...bounds } = limits;
  const threads = asked.threads === undefined ? (c.threadsSet ? c.decodeThreads : undefined) : Math.min(job.threads === 0 ? c.decodeThreads : job.threads, c.decodeThreads);
  // Unset decoder threads stay unset: the scorer then picks what its pipeline leaves free.
  out.limits = threads === undefined ? bounds : { ...bounds, threads };
  return out;
}
