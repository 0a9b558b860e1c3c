/**
 * Random-weight Qwen2.5-VL model pairs (text GGUF + mmproj GGUF) laid out exactly as
 * convert_hf_to_gguf writes them, so llama.cpp/mtmd load them through the same code paths as a
 * converted VideoScore2. TINY defaults make files of a few hundred kB for tests; SEVEN_B makes a
 * full-size file of the real shapes (the data streams, so memory stays flat).
 *
 * Weights are deterministic in (seed, tensor name): triangular noise with standard deviation 0.02
 * for matrices and biases, 1.0 for norm weights.
 */
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { buildQwenVocab, vocabMetadata } from "./tokenizer.js";
import type { QwenVocab } from "./tokenizer.js";
import { GGML_TYPE, kv, tensorElements } from "./types.js";
import type { GGMLType, GGUFMetadata } from "./types.js";
import { writeGGUF } from "./writer.js";
import type { GGUFLayout, GGUFTensorSpec } from "./writer.js";

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

/** Storage type of the weight matrices, as the converter's `--outtype`. */
export type ModelFileType = "f32" | "f16" | "q8_0";

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

/** `general.file_type` (llama_ftype) for each storage type. */
const FILE_TYPE_ID: Record<ModelFileType, number> = { f32: 0, f16: 1, q8_0: 7 };

/** The converter's choice for a weight matrix: Q8_0 needs rows of whole blocks, else it falls back to F16. */
function matrixType(fileType: ModelFileType, shape: readonly number[]): GGMLType {
  switch (fileType) {
    case "f32":
      return GGML_TYPE.F32;
    case "f16":
      return GGML_TYPE.F16;
    case "q8_0":
      return shape[0]! % 32 === 0 ? GGML_TYPE.Q8_0 : GGML_TYPE.F16;
  }
}

/** FNV-1a of the name mixed with the seed: each tensor's stream is independent of write order. */
function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ Math.imul(seed >>> 0, 0x9e3779b1);
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Noise in chunks of whole rows (so Q8_0 blocks never straddle chunks); the buffer is reused. */
function* noiseChunks(seed: number, shape: readonly number[], std: number): Generator<Float32Array> {
  const ne0 = shape[0]!;
  let left = tensorElements(shape);
  const buf = new Float32Array(Math.max(1, Math.floor((1 << 20) / ne0)) * ne0);
  // Sum of two 16-bit uniforms is triangular with variance 1/6 of its range squared; one
  // mulberry32 draw feeds both halves, which halves the cost for 7B-size tensors.
  const scale = (std * Math.sqrt(6)) / 65536;
  let state = seed | 0;
  while (left > 0) {
    const len = Math.min(buf.length, left);
    const out = len === buf.length ? buf : buf.subarray(0, len);
    for (let i = 0; i < len; i++) {
      state = (state + 0x6d2b79f5) | 0;
      let t = state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      t = (t ^ (t >>> 14)) >>> 0;
      out[i] = ((t & 0xffff) + (t >>> 16) - 65535) * scale;
    }
    left -= len;
    yield out;
  }
}

function* constChunks(shape: readonly number[], value: number): Generator<Float32Array> {
  yield new Float32Array(tensorElements(shape)).fill(value);
}

/** Collects tensor specs in order with the converter's type rules applied. */
class TensorList {
  readonly specs: GGUFTensorSpec[] = [];
  constructor(
    private readonly seed: number,
    private readonly fileType: ModelFileType,
  ) {}

  /** A weight matrix (quantizable). */
  matrix(name: string, shape: readonly number[], type = matrixType(this.fileType, shape)): void {
    const seed = tensorSeed(this.seed, name);
    this.specs.push({ name, shape, type, data: () => noiseChunks(seed, shape, 0.02) });
  }
  /** A bias: 1-D, always F32. */
  bias(name: string, n: number): void {
    const seed = tensorSeed(this.seed, name);
    this.specs.push({ name, shape: [n], type: GGML_TYPE.F32, data: () => noiseChunks(seed, [n], 0.02) });
  }
  /** A norm weight: 1-D, always F32, all ones. */
  norm(name: string, n: number): void {
    this.specs.push({ name, shape: [n], type: GGML_TYPE.F32, data: () => constChunks([n], 1) });
  }
}

function checkText(h: TextHparams): void {
  for (const k of ["nEmbd", "nHead", "nHeadKv", "nLayer", "nFf", "contextLength"] as const) {
    if (!Number.isInteger(h[k]) || h[k] <= 0) throw new Error(`text.${k} must be a positive integer`);
  }
  if (h.nEmbd % h.nHead !== 0) throw new Error("text.nEmbd must be a multiple of text.nHead");
  if (h.nHead % h.nHeadKv !== 0) throw new Error("text.nHead must be a multiple of text.nHeadKv");
  const headDim = h.nEmbd / h.nHead;
  const sum = h.ropeSections.reduce((a, b) => a + b, 0);
  if (sum * 2 !== headDim) throw new Error(`text.ropeSections must sum to head_dim/2 = ${headDim / 2}, got ${sum}`);
}

function checkVision(v: VisionHparams, projectionDim: number): void {
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

/** The qwen2vl shape keys, in convert_hf_to_gguf's order (shared with the converter, src/gguf/convert/). */
export function qwen2vlShapeMetadata(
  h: Pick<TextHparams, "nLayer" | "contextLength" | "nEmbd" | "nFf" | "nHead" | "nHeadKv">,
): GGUFMetadata {
  return [
    ["qwen2vl.block_count", kv.u32(h.nLayer)],
    ["qwen2vl.context_length", kv.u32(h.contextLength)],
    ["qwen2vl.embedding_length", kv.u32(h.nEmbd)],
    ["qwen2vl.feed_forward_length", kv.u32(h.nFf)],
    ["qwen2vl.attention.head_count", kv.u32(h.nHead)],
    ["qwen2vl.attention.head_count_kv", kv.u32(h.nHeadKv)],
  ];
}

/** The clip keys of a Qwen2.5-VL mmproj, in convert_hf_to_gguf's order (shared with the converter). */
export function clipVisionMetadata(
  v: Pick<VisionHparams, "imageSize" | "patchSize" | "nEmbd" | "nFf" | "nLayer" | "nHead" | "nWaPattern" | "eps"> & {
    imageMean: readonly number[];
    imageStd: readonly number[];
  },
  projectionDim: number,
): GGUFMetadata {
  return [
    ["clip.has_vision_encoder", kv.bool(true)],
    ["clip.vision.projection_dim", kv.u32(projectionDim)],
    ["clip.vision.image_size", kv.u32(v.imageSize)],
    ["clip.vision.patch_size", kv.u32(v.patchSize)],
    ["clip.vision.embedding_length", kv.u32(v.nEmbd)],
    ["clip.vision.feed_forward_length", kv.u32(v.nFf)],
    ["clip.vision.block_count", kv.u32(v.nLayer)],
    ["clip.vision.attention.head_count", kv.u32(v.nHead)],
    ["clip.vision.image_mean", kv.arr("f32", [...v.imageMean])],
    ["clip.vision.image_std", kv.arr("f32", [...v.imageStd])],
    ["clip.projector_type", kv.str("qwen2.5vl_merger")],
    ["clip.use_silu", kv.bool(true)],
    ["clip.vision.n_wa_pattern", kv.u32(v.nWaPattern)],
    ["clip.vision.attention.layer_norm_epsilon", kv.f32(v.eps)],
  ];
}

/** Metadata of the text GGUF, in the converter's order. */
export function textMetadata(h: TextHparams, vocab: QwenVocab, fileType: ModelFileType, name: string): GGUFMetadata {
  return [
    ["general.architecture", kv.str("qwen2vl")],
    ["general.type", kv.str("model")],
    ["general.name", kv.str(name)],
    ...qwen2vlShapeMetadata(h),
    ["qwen2vl.rope.dimension_sections", kv.arr("i32", [...h.ropeSections])],
    ["qwen2vl.rope.freq_base", kv.f32(h.ropeFreqBase)],
    ["qwen2vl.attention.layer_norm_rms_epsilon", kv.f32(h.rmsEps)],
    ["general.file_type", kv.u32(FILE_TYPE_ID[fileType])],
    ["general.quantization_version", kv.u32(2)],
    ...vocabMetadata(vocab),
  ];
}

/** Tensor specs of the text GGUF (names and shapes as llama.cpp's qwen2vl loader expects). */
export function textTensors(h: TextHparams, nVocab: number, fileType: ModelFileType, seed: number): GGUFTensorSpec[] {
  const t = new TensorList(seed, fileType);
  const nKv = (h.nEmbd / h.nHead) * h.nHeadKv;
  t.matrix("token_embd.weight", [h.nEmbd, nVocab]);
  for (let i = 0; i < h.nLayer; i++) {
    const p = `blk.${i}`;
    t.norm(`${p}.attn_norm.weight`, h.nEmbd);
    t.matrix(`${p}.attn_q.weight`, [h.nEmbd, h.nEmbd]);
    t.bias(`${p}.attn_q.bias`, h.nEmbd);
    t.matrix(`${p}.attn_k.weight`, [h.nEmbd, nKv]);
    t.bias(`${p}.attn_k.bias`, nKv);
    t.matrix(`${p}.attn_v.weight`, [h.nEmbd, nKv]);
    t.bias(`${p}.attn_v.bias`, nKv);
    t.matrix(`${p}.attn_output.weight`, [h.nEmbd, h.nEmbd]);
    t.norm(`${p}.ffn_norm.weight`, h.nEmbd);
    t.matrix(`${p}.ffn_gate.weight`, [h.nEmbd, h.nFf]);
    t.matrix(`${p}.ffn_up.weight`, [h.nEmbd, h.nFf]);
    t.matrix(`${p}.ffn_down.weight`, [h.nFf, h.nEmbd]);
  }
  t.norm("output_norm.weight", h.nEmbd);
  if (!h.tiedEmbeddings) t.matrix("output.weight", [h.nEmbd, nVocab]);
  return t.specs;
}

/** Metadata of the mmproj GGUF, in the converter's order. */
export function visionMetadata(v: VisionHparams, projectionDim: number, fileType: ModelFileType, name: string): GGUFMetadata {
  return [
    ["general.architecture", kv.str("clip")],
    ["general.type", kv.str("mmproj")],
    ["general.name", kv.str(name)],
    ["general.file_type", kv.u32(FILE_TYPE_ID[fileType])],
    ...clipVisionMetadata(v, projectionDim),
    ["general.quantization_version", kv.u32(2)],
  ];
}

/** Tensor specs of the mmproj GGUF (the Qwen2.5-VL vision tower and its 2x2 patch merger). */
export function visionTensors(v: VisionHparams, projectionDim: number, fileType: ModelFileType, seed: number): GGUFTensorSpec[] {
  const t = new TensorList(seed, fileType);
  const e = v.nEmbd;
  const p = v.patchSize;
  // The converter splits the Conv3D kernel [E, 3, 2, P, P] into one Conv2D per frame of a pair,
  // and never quantizes them: F16 in an f16 file, F32 otherwise.
  const patchType = fileType === "f16" ? GGML_TYPE.F16 : GGML_TYPE.F32;
  t.matrix("v.patch_embd.weight", [p, p, 3, e], patchType);
  t.matrix("v.patch_embd.weight.1", [p, p, 3, e], patchType);
  for (let i = 0; i < v.nLayer; i++) {
    const b = `v.blk.${i}`;
    // Qwen2.5-VL's vision blocks use RMSNorm: weights, no biases.
    t.norm(`${b}.ln1.weight`, e);
    for (const w of ["attn_q", "attn_k", "attn_v"]) {
      t.matrix(`${b}.${w}.weight`, [e, e]);
      t.bias(`${b}.${w}.bias`, e);
    }
    t.matrix(`${b}.attn_out.weight`, [e, e]);
    t.bias(`${b}.attn_out.bias`, e);
    t.norm(`${b}.ln2.weight`, e);
    t.matrix(`${b}.ffn_gate.weight`, [e, v.nFf]);
    t.bias(`${b}.ffn_gate.bias`, v.nFf);
    t.matrix(`${b}.ffn_up.weight`, [e, v.nFf]);
    t.bias(`${b}.ffn_up.bias`, v.nFf);
    t.matrix(`${b}.ffn_down.weight`, [v.nFf, e]);
    t.bias(`${b}.ffn_down.bias`, e);
  }
  // Merger: RMSNorm over each patch, then an MLP over 2x2 patches concatenated (4E wide).
  t.norm("v.post_ln.weight", e);
  t.matrix("mm.0.weight", [4 * e, 4 * e]);
  t.bias("mm.0.bias", 4 * e);
  t.matrix("mm.2.weight", [4 * e, projectionDim]);
  t.bias("mm.2.bias", projectionDim);
  return t.specs;
}

/** Options of {@link writeQwen25VLModels}. */
export interface WriteModelsOptions {
  dir: string;
  /** File stem; files are `<name>.gguf` and `mmproj-<name>.gguf` (default "tiny-qwen2.5-vl"). */
  name?: string;
  seed?: number;
  /** Overrides on top of {@link TINY}.text (pass `SEVEN_B.text` for the full-size model). */
  text?: Partial<TextHparams>;
  /** Overrides on top of {@link TINY}.vision. */
  vision?: Partial<VisionHparams>;
  /** Storage type of weight matrices (default "f32"); norms and biases are always F32. */
  type?: ModelFileType;
  /** Progress hook, called after each tensor is written. */
  onTensor?: (file: "model" | "mmproj", index: number, count: number, name: string) => void;
}

/** Paths and layouts of the written pair. */
export interface WrittenModels {
  model: string;
  mmproj: string;
  textHparams: TextHparams;
  visionHparams: VisionHparams;
  vocab: QwenVocab;
  layouts: { model: GGUFLayout; mmproj: GGUFLayout };
}

/** Writes to a temporary name first so a crash never leaves a truncated file under the real name. */
async function writeAtomically(
  path: string,
  metadata: GGUFMetadata,
  tensors: GGUFTensorSpec[],
  onTensor: (index: number, name: string) => void,
): Promise<GGUFLayout> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const layout = await writeGGUF(tmp, metadata, tensors, { onTensor: (i, t) => onTensor(i, t.name) });
    await rename(tmp, path);
    return layout;
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Writes a random-weight Qwen2.5-VL text model (arch `qwen2vl`) and its mmproj (arch `clip`,
 * projector `qwen2.5vl_merger`) into `dir`. Same options, same bytes.
 */
export async function writeQwen25VLModels(opts: WriteModelsOptions): Promise<WrittenModels> {
  const name = opts.name ?? "tiny-qwen2.5-vl";
  const seed = opts.seed ?? 1;
  const fileType = opts.type ?? "f32";
  const text: TextHparams = { ...TINY.text, ...opts.text };
  const vision: VisionHparams = { ...TINY.vision, ...opts.vision };
  checkText(text);
  const projectionDim = vision.projectionDim ?? text.nEmbd;
  checkVision(vision, projectionDim);
  if (projectionDim !== text.nEmbd) {
    throw new Error(`vision projection dim ${projectionDim} must equal text n_embd ${text.nEmbd}`);
  }
  const vocab = buildQwenVocab(text.vocabSize === undefined ? {} : { padTo: text.vocabSize });

  await mkdir(opts.dir, { recursive: true });
  const model = join(opts.dir, `${name}.gguf`);
  const mmproj = join(opts.dir, `mmproj-${name}.gguf`);
  const textSpecs = textTensors(text, vocab.tokens.length, fileType, seed);
  const visionSpecs = visionTensors(vision, projectionDim, fileType, seed ^ 0x5bd1e995);
  const modelLayout = await writeAtomically(model, textMetadata(text, vocab, fileType, name), textSpecs, (i, n) =>
    opts.onTensor?.("model", i, textSpecs.length, n),
  );
  const mmprojLayout = await writeAtomically(
    mmproj,
    visionMetadata(vision, projectionDim, fileType, name),
    visionSpecs,
    (i, n) => opts.onTensor?.("mmproj", i, visionSpecs.length, n),
  );
  return {
    model,
    mmproj,
    textHparams: text,
    visionHparams: { ...vision, projectionDim },
    vocab,
    layouts: { model: modelLayout, mmproj: mmprojLayout },
  };
}
