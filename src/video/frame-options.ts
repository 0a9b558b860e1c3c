/**
 * The frame-sampling options of a score or sampleFrames() call (named after the qwen-vl-utils message
 * keys they mirror), and their one validation.
 */
import { invalidOption } from "../addon/errors.js";

/**
 * Options of the frame plan, named after the qwen-vl-utils message keys they mirror.
 * Leave them all unset to get exactly the reference's plan.
 */
export interface FrameSamplingOptions {
  /** Frames per second of video to sample (`fps`); default 2. Not together with `nframes`. */
  fps?: number;
  /** A fixed number of frames (`nframes`), rounded to the nearest even number, ties to even (3 → 4, 5 → 4, 7 → 8). */
  nframes?: number;
  /** Fewest frames in fps mode (`min_frames`, default 4), rounded up to even. */
  minFrames?: number;
  /** Most frames in fps mode (`max_frames`, default min(768, frames in range)), rounded down to even. */
  maxFrames?: number;
  /** Per-frame pixel floor (`min_pixels`, default 100352). */
  minPixels?: number;
  /** Per-frame pixel ceiling (`max_pixels`); can only lower the budget derived from `totalPixels`. */
  maxPixels?: number;
  /** Pixel budget across all frames (`total_pixels`, default 90316800). */
  totalPixels?: number;
  /** Start of the range to sample, in seconds (`video_start`). */
  start?: number;
  /** End of the range to sample, in seconds (`video_end`). */
  end?: number;
}

export function isPositiveFinite(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && v > 0;
}

export function isPositiveInteger(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v > 0;
}

const OPTION_KEYS = [
  "fps",
  "nframes",
  "minFrames",
  "maxFrames",
  "minPixels",
  "maxPixels",
  "totalPixels",
  "start",
  "end",
] as const;

/**
 * Checks sampling options and returns a clean copy holding only the known keys that are set.
 * Unknown keys are ignored so that a caller can pass a larger options object.
 *
 * Rules beyond types: `fps`, pixel values > 0; `nframes` an integer ≥ 2; `minFrames` ≥ 1 and
 * `maxFrames` ≥ 2 integers with min ≤ max; `minPixels` ≤ `maxPixels`; `start` ≥ 0, `end` > 0,
 * `start` < `end`. `nframes` cannot be combined with `fps`, `minFrames` or `maxFrames`:
 * qwen-vl-utils rejects nframes+fps and silently ignores the frame bounds, which would hide a
 * mistake.
 *
 * @throws VideoScoreError `ERR_INVALID_OPTION` naming the first bad option.
 */
export function validateSamplingOptions(o: unknown): FrameSamplingOptions {
  if (o === undefined || o === null) return {};
  if (typeof o !== "object" || Array.isArray(o)) throw invalidOption("options", "an object", o);
  const src = o as Record<string, unknown>;
  const out: FrameSamplingOptions = {};
  for (const key of OPTION_KEYS) {
    const v = src[key];
    if (v === undefined) continue;
    const name = `options.${key}`;
    switch (key) {
      case "fps":
      case "minPixels":
      case "maxPixels":
      case "totalPixels":
        if (!isPositiveFinite(v)) throw invalidOption(name, "a finite number > 0", v);
        break;
      case "nframes":
        if (!(typeof v === "number" && Number.isInteger(v) && v >= 2)) throw invalidOption(name, "an integer ≥ 2", v);
        break;
      case "minFrames":
        if (!isPositiveInteger(v)) throw invalidOption(name, "an integer ≥ 1", v);
        break;
      case "maxFrames":
        if (!(typeof v === "number" && Number.isInteger(v) && v >= 2)) throw invalidOption(name, "an integer ≥ 2", v);
        break;
      case "start":
        if (!(typeof v === "number" && Number.isFinite(v) && v >= 0)) throw invalidOption(name, "a finite number of seconds ≥ 0", v);
        break;
      case "end":
        if (!isPositiveFinite(v)) throw invalidOption(name, "a finite number of seconds > 0", v);
        break;
    }
    out[key] = v as number;
  }
  if (out.nframes !== undefined) {
    if (out.fps !== undefined) throw invalidOption("options.nframes", "unset when options.fps is set (choose one)", out.nframes);
    if (out.minFrames !== undefined) throw invalidOption("options.minFrames", "unset when options.nframes is set (it only applies to fps sampling)", out.minFrames);
    if (out.maxFrames !== undefined) throw invalidOption("options.maxFrames", "unset when options.nframes is set (it only applies to fps sampling)", out.maxFrames);
  }
  if (out.minFrames !== undefined && out.maxFrames !== undefined && out.minFrames > out.maxFrames) {
    throw invalidOption("options.minFrames", `at most options.maxFrames (${out.maxFrames})`, out.minFrames);
  }
  if (out.minPixels !== undefined && out.maxPixels !== undefined && out.minPixels > out.maxPixels) {
    throw invalidOption("options.minPixels", `at most options.maxPixels (${out.maxPixels})`, out.minPixels);
  }
  if (out.start !== undefined && out.end !== undefined && out.start >= out.end) {
    throw invalidOption("options.start", `less than options.end (${out.end} s)`, out.start);
  }
  return out;
}
