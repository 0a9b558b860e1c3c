/**
 * The shapes of the random-weight Qwen2.5-VL pairs that src/gguf/tiny-model.ts writes: TINY (a few
 * hundred kB, for tests) and SEVEN_B (Qwen2.5-VL-7B's, for benchmarks), and the checks that keep
 * them loadable by llama.cpp and mtmd.
 */
import type { WeightStorage } from "./qwen25vl-metadata.js";

/** Hyperparameters of the `qwen2vl` text model. */
export interface TextHparams {
  nEmbd: number;
  nHead: number;
  nHeadKv: number;
  nLayer: number;
  nFf: number;
  contextLength: number;
  ropeFreqBase: number;
  rmsEps: number;
  /** M-RoPE sections [t, h, w, extra]; must sum to head_dim / 2. */
  ropeSections: readonly [number, number, number, number];
  /** Share token_embd as the output matrix (no `output.weight`). Qwen2.5-VL-7B does not. */
  tiedEmbeddings: boolean;
  /** Pad the vocabulary with unused tokens to this size (the 7B embedding has 152064 rows). */
  vocabSize?: number;
}

/** Hyperparameters of the `clip` mmproj with projector `qwen2.5vl_merger`. */
export interface VisionHparams {
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nFf: number;
  patchSize: number;
  /** Only 2 exists: llama.cpp's qwen2vl graph hard-codes the 2x2 merge. */
  spatialMergeSize: number;
  /** What the converter writes when the HF config has none (560). */
  imageSize: number;
  /** Every n-th block (1-based) uses full attention, the rest windowed. */
  nWaPattern: number;
  /** Window side in pixels. Informational: the converter writes no key and llama.cpp uses 112. */
  windowSize: number;
  eps: number;
  imageMean: readonly [number, number, number];
  imageStd: readonly [number, number, number];
  /** Output width; must equal the text model's n_embd (defaults to it). */
  projectionDim?: number;
}


/** Storage type of the weight matrices, as the converter's `--outtype` (bf16 is the converter's only). */
export type ModelFileType = Exclude<WeightStorage, "bf16">;

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/** Small defaults: head dim 16 (rope sections 2+3+3 = 8), vision head dim 16. */
export const TINY: { text: TextHparams; vision: VisionHparams } = {
  text: {
    nEmbd: 64,
    nHead: 4,
    nHeadKv: 2,
    nLayer: 2,
    nFf: 128,
    contextLength: 32768,
    ropeFreqBase: 1e6,
    rmsEps: 1e-6,
    ropeSections: [2, 3, 3, 0],
    tiedEmbeddings: false,
  },
  vision: {
    nEmbd: 32,
    nLayer: 2,
    nHead: 2,
    nFf: 64,
    patchSize: 14,
    spatialMergeSize: 2,
    imageSize: 560,
    nWaPattern: 2,
    windowSize: 112,
    eps: 1e-6,
    imageMean: CLIP_MEAN,
    imageStd: CLIP_STD,
  },
};

/** Qwen2.5-VL-7B-Instruct's shapes (VideoScore2 is a fine-tune of it). */
export const SEVEN_B: { text: TextHparams; vision: VisionHparams } = {
  text: {
    nEmbd: 3584,
    nHead: 28,
    nHeadKv: 4,
    nLayer: 28,
    nFf: 18944,
    contextLength: 128000,
    ropeFreqBase: 1e6,
    rmsEps: 1e-6,
    ropeSections: [16, 24, 24, 0],
    tiedEmbeddings: false,
    vocabSize: 152064,
  },
  vision: {
    nEmbd: 1280,
    nLayer: 32,
    nHead: 16,
    nFf: 3420,
    patchSize: 14,
    spatialMergeSize: 2,
    imageSize: 560,
    nWaPattern: 8,
    windowSize: 112,
    eps: 1e-6,
    imageMean: CLIP_MEAN,
    imageStd: CLIP_STD,
  },
};

export function checkText(h: TextHparams): void {
  for (const k of ["nEmbd", "nHead", "nHeadKv", "nLayer", "nFf", "contextLength"] as const) {
    if (!Number.isInteger(h[k]) || h[k] <= 0) throw new Error(`text.${k} must be a positive integer`);
  }
  if (h.nEmbd % h.nHead !== 0) throw new Error("text.nEmbd must be a multiple of text.nHead");
  if (h.nHead % h.nHeadKv !== 0) throw new Error("text.nHead must be a multiple of text.nHeadKv");
  const headDim = h.nEmbd / h.nHead;
  const sum = h.ropeSections.reduce((a, b) => a + b, 0);
  if (sum * 2 !== headDim) throw new Error(`text.ropeSections must sum to head_dim/2 = ${headDim / 2}, got ${sum}`);
}

export function checkVision(v: VisionHparams, projectionDim: number): void {
  for (const k of ["nEmbd", "nLayer", "nHead", "nFf", "patchSize", "nWaPattern"] as const) {
    if (!Number.isInteger(v[k]) || v[k] <= 0) throw new Error(`vision.${k} must be a positive integer`);
  }
  if (v.spatialMergeSize !== 2) throw new Error("vision.spatialMergeSize must be 2 (llama.cpp's qwen2vl graph merges 2x2)");
  if (v.windowSize !== 112) throw new Error("vision.windowSize must be 112 (llama.cpp uses 112 for qwen2.5vl)");
  if (v.nEmbd % v.nHead !== 0 || (v.nEmbd / v.nHead) % 4 !== 0) {
    throw new Error("vision head dim (nEmbd/nHead) must be a multiple of 4 (four M-RoPE sections of d_head/4)");
  }
  // clip.cpp swaps ffn_up/ffn_down when ffn_down's ne[0] equals n_embd (legacy files had them swapped).
  if (v.nFf === v.nEmbd) throw new Error("vision.nFf must differ from vision.nEmbd (clip.cpp's swap heuristic)");
  if (projectionDim <= 0) throw new Error("vision projection dim must be positive");
}
