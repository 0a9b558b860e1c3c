/**
 * sampleFrames(): the frames VideoScore2 sees — opened, indexed and decoded in-process by libav
 * (native/video/), chosen and sized by the qwen-vl-utils plan (frame-plan.ts); and streamWith(),
 * which starts that decode into a feed for the scorer.
 */
import { loadAddon } from "../addon/loader.js";
import { Cancellation } from "../addon/cancel.js";
import { checkPath, invalidOption, VideoScoreError, withInputPath } from "../addon/errors.js";
import type { NativeAddon, NativeDecodeStats, NativeFrameFeed, NativeVideo, NativeVideoInfo } from "../addon/interface.js";
import { validateSamplingOptions, type FrameSamplingOptions } from "./frame-options.js";
import { planChecked, type FramePlan } from "./frame-plan.js";
import { openOptions, resolveLimits, type ResolvedLimits, type VideoLimits } from "./limits.js";

export type { VideoLimits } from "./limits.js";

/** Options of {@link sampleFrames}: the frame plan's options plus limits and an AbortSignal. */
export interface SampleOptions extends FrameSamplingOptions {
  /** Rejects the call with `ERR_ABORTED` when it fires. */
  signal?: AbortSignal;
  /** Bounds on decoding work. */
  limits?: VideoLimits;
}

/** One decoded frame, already at the model's input size. */
export interface SampledFrame {
  /** Frame number in presentation order (0-based). */
  index: number;
  /** Presentation time from the start of the stream, in seconds. */
  timeSeconds: number;
  /** Packed RGB24, `width × height × 3` bytes. */
  rgb: Buffer;
}

/** What {@link sampleFrames} returns. */
export interface SampledVideo {
  frames: SampledFrame[];
  /** Output size (the plan's smart_resize target). */
  width: number;
  height: number;
  sourceWidth: number;
  sourceHeight: number;
  /** Frames in the video, counted in presentation order from the packet index. */
  totalFrames: number;
  /** The stream's average frame rate. */
  nativeFps: number;
  durationSeconds: number;
  codec: string;
  container: string;
  plan: FramePlan;
  /** Decoder work done for this call (what the skip/seek strategy saved). */
  stats: NativeDecodeStats & { decodeMs: number };
}

/** A video whose frames are still being decoded into a feed (see {@link streamWith}). */
export interface StreamedVideo extends Omit<SampledVideo, "frames" | "stats"> {
  feed: NativeFrameFeed;
  /** Time from the call until the feed was started (open, index, plan). */
  openMs: number;
  /** Settles when the last frame is decoded, with the decoder's work and the time since the call; never rejects (the consumer of the feed sees the error). */
  finished: Promise<{ stats: NativeDecodeStats; sampleTotalMs: number } | null>;
}

/** A path or the file's bytes; whether it is there and readable is the native opener's to say. */
export function checkVideoInput(input: unknown): string | Uint8Array {
  if (typeof input === "string") return checkPath("video", input, "a file path or a Buffer");
  if (input instanceof Uint8Array) return input;
  throw invalidOption("video", "a file path or a Buffer", input === null ? "null" : typeof input);
}

type VideoFacts = Omit<SampledVideo, "frames" | "stats">;

/**
 * Opens the video and plans its frames, then hands the open video, the plan and what the result
 * reports about the video to `use`; the video is closed when `use` settles (a decode or stream in
 * flight keeps the native source alive until it ends).
 */
async function withPlannedVideo<T>(
  addon: NativeAddon,
  input: string | Uint8Array,
  sampling: FrameSamplingOptions,
  limits: ResolvedLimits,
  cancel: Cancellation,
  use: (video: NativeVideo, facts: VideoFacts) => Promise<T> | T,
): Promise<T> {
  cancel.throwIfRaised();
  const video = await addon.openVideo(openOptions(input, limits), cancel.flag);
  try {
    const info: NativeVideoInfo = video.info;
    const plan = planChecked(info, sampling);
    cancel.throwIfRaised();
    return await use(video, {
      width: plan.width,
      height: plan.height,
      sourceWidth: info.width,
      sourceHeight: info.height,
      totalFrames: info.totalFrames,
      nativeFps: info.fps,
      durationSeconds: info.durationSeconds,
      codec: info.codec,
      container: info.container,
      plan,
    });
  } finally {
    video.close();
  }
}

/** Opens, plans and decodes; shared by sampleFrames() and the scorer. */
export function sampleWith(
  addon: NativeAddon,
  input: string | Uint8Array,
  sampling: FrameSamplingOptions,
  limits: ResolvedLimits,
  cancel: Cancellation,
): Promise<SampledVideo> {
  const t0 = performance.now();
  return withPlannedVideo(addon, input, sampling, limits, cancel, async (video, facts) => {
    const { plan } = facts;
    const decoded = await video.decode({ indices: plan.indices, width: plan.width, height: plan.height }, cancel.flag);
    // A plan may repeat an index; the decoder returns each once.
    const byIndex = new Map(decoded.frames.map((f) => [f.index, f]));
    const frames = plan.indices.map((i) => {
      const f = byIndex.get(i);
      if (!f) throw new VideoScoreError("ERR_DECODE", `Frame ${i} was not decoded`);
      return { index: f.index, timeSeconds: f.timeSeconds, rgb: f.rgb };
    });
    return { frames, ...facts, stats: { ...decoded.stats, decodeMs: performance.now() - t0 } };
  });
}

/**
 * Opens and plans like {@link sampleWith}, then starts decoding into a feed that the scorer's
 * generate call reads frame pair by pair, so that the vision encoder starts on the first pair while
 * the later frames are still being decoded.
 */
export function streamWith(
  addon: NativeAddon,
  input: string | Uint8Array,
  sampling: FrameSamplingOptions,
  limits: ResolvedLimits,
  cancel: Cancellation,
  /** Called with the plan before any frame is decoded; throws (or rejects) to refuse the video. */
  accept?: (plan: FramePlan) => void | Promise<void>,
): Promise<StreamedVideo> {
  const t0 = performance.now();
  return withPlannedVideo(addon, input, sampling, limits, cancel, async (video, facts) => {
    const { plan } = facts;
    await accept?.(plan);
    cancel.throwIfRaised();
    const feed = video.stream({ indices: plan.indices, width: plan.width, height: plan.height }, cancel.flag);
    const finished = feed.done.then(
      (stats) => ({ stats, sampleTotalMs: performance.now() - t0 }),
      () => null,
    );
    return { feed, openMs: performance.now() - t0, finished, ...facts };
  });
}

/**
 * Samples a video exactly as VideoScore2's reference pipeline does (qwen-vl-utils: 2 fps, even frame
 * count, smart_resize to multiples of 28), decoding in-process off the JS thread.
 *
 * @param input a file path or the file's bytes
 * @throws VideoScoreError with codes ERR_INPUT_NOT_FOUND, ERR_INPUT_UNREADABLE, ERR_NO_VIDEO_STREAM,
 *   ERR_DECODE, ERR_VIDEO_TOO_SHORT, ERR_VIDEO_LIMITS, ERR_ABORTED, ERR_INVALID_OPTION
 */
export async function sampleFrames(input: string | Buffer | Uint8Array, options: SampleOptions = {}): Promise<SampledVideo> {
  const { signal, limits, ...rest } = options;
  const src = checkVideoInput(input);
  const sampling = validateSamplingOptions(rest);
  const lim = resolveLimits(limits);
  const cancel = new Cancellation(signal);
  try {
    return await sampleWith(loadAddon().addon, src, sampling, lim, cancel);
  } catch (e) {
    throw withInputPath(cancel.translate(e), src);
  } finally {
    cancel.dispose();
  }
}

