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
  cuda: boolean;
  napiVersion: number;
}

/** Limits applied while opening, indexing and decoding a video. */
export interface NativeVideoLimits {
  maxPixelsPerFrame?: number;
  maxFrames?: number;
  deadlineSeconds?: number;
  threads?: number;
}

export interface NativeVideoInfo {
  totalFrames: number;
  fps: number;
  width: number;
  height: number;
  durationSeconds: number;
  codec: string;
  container: string;
  containerCountAgrees: boolean;
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
  /** Width and height 0: decode the same frames the same way, convert none (rgb empty; benchmarks). */
  decode(indices: number[], width: number, height: number, cancel?: NativeCancelFlag): Promise<NativeDecodeResult>;
  decodeAll(cancel?: NativeCancelFlag): Promise<number>;
  /** Starts decoding `indices` (plan order, repeats allowed) into a feed for `NativeModel.generate`. */
  stream(indices: number[], width: number, height: number, cancel?: NativeCancelFlag): NativeFrameFeed;
  close(): void;
}

export interface NativeModelInfo {
  architecture: string;
  name: string;
  nEmbd: number;
  nLayer: number;
  nCtxTrain: number;
  nVocab: number;
  nParams: number;
  sizeBytes: number;
  digitTokens: number[];
  /** The vision encoder runs on a GPU. */
  visionOnGpu: boolean;
  /** CPU threads of llama.cpp and the vision encoder. */
  threads: number;
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

export interface NativeSampling {
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  maxTokens: number;
  grammar?: string;
  forcedText?: string;
  /** Thinking budget: after this many tokens, closeText is forced unless it appeared (0 = none). */
  closeAfterTokens?: number;
  closeText?: string;
  /** Return the N highest raw logits at the first generated position (parity checks). */
  topLogits?: number;
  /** Direct mode: the answer is these segments, with the most probable digit read after each. */
  directSegments?: string[];
}

export type NativeEvent =
  | { type: "token"; index: number; id: number; bytes: Buffer }
  | { type: "progress"; phase: "encode" | "prefill" | "generate" | "quantize"; done: number; total: number };

export interface NativeGenerateResult {
  text: Buffer;
  tokenIds: Int32Array;
  tokenOffsets: Uint32Array;
  digits: { tokenIndex: number; probs: number[]; rawProbs: number[] }[];
  stopReason: "eos" | "max_tokens";
  /** With `topLogits`: the highest raw logits at the first generated position, best first. */
  firstTopLogits?: { id: number; logit: number }[];
  timings: {
    encodeMs: number;
    prefillMs: number;
    generateMs: number;
    /** Time the vision encoder waited for frames still being decoded (feed input). */
    frameWaitMs: number;
    promptTokens: number;
    generatedTokens: number;
  };
}

export interface NativeModel {
  readonly info: NativeModelInfo;
  prepare(beforeVideo: string, afterVideo: string, nframes: number, width: number, height: number): NativePrepared;
  generate(
    beforeVideo: string,
    afterVideo: string,
    frames: Uint8Array[] | NativeFrameFeed,
    width: number,
    height: number,
    sampling: NativeSampling,
    cancel: NativeCancelFlag,
    onEvent?: (e: NativeEvent) => void,
  ): Promise<NativeGenerateResult>;
  dispose(): void;
}

export interface NativeLoadOptions {
  model: string;
  mmproj: string;
  gpuLayers?: number;
  threads?: number;
  contextSize?: number;
  batchSize?: number;
  /** Text model (and, unless flashAttentionVision says otherwise, the vision encoder). */
  flashAttention?: boolean;
  flashAttentionVision?: boolean;
  useMmap?: boolean;
}

export interface NativeAddon {
  versions(): NativeVersions;
  setErrorClass(cls: new (code: string, message: string) => Error): void;
  openVideo(input: string | Uint8Array, limits?: NativeVideoLimits, cancel?: NativeCancelFlag): Promise<NativeVideo>;
  loadModel(options: NativeLoadOptions): Promise<NativeModel>;
  quantize(input: string, output: string, type: string, threads: number, onEvent?: (e: NativeEvent) => void): Promise<void>;
}
