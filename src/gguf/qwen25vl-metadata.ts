/**
 * The metadata keys of a Qwen2.5-VL GGUF pair — text model (arch `qwen2vl`) and vision projector
 * (arch `clip`, projector `qwen2.5vl_merger`) — in the order llama.cpp's convert_hf_to_gguf.py
 * writes them. The HF converter (src/gguf/convert/) and the random-weight generator
 * (src/gguf/tiny-model.ts) both write their files from these lists, so the two cannot drift apart.
 */
import { GGML_TYPE, kv } from "./types.js";
import type { GGMLType, GGUFMetadata, GGUFValue } from "./types.js";

/** Storage types of the weight matrices that we write (`--outtype` of convert_hf_to_gguf.py). */
export type WeightStorage = "f32" | "f16" | "bf16" | "q8_0";

/** `general.file_type` (llama_ftype) of each storage type. */
export const FILE_TYPE_ID: Readonly<Record<WeightStorage, number>> = { f32: 0, f16: 1, q8_0: 7, bf16: 32 };

/** The first two keys of every file. */
export function fileHeader(arch: "qwen2vl" | "clip"): GGUFMetadata {
  return [
    ["general.architecture", kv.str(arch)],
    ["general.type", kv.str(arch === "clip" ? "mmproj" : "model")],
  ];
}

/** What the text model's keys are made from. */
export interface Qwen2vlKeys {
  nLayer: number;
  contextLength: number;
  nEmbd: number;
  nFf: number;
  nHead: number;
  nHeadKv: number;
  ropeSections: readonly [number, number, number, number];
  /** `rope_theta`; the key is left out when the checkpoint has none (llama.cpp's default applies). */
  ropeTheta: number | undefined;
  rmsEps: number;
  ropeScaling?: { type: "linear" | "yarn"; factor: number; originalContext?: number } | undefined;
  /** `head_dim` when the checkpoint states it; then key and value lengths are written. */
  explicitHeadDim?: number | undefined;
}

/**
 * The text model's hyper-parameters, from `block_count` to `general.quantization_version`. The
 * converter writes `general.*` keys before them and the tokenizer's after.
 */
export function qwen2vlMetadata(h: Qwen2vlKeys, storage: WeightStorage): GGUFMetadata {
  const a = "qwen2vl";
  const md: Array<readonly [string, GGUFValue]> = [
    [`${a}.block_count`, kv.u32(h.nLayer)],
    [`${a}.context_length`, kv.u32(h.contextLength)],
    [`${a}.embedding_length`, kv.u32(h.nEmbd)],
    [`${a}.feed_forward_length`, kv.u32(h.nFf)],
    [`${a}.attention.head_count`, kv.u32(h.nHead)],
    [`${a}.attention.head_count_kv`, kv.u32(h.nHeadKv)],
  ];
  if (h.ropeScaling !== undefined) {
    md.push([`${a}.rope.scaling.type`, kv.str(h.ropeScaling.type)]);
    md.push([`${a}.rope.scaling.factor`, kv.f32(h.ropeScaling.factor)]);
    if (h.ropeScaling.originalContext !== undefined) md.push([`${a}.rope.scaling.original_context_length`, kv.u32(h.ropeScaling.originalContext)]);
  }
  md.push([`${a}.rope.dimension_sections`, kv.arr("i32", [...h.ropeSections])]);
  if (h.ropeTheta !== undefined) md.push([`${a}.rope.freq_base`, kv.f32(h.ropeTheta)]);
  md.push([`${a}.attention.layer_norm_rms_epsilon`, kv.f32(h.rmsEps)]);
  if (h.explicitHeadDim !== undefined) {
    md.push([`${a}.attention.key_length`, kv.u32(h.explicitHeadDim)]);
    md.push([`${a}.attention.value_length`, kv.u32(h.explicitHeadDim)]);
  }
  md.push(["general.file_type", kv.u32(FILE_TYPE_ID[storage])]);
  md.push(["general.quantization_version", kv.u32(2)]);
  return md;
}

/** What the mmproj's keys are made from. */
export interface ClipKeys {
  imageSize: number;
  patchSize: number;
  nEmbd: number;
  nFf: number;
  nLayer: number;
  nHead: number;
  nWaPattern: number;
  eps: number;
  imageMean: readonly number[];
  imageStd: readonly number[];
}

/** The mmproj's keys after `general.*`, from `general.file_type` to `general.quantization_version`. */
export function clipMetadata(v: ClipKeys, projectionDim: number, storage: WeightStorage): GGUFMetadata {
  return [
    ["general.file_type", kv.u32(FILE_TYPE_ID[storage])],
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
    ["general.quantization_version", kv.u32(2)],
  ];
}

/** How the converter stores a weight matrix: Q8_0 needs rows of whole 32-element blocks, else F16. */
export function matrixStorage(type: "f32" | "f16" | "q8_0", shape: readonly number[]): GGMLType {
  if (type === "f32") return GGML_TYPE.F32;
  if (type === "f16") return GGML_TYPE.F16;
  return shape[0]! % 32 === 0 ? GGML_TYPE.Q8_0 : GGML_TYPE.F16;
}
