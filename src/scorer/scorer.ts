/**
 * VideoScorer: loads a VideoScore2 GGUF (text model + mmproj) and scores videos against their text
 * prompts the way the reference does (docs/reference.md §1–§4), in-process. Options are resolved in
 * options.ts, results assembled in result.ts; this file runs the calls.
 */
import { availableParallelism } from "node:os";
import { Cancellation, CANCEL_DISPOSED } from "../addon/cancel.js";
import { invalidOption, VideoScoreError, withInputPath } from "../addon/errors.js";
import type { NativeAddon, NativeEncoded, NativeEvent, NativeGenerateResult, NativeModel, NativeModelInfo } from "../addon/interface.js";
import { chooseDevice } from "../addon/devices.js";
import { gpuPreferenceFromEnv, loadAddon } from "../addon/loader.js";
import { planChecked, type FramePlan } from "../video/frame-plan.js";
import type { FrameSamplingOptions } from "../video/frame-options.js";
import { openOptions, resolveLimits, type VideoLimits } from "../video/limits.js";
import { checkVideoInput, streamWith, type StreamedVideo } from "../video/sample.js";
import { cancelOnExit } from "./exit-cancel.js";
import { EncodedVideo, type VideoFacts } from "./encoded-video.js";
import { Gate } from "./gate.js";
import { checkModelPair } from "./model-check.js";
import { checkFits, checkPromptBytes } from "./prompt-fit.js";
import { decodeFirst, endStream, sampleTimes } from "./stream-steps.js";
import { nativeLoadOptions, resolveLoadOptions, resolvePromptOptions, resolveScoreOptions, type LoadOptions, type ScoreOptions, type ScoreProgress } from "./options.js";
import { assembleResult, type ScoredFrames, type ScoreResult } from "./result.js";
import type { ChatLayout } from "./prompt.js";

export { EncodedVideo } from "./encoded-video.js";

/** What {@link VideoScorer.prepare} returns: the model input without generating. */
export interface PreparedInput {
  tokens: number[];
  /** (t, h, w) M-RoPE position of every token, as transformers' get_rope_index computes them. */
  positions: { t: number[]; h: number[]; w: number[] };
  /** Token range [start, end) of the video block. */
  videoTokens: { start: number; end: number };
  /** Merged grid: frame pairs × rows × columns. */
  grid: { t: number; h: number; w: number };
  /** Position of the first generated token. */
  nextPosition: number;
  frames: { count: number; width: number; height: number; indices: number[] };
  plan: FramePlan;
  text: ChatLayout;
}

/** Items of {@link VideoScorer.scoreMany}. */
export interface ScoreManyItem extends Omit<ScoreOptions, "signal" | "onToken" | "onProgress"> {
  video: string | Buffer;
}

/** One settled item of {@link VideoScorer.scoreMany}. */
export type ScoreManyResult =
  | { video: string | Buffer; ok: true; result: ScoreResult }
  | { video: string | Buffer; ok: false; error: VideoScoreError };

/** Options of {@link VideoScorer.encode}: how to sample the frames (the prompt comes with each score). */
export interface EncodeOptions extends FrameSamplingOptions {
  signal?: AbortSignal;
  /** Receives phase progress: sample, encode (frame pairs). */
  onProgress?: (progress: ScoreProgress) => void;
  limits?: VideoLimits;
}

/**
 * Scores AI-generated videos like VideoScore2. One scorer holds one model; concurrent `score()` calls
 * are safe: video sampling runs in parallel, and the model takes them in call order, one at a time
 * or, with the load option `parallel`, that many at once with their generation batched.
 */
export class VideoScorer implements AsyncDisposable {
  private model: NativeModel | null;
  private readonly addon: NativeAddon;
  private readonly gate: Gate;
  private readonly inFlight = new Set<Cancellation>();
  private readonly encoded = new Set<EncodedVideo>();

  private readonly pipeline: { overlap: boolean; decodeThreads: number };

  private constructor(addon: NativeAddon, model: NativeModel, pipeline: { overlap: boolean; decodeThreads: number }) {
    this.pipeline = pipeline;
    this.gate = new Gate(model.info.parallel);
    this.addon = addon;
    this.model = model;
  }

  /**
   * Loads the text model and the vision projector.
   * @throws VideoScoreError ERR_MODEL_LOAD, ERR_MODEL_MISMATCH, ERR_BINARY_NOT_FOUND, ERR_INVALID_OPTION
   */
  static async load(options: LoadOptions): Promise<VideoScorer> {
    const resolved = resolveLoadOptions(options);
    const { native, overlapSampling } = resolved;
    await checkModelPair(native.model, native.mmproj);
    const gpu = resolved.gpu ?? gpuPreferenceFromEnv();
    const loaded = loadAddon(gpu);
    const choice = chooseDevice(loaded, gpu, resolved.gpuDevice);
    const backend = !choice.device ? "cpu" : choice.device.backend === "cuda" ? "cuda" : "vulkan";
    const model = await loaded.addon.loadModel(nativeLoadOptions(resolved, backend, choice.name));
    const addon = loaded.addon;
    const spareCores = Math.max(0, availableParallelism() - model.info.threads);
    const overlap = overlapSampling ?? (model.info.visionOnGpu || spareCores > 0);
    // On a CPU the decoders get the cores llama.cpp leaves free (at least one); beside a GPU encoder, all.
    const decodeThreads = overlap && !model.info.visionOnGpu ? Math.max(1, spareCores) : 0;
    return new VideoScorer(addon, model, { overlap, decodeThreads });
  }

  /** Metadata of the loaded text model. */
  get info(): NativeModelInfo {
    return this.live().info;
  }

  private live(): NativeModel {
    if (!this.model) throw new VideoScoreError("ERR_DISPOSED", "The scorer was disposed; load a new one");
    return this.model;
  }

  /**
   * The model input for a video without generating: token ids, (t, h, w) positions, the video's
   * token range, frame count and size. Opens and indexes the video; decodes nothing.
   */
  async prepare(video: string | Buffer, options: ScoreOptions): Promise<PreparedInput> {
    const model = this.live();
    const { input, layout: text, frames, limits } = resolveScoreOptions(video, options);
    const cancel = new Cancellation(options.signal);
    try {
      const v = await this.addon.openVideo(openOptions(input, limits), cancel.flag);
      let plan: FramePlan;
      try {
        plan = planChecked(v.info, frames);
      } finally {
        v.close();
      }
      if (this.live() !== model) throw new VideoScoreError("ERR_DISPOSED", "The scorer was disposed");
      checkPromptBytes(model.info, text);
      const p = await model.prepare({ ...text, nframes: plan.nframes, width: plan.width, height: plan.height });
      return {
        tokens: Array.from(p.tokens),
        positions: { t: Array.from(p.posT), h: Array.from(p.posH), w: Array.from(p.posW) },
        videoTokens: { start: p.videoStart, end: p.videoEnd },
        grid: { t: p.grid[0], h: p.grid[1], w: p.grid[2] },
        nextPosition: p.nextPos,
        frames: { count: plan.nframes, width: plan.width, height: plan.height, indices: plan.indices },
        plan,
        text,
      };
    } catch (e) {
      throw withInputPath(cancel.translate(e), input);
    } finally {
      cancel.dispose();
    }
  }

  /** A call's cancellation, raised by dispose() and at process exit until `end` is called. */
  private begin(signal?: AbortSignal): { cancel: Cancellation; end: () => void } {
    const cancel = new Cancellation(signal);
    this.inFlight.add(cancel);
    const untrack = cancelOnExit(cancel);
    return {
      cancel,
      end: () => {
        this.inFlight.delete(cancel);
        untrack();
        cancel.dispose();
      },
    };
  }

  /** @internal */
  forget(e: EncodedVideo): void {
    this.encoded.delete(e);
  }

  /** The native event handler of one call: tokens decoded per sample, progress passed on; `finish` flushes. */
  private events(options: Pick<ScoreOptions, "onToken" | "onProgress">): { onEvent?: (e: NativeEvent) => void; finish(): void } {
    // One decoder per sample: their tokens interleave, and a character may span two tokens.
    const decoders: InstanceType<typeof TextDecoder>[] = [];
    const streamed: number[] = [];
    const onEvent =
      options.onToken || options.onProgress
        ? (e: NativeEvent) => {
            if (e.type === "token") {
              const k = e.sample;
              const s = (decoders[k] ??= new TextDecoder("utf-8")).decode(e.bytes, { stream: true });
              streamed[k] ??= 0;
              if (s) options.onToken?.(s, streamed[k]!, k);
              streamed[k]!++;
            } else if (e.phase !== "quantize") {
              options.onProgress?.({ phase: e.phase, done: e.done, total: e.total });
            }
          }
        : undefined;
    return {
      ...(onEvent ? { onEvent } : {}),
      finish: () =>
        decoders.forEach((d, k) => {
          const tail = d.decode();
          if (tail) options.onToken?.(tail, streamed[k]!, k);
        }),
    };
  }

  /**
   * Samples and encodes a video and prefills the chat up to the end of the video, once, for any
   * number of `score(encoded, { prompt })` calls (the prompt's text comes after the video in the chat).
   * The result holds native memory (`bytes`) until its dispose().
   * @throws VideoScoreError as score() does
   */
  async encode(video: string | Buffer, options: EncodeOptions = {}): Promise<EncodedVideo> {
    const model = this.live();
    const input = checkVideoInput(video);
    const { layout, frames: frameOpts, limits } = resolveScoreOptions(video, { ...options, prompt: "" });
    if (options.limits?.threads === undefined && this.pipeline.decodeThreads > 0) limits.threads = this.pipeline.decodeThreads;
    const { cancel, end } = this.begin(options.signal);
    const t0 = performance.now();
    let stream: StreamedVideo | undefined;
    let settledOk = false;
    try {
      options.onProgress?.({ phase: "sample", done: 0, total: 1 });
      const sampled = await streamWith(this.addon, input, frameOpts, limits, cancel, (plan) => checkFits(model, layout, plan, 0, 1));
      stream = sampled;
      const first = await decodeFirst(sampled, this.pipeline.overlap);
      const { onEvent } = this.events(options);
      const native = await this.gate.run(async () => {
        cancel.throwIfRaised();
        return model.encode({ beforeVideo: layout.beforeVideo, video: sampled.feed }, cancel.flag, onEvent);
      });
      const finished = await sampled.finished;
      options.onProgress?.({ phase: "sample", done: 1, total: 1 });
      const { sampleMs } = sampleTimes(sampled, native.timings.frameWaitMs, first, finished);
      const { feed: _f, openMs: _o, finished: _d, ...facts } = sampled;
      const e = new EncodedVideo(this, native, facts, sampleMs, performance.now() - t0);
      this.encoded.add(e);
      settledOk = true;
      return e;
    } catch (e) {
      throw withInputPath(cancel.translate(e), input);
    } finally {
      if (stream) await endStream(stream, settledOk, cancel);
      end();
    }
  }

  private async scoreEncoded(encoded: EncodedVideo, options: ScoreOptions): Promise<ScoreResult> {
    const model = this.live();
    if (encoded.owner !== this) throw invalidOption("video", "an EncodedVideo of this scorer", "one encoded by another scorer");
    const { layout, sampling, mode } = resolvePromptOptions(options);
    resolveLimits(options.limits);
    // Taken now: a dispose() of the encoded video after this call began waits for it.
    const lease = encoded.lease();
    const { cancel, end } = this.begin(options.signal);
    const t0 = performance.now();
    try {
      const { width, height } = encoded.frames;
      await checkFits(model, layout, { ...encoded.video.plan, nframes: encoded.frames.count, width, height }, sampling.maxTokens, sampling.samples);
      const ev = this.events(options);
      const out: NativeGenerateResult = await this.gate.run(async () => {
        cancel.throwIfRaised();
        return model.generate({ ...layout, video: lease.native, sampling }, cancel.flag, ev.onEvent);
      });
      ev.finish();
      return assembleResult(out, encoded.video, { sampleMs: 0, sampleTotalMs: 0 }, performance.now() - t0, mode, sampling.seed);
    } catch (e) {
      throw cancel.translate(e);
    } finally {
      end();
      lease.release();
    }
  }

  /**
   * Scores one video against its prompt: samples frames, encodes them, prefills and generates the
   * chain of thought and the three scores; soft scores come from the digit probabilities.
   * @throws VideoScoreError (see the README's table of codes)
   */
  async score(video: string | Buffer | EncodedVideo, options: ScoreOptions): Promise<ScoreResult> {
    if (video instanceof EncodedVideo) return this.scoreEncoded(video, options);
    const model = this.live();
    const { input, layout, frames: frameOpts, sampling, mode, limits } = resolveScoreOptions(video, options);
    const { overlap, decodeThreads } = this.pipeline;
    if (options.limits?.threads === undefined && decodeThreads > 0) limits.threads = decodeThreads;
    const { cancel, end } = this.begin(options.signal);
    const t0 = performance.now();
    let stream: StreamedVideo | undefined;
    let settledOk = false;
    try {
      options.onProgress?.({ phase: "sample", done: 0, total: 1 });
      // With overlap the decode runs on while the model works: frame pairs go to the vision encoder as
      // they come. Without, every frame is decoded before the model is asked for.
      const sampled = await streamWith(this.addon, input, frameOpts, limits, cancel, (plan) => checkFits(model, layout, plan, sampling.maxTokens, sampling.samples));
      stream = sampled;
      void sampled.finished.then((f) => f && options.onProgress?.({ phase: "sample", done: 1, total: 1 }));
      const first = await decodeFirst(sampled, overlap);
      const ev = this.events(options);
      const out = await this.gate.run(async () => {
        cancel.throwIfRaised();
        return model.generate({ ...layout, video: sampled.feed, sampling }, cancel.flag, ev.onEvent);
      });
      ev.finish();
      const finished = await sampled.finished;
      const result = assembleResult(out, sampled, sampleTimes(sampled, out.timings.frameWaitMs, first, finished), performance.now() - t0, mode, sampling.seed);
      settledOk = true;
      return result;
    } catch (e) {
      throw withInputPath(cancel.translate(e), input);
    } finally {
      if (stream) await endStream(stream, settledOk, cancel);
      end();
    }
  }

  /**
   * Scores many videos through one queue; each item settles on its own (a failure does not stop the
   * others). With concurrency > parallel, sampling of the next videos overlaps generation of the current ones;
   * memory holds at most `concurrency` videos' frames.
   */
  async scoreMany(
    items: readonly ScoreManyItem[],
    options: {
      signal?: AbortSignal;
      /** Items in flight at once (sampled ahead while the model works); default the load option `parallel` + 1. */
      concurrency?: number;
      onResult?: (r: ScoreManyResult, index: number) => void;
    } = {},
  ): Promise<ScoreManyResult[]> {
    if (!Array.isArray(items)) throw invalidOption("items", "an array", items);
    const concurrency = options.concurrency ?? this.live().info.parallel + 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw invalidOption("concurrency", "an integer >= 1", concurrency);
    const results = new Array<ScoreManyResult>(items.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const i = next++;
        const { video, ...rest } = items[i]!;
        let r: ScoreManyResult;
        try {
          r = { video, ok: true, result: await this.score(video, { ...rest, signal: options.signal }) };
        } catch (e) {
          const err = e instanceof VideoScoreError ? e : new VideoScoreError("ERR_INTERNAL", String(e), { cause: e });
          r = { video, ok: false, error: err };
        }
        results[i] = r;
        options.onResult?.(r, i);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
    return results;
  }

  /**
   * Frees the model. Calls in flight or queued reject with ERR_DISPOSED; memory is released when the
   * running one has stopped (within one token).
   */
  async dispose(): Promise<void> {
    if (!this.model) return;
    for (const c of this.inFlight) c.raise(CANCEL_DISPOSED);
    for (const e of [...this.encoded]) e.dispose();
    const model = this.model;
    this.model = null;
    model.dispose();
    // Let the running job notice its flag and settle before we report done.
    await this.gate.idle();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

