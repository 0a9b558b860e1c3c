/**
 * VideoScorer: loads a VideoScore2 GGUF (text model + mmproj) and scores videos against their text
 * prompts the way the reference does (REFERENCE.md §1–§4), in-process.
 */
import { availableParallelism } from "node:os";
import { loadAddon, type GpuPreference } from "../addon/loader.js";
import { Cancellation, CANCEL_ABORTED, CANCEL_DISPOSED } from "../addon/cancel.js";
import { invalidOption, VideoScoreError } from "../addon/errors.js";
import { checkModelPair } from "./model-check.js";
import type { NativeAddon, NativeGenerateResult, NativeModel, NativeModelInfo } from "../addon/interface.js";
import { DIMENSIONS, parseAnswer, type Dimension } from "./parse.js";
import { chatLayout, renderUserPrompt, validatePromptTemplate, type PromptTemplate } from "./prompt.js";
import { planFrames, validateSamplingOptions, type FramePlan, type FrameSamplingOptions } from "../video/frame-plan.js";
import { expectedScore, normalizedSoft } from "./soft-score.js";
import { streamWith, validateLimits, validateVideoInput, type SampledVideo, type StreamedVideo, type VideoLimits } from "../video/sample.js";

/** Options of {@link VideoScorer.load}. */
export interface LoadOptions {
  /** Path of the text model GGUF (arch `qwen2vl`). */
  model: string;
  /** Path of the vision projector GGUF (arch `clip`, projector `qwen2.5vl_merger`). */
  mmproj: string;
  /** Layers to offload to the GPU: 0 = none, -1 = all (default: VIDEOSCORE2_GPU_LAYERS, else 0). Ignored by the CPU build. */
  gpuLayers?: number;
  /** CPU threads for llama.cpp and the vision encoder (default: one per core). */
  threads?: number;
  /** KV cache size in tokens; must hold the video tokens, the prompt and maxTokens (default 16384). */
  contextSize?: number;
  /** Tokens per llama_decode call (default 2048). */
  batchSize?: number;
  /**
   * Flash attention (default on). `true`/`false` sets the text model and the vision encoder; an
   * object sets each. On CPU it makes the vision encoder ~2.5× faster; in the text model it speeds
   * prefill but, measured on the tiny model, slows token generation ~3.5× (`{ text: false }`).
   */
  flashAttention?: boolean | { text?: boolean; vision?: boolean };
  /** Which build of the addon to use (default "auto", or VIDEOSCORE2_GPU). */
  gpu?: GpuPreference;
  /**
   * Decode the later frames while the first frame pairs are being encoded (default: when the vision
   * encoder runs on a GPU, or `threads` leaves CPU cores free for decoding). When llama.cpp already
   * uses every core, overlapping only makes the two compete for them, so the default then samples
   * first and encodes after.
   */
  overlapSampling?: boolean;
}

/** Options of one {@link VideoScorer.score} call. */
export interface ScoreOptions extends FrameSamplingOptions {
  /** The text prompt the video was generated from. */
  prompt: string;
  /** Prompt template: "inference" (model card, default), "inference-indented", "benchmark" (paper), or `{ custom }`. */
  template?: PromptTemplate;
  /** Sampling seed (default 0). Same seed, same build, same input: same output. */
  seed?: number;
  /** Sampling temperature (default 0.7, as the reference); 0 = greedy. */
  temperature?: number;
  /** Top-k (default 50, transformers' default); 0 = off. */
  topK?: number;
  /** Top-p (default 1 = off). */
  topP?: number;
  /** Most tokens to generate (default 1024, as the reference). */
  maxTokens?: number;
  /**
   * Constrain the output with a grammar: the thinking runs free (without "<"); after
   * `maxThinkingTokens` tokens (default maxTokens − 96) it is closed for the model, and the three
   * answer lines are forced.
   */
  constrain?: boolean | { maxThinkingTokens?: number };
  /**
   * "think" (default): the model writes its chain of thought, then the answer, as in the reference.
   * "direct": no chain of thought — the thinking is prefilled as closed and the answer lines are
   * forced, reading p(1..5) at each score position (three short forced decodes; the most probable
   * digit is kept). Much faster; the scores are not the reference's (the model was trained to think
   * first).
   */
  mode?: "think" | "direct";
  /** Rejects the call with ERR_ABORTED when it fires. */
  signal?: AbortSignal;
  /** Receives the generated text as it streams, token by token. */
  onToken?: (text: string, tokenIndex: number) => void;
  /** Receives phase progress: encode (frame pairs), prefill, generate (tokens of maxTokens). */
  onProgress?: (progress: ScoreProgress) => void;
  /** Bounds on decoding work. */
  limits?: VideoLimits;
}

/** One progress report. */
export interface ScoreProgress {
  phase: "sample" | "encode" | "prefill" | "generate";
  done: number;
  total: number;
}

/** One dimension's scores. */
export interface DimensionScore {
  /** The integer score of the final answer (1–5), or null when the answer lacks it. */
  score: number | null;
  /** The paper's normalized soft score s*·p(s*)/Σp (Eq. 2), from the processed probabilities. */
  soft: number | null;
  /** The expectation Σ s·p(s)/Σp. */
  expected: number | null;
  /** p("1")…p("5") under the distribution the digit was sampled from (temperature, top-k applied). */
  probs: number[] | null;
  /** p("1")…p("5") under the raw logits. */
  rawProbs: number[] | null;
  /** Index of the score digit among the generated tokens, or -1. */
  tokenIndex: number;
}

/** The frames the model saw. */
export interface ScoredFrames {
  count: number;
  width: number;
  height: number;
  indices: number[];
  sourceWidth: number;
  sourceHeight: number;
  totalFrames: number;
  nativeFps: number;
}

/**
 * Milliseconds per phase. Frames are decoded while earlier frame pairs are being encoded, so the
 * phases overlap: `sampleMs` counts only the time the call waited on sampling, and
 * sampleMs + encodeMs + prefillMs + generateMs is the call's own work (totalMs adds any wait for
 * the model behind other calls).
 */
export interface ScoreTimings {
  /** Opening, indexing and planning, plus the time the vision encoder waited for frames still being decoded. */
  sampleMs: number;
  /** From the call until the last frame was decoded (overlapping the encoder). */
  sampleTotalMs: number;
  encodeMs: number;
  prefillMs: number;
  generateMs: number;
  totalMs: number;
  promptTokens: number;
  generatedTokens: number;
  tokensPerSecond: number;
}

/** What {@link VideoScorer.score} returns. */
export interface ScoreResult {
  visualQuality: DimensionScore;
  textAlignment: DimensionScore;
  physicalConsistency: DimensionScore;
  /** The chain of thought (inside <think>…</think>), or the text before the answer. */
  rationale: string;
  /** The whole generated text. */
  text: string;
  /** Generated token ids. */
  tokens: number[];
  /** "eos" when the model finished, "max_tokens" when it was cut. */
  stopReason: "eos" | "max_tokens";
  /** How the answer was produced (see {@link ScoreOptions.mode}). */
  mode: "think" | "direct";
  frames: ScoredFrames;
  timings: ScoreTimings;
}

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
  text: { beforeVideo: string; afterVideo: string };
}

/** Items of {@link VideoScorer.scoreMany}. */
export interface ScoreManyItem extends Omit<ScoreOptions, "signal" | "onToken" | "onProgress"> {
  video: string | Buffer;
}

/** One settled item of {@link VideoScorer.scoreMany}. */
export type ScoreManyResult =
  | { video: string | Buffer; ok: true; result: ScoreResult }
  | { video: string | Buffer; ok: false; error: VideoScoreError };

const DEFAULTS = { seed: 0, temperature: 0.7, topK: 50, topP: 1, maxTokens: 1024 };

/** The answer of direct mode: an empty (closed) thinking, then the three lines; a digit follows each segment. */
export const DIRECT_SEGMENTS: readonly string[] = [
  "\n<think>\n\n</think>\n\n(1) visual quality: ",
  "\n(2) text-to-video alignment: ",
  "\n(3) physical/common-sense consistency: ",
];

function flashAttentionOption(v: unknown): { text: boolean; vision: boolean } {
  if (v === undefined || typeof v === "boolean") return { text: v ?? true, vision: v ?? true };
  if (typeof v === "object" && v !== null) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o))
      if ((k !== "text" && k !== "vision") || (o[k] !== undefined && typeof o[k] !== "boolean"))
        throw invalidOption("flashAttention", "a boolean or { text?: boolean, vision?: boolean }", v);
    return { text: (o.text as boolean | undefined) ?? true, vision: (o.vision as boolean | undefined) ?? true };
  }
  throw invalidOption("flashAttention", "a boolean or { text?: boolean, vision?: boolean }", v);
}

/** VIDEOSCORE2_GPU_LAYERS as the default of `gpuLayers` (so a whole app, or the test suite, can run on the GPU unchanged). */
function gpuLayersFromEnv(): number {
  const raw = process.env.VIDEOSCORE2_GPU_LAYERS;
  if (raw === undefined || raw === "") return 0;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < -1) throw invalidOption("VIDEOSCORE2_GPU_LAYERS", "an integer >= -1", raw);
  return v;
}

function num(o: Record<string, unknown>, key: string, def: number, ok: (v: number) => boolean, expected: string): number {
  const v = o[key];
  if (v === undefined) return def;
  if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) throw invalidOption(key, expected, v);
  return v;
}

/**
 * The GBNF grammar of `constrain`: free thinking, then the three answer lines. (The thinking's length
 * is bounded by the engine's budget, not by the grammar: a `{0,N}` repetition expands into N rules
 * and makes every sampling step slow.)
 */
export function answerGrammar(): string {
  return [
    `root ::= "\\n"? "<think>" think "</think>" "\\n"{0,2} answer`,
    `think ::= [^<]*`,
    `answer ::= "(1) visual quality: " d "\\n(2) text-to-video alignment: " d "\\n(3) physical/common-sense consistency: " d "\\n"?`,
    `d ::= [1-5]`,
  ].join("\n");
}

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
    if (typeof options !== "object" || options === null) throw invalidOption("options", "an object", options);
    const o = options as unknown as Record<string, unknown>;
    for (const key of ["model", "mmproj"] as const)
      if (typeof o[key] !== "string" || (o[key] as string).length === 0) throw invalidOption(key, "a path to a GGUF file", o[key]);
    const gpuLayers = num(o, "gpuLayers", gpuLayersFromEnv(), (v) => Number.isInteger(v) && v >= -1, "an integer >= -1");
    const threads = num(o, "threads", 0, (v) => Number.isInteger(v) && v >= 0, "an integer >= 0");
    const contextSize = num(o, "contextSize", 16384, (v) => Number.isInteger(v) && v >= 256, "an integer >= 256");
    const batchSize = num(o, "batchSize", 2048, (v) => Number.isInteger(v) && v >= 32, "an integer >= 32");
    if (o.gpu !== undefined && o.gpu !== "auto" && o.gpu !== "cuda" && o.gpu !== "cpu")
      throw invalidOption("gpu", '"auto", "cuda" or "cpu"', o.gpu);
    const fa = flashAttentionOption(o.flashAttention);
    if (o.overlapSampling !== undefined && typeof o.overlapSampling !== "boolean")
      throw invalidOption("overlapSampling", "a boolean", o.overlapSampling);
    await checkModelPair(options.model, options.mmproj);
    const { addon, cuda } = loadAddon(options.gpu);
    const model = await addon.loadModel({
      model: options.model,
      mmproj: options.mmproj,
      gpuLayers: cuda ? gpuLayers : 0,
      threads,
      contextSize,
      batchSize,
      flashAttention: fa.text,
      flashAttentionVision: fa.vision,
    });
    const spareCores = Math.max(0, availableParallelism() - model.info.threads);
    const overlap = options.overlapSampling ?? (model.info.visionOnGpu || spareCores > 0);
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

  private static sampling(o: ScoreOptions) {
    const r = o as unknown as Record<string, unknown>;
    const seed = num(r, "seed", DEFAULTS.seed, (v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff, "an integer in [0, 2^32)");
    const temperature = num(r, "temperature", DEFAULTS.temperature, (v) => v >= 0 && v <= 10, "a number in [0, 10]");
    const topK = num(r, "topK", DEFAULTS.topK, (v) => Number.isInteger(v) && v >= 0, "an integer >= 0");
    const topP = num(r, "topP", DEFAULTS.topP, (v) => v > 0 && v <= 1, "a number in (0, 1]");
    const maxTokens = num(r, "maxTokens", DEFAULTS.maxTokens, (v) => Number.isInteger(v) && v >= 1 && v <= 65536, "an integer in [1, 65536]");
    let grammar: string | undefined;
    let closeAfterTokens = 0;
    if (o.constrain !== undefined && o.constrain !== false) {
      if (o.constrain !== true && (typeof o.constrain !== "object" || o.constrain === null))
        throw invalidOption("constrain", "a boolean or { maxThinkingTokens }", o.constrain);
      const budget = o.constrain === true ? undefined : o.constrain.maxThinkingTokens;
      if (budget !== undefined && (!Number.isInteger(budget) || budget < 0))
        throw invalidOption("constrain.maxThinkingTokens", "an integer >= 0", budget);
      grammar = answerGrammar();
      // The budget counts from the start of the generation ("<think>" included).
      closeAfterTokens = Math.max(1, budget ?? maxTokens - 96);
    }
    if (o.mode !== undefined && o.mode !== "think" && o.mode !== "direct") throw invalidOption("mode", '"think" or "direct"', o.mode);
    if (o.mode === "direct") {
      if (grammar) throw invalidOption("constrain", "unset in direct mode (the answer is already forced)", o.constrain);
      return { seed, temperature, topK, topP, maxTokens: 8, grammar, closeAfterTokens, directSegments: [...DIRECT_SEGMENTS], mode: "direct" as const };
    }
    return { seed, temperature, topK, topP, maxTokens, grammar, closeAfterTokens, directSegments: undefined, mode: "think" as const };
  }

  private static texts(o: ScoreOptions) {
    if (typeof o !== "object" || o === null) throw invalidOption("options", "an object with a prompt", o);
    if (typeof o.prompt !== "string") throw invalidOption("prompt", "a string", o.prompt);
    const template = validatePromptTemplate(o.template ?? "inference");
    return chatLayout(renderUserPrompt(template, o.prompt));
  }

  private static splitOptions(o: ScoreOptions): FrameSamplingOptions {
    const { fps, nframes, minFrames, maxFrames, minPixels, maxPixels, totalPixels, start, end } = o;
    const picked = { fps, nframes, minFrames, maxFrames, minPixels, maxPixels, totalPixels, start, end };
    return validateSamplingOptions(Object.fromEntries(Object.entries(picked).filter(([, v]) => v !== undefined)));
  }

  /**
   * The model input for a video without generating: token ids, (t, h, w) positions, the video's
   * token range, frame count and size. Opens and indexes the video; decodes nothing.
   */
  async prepare(video: string | Buffer, options: ScoreOptions): Promise<PreparedInput> {
    const model = this.live();
    const input = validateVideoInput(video);
    const text = VideoScorer.texts(options);
    const sampling = VideoScorer.splitOptions(options);
    const limits = validateLimits(options.limits);
    const cancel = new Cancellation(options.signal);
    try {
      const v = await this.addon.openVideo(input, limits, cancel.flag);
      let plan: FramePlan;
      try {
        const i = v.info;
        plan = planFrames({ totalFrames: i.totalFrames, fps: i.fps, width: i.width, height: i.height }, sampling);
      } finally {
        v.close();
      }
      const p = this.live() === model ? model.prepare(text.beforeVideo, text.afterVideo, plan.nframes, plan.width, plan.height) : null;
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
      throw cancel.translate(e);
    } finally {
      cancel.dispose();
    }
  }

  /**
   * Scores one video against its prompt: samples frames, encodes them, prefills and generates the
   * chain of thought and the three scores; soft scores come from the digit probabilities.
   * @throws VideoScoreError (see the README's table of codes)
   */
  async score(video: string | Buffer, options: ScoreOptions): Promise<ScoreResult> {
    const model = this.live();
    const input = validateVideoInput(video);
    const text = VideoScorer.texts(options);
    const frameOpts = VideoScorer.splitOptions(options);
    const sp = VideoScorer.sampling(options);
    const limits = validateLimits(options.limits);
    const { overlap, decodeThreads } = this.pipeline;
    if (limits.threads === undefined && decodeThreads > 0) limits.threads = decodeThreads;
    const cancel = new Cancellation(options.signal);
    this.inFlight.add(cancel);
    const t0 = performance.now();
    let stream: StreamedVideo | undefined;
    let settledOk = false;
    try {
      options.onProgress?.({ phase: "sample", done: 0, total: 1 });
      // With overlap the decode runs on while the model works: frame pairs go to the vision encoder as
      // they come. Without, every frame is decoded before the model is asked for.
      const sampled = await streamWith(this.addon, input, frameOpts, limits, cancel);
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
          text.beforeVideo,
          text.afterVideo,
          sampled.feed,
          sampled.width,
          sampled.height,
          { seed: sp.seed, temperature: sp.temperature, topK: sp.topK, topP: sp.topP, maxTokens: sp.maxTokens, grammar: sp.grammar ?? "", directSegments: sp.directSegments, closeAfterTokens: sp.closeAfterTokens, closeText: sp.grammar ? "</think>" : "" },
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
      const result = VideoScorer.assemble(out, sampled, { sampleMs, sampleTotalMs }, performance.now() - t0, sp.mode);
      settledOk = true;
      return result;
    } catch (e) {
      throw cancel.translate(e);
    } finally {
      if (stream) {
        // When the model failed or never ran the decode may still be going: stop it, and let it end
        // before the call settles. Then the frames go now rather than at garbage collection.
        if (!settledOk) cancel.raise(CANCEL_ABORTED);
        await stream.finished;
        stream.feed.close();
      }
      this.inFlight.delete(cancel);
      cancel.dispose();
    }
  }

  private static assemble(
    out: NativeGenerateResult,
    sampled: Omit<SampledVideo, "frames" | "stats">,
    { sampleMs, sampleTotalMs }: { sampleMs: number; sampleTotalMs: number },
    totalMs: number,
    mode: "think" | "direct",
  ): ScoreResult {
    const { text, charStarts } = decodeWithOffsets(out.text, out.tokenOffsets);
    const parsed = parseAnswer(text);
    const digitsByToken = new Map(out.digits.map((d) => [d.tokenIndex, d]));
    const dims = {} as Record<Dimension, DimensionScore>;
    for (const dim of DIMENSIONS) {
      const loc = parsed.scores[dim];
      let tokenIndex = -1;
      let probs: number[] | null = null;
      let rawProbs: number[] | null = null;
      if (loc) {
        tokenIndex = lastAtOrBefore(charStarts, loc.charIndex);
        const d = digitsByToken.get(tokenIndex);
        if (d) {
          probs = d.probs;
          rawProbs = d.rawProbs;
        }
      }
      const soft = probs ? normalizedSoft(probs) : NaN;
      const expected = probs ? expectedScore(probs) : NaN;
      dims[dim] = {
        score: loc ? loc.score : null,
        soft: Number.isFinite(soft) ? soft : null,
        expected: Number.isFinite(expected) ? expected : null,
        probs,
        rawProbs,
        tokenIndex,
      };
    }
    const rationale = (parsed.thinking ?? text.slice(0, parsed.answerOffset)).trim();
    const genMs = out.timings.generateMs;
    return {
      ...dims,
      rationale,
      text,
      tokens: Array.from(out.tokenIds),
      stopReason: out.stopReason,
      mode,
      frames: {
        count: sampled.plan.indices.length,
        width: sampled.width,
        height: sampled.height,
        indices: sampled.plan.indices,
        sourceWidth: sampled.sourceWidth,
        sourceHeight: sampled.sourceHeight,
        totalFrames: sampled.totalFrames,
        nativeFps: sampled.nativeFps,
      },
      timings: {
        sampleMs,
        sampleTotalMs,
        encodeMs: out.timings.encodeMs,
        prefillMs: out.timings.prefillMs,
        generateMs: genMs,
        totalMs,
        promptTokens: out.timings.promptTokens,
        generatedTokens: out.timings.generatedTokens,
        tokensPerSecond: genMs > 0 ? (out.timings.generatedTokens * 1000) / genMs : 0,
      },
    };
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

/**
 * Decodes the generated bytes token by token with one streaming decoder, so that the text equals a
 * whole decode and each token's start is known in UTF-16 units even when byte-level tokens split a
 * character or the model emitted invalid UTF-8.
 */
function decodeWithOffsets(bytes: Buffer, offsets: Uint32Array): { text: string; charStarts: number[] } {
  const decoder = new TextDecoder("utf-8");
  const charStarts: number[] = [];
  let text = "";
  for (let i = 0; i < offsets.length; i++) {
    charStarts.push(text.length);
    const end = i + 1 < offsets.length ? (offsets[i + 1] as number) : bytes.length;
    text += decoder.decode(bytes.subarray(offsets[i] as number, end), { stream: true });
  }
  text += decoder.decode();
  return { text, charStarts };
}

/** Index of the last element <= x in an ascending array, or -1. */
function lastAtOrBefore(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  if (hi < 0 || (sorted[0] as number) > x) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((sorted[mid] as number) <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
