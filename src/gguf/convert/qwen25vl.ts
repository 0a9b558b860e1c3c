/**
 * Hugging Face Qwen2.5-VL checkpoint (VideoScore2 is one) → the GGUF pair llama.cpp/mtmd load:
 * the text model (arch `qwen2vl`) and the vision projector (arch `clip`, projector
 * `qwen2.5vl_merger`). Pure TypeScript and streaming: headers are planned up front, then each
 * tensor is read from its safetensors shard a bounded span at a time, converted and written, so
 * memory stays flat whatever the checkpoint size.
 *
 * What is written follows llama.cpp's convert_hf_to_gguf.py (Qwen2VLModel / Qwen2VLVisionModel of
 * the pinned tree) key for key; src/gguf/tiny-model.ts writes the same layout from random weights.
 * Tensor mapping (HF → GGUF; torch shapes are reversed into ggml order, data is not transposed):
 *
 *   model.embed_tokens.weight                       token_embd.weight
 *   model.layers.N.input_layernorm.weight           blk.N.attn_norm.weight            F32
 *   model.layers.N.self_attn.{q,k,v}_proj.{w,b}     blk.N.attn_{q,k,v}.{weight,bias}  (bias F32)
 *   model.layers.N.self_attn.o_proj.weight          blk.N.attn_output.weight
 *   model.layers.N.post_attention_layernorm.weight  blk.N.ffn_norm.weight             F32
 *   model.layers.N.mlp.{gate,up,down}_proj.weight   blk.N.ffn_{gate,up,down}.weight
 *   model.norm.weight                               output_norm.weight                F32
 *   lm_head.weight                                  output.weight (absent when tied)
 *   visual.patch_embed.proj.weight [E,C,2,P,P]      v.patch_embd.weight   = [:, :, 0]  F16 in f16 files, else F32
 *                                                   v.patch_embd.weight.1 = [:, :, 1]
 *   visual.blocks.N.norm1.weight / norm2.weight     v.blk.N.ln1.weight / ln2.weight   F32
 *   visual.blocks.N.attn.qkv.{w,b} [3E,…]           v.blk.N.attn_{q,k,v}.{weight,bias} (rows split in thirds)
 *   visual.blocks.N.attn.proj.{w,b}                 v.blk.N.attn_out.{weight,bias}
 *   visual.blocks.N.mlp.{gate,up,down}_proj.{w,b}   v.blk.N.ffn_{gate,up,down}.{weight,bias}
 *   visual.merger.ln_q.weight                       v.post_ln.weight                  F32
 *   visual.merger.mlp.{0,2}.{w,b}                   mm.{0,2}.{weight,bias}
 *
 * Names saved by transformers ≥ 4.52 (`model.language_model.*`, `model.visual.*`) are read too.
 * 1-D tensors and `*_norm.weight` are F32; matrices take the output type; Q8_0 falls back to F16
 * for rows that are not whole 32-element blocks (the 7B vision ffn_down, 3420 wide).
 */
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { abortError, VideoScoreError } from "../../addon/errors.js";
import { GGML_TYPE, kv } from "../types.js";
import type { GGMLType, GGUFMetadata } from "../types.js";
import { writeGGUF } from "../writer.js";
import { clipVisionMetadata, qwen2vlShapeMetadata } from "../tiny-model.js";
import type { GGUFLayout, GGUFTensorSpec, TensorChunks } from "../writer.js";
import { bf16ToF16Table, encodeBF16, f16ToBF16Table, GGML_TYPE_BF16, mapHalves, registerBF16 } from "./bf16.js";
import { hfVocabMetadata, readHfVocab, readJson } from "./hf-vocab.js";
import type { HfVocab } from "./hf-vocab.js";
import { decodeToF32, openCheckpointTensors, TensorByteReader } from "./safetensors.js";
import type { SafetensorsTensor } from "./safetensors.js";

/** Storage type of the weight matrices (`--outtype` of convert_hf_to_gguf.py). */
export type ConvertType = "f32" | "f16" | "bf16" | "q8_0";
export const CONVERT_TYPES: readonly ConvertType[] = ["f16", "bf16", "q8_0", "f32"];

/** `general.file_type` (llama_ftype) of each output type. */
const FILE_TYPE_ID: Record<ConvertType, number> = { f32: 0, f16: 1, q8_0: 7, bf16: 32 };

/** Hyper-parameters of the text model as written to the GGUF. */
export interface Qwen25VLTextParams {
  nLayer: number;
  contextLength: number;
  nEmbd: number;
  nFf: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  /** `head_dim` when config.json states it (then key/value lengths are written). */
  explicitHeadDim: number | undefined;
  ropeTheta: number | undefined;
  rmsEps: number;
  ropeSections: [number, number, number, number];
  ropeScaling: { type: "linear" | "yarn"; factor: number; originalContext?: number } | undefined;
  vocabSize: number;
  tiedEmbeddings: boolean;
}

/** Hyper-parameters of the vision tower as written to the mmproj. */
export interface Qwen25VLVisionParams {
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nFf: number;
  inChannels: number;
  patchSize: number;
  temporalPatchSize: number;
  spatialMergeSize: number;
  windowSize: number;
  imageSize: number;
  nWaPattern: number;
  eps: number;
  imageMean: number[];
  imageStd: number[];
  projectionDim: number;
}

/** A checkpoint folder, read and validated (headers only; no tensor data yet). */
export interface Qwen25VLCheckpoint {
  dir: string;
  config: Record<string, unknown>;
  text: Qwen25VLTextParams;
  vision: Qwen25VLVisionParams;
  vocab: HfVocab;
  /** generation_config.json (empty when absent or invalid, as the Python converter treats it). */
  generation: Record<string, unknown>;
  /** By normalized name (`model.layers.…`, `visual.…`, `lm_head.weight`). */
  tensors: Map<string, SafetensorsTensor>;
  /** Bytes of tensor data in the shards. */
  sourceBytes: number;
}

/** Which part of a source tensor a GGUF tensor is made of. */
type Extract =
  | { kind: "range"; start: number; count: number }
  /** Source [outer, kt, inner] (inner contiguous); picks [:, t, :]. */
  | { kind: "temporal"; t: number; kt: number; outer: number; inner: number };

/** One GGUF tensor of the plan, with its source. */
export interface PlannedTensor {
  name: string;
  /** ggml order (ne[0] first). */
  shape: number[];
  type: GGMLType;
  source: SafetensorsTensor;
  extract: Extract;
  /** Source bytes this tensor reads. */
  sourceBytes: number;
}

/** One GGUF file of the plan. */
export interface PlannedFile {
  metadata: GGUFMetadata;
  tensors: PlannedTensor[];
  sourceBytes: number;
}

/** Progress of {@link convertQwen25VL}: after each chunk of source data is consumed. */
export interface ConvertProgress {
  file: "model" | "mmproj";
  /** Tensor being written, its index and the file's tensor count. */
  tensor: string;
  index: number;
  count: number;
  /** Source bytes consumed so far in this file, of its total. */
  bytesDone: number;
  bytesTotal: number;
}

/** Options of {@link convertQwen25VL}. */
export interface ConvertOptions {
  /** The Hugging Face checkpoint folder. */
  input: string;
  /** Output folder (created). */
  outDir: string;
  /** File stem and `general.name` (default: the folder's name). */
  name?: string;
  /** Weight storage type of both files (default "f16"). */
  type?: ConvertType;
  /** Weight storage type of the mmproj (default: `type`). */
  mmprojType?: ConvertType;
  /** Output file names (default `<name>-<type>.gguf`, `mmproj-<name>-<mmprojType>.gguf`). */
  modelFile?: string;
  mmprojFile?: string;
  /** Skip one of the files. */
  only?: "model" | "mmproj";
  onProgress?: (p: ConvertProgress) => void;
  signal?: AbortSignal;
}

/** What {@link convertQwen25VL} wrote. */
export interface ConvertResult {
  model?: { path: string; layout: GGUFLayout };
  mmproj?: { path: string; layout: GGUFLayout };
  checkpoint: Qwen25VLCheckpoint;
}

// ---------------------------------------------------------------------------------------------
// Reading and validating the checkpoint

function mismatch(message: string, path?: string): VideoScoreError {
  return new VideoScoreError("ERR_MODEL_MISMATCH", message, path === undefined ? {} : { path });
}


/** Throws ERR_MODEL_MISMATCH naming what config.json describes unless it is a Qwen2.5-VL. */
export function assertQwen25VLConfig(config: Record<string, unknown>, path: string): void {
  const archs = Array.isArray(config.architectures) ? (config.architectures as unknown[]).map(String) : [];
  const modelType = typeof config.model_type === "string" ? config.model_type : undefined;
  if (archs.includes("Qwen2_5_VLForConditionalGeneration") || modelType === "qwen2_5_vl") return;
  const found = `architectures ${archs.length > 0 ? `[${archs.join(", ")}]` : "(none)"}, model_type ${modelType === undefined ? "(none)" : JSON.stringify(modelType)}`;
  const hint =
    modelType === "qwen2_vl" || archs.includes("Qwen2VLForConditionalGeneration")
      ? " Qwen2-VL (not 2.5) uses another vision projector, which VideoScore2 does not."
      : "";
  throw mismatch(
    `${path} is not a Qwen2.5-VL checkpoint: config.json has ${found}; videoscore2 convert needs Qwen2_5_VLForConditionalGeneration (model_type "qwen2_5_vl"), e.g. TIGER-Lab/VideoScore2.${hint}`,
    path,
  );
}

function num(obj: Record<string, unknown>, keys: readonly string[], where: string, fallback?: number): number {
  for (const k of keys) {
    const v = obj[k];
    if (typeof v === "number" && Number.isFinite(v)) return v;
  }
  if (fallback !== undefined) return fallback;
  throw mismatch(`${where}: missing ${keys.join(" / ")}`);
}

function posInt(v: number, what: string, where: string): number {
  if (!Number.isInteger(v) || v <= 0) throw mismatch(`${where}: ${what} must be a positive integer, got ${v}`);
  return v;
}

function textParams(config: Record<string, unknown>, where: string): Qwen25VLTextParams {
  const tc = (config.text_config as Record<string, unknown> | undefined) ?? {};
  const hp: Record<string, unknown> = { ...config, ...tc };
  const nLayer = posInt(num(hp, ["num_hidden_layers", "n_layers", "n_layer", "num_layers"], where), "num_hidden_layers", where);
  const nEmbd = posInt(num(hp, ["hidden_size"], where), "hidden_size", where);
  const nFf = posInt(num(hp, ["intermediate_size"], where), "intermediate_size", where);
  const nHead = posInt(num(hp, ["num_attention_heads"], where), "num_attention_heads", where);
  const nHeadKv = posInt(num(hp, ["num_key_value_heads"], where, nHead), "num_key_value_heads", where);
  const contextLength = posInt(num(hp, ["max_position_embeddings"], where), "max_position_embeddings", where);
  const explicitHeadDim = typeof hp.head_dim === "number" ? posInt(hp.head_dim, "head_dim", where) : undefined;
  if (explicitHeadDim === undefined && nEmbd % nHead !== 0) throw mismatch(`${where}: hidden_size ${nEmbd} is not a multiple of num_attention_heads ${nHead}`);
  const headDim = explicitHeadDim ?? nEmbd / nHead;
  if (nHead % nHeadKv !== 0) throw mismatch(`${where}: num_attention_heads ${nHead} is not a multiple of num_key_value_heads ${nHeadKv}`);
  const rope = ((hp.rope_parameters ?? hp.rope_scaling) as Record<string, unknown> | null | undefined) ?? {};
  const ropeTheta = typeof hp.rope_theta === "number" ? hp.rope_theta : typeof rope.rope_theta === "number" ? rope.rope_theta : undefined;
  const sec = rope.mrope_section;
  if (!Array.isArray(sec) || sec.length === 0 || sec.length > 4 || !sec.every((x) => Number.isInteger(x) && x >= 0)) {
    throw mismatch(`${where}: rope_scaling.mrope_section is missing or malformed (${JSON.stringify(sec ?? null)}); Qwen2.5-VL's M-RoPE needs it`);
  }
  const ropeSections = [...(sec as number[]), 0, 0, 0].slice(0, 4) as [number, number, number, number];
  const secSum = ropeSections.reduce((a, b) => a + b, 0);
  if (secSum * 2 !== headDim) throw mismatch(`${where}: mrope_section ${JSON.stringify(sec)} sums to ${secSum}, expected head_dim/2 = ${headDim / 2}`);
  // The qwen2vl loader of our build needs the epsilon; HF's Qwen2 default is 1e-6.
  const rmsEps = num(hp, ["rms_norm_eps", "norm_eps"], where, 1e-6);
  const ropeType = rope.rope_type ?? rope.type;
  let ropeScaling: Qwen25VLTextParams["ropeScaling"];
  if (ropeType === "linear" && typeof rope.factor === "number") ropeScaling = { type: "linear", factor: rope.factor };
  else if (ropeType === "yarn" && typeof rope.factor === "number") {
    const orig = rope.original_max_position_embeddings;
    if (typeof orig !== "number") throw mismatch(`${where}: yarn rope scaling without original_max_position_embeddings`);
    ropeScaling = { type: "yarn", factor: rope.factor, originalContext: orig };
  }
  const vocabSize = posInt(num(hp, ["vocab_size"], where), "vocab_size", where);
  const tiedEmbeddings = hp.tie_word_embeddings === true;
  return { nLayer, contextLength, nEmbd, nFf, nHead, nHeadKv, headDim, explicitHeadDim, ropeTheta, rmsEps, ropeSections, ropeScaling, vocabSize, tiedEmbeddings };
}

function visionParams(config: Record<string, unknown>, pre: Record<string, unknown>, text: Qwen25VLTextParams, where: string): Qwen25VLVisionParams {
  const vc = config.vision_config as Record<string, unknown> | undefined;
  if (typeof vc !== "object" || vc === null) throw mismatch(`${where}: no vision_config; a Qwen2.5-VL checkpoint has one`);
  const w = `${where} vision_config`;
  const nEmbd = posInt(num(vc, ["hidden_size"], w), "hidden_size", w);
  const nLayer = posInt(num(vc, ["depth", "num_hidden_layers"], w), "depth", w);
  const nHead = posInt(num(vc, ["num_heads", "num_attention_heads"], w), "num_heads", w);
  const nFf = posInt(num(vc, ["intermediate_size"], w), "intermediate_size", w);
  const inChannels = posInt(num(vc, ["in_chans", "in_channels"], w, 3), "in_chans", w);
  const patchSize = posInt(num(vc, ["patch_size", "spatial_patch_size"], w, 14), "patch_size", w);
  const temporalPatchSize = num(vc, ["temporal_patch_size"], w, 2);
  const spatialMergeSize = num(vc, ["spatial_merge_size"], w, 2);
  const windowSize = num(vc, ["window_size"], w, 112);
  const imageSize = posInt(num(vc, ["image_size"], w, 560), "image_size", w);
  if (temporalPatchSize !== 2) throw mismatch(`${w}: temporal_patch_size ${temporalPatchSize}; llama.cpp supports only 2`);
  if (spatialMergeSize !== 2) throw mismatch(`${w}: spatial_merge_size ${spatialMergeSize}; llama.cpp's Qwen2.5-VL graph merges 2x2 only`);
  if (windowSize !== 112) throw mismatch(`${w}: window_size ${windowSize}; llama.cpp's Qwen2.5-VL encoder uses 112 and reads no other value`);
  if (nEmbd % nHead !== 0) throw mismatch(`${w}: hidden_size ${nEmbd} is not a multiple of num_heads ${nHead}`);
  const fab = vc.fullatt_block_indexes;
  if (!Array.isArray(fab) || fab.length === 0 || !fab.every((x) => Number.isInteger(x))) {
    throw mismatch(`${w}: fullatt_block_indexes is missing; Qwen2.5-VL's windowed attention needs it`);
  }
  const nWaPattern = (fab[0] as number) + 1;
  for (let i = 1; i < fab.length; i++) {
    if ((fab[i] as number) - (fab[i - 1] as number) !== nWaPattern) throw mismatch(`${w}: fullatt_block_indexes ${JSON.stringify(fab)} is not a regular pattern`);
  }
  const out = vc.out_hidden_size;
  if (typeof out === "number" && out !== text.nEmbd) throw mismatch(`${w}: out_hidden_size ${out} differs from the text hidden_size ${text.nEmbd}`);
  const eps = typeof config.rms_norm_eps === "number" ? config.rms_norm_eps : text.rmsEps;
  const mean = pre.image_mean;
  const std = pre.image_std;
  const isTriple = (a: unknown): a is number[] => Array.isArray(a) && a.length === 3 && a.every((x) => typeof x === "number");
  if (!isTriple(mean) || !isTriple(std)) throw mismatch(`${where}: preprocessor_config.json has no image_mean / image_std triple`);
  return {
    nEmbd, nLayer, nHead, nFf, inChannels, patchSize, temporalPatchSize, spatialMergeSize, windowSize, imageSize, nWaPattern, eps,
    imageMean: mean, imageStd: std, projectionDim: text.nEmbd,
  };
}

/** Tensor names as the pinned converter sees them (it drops every `language_model.`). */
export function normalizeTensorName(name: string): string {
  let n = name.replaceAll("language_model.", "");
  if (n.startsWith("model.visual.")) n = n.slice("model.".length);
  return n;
}

/** Tensors the converter skips, as convert_hf_to_gguf does. */
function ignored(name: string): boolean {
  return name.endsWith(".rotary_emb.inv_freq") || name.endsWith(".attention.masked_bias") || name.endsWith(".attention.bias");
}

/**
 * Reads and validates a checkpoint folder: config (must be Qwen2.5-VL), tokenizer, preprocessor
 * config and every safetensors header. No tensor data is read.
 */
export async function inspectQwen25VL(dir: string): Promise<Qwen25VLCheckpoint> {
  const root = resolve(dir);
  let files: string[];
  try {
    const s = await stat(root);
    if (!s.isDirectory()) throw mismatch(`${root} is a file; give the Hugging Face checkpoint folder (with config.json and *.safetensors)`, root);
    files = await readdir(root);
  } catch (e) {
    if (e instanceof VideoScoreError) throw e;
    throw new VideoScoreError("ERR_MODEL_LOAD", `${root} does not exist or cannot be read (${(e as Error).message})`, { path: root, cause: e });
  }
  if (!files.includes("config.json")) {
    throw mismatch(`${root} is not a Hugging Face checkpoint: found no config.json (expected a Qwen2.5-VL folder such as TIGER-Lab/VideoScore2)`, root);
  }
  const configPath = join(root, "config.json");
  const config = await readJson(configPath, true);
  assertQwen25VLConfig(config, root);
  const text = textParams(config, configPath);
  if (!files.includes("preprocessor_config.json")) {
    throw new VideoScoreError("ERR_MODEL_LOAD", `${root}: preprocessor_config.json is missing (it holds the image mean/std the mmproj needs)`, { path: root });
  }
  let pre = await readJson(join(root, "preprocessor_config.json"), true);
  if (files.includes("processor_config.json")) {
    const pc = await readJson(join(root, "processor_config.json"), true);
    pre = { ...pre, ...pc, ...((pc.image_processor as Record<string, unknown> | undefined) ?? {}) };
  }
  const vision = visionParams(config, pre, text, configPath);
  if (!files.includes("tokenizer.json")) {
    throw new VideoScoreError("ERR_MODEL_LOAD", `${root}: tokenizer.json is missing (the GGUF embeds the tokenizer)`, { path: root });
  }
  const vocab = await readHfVocab(root, config, text.vocabSize);

  const raw = await openCheckpointTensors(root, files);
  const tensors = new Map<string, SafetensorsTensor>();
  let sourceBytes = 0;
  for (const [name, t] of raw) {
    if (ignored(name)) continue;
    const n = normalizeTensorName(name);
    if (tensors.has(n)) throw mismatch(`${root}: tensors '${tensors.get(n)!.name}' and '${name}' map to the same name`, root);
    if (t.dtype !== "BF16" && t.dtype !== "F16" && t.dtype !== "F32") {
      throw mismatch(`${t.file}: tensor '${name}' is ${t.dtype}; only unquantized BF16/F16/F32 checkpoints can be converted`, t.file);
    }
    tensors.set(n, t);
    sourceBytes += t.nbytes;
  }
  let generation: Record<string, unknown> = {};
  if (files.includes("generation_config.json")) generation = await readJson(join(root, "generation_config.json"), true).catch(() => ({}));
  return { dir: root, config, text, vision, vocab, generation, tensors, sourceBytes };
}

// ---------------------------------------------------------------------------------------------
// Planning the two files

/** The converter's storage type for one output tensor (ggml shape). */
function storageType(name: string, shape: readonly number[], type: ConvertType, mmproj: boolean): GGMLType {
  if (mmproj && name.includes(".patch_embd.weight")) return type === "f16" ? GGML_TYPE.F16 : GGML_TYPE.F32;
  if (shape.length <= 1 || name.endsWith("_norm.weight") || !name.endsWith(".weight")) return GGML_TYPE.F32;
  switch (type) {
    case "f32":
      return GGML_TYPE.F32;
    case "f16":
      return GGML_TYPE.F16;
    case "bf16":
      return registerBF16();
    case "q8_0":
      return shape[0]! % 32 === 0 ? GGML_TYPE.Q8_0 : GGML_TYPE.F16;
  }
}

/** Elements read per span: 1M (2 MB of bf16); whole rows, so Q8_0 chunks hold whole blocks. */
const CHUNK_ELEMENTS = 1 << 20;

/** Streams one planned tensor: reads bounded spans of its source, yields encoded chunks. */
async function* tensorChunks(
  t: PlannedTensor,
  signal: AbortSignal | undefined,
  onBytes: (n: number) => void,
): AsyncGenerator<Float32Array | Uint8Array> {
  const reader = new TensorByteReader(t.source);
  const dtype = t.source.dtype;
  const eb = reader.elementBytes;
  const rowLen = t.shape[0]!;
  // Output buffers are reused from chunk to chunk: the writer copies each chunk before it asks
  // for the next one.
  let f32 = new Float32Array(0);
  let halves = new Uint16Array(0);
  const mapped = (raw: Uint8Array, table: Uint16Array): Uint8Array => {
    if (halves.length < raw.length >>> 1) halves = new Uint16Array(raw.length >>> 1);
    return mapHalves(raw, table, halves);
  };
  const encode = (raw: Uint8Array, n: number): Float32Array | Uint8Array => {
    const outType = t.type as number;
    if (outType === GGML_TYPE.F16 && dtype === "BF16") return mapped(raw, bf16ToF16Table());
    if (outType === GGML_TYPE.F16 && dtype === "F16") return raw;
    if (outType === GGML_TYPE_BF16 && dtype === "BF16") return raw;
    if (outType === GGML_TYPE_BF16 && dtype === "F16") return mapped(raw, f16ToBF16Table());
    if (f32.length < n) f32 = new Float32Array(n);
    const vals = f32.subarray(0, n);
    decodeToF32(dtype, raw, vals);
    if (outType === GGML_TYPE_BF16) {
      const out = new Uint8Array(n * 2);
      encodeBF16(vals, out);
      return out;
    }
    return vals; // F32, F16 (the writer encodes), Q8_0 (whole rows: whole blocks)
  };
  try {
    const ex = t.extract;
    if (ex.kind === "range") {
      const rowsPerChunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / rowLen));
      const step = rowsPerChunk * rowLen;
      for (let done = 0; done < ex.count; done += step) {
        if (signal?.aborted) throw abortError(signal);
        const n = Math.min(step, ex.count - done);
        const raw = await reader.read({ start: ex.start + done, count: n });
        onBytes(n * eb);
        yield encode(raw, n);
      }
    } else {
      const groupsPerChunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / (ex.inner * ex.kt)));
      let picked = new Uint8Array(0);
      for (let o = 0; o < ex.outer; o += groupsPerChunk) {
        if (signal?.aborted) throw abortError(signal);
        const g = Math.min(groupsPerChunk, ex.outer - o);
        const raw = await reader.read({ start: o * ex.kt * ex.inner, count: g * ex.kt * ex.inner });
        onBytes(raw.length);
        const innerBytes = ex.inner * eb;
        if (picked.length < g * innerBytes) picked = new Uint8Array(g * innerBytes);
        for (let i = 0; i < g; i++) {
          const from = (i * ex.kt + ex.t) * innerBytes;
          picked.set(raw.subarray(from, from + innerBytes), i * innerBytes);
        }
        yield encode(picked.subarray(0, g * innerBytes), g * ex.inner);
      }
    }
  } finally {
    await reader.close();
  }
}

class Planner {
  readonly tensors: PlannedTensor[] = [];
  private readonly used = new Set<string>();

  constructor(
    private readonly ckpt: Qwen25VLCheckpoint,
    private readonly type: ConvertType,
    private readonly mmproj: boolean,
  ) {}

  private source(hfName: string, torchShape: readonly number[]): SafetensorsTensor {
    const t = this.ckpt.tensors.get(hfName);
    if (t === undefined) throw mismatch(`${this.ckpt.dir}: tensor '${hfName}' is missing from the checkpoint`, this.ckpt.dir);
    if (t.shape.length !== torchShape.length || t.shape.some((d, i) => d !== torchShape[i])) {
      throw mismatch(`${t.file}: tensor '${t.name}' has shape [${t.shape.join(", ")}], config.json implies [${torchShape.join(", ")}]`, t.file);
    }
    this.used.add(hfName);
    return t;
  }

  private push(name: string, ggmlShape: number[], source: SafetensorsTensor, extract: Extract, sourceBytes: number): void {
    const type = storageType(name, ggmlShape, this.type, this.mmproj);
    this.tensors.push({ name, shape: ggmlShape, type, source, extract, sourceBytes });
  }

  /** A whole tensor, renamed. */
  copy(hfName: string, name: string, torchShape: readonly number[]): void {
    const src = this.source(hfName, torchShape);
    const count = torchShape.reduce((a, b) => a * b, 1);
    this.push(name, [...torchShape].reverse(), src, { kind: "range", start: 0, count }, src.nbytes);
  }

  /** A whole tensor if present (optional biases, tied output). */
  copyIfPresent(hfName: string, name: string, torchShape: readonly number[]): void {
    if (this.ckpt.tensors.has(hfName)) this.copy(hfName, name, torchShape);
  }

  /** Rows [part*rows, (part+1)*rows) of a fused [3*rows, …] tensor. */
  rows(hfName: string, name: string, torchShape: readonly number[], part: number, parts: number): void {
    const src = this.source(hfName, torchShape);
    const rows = torchShape[0]! / parts;
    const rowElems = torchShape.slice(1).reduce((a, b) => a * b, 1);
    const shape = [rows, ...torchShape.slice(1)];
    const eb = src.nbytes / torchShape.reduce((a, b) => a * b, 1);
    this.push(name, shape.reverse(), src, { kind: "range", start: part * rows * rowElems, count: rows * rowElems }, rows * rowElems * eb);
  }

  /** One temporal slice of a Conv3D kernel [E, C, kt, P, P] → [E, C, P, P]. */
  temporal(hfName: string, name: string, torchShape: readonly number[], t: number): void {
    const src = this.source(hfName, torchShape);
    const [e, c, kt, ph, pw] = torchShape as [number, number, number, number, number];
    this.push(name, [pw, ph, c, e], src, { kind: "temporal", t, kt, outer: e * c, inner: ph * pw }, src.nbytes);
  }

  /** Names of the checkpoint's tensors of this part that nothing mapped. */
  unused(prefixFilter: (n: string) => boolean): string[] {
    return [...this.ckpt.tensors.keys()].filter((n) => prefixFilter(n) && !this.used.has(n));
  }
}

function isVisionName(n: string): boolean {
  return n.startsWith("visual.");
}

/** The writer's view of a plan: each tensor's data streams from its source when its turn comes. */
export function tensorSpecs(tensors: PlannedTensor[], file: "model" | "mmproj", opts: Pick<ConvertOptions, "onProgress" | "signal"> = {}): GGUFTensorSpec[] {
  let bytesDone = 0;
  const bytesTotal = tensors.reduce((a, t) => a + t.sourceBytes, 0);
  return tensors.map((t, index) => ({
    name: t.name,
    shape: t.shape,
    type: t.type,
    data: (): TensorChunks =>
      tensorChunks(t, opts.signal, (n) => {
        bytesDone += n;
        opts.onProgress?.({ file, tensor: t.name, index, count: tensors.length, bytesDone, bytesTotal });
      }),
  }));
}

/** gguf-py's parameter-count label: "161K", "8.3B" (two significant digits at least). */
export function sizeLabel(params: number): string {
  const [scaled, suffix] =
    params > 1e12 ? [params * 1e-12, "T"] : params > 1e9 ? [params * 1e-9, "B"] : params > 1e6 ? [params * 1e-6, "M"] : [params * 1e-3, "K"];
  const digits = String(Math.round(scaled)).replace(/^0+/, "").length;
  return `${scaled.toFixed(Math.max(2 - digits, 0))}${suffix}`;
}

/**
 * The `general.*` keys convert_hf_to_gguf writes before the hyper-parameters: sampling defaults
 * from generation_config.json, the name, and the size label. (It also copies model-card fields —
 * license, base model, tags — which are informational and not reproduced here.)
 */
function generalMetadata(ckpt: Qwen25VLCheckpoint, name: string, tensors: PlannedTensor[]): Array<[string, ReturnType<typeof kv.str>]> {
  const g = ckpt.generation;
  const out: Array<[string, ReturnType<typeof kv.str>]> = [];
  const int = (key: string, v: unknown) => typeof v === "number" && Number.isInteger(v) && out.push([`general.sampling.${key}`, kv.i32(v)]);
  const float = (key: string, v: unknown) => typeof v === "number" && Number.isFinite(v) && out.push([`general.sampling.${key}`, kv.f32(v)]);
  if (typeof g.sequence === "string") out.push(["general.sampling.sequence", kv.str(g.sequence)]);
  int("top_k", g.top_k);
  float("top_p", g.top_p);
  float("min_p", g.min_p);
  float("xtc_probability", g.xtc_probability);
  float("xtc_threshold", g.xtc_threshold);
  float("temp", g.temperature);
  int("penalty_last_n", g.penalty_last_n);
  float("penalty_repeat", g.penalty_repeat ?? g.repetition_penalty);
  int("mirostat", g.mirostat);
  float("mirostat_tau", g.mirostat_tau);
  float("mirostat_eta", g.mirostat_eta);
  out.push(["general.name", kv.str(name)]);
  const params = tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
  if (params > 0) out.push(["general.size_label", kv.str(sizeLabel(params))]);
  return out;
}

/** Plans the text model GGUF: metadata in the converter's order and the tensors with their sources. */
export function planTextModel(ckpt: Qwen25VLCheckpoint, type: ConvertType, name: string): PlannedFile {
  const h = ckpt.text;
  const p = new Planner(ckpt, type, false);
  const nQ = h.nHead * h.headDim;
  const nKv = h.nHeadKv * h.headDim;
  p.copy("model.embed_tokens.weight", "token_embd.weight", [h.vocabSize, h.nEmbd]);
  for (let i = 0; i < h.nLayer; i++) {
    const s = `model.layers.${i}`;
    const b = `blk.${i}`;
    p.copy(`${s}.input_layernorm.weight`, `${b}.attn_norm.weight`, [h.nEmbd]);
    p.copy(`${s}.self_attn.q_proj.weight`, `${b}.attn_q.weight`, [nQ, h.nEmbd]);
    p.copyIfPresent(`${s}.self_attn.q_proj.bias`, `${b}.attn_q.bias`, [nQ]);
    p.copy(`${s}.self_attn.k_proj.weight`, `${b}.attn_k.weight`, [nKv, h.nEmbd]);
    p.copyIfPresent(`${s}.self_attn.k_proj.bias`, `${b}.attn_k.bias`, [nKv]);
    p.copy(`${s}.self_attn.v_proj.weight`, `${b}.attn_v.weight`, [nKv, h.nEmbd]);
    p.copyIfPresent(`${s}.self_attn.v_proj.bias`, `${b}.attn_v.bias`, [nKv]);
    p.copy(`${s}.self_attn.o_proj.weight`, `${b}.attn_output.weight`, [h.nEmbd, nQ]);
    p.copy(`${s}.post_attention_layernorm.weight`, `${b}.ffn_norm.weight`, [h.nEmbd]);
    p.copy(`${s}.mlp.gate_proj.weight`, `${b}.ffn_gate.weight`, [h.nFf, h.nEmbd]);
    p.copy(`${s}.mlp.up_proj.weight`, `${b}.ffn_up.weight`, [h.nFf, h.nEmbd]);
    p.copy(`${s}.mlp.down_proj.weight`, `${b}.ffn_down.weight`, [h.nEmbd, h.nFf]);
  }
  p.copy("model.norm.weight", "output_norm.weight", [h.nEmbd]);
  if (ckpt.tensors.has("lm_head.weight")) p.copy("lm_head.weight", "output.weight", [h.vocabSize, h.nEmbd]);
  else if (!h.tiedEmbeddings) throw mismatch(`${ckpt.dir}: lm_head.weight is missing and tie_word_embeddings is not set`, ckpt.dir);
  const extra = p.unused((n) => !isVisionName(n));
  if (extra.length > 0) throw mismatch(`${ckpt.dir}: unexpected text-model tensor(s) for Qwen2.5-VL: ${extra.slice(0, 5).join(", ")}${extra.length > 5 ? ", …" : ""}`, ckpt.dir);

  const a = "qwen2vl";
  const md: Array<[string, ReturnType<typeof kv.str>]> = [
    ["general.architecture", kv.str(a)],
    ["general.type", kv.str("model")],
    ...generalMetadata(ckpt, name, p.tensors),
    ...(qwen2vlShapeMetadata(h) as Array<[string, ReturnType<typeof kv.str>]>),
  ];
  if (h.ropeScaling !== undefined) {
    md.push([`${a}.rope.scaling.type`, kv.str(h.ropeScaling.type)]);
    md.push([`${a}.rope.scaling.factor`, kv.f32(h.ropeScaling.factor)]);
    if (h.ropeScaling.originalContext !== undefined) md.push([`${a}.rope.scaling.original_context_length`, kv.u32(h.ropeScaling.originalContext)]);
  }
  md.push([`${a}.rope.dimension_sections`, kv.arr("i32", h.ropeSections)]);
  if (h.ropeTheta !== undefined) md.push([`${a}.rope.freq_base`, kv.f32(h.ropeTheta)]);
  md.push([`${a}.attention.layer_norm_rms_epsilon`, kv.f32(h.rmsEps)]);
  if (h.explicitHeadDim !== undefined) {
    md.push([`${a}.attention.key_length`, kv.u32(h.explicitHeadDim)]);
    md.push([`${a}.attention.value_length`, kv.u32(h.explicitHeadDim)]);
  }
  md.push(["general.file_type", kv.u32(FILE_TYPE_ID[type])]);
  md.push(["general.quantization_version", kv.u32(2)]);
  md.push(...(hfVocabMetadata(ckpt.vocab) as Array<[string, ReturnType<typeof kv.str>]>));
  return { metadata: md, tensors: p.tensors, sourceBytes: p.tensors.reduce((s, t) => s + t.sourceBytes, 0) };
}

/** Plans the mmproj GGUF (vision tower + patch merger). */
export function planMmproj(ckpt: Qwen25VLCheckpoint, type: ConvertType, name: string): PlannedFile {
  const v = ckpt.vision;
  const p = new Planner(ckpt, type, true);
  const e = v.nEmbd;
  const patch = [e, v.inChannels, v.temporalPatchSize, v.patchSize, v.patchSize];
  p.temporal("visual.patch_embed.proj.weight", "v.patch_embd.weight", patch, 0);
  p.temporal("visual.patch_embed.proj.weight", "v.patch_embd.weight.1", patch, 1);
  p.copyIfPresent("visual.patch_embed.proj.bias", "v.patch_embd.bias", [e]);
  for (let i = 0; i < v.nLayer; i++) {
    const s = `visual.blocks.${i}`;
    const b = `v.blk.${i}`;
    p.copy(`${s}.norm1.weight`, `${b}.ln1.weight`, [e]);
    const fused = ckpt.tensors.has(`${s}.attn.qkv.weight`);
    ["q", "k", "v"].forEach((x, j) => {
      if (fused) {
        p.rows(`${s}.attn.qkv.weight`, `${b}.attn_${x}.weight`, [3 * e, e], j, 3);
        if (ckpt.tensors.has(`${s}.attn.qkv.bias`)) p.rows(`${s}.attn.qkv.bias`, `${b}.attn_${x}.bias`, [3 * e], j, 3);
      } else {
        p.copy(`${s}.attn.${x}.weight`, `${b}.attn_${x}.weight`, [e, e]);
        p.copyIfPresent(`${s}.attn.${x}.bias`, `${b}.attn_${x}.bias`, [e]);
      }
    });
    p.copy(`${s}.attn.proj.weight`, `${b}.attn_out.weight`, [e, e]);
    p.copyIfPresent(`${s}.attn.proj.bias`, `${b}.attn_out.bias`, [e]);
    p.copy(`${s}.norm2.weight`, `${b}.ln2.weight`, [e]);
    for (const [hf, gg, shape, bias] of [
      ["gate_proj", "ffn_gate", [v.nFf, e], v.nFf],
      ["up_proj", "ffn_up", [v.nFf, e], v.nFf],
      ["down_proj", "ffn_down", [e, v.nFf], e],
    ] as const) {
      p.copy(`${s}.mlp.${hf}.weight`, `${b}.${gg}.weight`, shape);
      p.copyIfPresent(`${s}.mlp.${hf}.bias`, `${b}.${gg}.bias`, [bias]);
    }
  }
  const merged = e * v.spatialMergeSize * v.spatialMergeSize;
  p.copy("visual.merger.ln_q.weight", "v.post_ln.weight", [e]);
  p.copy("visual.merger.mlp.0.weight", "mm.0.weight", [merged, merged]);
  p.copyIfPresent("visual.merger.mlp.0.bias", "mm.0.bias", [merged]);
  p.copy("visual.merger.mlp.2.weight", "mm.2.weight", [v.projectionDim, merged]);
  p.copyIfPresent("visual.merger.mlp.2.bias", "mm.2.bias", [v.projectionDim]);
  const extra = p.unused(isVisionName);
  if (extra.length > 0) throw mismatch(`${ckpt.dir}: unexpected vision tensor(s) for Qwen2.5-VL: ${extra.slice(0, 5).join(", ")}${extra.length > 5 ? ", …" : ""}`, ckpt.dir);

  const md: GGUFMetadata = [
    ["general.architecture", kv.str("clip")],
    ["general.type", kv.str("mmproj")],
    ...generalMetadata(ckpt, name, p.tensors),
    ["general.file_type", kv.u32(FILE_TYPE_ID[type])],
    ...clipVisionMetadata(v, v.projectionDim),
    ["general.quantization_version", kv.u32(2)],
  ];
  return { metadata: md, tensors: p.tensors, sourceBytes: p.tensors.reduce((s, t) => s + t.sourceBytes, 0) };
}

/** Writes to a temporary name, then renames: a failed or aborted run never leaves a partial file. */
async function writeAtomically(path: string, metadata: GGUFMetadata, specs: GGUFTensorSpec[]): Promise<GGUFLayout> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const layout = await writeGGUF(tmp, metadata, specs);
    await rename(tmp, path);
    return layout;
  } catch (e) {
    await rm(tmp, { force: true });
    if (e instanceof VideoScoreError) throw e;
    // File-system failures (no space, permissions) are the caller's to fix; anything else is ours.
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string") throw new VideoScoreError("ERR_MODEL_LOAD", `cannot write ${path}: ${(e as Error).message}`, { path, cause: e });
    throw new VideoScoreError("ERR_INTERNAL", `writing ${path} failed: ${(e as Error).message}`, { path, cause: e });
  }
}

/** The default file stem: the checkpoint folder's name. */
export function defaultModelName(dir: string): string {
  return basename(resolve(dir));
}

/**
 * Converts a Hugging Face Qwen2.5-VL checkpoint into `<name>-<type>.gguf` (text) and
 * `mmproj-<name>-<type>.gguf` (vision) in `outDir`.
 * @throws VideoScoreError ERR_MODEL_MISMATCH (not Qwen2.5-VL, unexpected shapes/tensors),
 *   ERR_MODEL_LOAD (missing/truncated/corrupt files), ERR_ABORTED, ERR_INTERNAL (write failure)
 */
export async function convertQwen25VL(options: ConvertOptions): Promise<ConvertResult> {
  const type = options.type ?? "f16";
  const mmprojType = options.mmprojType ?? type;
  for (const t of [type, mmprojType]) {
    if (!CONVERT_TYPES.includes(t)) throw new VideoScoreError("ERR_INVALID_OPTION", `Expected type to be ${CONVERT_TYPES.join(" | ")} but received ${JSON.stringify(t)}`);
  }
  const ckpt = await inspectQwen25VL(options.input);
  const name = options.name ?? defaultModelName(ckpt.dir);
  // Plan both before writing anything: a mapping problem is reported before hours of I/O.
  const textPlan = options.only === "mmproj" ? undefined : planTextModel(ckpt, type, name);
  const visionPlan = options.only === "model" ? undefined : planMmproj(ckpt, mmprojType, name);
  await mkdir(options.outDir, { recursive: true });
  const result: ConvertResult = { checkpoint: ckpt };
  if (textPlan !== undefined) {
    const path = join(options.outDir, options.modelFile ?? `${name}-${type}.gguf`);
    result.model = { path, layout: await writeAtomically(path, textPlan.metadata, tensorSpecs(textPlan.tensors, "model", options)) };
  }
  if (visionPlan !== undefined) {
    const path = join(options.outDir, options.mmprojFile ?? `mmproj-${name}-${mmprojType}.gguf`);
    result.mmproj = { path, layout: await writeAtomically(path, visionPlan.metadata, tensorSpecs(visionPlan.tensors, "mmproj", options)) };
  }
  return result;
}
