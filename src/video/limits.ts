/**
 * Bounds on the work one video may cost, with their defaults (written here only), and the open
 * options the addon takes.
 */
import { invalidOption } from "../addon/errors.js";
import type { NativeOpenOptions } from "../addon/interface.js";

/** Bounds on the work one video may cost; each breach is an `ERR_VIDEO_LIMITS` error. */
export interface VideoLimits {
  /** Largest frame accepted, in pixels, checked on every decoded frame (default 2 × 3840 × 2160; above 2^53 = no limit). */
  maxPixelsPerFrame?: number;
  /** Most frames a video may have (default 100 000; above 2^53 = no limit). */
  maxFrames?: number;
  /** Wall-clock budget for opening + decoding, in seconds (default 120; 0 = none; at most 10^9). */
  deadlineSeconds?: number;
  /** libavcodec decoder threads, 0..64 (default 0 = one per core). */
  threads?: number;
}

/** {@link VideoLimits} with every default applied. */
export type ResolvedLimits = Required<VideoLimits>;

const DEFAULTS: ResolvedLimits = { maxPixelsPerFrame: 2 * 3840 * 2160, maxFrames: 100_000, deadlineSeconds: 120, threads: 0 };

/** Largest value of each limit (a larger bound is clamped; `threads` is refused) and what a bad value should be. */
const RANGES: Record<keyof ResolvedLimits, [number, string]> = {
  maxPixelsPerFrame: [Number.MAX_SAFE_INTEGER, "a finite number >= 0"],
  maxFrames: [Number.MAX_SAFE_INTEGER, "a finite number >= 0"],
  deadlineSeconds: [1e9, "a finite number >= 0 (seconds; 0 = none)"],
  // libavcodec's own ceiling for frame and slice threads.
  threads: [64, "an integer in [0, 64] (0 = one per core)"],
};

/** @throws VideoScoreError ERR_INVALID_OPTION naming the first bad limit. */
export function resolveLimits(limits: unknown): ResolvedLimits {
  if (limits === undefined) return { ...DEFAULTS };
  if (typeof limits !== "object" || limits === null) throw invalidOption("limits", "an object", limits);
  const l = limits as Record<string, unknown>;
  const out = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as (keyof ResolvedLimits)[]) {
    const v = l[key];
    if (v === undefined) continue;
    const [max, expected] = RANGES[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (key === "threads" && (!Number.isInteger(v) || v > max)))
      throw invalidOption(`limits.${key}`, expected, v);
    // A huge bound means "no bound": clamp it to what C++ holds exactly instead of letting it wrap.
    out[key] = Math.min(v, max);
  }
  return out;
}

/** What openVideo() takes: the input and the limits, defaults applied. */
export function openOptions(input: string | Uint8Array, limits: ResolvedLimits = resolveLimits(undefined)): NativeOpenOptions {
  return { input, ...limits };
}
