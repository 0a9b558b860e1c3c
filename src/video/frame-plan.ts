/**
 * Which frames to decode and what size to scale them to: the plan qwen-vl-utils 0.0.11
 * (`vision_process.py`, the version VideoScore2's reference pipeline runs) makes for a video
 * message `{type: "video", video: path, fps: 2.0}` (docs/reference.md §2).
 *
 * Every rounding step matters: a different frame count or target size changes the number of
 * video tokens and so every score. Python's `round()` and torch's `Tensor.round()` both round
 * ties to even, and `torch.linspace` computes in float32; both are reproduced here.
 *
 * Frame range: of the three 0.0.11 readers, decord and torchcodec (the ones used when installed)
 * turn `video_start`/`video_end` seconds into frame numbers of the decoded stream; the torchvision
 * fallback instead reads by timestamp and counts what it decoded. We follow decord/torchcodec.
 */
import { VideoScoreError, invalidOption } from "../addon/errors.js";
import { isPositiveFinite, isPositiveInteger, validateSamplingOptions, type FrameSamplingOptions } from "./frame-options.js";

export { validateSamplingOptions, type FrameSamplingOptions } from "./frame-options.js";

/** Frames go to the model in pairs (temporal patch 2), so frame counts are multiples of this. */
export const FRAME_FACTOR = 2;
/** Sampling rate of the reference message (frames per second of video). */
export const DEFAULT_FPS = 2.0;
/** Lower bound on the frame count in fps mode (before rounding up to even). */
export const FPS_MIN_FRAMES = 4;
/** Upper bound on the frame count in fps mode. */
export const FPS_MAX_FRAMES = 768;
/** Output sizes are multiples of this: 14-px patches merged 2×2. */
export const IMAGE_FACTOR = 28;
/** Default per-frame pixel floor for videos: 128 merged patches. */
export const VIDEO_MIN_PIXELS = 128 * 28 * 28;
/** Per-frame pixel ceiling for videos: 768 merged patches. */
export const VIDEO_MAX_PIXELS = 768 * 28 * 28;
/**
 * Default pixel budget for all frames together: `int(float(128000 * 28 * 28 * 0.9))`, the value
 * 0.0.11 uses when its `VIDEO_MAX_PIXELS` environment variable is unset.
 */
export const VIDEO_TOTAL_PIXELS = 90316800;
/** Largest accepted aspect ratio (long side / short side). */
export const MAX_RATIO = 200;
/** smart_resize's default floor for images (used when {@link smartResize} gets no minPixels). */
export const IMAGE_MIN_PIXELS = 4 * 28 * 28;
/** smart_resize's default ceiling for images (used when {@link smartResize} gets no maxPixels). */
export const IMAGE_MAX_PIXELS = 16384 * 28 * 28;


/** What the decoder knows about the video before sampling. */
export interface VideoProbe {
  /** Number of decodable frames (decord's `len(vr)` / torchcodec's `num_frames`). */
  totalFrames: number;
  /** Average frame rate (decord's `get_avg_fps()` / torchcodec's `average_fps`). */
  fps: number;
  /** Decoded frame width in pixels, rotation metadata not applied (the reference ignores it). */
  width: number;
  /** Decoded frame height in pixels, rotation metadata not applied. */
  height: number;
}

/** The complete plan: which frames, at what size, and what that costs in tokens. */
export interface FramePlan {
  /** Number of frames to feed (even, ≥ 2). */
  nframes: number;
  /** Indices of the frames to decode, counting decoded frames in presentation order from 0. */
  indices: number[];
  /** Target width (multiple of 28). */
  width: number;
  /** Target height (multiple of 28). */
  height: number;
  /** Effective per-frame pixel floor. */
  minPixels: number;
  /** Effective per-frame pixel ceiling (may be fractional, as in the reference). */
  maxPixels: number;
  /** Source frame width. */
  sourceWidth: number;
  /** Source frame height. */
  sourceHeight: number;
  /** Frames in the video (the probe's count, before any start/end). */
  totalFrames: number;
  /** The video's average frame rate. */
  nativeFps: number;
  /** First frame of the sampled range (inclusive). */
  startFrame: number;
  /** Last frame of the sampled range (inclusive). */
  endFrame: number;
  /**
   * Rate of the sampled frames, `nframes / framesInRange · nativeFps`, which qwen-vl-utils reports
   * as `video_sample_fps`. (The reference script passes a fixed `fps=2.0` to the processor instead.)
   */
  sampleFps: number;
  /** Video tokens the model will see: `(nframes / 2) · (height / 28) · (width / 28)`. */
  videoTokens: number;
}

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  // Exact for every double, so true ties are seen as exactly 0.5.
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

const roundByFactor = (n: number, factor: number): number => roundHalfEven(n / factor) * factor;
const ceilByFactor = (n: number, factor: number): number => Math.ceil(n / factor) * factor;
const floorByFactor = (n: number, factor: number): number => Math.floor(n / factor) * factor;


/**
 * Scales (height, width) to multiples of `factor` with the pixel count inside
 * [minPixels, maxPixels], keeping the aspect ratio as well as the grid allows. Defaults are the
 * image defaults of qwen-vl-utils (3136, 12845056); {@link planFrames} passes the video budget.
 *
 * One deliberate difference from 0.0.11: when shrinking, a side is clamped to at least `factor`
 * (later qwen-vl-utils and transformers do this too). 0.0.11 would give 0 for a very thin frame
 * under a small budget and then fail in the resize; we return a usable size instead.
 *
 * @throws VideoScoreError `ERR_VIDEO_LIMITS` when the aspect ratio exceeds 200.
 * @throws VideoScoreError `ERR_INVALID_OPTION` for non-positive sizes or bounds.
 */
export function smartResize(
  height: number,
  width: number,
  opts: { factor?: number; minPixels?: number; maxPixels?: number } = {},
): { height: number; width: number } {
  if (!isPositiveFinite(height)) throw invalidOption("height", "a positive number", height);
  if (!isPositiveFinite(width)) throw invalidOption("width", "a positive number", width);
  const factor = opts.factor ?? IMAGE_FACTOR;
  const minPixels = opts.minPixels ?? IMAGE_MIN_PIXELS;
  const maxPixels = opts.maxPixels ?? IMAGE_MAX_PIXELS;
  if (!isPositiveInteger(factor)) throw invalidOption("factor", "a positive integer", factor);
  if (!isPositiveFinite(minPixels)) throw invalidOption("minPixels", "a positive number", minPixels);
  if (!isPositiveFinite(maxPixels)) throw invalidOption("maxPixels", "a positive number", maxPixels);

  const ratio = Math.max(height, width) / Math.min(height, width);
  if (ratio > MAX_RATIO) {
    throw new VideoScoreError(
      "ERR_VIDEO_LIMITS",
      `The frame is ${width}x${height}, an aspect ratio of ${ratio.toFixed(2)}; the model accepts at most ${MAX_RATIO}:1. Crop or pad the video before scoring it.`,
    );
  }
  let h = Math.max(factor, roundByFactor(height, factor));
  let w = Math.max(factor, roundByFactor(width, factor));
  if (h * w > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    h = Math.max(factor, floorByFactor(height / beta, factor));
    w = Math.max(factor, floorByFactor(width / beta, factor));
  } else if (h * w < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    h = ceilByFactor(height * beta, factor);
    w = ceilByFactor(width * beta, factor);
  }
  return { height: h, width: w };
}

/**
 * How many frames to sample from `totalFrames` frames at `videoFps` (qwen-vl-utils
 * `smart_nframes`). With `nframes`: that number rounded to even (ties to even). Otherwise
 * `totalFrames / videoFps · fps`, clamped to [minFrames↑even, maxFrames↓even] and to
 * `totalFrames`, then rounded down to even.
 *
 * @throws VideoScoreError `ERR_VIDEO_TOO_SHORT` unless 2 ≤ result ≤ totalFrames.
 */
export function smartNframes(
  totalFrames: number,
  videoFps: number,
  options: Pick<FrameSamplingOptions, "fps" | "nframes" | "minFrames" | "maxFrames"> = {},
): number {
  if (!(Number.isInteger(totalFrames) && totalFrames >= 0)) {
    throw invalidOption("totalFrames", "an integer ≥ 0", totalFrames);
  }
  if (!isPositiveFinite(videoFps)) throw invalidOption("videoFps", "a positive number", videoFps);
  let n: number;
  if (options.nframes !== undefined) {
    if (!(typeof options.nframes === "number" && Number.isFinite(options.nframes))) {
      throw invalidOption("nframes", "a finite number", options.nframes);
    }
    n = roundByFactor(options.nframes, FRAME_FACTOR);
    if (n < FRAME_FACTOR) throw invalidOption("nframes", "a count that rounds to an even number ≥ 2", options.nframes);
  } else {
    const fps = options.fps ?? DEFAULT_FPS;
    const minFrames = ceilByFactor(options.minFrames ?? FPS_MIN_FRAMES, FRAME_FACTOR);
    const maxFrames = floorByFactor(options.maxFrames ?? Math.min(FPS_MAX_FRAMES, totalFrames), FRAME_FACTOR);
    n = (totalFrames / videoFps) * fps;
    n = Math.min(Math.min(Math.max(n, minFrames), maxFrames), totalFrames);
    n = floorByFactor(n, FRAME_FACTOR);
  }
  if (!(FRAME_FACTOR <= n && n <= totalFrames)) {
    if (totalFrames < FRAME_FACTOR) {
      throw new VideoScoreError(
        "ERR_VIDEO_TOO_SHORT",
        `The video (or the selected range) has ${totalFrames} decodable frame${totalFrames === 1 ? "" : "s"}; VideoScore2 needs at least 2 because frames go to the model in pairs. Use a longer clip or a wider start/end range.`,
      );
    }
    if (options.nframes !== undefined) {
      throw new VideoScoreError(
        "ERR_VIDEO_TOO_SHORT",
        `nframes ${options.nframes} (rounded to the even ${n}) needs ${n} frames but the video (or the selected range) has ${totalFrames}. Lower nframes to at most ${floorByFactor(totalFrames, FRAME_FACTOR)}, or sample by fps instead.`,
      );
    }
    throw new VideoScoreError(
      "ERR_VIDEO_TOO_SHORT",
      `The sampling options give ${n} frames for a video (or range) of ${totalFrames} frames; at least 2 are needed. Raise maxFrames or fps.`,
    );
  }
  return n;
}

/**
 * `torch.linspace(start, end, n).round()` as integers: torch's float32 CPU kernel (the first half
 * counts up from `start`, the second half down from `end`), then round-half-to-even.
 *
 * Each element is `start + step·i` (or `end − step·k`) rounded once to float32, with `step`
 * itself a float32: torch's x86-64 AVX2/AVX-512 kernels are compiled with FMA enabled and GCC's
 * default contraction, and arm64 builds fuse as well, so the multiply-add is a single rounding.
 * For integer endpoints below 2^24 the double expression here is exact, so one `Math.fround`
 * gives exactly that fused result.
 *
 * Float32 matters only for long ranges: in a sweep of ranges up to 40,000 frames, exact
 * arithmetic, this fused float32 form and an unfused float32 form all agreed below about 10,000
 * frames; above that a value can land on the other side of .5 (e.g. 0..10630 in 768 steps,
 * element 593: exactly 8218.50065 → 8219; fused float32 8218.500977 → 8219; unfused 8218.5 → 8218).
 */
export function linspaceIndices(start: number, end: number, n: number): number[] {
  if (typeof start !== "number" || !Number.isFinite(start)) throw invalidOption("start", "a finite number", start);
  if (typeof end !== "number" || !Number.isFinite(end)) throw invalidOption("end", "a finite number", end);
  if (!(Number.isInteger(n) && n >= 0)) throw invalidOption("n", "an integer ≥ 0", n);
  const f = Math.fround;
  if (n === 0) return [];
  const s = f(start);
  const e = f(end);
  // torch fills a 1-element linspace with `start` without computing a step.
  if (n === 1) return [roundHalfEven(s)];
  const step = f(f(e - s) / f(n - 1));
  const halfway = Math.floor(n / 2);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const v = i < halfway ? f(s + step * i) : f(e - step * (n - i - 1));
    out[i] = roundHalfEven(v);
  }
  return out;
}

function checkProbe(probe: unknown): VideoProbe {
  if (typeof probe !== "object" || probe === null) throw invalidOption("probe", "an object", probe);
  const p = probe as Record<string, unknown>;
  if (!(typeof p.totalFrames === "number" && Number.isInteger(p.totalFrames) && p.totalFrames >= 0)) {
    throw invalidOption("probe.totalFrames", "an integer ≥ 0", p.totalFrames);
  }
  if (!isPositiveFinite(p.fps)) throw invalidOption("probe.fps", "a finite number > 0", p.fps);
  if (!isPositiveInteger(p.width)) throw invalidOption("probe.width", "a positive integer", p.width);
  if (!isPositiveInteger(p.height)) throw invalidOption("probe.height", "a positive integer", p.height);
  return probe as VideoProbe;
}

/**
 * The reference's frame plan for one video: frame range, frame count, frame indices, pixel
 * budget and target size.
 *
 * Frame range with `start`/`end` (decord/torchcodec rule): both are clamped to [0, duration]
 * where duration = totalFrames / fps; the first frame is ⌈start·fps⌉, the last
 * min(⌊end·fps⌋, totalFrames − 1).
 *
 * Pixel budget: `maxPixels = max(min(602112, totalPixels / nframes · 2), int(minPixels · 1.05))`,
 * and an explicit `maxPixels` option can only lower it.
 *
 * @throws VideoScoreError `ERR_VIDEO_TOO_SHORT` when fewer than 2 frames are available (or the
 * start/end range covers fewer than 2), or `nframes` exceeds the frames available.
 * @throws VideoScoreError `ERR_VIDEO_LIMITS` when the aspect ratio exceeds 200.
 * @throws VideoScoreError `ERR_INVALID_OPTION` for a malformed probe or options.
 */
export function planFrames(probe: VideoProbe, options?: FrameSamplingOptions): FramePlan {
  return planChecked(probe, validateSamplingOptions(options));
}

/** {@link planFrames} with options already through validateSamplingOptions (the scorer checks them before opening the video). */
export function planChecked(probe: VideoProbe, opts: FrameSamplingOptions): FramePlan {
  const { totalFrames, fps: videoFps, width, height } = checkProbe(probe);

  if (totalFrames < FRAME_FACTOR) {
    throw new VideoScoreError(
      "ERR_VIDEO_TOO_SHORT",
      `The video has ${totalFrames} decodable frame${totalFrames === 1 ? "" : "s"}; VideoScore2 needs at least 2 because frames go to the model in pairs. Use a longer clip.`,
    );
  }

  let startFrame = 0;
  let endFrame = totalFrames - 1;
  if (opts.start !== undefined || opts.end !== undefined) {
    const duration = totalFrames / videoFps;
    if (opts.start !== undefined) {
      startFrame = Math.ceil(Math.max(0, Math.min(opts.start, duration)) * videoFps);
    }
    if (opts.end !== undefined) {
      endFrame = Math.min(Math.floor(Math.max(0, Math.min(opts.end, duration)) * videoFps), totalFrames - 1);
    }
    if (startFrame >= endFrame) {
      const range = `${opts.start ?? 0}–${opts.end ?? duration} s`;
      throw new VideoScoreError(
        "ERR_VIDEO_TOO_SHORT",
        `The range ${range} of this ${duration.toFixed(2)} s video (${totalFrames} frames at ${videoFps} fps) starts at frame ${startFrame} and ends at frame ${endFrame}, fewer than the 2 frames VideoScore2 needs. Widen the range${opts.start !== undefined && opts.start >= duration ? " (start is past the end of the video)" : ""}.`,
      );
    }
  }
  const framesInRange = endFrame - startFrame + 1;
  const nframes = smartNframes(framesInRange, videoFps, opts);
  const indices = linspaceIndices(startFrame, endFrame, nframes);

  const minPixels = opts.minPixels ?? VIDEO_MIN_PIXELS;
  const totalPixels = opts.totalPixels ?? VIDEO_TOTAL_PIXELS;
  // Python's int() truncates toward zero.
  const budget = Math.max(Math.min(VIDEO_MAX_PIXELS, (totalPixels / nframes) * FRAME_FACTOR), Math.trunc(minPixels * 1.05));
  const maxPixels = opts.maxPixels === undefined ? budget : Math.min(opts.maxPixels, budget);

  const size = smartResize(height, width, { factor: IMAGE_FACTOR, minPixels, maxPixels });
  const videoTokens =
    (nframes / FRAME_FACTOR) * (size.height / IMAGE_FACTOR) * (size.width / IMAGE_FACTOR);

  return {
    nframes,
    indices,
    width: size.width,
    height: size.height,
    minPixels,
    maxPixels,
    sourceWidth: width,
    sourceHeight: height,
    totalFrames,
    nativeFps: videoFps,
    startFrame,
    endFrame,
    sampleFps: (nframes / Math.max(framesInRange, 1e-6)) * videoFps,
    videoTokens,
  };
}
