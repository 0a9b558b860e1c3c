/**
 * The tensors of a random-weight Qwen2.5-VL pair: names, shapes and storage types as
 * convert_hf_to_gguf writes them, and data drawn on demand. Weights are deterministic in
 * (seed, tensor name): triangular noise with standard deviation 0.02 for matrices and biases,
 * 1.0 for norm weights.
 */
import { GGML_TYPE, tensorElements } from "./types.js";
import type { GGMLType } from "./types.js";
import type { GGUFTensorSpec } from "./writer.js";
import { matrixStorage } from "./qwen25vl-metadata.js";
import type { ModelFileType, TextHparams, VisionHparams } from "./tiny-hparams.js";


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
  matrix(name: string, shape: readonly number[], type = matrixStorage(this.fileType, shape)): void {
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
