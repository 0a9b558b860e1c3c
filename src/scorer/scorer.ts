/**
 * VideoScorer: loads a VideoScore2 GGUF (text model + mmproj) and scores videos against their text
 * prompts the way the reference does (docs/reference.md §1–§4), in-process. Options are resolved in
 * options.ts, results assembled in result.ts; this file runs the calls.
 */
import { availableParallelism } from "node:os";
import { Cancellation, CANCEL_ABORTED, CANCEL_DISPOSED } from "../addon/cancel.js";
import { invalidOption, VideoScoreError, withInputPath } from "../addon/errors.js";
import type { NativeAddon, NativeModel, NativeModelInfo } from "../addon/interface.js";
import { loadAddon } from "../addon/loader.js";
import { planChecked, type FramePlan } from "../video/frame-plan.js";
import { openOptions } from "../video/limits.js";
import { streamWith, type StreamedVideo } from "../video/sample.js";
import { cancelOnExit } from "./exit-cancel.js";
import { checkModelPair } from "./model-check.js";
import { resolveLoadOptions, resolveScoreOptions, type LoadOptions, type ScoreOptions } from "./options.js";
import { assembleResult, type ScoreResult } from "./result.js";
import type { ChatLayout } from "./prompt.js";

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

/** A promise chain that lets one generate run at a time: llama.cpp has one context per model. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

/**
 * Scores AI-generated videos like VideoScore2. One scorer holds one model; concurrent `score()` calls
 * are safe: video sampling runs in parallel, generation runs one call at a time in call order.
 */
export class VideoScorer implements AsyncDisposable {
  private model: NativeModel | null;
  private readonly addon: NativeAddon;
  private readonly serial = new Serial();
  private readonly inFlight = new Set<Cancellation>();

  private readonly pipeline: { overlap: boolean; decodeThreads: number };

  private constructor(addon: NativeAddon, model: NativeModel, pipeline: { overlap: boolean; decodeThreads: number }) {
    this.pipeline = pipeline;
    this.addon = addon;
    this.model = model;
  }

  /**
   * Loads the text model and the vision projector.
   * @throws VideoScoreError ERR_MODEL_LOAD, ERR_MODEL_MISMATCH, ERR_BINARY_NOT_FOUND, ERR_INVALID_OPTION
   */
  static async load(options: LoadOptions): Promise<VideoScorer> {
    const { native, gpu, overlapSampling } = resolveLoadOptions(options);
    await checkModelPair(native.model, native.mmproj);
    const { addon, cuda } = loadAddon(gpu);
    const model = await addon.loadModel({ ...native, gpuLayers: cuda ? native.gpuLayers : 0 });
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
      const p = this.live() === model ? model.prepare({ ...text, nframes: plan.nframes, width: plan.width, height: plan.height }) : null;
      if (!p) throw new VideoScoreError("ERR_DISPOSED", "The scorer was disposed");
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

  /**
   * Refuses a plan whose tokens cannot fit the context before any frame is decoded (decoding 5000
   * frames to learn that costs gigabytes). The engine checks again with the forced answer counted.
   */
  private checkFits(model: NativeModel, layout: ChatLayout, plan: FramePlan, maxTokens: number): void {
    const prompt = model.prepare({ ...layout, nframes: plan.nframes, width: plan.width, height: plan.height }).tokens.length;
    const n = model.info.contextSize;
    if (prompt + maxTokens > n)
      throw new VideoScoreError(
        "ERR_CONTEXT_FULL",
        `This video needs ${prompt} prompt tokens (${plan.nframes} frames of ${plan.width}x${plan.height}) + ${maxTokens} to generate, more than the context of ${n}; ` +
          "load the scorer with a larger contextSize, or lower fps/nframes/maxPixels/maxTokens",
      );
  }

  /**
   * Scores one video against its prompt: samples frames, encodes them, prefills and generates the
   * chain of thought and the three scores; soft scores come from the digit probabilities.
   * @throws VideoScoreError (see the README's table of codes)
   */
  async score(video: string | Buffer, options: ScoreOptions): Promise<ScoreResult> {
    const model = this.live();
    const { input, layout, frames: frameOpts, sampling, mode, limits } = resolveScoreOptions(video, options);
    const { overlap, decodeThreads } = this.pipeline;
    if (options.limits?.threads === undefined && decodeThreads > 0) limits.threads = decodeThreads;
    const cancel = new Cancellation(options.signal);
    this.inFlight.add(cancel);
    const untrack = cancelOnExit(cancel);
    const t0 = performance.now();
    let stream: StreamedVideo | undefined;
    let settledOk = false;
    try {
      options.onProgress?.({ phase: "sample", done: 0, total: 1 });
      // With overlap the decode runs on while the model works: frame pairs go to the vision encoder as
      // they come. Without, every frame is decoded before the model is asked for.
      const sampled = await streamWith(this.addon, input, frameOpts, limits, cancel, (plan) => this.checkFits(model, layout, plan, sampling.maxTokens));
      stream = sampled;
      void sampled.finished.then((f) => f && options.onProgress?.({ phase: "sample", done: 1, total: 1 }));
      let decodedFirst: Awaited<StreamedVideo["finished"]> = null;
      if (!overlap) {
        await sampled.feed.done; // rejects with the decode's error
        decodedFirst = await sampled.finished;
      }
      const decoder = new TextDecoder("utf-8");
      let streamed = 0;
      const out = await this.serial.run(async () => {
        cancel.throwIfRaised();
        return model.generate(
          { ...layout, video: sampled.feed, sampling },
          cancel.flag,
          options.onToken || options.onProgress
            ? (e) => {
                if (e.type === "token") {
                  const s = decoder.decode(e.bytes, { stream: true });
                  if (s) options.onToken?.(s, streamed);
                  streamed++;
                } else if (e.phase !== "quantize") {
                  options.onProgress?.({ phase: e.phase, done: e.done, total: e.total });
                }
              }
            : undefined,
        );
      });
      const tail = decoder.decode();
      if (tail) options.onToken?.(tail, streamed);
      const finished = await sampled.finished;
      // Sampled first, all of it was on the call's path; overlapped, opening and the encoder's waits were.
      const onPath = decodedFirst ? decodedFirst.sampleTotalMs : sampled.openMs + out.timings.frameWaitMs;
      const sampleTotalMs = finished?.sampleTotalMs ?? onPath;
      const sampleMs = Math.min(onPath, sampleTotalMs);
      const result = assembleResult(out, sampled, { sampleMs, sampleTotalMs }, performance.now() - t0, mode);
      settledOk = true;
      return result;
    } catch (e) {
      throw withInputPath(cancel.translate(e), input);
    } finally {
      if (stream) {
        // When the model failed or never ran the decode may still be going: stop it, and let it end
        // before the call settles. Then the frames go now rather than at garbage collection.
        if (!settledOk) cancel.raise(CANCEL_ABORTED);
        await stream.finished;
        stream.feed.close();
      }
      this.inFlight.delete(cancel);
      untrack();
      cancel.dispose();
    }
  }

  /**
   * Scores many videos through one queue; each item settles on its own (a failure does not stop the
   * others). With concurrency > 1, sampling of the next videos overlaps generation of the current one;
   * memory holds at most `concurrency` videos' frames.
   */
  async scoreMany(
    items: readonly ScoreManyItem[],
    options: {
      signal?: AbortSignal;
      /** Items in flight at once (sampled ahead while one generates); default 2. */
      concurrency?: number;
      onResult?: (r: ScoreManyResult, index: number) => void;
    } = {},
  ): Promise<ScoreManyResult[]> {
    if (!Array.isArray(items)) throw invalidOption("items", "an array", items);
    const concurrency = options.concurrency ?? 2;
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
    const model = this.model;
    this.model = null;
    model.dispose();
    // Let the running job notice its flag and settle before we report done.
    await this.serial.run(async () => undefined);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

