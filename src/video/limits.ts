/**
 * Bounds on the work one video may cost, with their defaults (written here only), and the open
 * options the addon takes.
 */
import { invalidOption } from "../addon/errors.js";
import type { NativeOpenOptions } from "../addon/interface.js";

/** Bounds on the work one video may cost; each breach is an `ERR_VIDEO_LIMITS` error. */
export interface VideoLimits {
  /** Largest source frame accepted, in pixels (default 2 × 3840 × 2160). */
  maxPixelsPerFrame?: number;
  /** Most frames a video may have (default 100 000). */
  maxFrames?: number;
  /** Wall-clock budget for opening + decoding, in seconds (default 120; 0 = none). */
  deadlineSeconds?: number;
  /** libavcodec decoder threads (default 0 = one per core). */
  threads?: number;
}

/** {@link VideoLimits} with every default applied. */
export type ResolvedLimits = Required<VideoLimits>;

const DEFAULTS: ResolvedLimits = { maxPixelsPerFrame: 2 * 3840 * 2160, maxFrames: 100_000, deadlineSeconds: 120, threads: 0 };

/** @throws VideoScoreError ERR_INVALID_OPTION naming the first bad limit. */
export function resolveLimits(limits: unknown): ResolvedLimits {
  if (limits === undefined) return { ...DEFAULTS };
  if (typeof limits !== "object" || limits === null) throw invalidOption("limits", "an object", limits);
  const l = limits as Record<string, unknown>;
  const out = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as (keyof ResolvedLimits)[]) {
    const v = l[key];
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw invalidOption(`limits.${key}`, "a finite number >= 0", v);
    out[key] = v;
  }
  return out;
}

/** What openVideo() takes: the input and the limits, defaults applied. */
export function openOptions(input: string | Uint8Array, limits: ResolvedLimits = resolveLimits(undefined)): NativeOpenOptions {
  return { input, ...limits };
}
