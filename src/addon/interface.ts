/**
 * The exact surface of videoscore2.node, as native/binding/*.cc defines it. Nothing here is public API:
 * src/video/sample.ts and src/scorer/scorer.ts wrap it.
 */

/** Versions compiled into the addon. */
export interface NativeVersions {
  llamaCommit: string;
  ggml: string;
  libavformat: string;
  libavcodec: string;
  libswscale: string;
  libavutil: string;
  /** Built with ggml's CUDA backend. */
  cuda: boolean;
  napiVersion: number;
  /** The backends are modules loaded at run time (docs/backends.md); false in the CUDA and sanitizer builds. */
  modular: boolean;
  /**
   * GPUs: those ggml's backends see in this process (`name` set), then the machine's Vulkan devices
   * that they do not (`name` ""): every one when no Vulkan module is loaded.
   */
  gpuDevices: NativeGpuDevice[];
  /** The system's Vulkan loader, as the addon found it (it opens libvulkan.so.1 itself, at run time). */
  vulkan: { loaderFound: boolean; problem: string };
}

/** One GPU. */
export interface NativeGpuDevice {
  /** ggml's name, e.g. "CUDA0", "Vulkan1"; "" for a Vulkan device no loaded backend serves. */
  name: string;
  backend: "cuda" | "vulkan" | "other";
  /** The driver's name for it, e.g. "NVIDIA H200", "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** "" when unknown. */
  type: "discrete" | "integrated" | "virtual" | "software" | "other" | "";
  /** Vulkan: the driver's name and version; "" otherwise. */
  driver: string;
  /** Vulkan: the loader's index of the device (what `gpuDevice` takes as a number); -1 otherwise. */
  index: number;
  /** Bytes (Vulkan devices not loaded: their device-local heaps; free is then unknown, 0). */
  memoryTotal: number;
  memoryFree: number;
}

/** loadBackends(): the CPU backend module of the best x86 level in `dir`, then GPU modules by path. */
export interface NativeLoadBackendsOptions {
  dir: string;
  gpuModules: string[];
}

export interface NativeLoadedBackends {
  /** "haswell", "sse42", ...; "built-in" in a monolithic build. */
  cpuVariant: string;
  /** "" in a monolithic build. */
  cpuPath: string;
  /** Every CPU module found and ggml's score of it on this CPU (0: this CPU cannot run it). */
  cpuScores: { variant: string; score: number }[];
  /** error "" when loaded, else why not. */
  gpuModules: { path: string; error: string }[];
}

/** One backend buffer made by loading. */
export interface NativeBufferInfo {
  /** "CPU", "CPU_Mapped", "Vulkan0", "CUDA0", ... */
  device: string;
  /** "model", "kv", "compute", "vision model", "vision compute", ... */
  kind: string;
  mib: number;
}

/** openVideo(): the input and the limits applied while opening, indexing and decoding it. */
export interface NativeOpenOptions {
  input: string | Uint8Array;
  maxPixelsPerFrame: number;
  maxFrames: number;
  /** 0 = none. */
  deadlineSeconds: number;
  /** Decoder threads; 0 = one per core. */
  threads: number;
}

/** decode() and stream(): which frames (presentation order) at what size. */
export interface NativeFrameRequest {
  indices: number[];
  /** Width and height 0: decode the same frames the same way, convert none (rgb empty; benchmarks). */
  width: number;
  height: number;
}

export interface NativeVideoInfo {
  totalFrames: number;
  fps: number;
  width: number;
  height: number;
  durationSeconds: number;
  codec: string;
  container: string;
}

export interface NativeDecodedFrame {
  index: number;
  timeSeconds: number;
  rgb: Buffer;
}

export interface NativeDecodeStats {
  packetsRead: number;
  framesDecoded: number;
  packetsNotTargeted: number;
  seeks: number;
  decoders: number;
}

export interface NativeDecodeResult {
  frames: NativeDecodedFrame[];
  stats: NativeDecodeStats;
}

/** A decode in progress (video.stream()) whose frames a generate call takes as they are decoded. */
export interface NativeFrameFeed {
  /** Plan positions (repeats included). */
  readonly count: number;
  /** Settles when the decode ends; rejects with the decode's error (which the consumer sees too). */
  readonly done: Promise<NativeDecodeStats>;
  /** Drops this handle's hold on the frames (a decode or generate in flight keeps its own). */
  close(): void;
}

/** A cancel flag: Int32Array(1) over a SharedArrayBuffer; 1 = aborted, 2 = disposed. */
export type NativeCancelFlag = Int32Array;

export interface NativeVideo {
  readonly info: NativeVideoInfo;
  decode(request: NativeFrameRequest, cancel?: NativeCancelFlag): Promise<NativeDecodeResult>;
  decodeAll(cancel?: NativeCancelFlag): Promise<number>;
  /** Starts decoding `indices` (plan order, repeats allowed) into a feed for `NativeModel.generate`. */
  stream(request: NativeFrameRequest, cancel?: NativeCancelFlag): NativeFrameFeed;
  close(): void;
}

export interface NativeModelInfo {
  architecture: string;
  name: string;
  nEmbd: number;
  nLayer: number;
  nCtxTrain: number;
  /** Tokens the context holds (the loaded contextSize). */
  contextSize: number;
  nVocab: number;
  nParams: number;
  sizeBytes: number;
  digitTokens: number[];
  /** The vision encoder runs on a GPU. */
  visionOnGpu: boolean;
  /** ggml's name of the GPU used ("" = none). */
  device: string;
  /** The vision encoder's backend: "CPU", "Vulkan0", ... */
  visionDevice: string;
  /** Layers on the GPU, of nLayer + 1 (the output layer counts, as llama.cpp counts). */
  offloadedLayers: number;
  buffers: NativeBufferInfo[];
  /** Bytes of text the longest token covers: a prompt of more than contextSize × this many bytes cannot fit. */
  maxTokenBytes: number;
  /** CPU threads of llama.cpp and the vision encoder. */
  threads: number;
  /** Calls in the context at once (the load option). */
  parallel: number;
  /** KV streams: 1 (one unified cache), or with parallel > 1 one per chain of thought, parallel x samplesPerCall of them. */
  streams: number;
  /** Cells one chain of thought can use: contextSize, or with streams contextSize / streams. */
  streamCells: number;
}

export interface NativePrepared {
  tokens: Int32Array;
  posT: Int32Array;
  posH: Int32Array;
  posW: Int32Array;
  videoStart: number;
  videoEnd: number;
  nextPos: number;
  grid: [number, number, number];
}

/** The chat around the video: markup parts with control tokens, userText as plain text (src/scorer/prompt.ts ChatLayout). */
export interface NativeChatText {
  beforeVideo: string;
  afterVideo: string;
  userText: string;
  afterText: string;
}

/** prepare(): the prompt around one video of `nframes` frames at width × height. */
export interface NativePrepareOptions extends NativeChatText {
  nframes: number;
  width: number;
  height: number;
}

/** How generate() picks tokens; every key is set (src/scorer/options.ts holds the defaults). */
export interface NativeSampling {
  /** 0 = greedy. */
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** 1 = off. */
  topP: number;
  seed: number;
  maxTokens: number;
  /** GBNF; "" = unconstrained. */
  grammar: string;
  /** Text prefilled after the prompt before generating (parity checks); "" = none. */
  forcedText: string;
  /**
   * Thinking budget, when closeText is not "": after this many tokens (capped so the answer fits),
   * what is left of openText + closeText is forced unless closeText appeared.
   */
  closeAfterTokens: number;
  openText: string;
  closeText: string;
  /** After closeText: forced one after another, with one digit drawn after each ([] = none). */
  answerSegments: string[];
  /** Chains drawn from one prefill, decoded together; sample i uses seed + i. 1 in direct mode. */
  samples: number;
  /** Return the N highest raw logits at the first generated position (parity checks); 0 = none. */
  topLogits: number;
  /** Direct mode when not empty: the answer is these segments, with the most probable digit read after each. */
  directSegments: string[];
}

/** Frames already in memory, packed RGB24 of width × height each. */
export interface NativeFrames {
  frames: Uint8Array[];
  width: number;
  height: number;
}

/** Per-phase timings and token counts of a generate() or encode() call. */
export interface NativeTimings {
  encodeMs: number;
  prefillMs: number;
  generateMs: number;
  /** Time the vision encoder waited for frames still being decoded (feed input). */
  frameWaitMs: number;
  promptTokens: number;
  /** Over all samples. */
  generatedTokens: number;
  /** Tokens given to llama_decode, prompt included (the prefix the samples share counts once). */
  decodedTokens: number;
  /** Generation steps decoded together with other calls' steps (parallel > 1). */
  sharedSteps: number;
}

/** encode(): the chat before the video and the video's frames. */
export interface NativeEncodeOptions {
  beforeVideo: string;
  video: NativeFrameFeed | NativeFrames;
}

/** The chat before the video and the video, encoded and prefilled (encode()), in native memory. */
export interface NativeEncoded {
  /** Bytes of the KV cells it holds (0 once disposed). */
  readonly bytes: number;
  /** Tokens it holds. */
  readonly tokens: number;
  /** Of the encode call. */
  readonly timings: NativeTimings;
  /** Lets the memory go (a generate in flight keeps its own reference). */
  dispose(): void;
}

/** generate(): the prompt around the video, the video's frames, and the sampling. */
export interface NativeGenerateOptions extends NativeChatText {
  /** A decode in progress (it knows its frame size), frames in memory, or an encoded prefix (beforeVideo must be its). */
  video: NativeFrameFeed | NativeFrames | NativeEncoded;
  sampling: NativeSampling;
}

export type NativeEvent =
  | { type: "token"; index: number; id: number; bytes: Buffer; sample: number }
  | { type: "progress"; phase: "encode" | "prefill" | "generate" | "quantize"; done: number; total: number };

/** One generated chain. */
export interface NativeSample {
  text: Buffer;
  tokenIds: Int32Array;
  tokenOffsets: Uint32Array;
  digits: { tokenIndex: number; probs: number[]; rawProbs: number[] }[];
  stopReason: "eos" | "max_tokens";
}

/** Sample 0 (seed) at the top level, samples 1.. (seed + 1, ...) in otherSamples. */
export interface NativeGenerateResult extends NativeSample {
  otherSamples: NativeSample[];
  /** With `topLogits`: the highest raw logits at the first generated position, best first. */
  firstTopLogits?: { id: number; logit: number }[];
  timings: NativeTimings;
}

export interface NativeModel {
  readonly info: NativeModelInfo;
  /** Resolved at once for short texts; long ones (over 16 KiB) are tokenized off the JS thread. */
  prepare(options: NativePrepareOptions): Promise<NativePrepared>;
  generate(options: NativeGenerateOptions, cancel: NativeCancelFlag, onEvent?: (e: NativeEvent) => void): Promise<NativeGenerateResult>;
  encode(options: NativeEncodeOptions, cancel: NativeCancelFlag, onEvent?: (e: NativeEvent) => void): Promise<NativeEncoded>;
  dispose(): void;
}

/** loadModel(): every key set (src/scorer/options.ts holds the defaults). */
export interface NativeLoadOptions {
  model: string;
  mmproj: string;
  /** -1 = all. */
  gpuLayers: number;
  /** ggml's name of the one GPU to use; "" = every GPU ggml sees when gpuLayers != 0 (CUDA build), none when 0. */
  device: string;
  /** 0 = one per core. */
  threads: number;
  contextSize: number;
  batchSize: number;
  /** Text model. */
  flashAttention: boolean;
  flashAttentionVision: boolean;
  /** Calls in the context at once (their generation steps share each decode). */
  parallel: number;
  /** With parallel > 1: KV streams per call, one per chain of thought (parallel x this many in all). */
  samplesPerCall: number;
}

/** quantize(): a text model GGUF into another type. */
export interface NativeQuantizeOptions {
  input: string;
  output: string;
  type: string;
  /** 0 = one per core. */
  threads: number;
}

export interface NativeAddon {
  versions(): NativeVersions;
  /** Once per process, before any model (later calls report the first, adding GPU modules not yet loaded). */
  loadBackends(options: NativeLoadBackendsOptions): NativeLoadedBackends;
  setErrorClass(cls: new (code: string, message: string) => Error): void;
  openVideo(options: NativeOpenOptions, cancel?: NativeCancelFlag): Promise<NativeVideo>;
  loadModel(options: NativeLoadOptions): Promise<NativeModel>;
  quantize(options: NativeQuantizeOptions, onEvent?: (e: NativeEvent) => void): Promise<void>;
}

/**
 * The names of everything the addon exports and of each class's members, checked at compile time
 * against the interfaces above (a name missing or extra on either side fails `tsc`) and at run time
 * against the loaded .node by test/addon/exports.test.ts.
 */
export const ADDON_SURFACE = {
  addon: keys<NativeAddon>()(["versions", "loadBackends", "setErrorClass", "openVideo", "loadModel", "quantize"]),
  video: keys<NativeVideo>()(["info", "decode", "decodeAll", "stream", "close"]),
  feed: keys<NativeFrameFeed>()(["count", "done", "close"]),
  model: keys<NativeModel>()(["info", "prepare", "generate", "encode", "dispose"]),
  encoded: keys<NativeEncoded>()(["bytes", "tokens", "timings", "dispose"]),
} as const;

/** A list of T's keys that must name every key exactly once (an omission is a type error). */
function keys<T>() {
  return <const K extends readonly (keyof T)[]>(k: K & (Exclude<keyof T, K[number]> extends never ? unknown : { missing: Exclude<keyof T, K[number]> })) => k;
}
