/**
 * The options of VideoScorer.load() and score(): checked once, defaults applied once, turned into
 * the one object each native call takes (src/addon/interface.ts). Every default of loading and of
 * token sampling is written here and nowhere else.
 */
import { availableParallelism } from "node:os";
import { checkPath, invalidOption } from "../addon/errors.js";
import { GPU_PREFERENCES, type GpuPreference } from "../addon/loader.js";
import type { GpuDeviceSelector } from "../addon/devices.js";
import type { NativeLoadOptions, NativeSampling } from "../addon/interface.js";
import { validateSamplingOptions, type FrameSamplingOptions } from "../video/frame-options.js";
import { resolveLimits, type ResolvedLimits, type VideoLimits } from "../video/limits.js";
import { checkVideoInput } from "../video/sample.js";
import { chatLayout, DEFAULT_PROMPT_TEMPLATE, renderUserPrompt, validatePromptTemplate, type ChatLayout, type PromptTemplate } from "./prompt.js";

/** Options of {@link VideoScorer.load}. */
export interface LoadOptions {
  /** Path of the text model GGUF (arch `qwen2vl`). */
  model: string;
  /** Path of the vision projector GGUF (arch `clip`, projector `qwen2.5vl_merger`). */
  mmproj: string;
  /**
   * Layers to offload to the GPU: 0 = none (the vision encoder stays on the CPU too), -1 = all
   * (default: VIDEOSCORE2_GPU_LAYERS, else all when a GPU is used). Ignored when none is.
   */
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
  /**
   * Which backend to use (default "auto", or VIDEOSCORE2_GPU): "auto" tries CUDA, then a hardware
   * Vulkan device, then the CPU, and says each fallback in one line; "cuda" and "vulkan" fail with
   * ERR_GPU_UNAVAILABLE instead of falling back. See docs/backends.md.
   */
  gpu?: GpuPreference;
  /**
   * Which GPU, when there are several (default: the best hardware one: discrete before integrated,
   * then the most memory): a Vulkan device's index as `versions().gpuDevices` lists it, or a name,
   * ggml's ("Vulkan1", "CUDA0") or part of the driver's ("RTX 4090"). A software device (llvmpipe)
   * is used only when named here.
   */
  gpuDevice?: GpuDeviceSelector;
  /**
   * Decode the later frames while the first frame pairs are being encoded (default: when the vision
   * encoder runs on a GPU, or `threads` leaves CPU cores free for decoding). When llama.cpp already
   * uses every core, overlapping only makes the two compete for them, so the default then samples
   * first and encodes after.
   */
  overlapSampling?: boolean;
  /**
   * Calls that generate at once (default 1, at most 64): up to this many concurrent `score()` calls
   * (of different videos, or prompts on one `EncodedVideo`) are in the model's context together;
   * their prefills take turns and their generation steps are decoded together, one token of every
   * call per decode. Above 1, every chain of thought has a KV stream of its own (see
   * `samplesPerCall`; its prompt + maxTokens must fit one), so batched calls equal their solo runs;
   * a call waits for free streams. Calls start in call order and settle as they finish. See docs/parallel.md for the
   * memory and the thread pool.
   */
  parallel?: number;
  /**
   * With `parallel` above 1: the samples a call may have (default 1, at most 64). The context holds
   * parallel × samplesPerCall KV streams of `contextSize / (parallel × samplesPerCall)` cells; a
   * call takes one per sample. Unused with parallel 1, where the samples share one cache.
   */
  samplesPerCall?: number;
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
   * `maxThinkingTokens` tokens it is closed for the model. Once the thinking is closed (by the
   * model or the budget) the three answer lines are forced and only their digits are drawn. The
   * budget (default: all of maxTokens) is capped at maxTokens minus the tokens this model's
   * tokenizer needs to write the answer, so the answer always fits; a maxTokens too small for that is
   * ERR_INVALID_OPTION.
   */
  constrain?: boolean | { maxThinkingTokens?: number };
  /**
   * Chains of thought to draw (default 1). The video is encoded and the prompt prefilled once; the
   * k chains share that memory and are decoded together. Sample i uses seed + i, so sample 0 is
   * what `samples: 1` gives. Each dimension then gains mean/std of the soft scores, the majority
   * score and its agreement, and the result keeps every sample. Think mode only.
   */
  samples?: number;
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
  /** Receives the generated text as it streams, token by token (with `samples` > 1, each sample's, interleaved). */
  onToken?: (text: string, tokenIndex: number, sample: number) => void;
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

const LOAD_DEFAULTS = { threads: 0, contextSize: 16384, batchSize: 2048, flashAttention: true, parallel: 1 } as const;
/** Most calls in the context at once: sequence ids are 256, and a call of 64 samples takes 64. */
export const MAX_PARALLEL = 64;
const SAMPLING_DEFAULTS = { seed: 0, temperature: 0.7, topK: 50, topP: 1, maxTokens: 1024 } as const;
/** Most samples of one call. */
export const MAX_SAMPLES = 64;
/** Direct mode generates only the three digits. */
const DIRECT_MAX_TOKENS = 8;

/** The answer of direct mode: an empty (closed) thinking, then the three lines; a digit follows each segment. */
export const DIRECT_SEGMENTS: readonly string[] = [
  "\n<think>\n\n</think>\n\n(1) visual quality: ",
  "\n(2) text-to-video alignment: ",
  "\n(3) physical/common-sense consistency: ",
];

/** The answer of `constrain` after the closed thinking, forced segment by segment with a digit drawn after each. */
export const ANSWER_SEGMENTS: readonly string[] = ["\n\n(1) visual quality: ", DIRECT_SEGMENTS[1]!, DIRECT_SEGMENTS[2]!];

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

/** The sampling of a parity or benchmark call that drives the addon itself: the defaults, then `overrides`. */
export function nativeSampling(overrides: Partial<NativeSampling> = {}): NativeSampling {
  return {
    ...SAMPLING_DEFAULTS,
    grammar: "",
    forcedText: "",
    closeAfterTokens: 0,
    openText: "",
    closeText: "",
    answerSegments: [],
    samples: 1,
    topLogits: 0,
    directSegments: [],
    ...overrides,
  };
}

function num(o: Record<string, unknown>, key: string, def: number, ok: (v: number) => boolean, expected: string): number {
  const v = o[key];
  if (v === undefined) return def;
  if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) throw invalidOption(key, expected, v);
  return v;
}

const INT32_MAX = 2 ** 31 - 1;
/** 2^20 tokens: a 7B model's KV cache for it is ~57 GB, more than any one GPU holds. */
const MAX_CONTEXT = 2 ** 20;
/** ggml's GGML_MAX_N_THREADS. */
const GGML_MAX_THREADS = 512;
let warnedThreads = false;

/**
 * `threads`: ggml's workers spin on a barrier, so more threads than cores does not just waste them —
 * measured, a score that took 0.3 s with 2 threads on 2 cores took 52 s with 16. Far above the core
 * count is refused; above it, a warning (once per process).
 */
function loadThreads(o: Record<string, unknown>): number {
  const cores = availableParallelism();
  const max = Math.min(GGML_MAX_THREADS, 4 * cores);
  const threads = num(o, "threads", LOAD_DEFAULTS.threads, (v) => Number.isInteger(v) && v >= 0 && v <= max, `an integer in [0, ${max}] (0 = one per core; this machine has ${cores} cores)`);
  if (threads > cores && !warnedThreads) {
    warnedThreads = true;
    process.emitWarning(`threads: ${threads} is more than this machine's ${cores} cores; ggml's threads then wait on each other and scoring slows down many times over`, { code: "VIDEOSCORE2_THREADS" });
  }
  return threads;
}

/** VIDEOSCORE2_GPU_LAYERS as the default of `gpuLayers` (so a whole app, or the test suite, can run on the GPU unchanged). */
function gpuLayersFromEnv(): number | undefined {
  const raw = process.env.VIDEOSCORE2_GPU_LAYERS;
  if (raw === undefined || raw === "") return undefined;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < -1) throw invalidOption("VIDEOSCORE2_GPU_LAYERS", "an integer >= -1", raw);
  return v;
}

function flashAttentionOption(v: unknown): { text: boolean | undefined; vision: boolean | undefined } {
  if (v === undefined || typeof v === "boolean") return { text: v, vision: v };
  if (typeof v === "object" && v !== null) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o))
      if ((k !== "text" && k !== "vision") || (o[k] !== undefined && typeof o[k] !== "boolean"))
        throw invalidOption("flashAttention", "a boolean or { text?: boolean, vision?: boolean }", v);
    return { text: o.text as boolean | undefined, vision: o.vision as boolean | undefined };
  }
  throw invalidOption("flashAttention", "a boolean or { text?: boolean, vision?: boolean }", v);
}

/**
 * Flash attention where the user left it unset, by the backend that runs it: on for the CPU and
 * CUDA; off on Vulkan, where ggml-vulkan supports it only on some devices (llvmpipe: not at all, the
 * op then runs on the CPU with copies both ways) and published reports give wrong vision output
 * with it (docs/backends.md).
 */
function flashAttentionFor(backend: "cpu" | "cuda" | "vulkan", fa: { text: boolean | undefined; vision: boolean | undefined }): { text: boolean; vision: boolean } {
  const on = backend === "vulkan" ? false : LOAD_DEFAULTS.flashAttention;
  return { text: fa.text ?? on, vision: fa.vision ?? on };
}

/** load()'s options, checked, with every default applied but those that depend on the device chosen. */
export interface ResolvedLoad {
  native: Omit<NativeLoadOptions, "gpuLayers" | "device" | "flashAttention" | "flashAttentionVision">;
  /** undefined = all when a GPU is used. */
  gpuLayers: number | undefined;
  /** undefined = the backend's default (flashAttentionFor). */
  flashAttention: { text: boolean | undefined; vision: boolean | undefined };
  gpu: GpuPreference | undefined;
  gpuDevice: GpuDeviceSelector | undefined;
  overlapSampling: boolean | undefined;
}

/** @throws VideoScoreError ERR_INVALID_OPTION naming the first bad option. */
export function resolveLoadOptions(options: LoadOptions): ResolvedLoad {
  if (typeof options !== "object" || options === null) throw invalidOption("options", "an object", options);
  const o = options as unknown as Record<string, unknown>;
  for (const key of ["model", "mmproj"] as const)
    if (checkPath(key, o[key], "a path to a GGUF file").length === 0) throw invalidOption(key, "a path to a GGUF file", o[key]);
  // Every number here crosses into C++ as an int32: ranges are checked here, never wrapped there.
  const gpuLayers = o.gpuLayers === undefined ? gpuLayersFromEnv() : num(o, "gpuLayers", 0, (v) => Number.isInteger(v) && v >= -1 && v <= INT32_MAX, "an integer in [-1, 2147483647]");
  const threads = loadThreads(o);
  const contextSize = num(o, "contextSize", LOAD_DEFAULTS.contextSize, (v) => Number.isInteger(v) && v >= 256 && v <= MAX_CONTEXT, `an integer in [256, ${MAX_CONTEXT}] (the KV cache is allocated up front)`);
  // llama.cpp lowers a batch larger than the context to the context's size.
  const batchSize = num(o, "batchSize", LOAD_DEFAULTS.batchSize, (v) => Number.isInteger(v) && v >= 32 && v <= MAX_CONTEXT, `an integer in [32, ${MAX_CONTEXT}]`);
  if (o.gpu !== undefined && !GPU_PREFERENCES.includes(o.gpu as GpuPreference))
    throw invalidOption("gpu", GPU_PREFERENCES.map((g) => JSON.stringify(g)).join(", "), o.gpu);
  const gd = o.gpuDevice;
  if (gd !== undefined && !(typeof gd === "string" && gd.trim() !== "" && gd.length <= 256) && !(typeof gd === "number" && Number.isInteger(gd) && gd >= 0 && gd <= 255))
    throw invalidOption("gpuDevice", "a Vulkan device index (an integer in [0, 255]) or a device name", gd);
  const fa = flashAttentionOption(o.flashAttention);
  const parallel = num(o, "parallel", LOAD_DEFAULTS.parallel, (v) => Number.isInteger(v) && v >= 1 && v <= MAX_PARALLEL, `an integer in [1, ${MAX_PARALLEL}]`);
  const samplesPerCall = num(o, "samplesPerCall", 1, (v) => Number.isInteger(v) && v >= 1 && v <= 64 && v * parallel <= 256, "an integer in [1, 64], with parallel x samplesPerCall <= 256");
  if (o.overlapSampling !== undefined && typeof o.overlapSampling !== "boolean")
    throw invalidOption("overlapSampling", "a boolean", o.overlapSampling);
  return {
    native: {
      model: options.model,
      mmproj: options.mmproj,
      threads,
      contextSize,
      batchSize,
      parallel,
      samplesPerCall,
    },
    gpuLayers,
    flashAttention: fa,
    gpu: options.gpu,
    gpuDevice: gd as GpuDeviceSelector | undefined,
    overlapSampling: options.overlapSampling,
  };
}

/**
 * loadModel()'s options for the device chosen: `device` is ggml's name of the GPU ("" with
 * `backend` "cuda" = every GPU of the CUDA build), and on the CPU nothing is offloaded.
 */
export function nativeLoadOptions(r: ResolvedLoad, backend: "cpu" | "cuda" | "vulkan", device = ""): NativeLoadOptions {
  const fa = flashAttentionFor(backend, r.flashAttention);
  return {
    ...r.native,
    gpuLayers: backend === "cpu" ? 0 : (r.gpuLayers ?? -1),
    device: backend === "cpu" ? "" : device,
    flashAttention: fa.text,
    flashAttentionVision: fa.vision,
  };
}

/** The user's text around the video, from the prompt and the template. */
function layoutOf(o: ScoreOptions): ChatLayout {
  if (typeof o !== "object" || o === null) throw invalidOption("options", "an object with a prompt", o);
  if (typeof o.prompt !== "string") throw invalidOption("prompt", "a string", o.prompt);
  const template = validatePromptTemplate(o.template ?? DEFAULT_PROMPT_TEMPLATE);
  return chatLayout(renderUserPrompt(template, o.prompt));
}

function samplingOf(o: ScoreOptions): { sampling: NativeSampling; mode: "think" | "direct" } {
  const r = o as unknown as Record<string, unknown>;
  const d = SAMPLING_DEFAULTS;
  const seed = num(r, "seed", d.seed, (v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff, "an integer in [0, 2^32)");
  const temperature = num(r, "temperature", d.temperature, (v) => v >= 0 && v <= 10, "a number in [0, 10]");
  const topK = num(r, "topK", d.topK, (v) => Number.isInteger(v) && v >= 0 && v <= INT32_MAX, "an integer in [0, 2147483647]");
  const topP = num(r, "topP", d.topP, (v) => v > 0 && v <= 1, "a number in (0, 1]");
  const maxTokens = num(r, "maxTokens", d.maxTokens, (v) => Number.isInteger(v) && v >= 1 && v <= 65536, "an integer in [1, 65536]");
  const samples = num(r, "samples", 1, (v) => Number.isInteger(v) && v >= 1 && v <= MAX_SAMPLES, `an integer in [1, ${MAX_SAMPLES}]`);
  const base = nativeSampling({ seed, temperature, topK, topP, maxTokens, samples });
  if (o.mode !== undefined && o.mode !== "think" && o.mode !== "direct") throw invalidOption("mode", '"think" or "direct"', o.mode);
  const constrained = o.constrain !== undefined && o.constrain !== false;
  if (o.mode === "direct") {
    if (constrained) throw invalidOption("constrain", "unset in direct mode (the answer is already forced)", o.constrain);
    if (samples > 1) throw invalidOption("samples", `1 in direct mode (nothing is drawn there: every sample would be the same)`, samples);
    return { sampling: { ...base, maxTokens: DIRECT_MAX_TOKENS, directSegments: [...DIRECT_SEGMENTS] }, mode: "direct" };
  }
  if (!constrained) return { sampling: base, mode: "think" };
  if (o.constrain !== true && (typeof o.constrain !== "object" || o.constrain === null))
    throw invalidOption("constrain", "a boolean or { maxThinkingTokens }", o.constrain);
  const budget = o.constrain === true ? undefined : o.constrain.maxThinkingTokens;
  if (budget !== undefined && (!Number.isInteger(budget) || budget < 0 || budget > maxTokens))
    throw invalidOption("constrain.maxThinkingTokens", `an integer in [0, maxTokens = ${maxTokens}]`, budget);
  // The budget counts from the start of the generation ("<think>" included); the engine caps it so
  // that the answer, as this model's tokenizer writes it, fits in maxTokens.
  const closeAfterTokens = budget ?? maxTokens;
  return {
    sampling: { ...base, grammar: answerGrammar(), closeAfterTokens, openText: "<think>", closeText: "</think>", answerSegments: [...ANSWER_SEGMENTS] },
    mode: "think",
  };
}

/** One score() or prepare() call's options, checked once, defaults applied. */
export interface ResolvedScore {
  input: string | Uint8Array;
  layout: ChatLayout;
  frames: FrameSamplingOptions;
  sampling: NativeSampling;
  mode: "think" | "direct";
  limits: ResolvedLimits;
}

/** The prompt and sampling of a score() of an already encoded video. */
export function resolvePromptOptions(options: ScoreOptions): { layout: ChatLayout; sampling: NativeSampling; mode: "think" | "direct" } {
  const layout = layoutOf(options);
  return { layout, ...samplingOf(options) };
}

/** @throws VideoScoreError ERR_INVALID_OPTION (or an input error) naming the first bad option. */
export function resolveScoreOptions(video: unknown, options: ScoreOptions): ResolvedScore {
  const input = checkVideoInput(video);
  const layout = layoutOf(options);
  const frames = validateSamplingOptions(options);
  const { sampling, mode } = samplingOf(options);
  const limits = resolveLimits(options.limits);
  return { input, layout, frames, sampling, mode, limits };
}
