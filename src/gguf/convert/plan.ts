/**
 * The plan of the GGUF pair made from a checkpoint: for the text model (arch `qwen2vl`) and the
 * vision projector (arch `clip`, projector `qwen2.5vl_merger`), the metadata and every tensor with
 * its name, shape, storage type and the part of a source tensor it is made of. No data is read.
 *
 * It follows llama.cpp's convert_hf_to_gguf.py (Qwen2VLModel / Qwen2VLVisionModel of the pinned
 * tree) key for key; the keys themselves are src/gguf/qwen25vl-metadata.ts, shared with the
 * random-weight generator.
 *
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
import { GGML_TYPE, kv } from "../types.js";
import type { GGMLType, GGUFMetadata, GGUFValue } from "../types.js";
import { clipMetadata, fileHeader, matrixStorage, qwen2vlMetadata } from "../qwen25vl-metadata.js";
import type { WeightStorage } from "../qwen25vl-metadata.js";
import { metadataProblem } from "../value-ranges.js";
import { registerBF16 } from "./bf16.js";
import { hfVocabMetadata } from "./hf-vocab.js";
import { mismatch } from "./checkpoint.js";
import type { Qwen25VLCheckpoint } from "./checkpoint.js";
import type { SafetensorsTensor } from "./safetensors.js";

/** Storage type of the weight matrices (`--outtype` of convert_hf_to_gguf.py). */
export type ConvertType = WeightStorage;
export const CONVERT_TYPES: readonly ConvertType[] = ["f16", "bf16", "q8_0", "f32"];

/** Which part of a source tensor a GGUF tensor is made of. */
export type Extract =
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

/** The converter's storage type for one output tensor (ggml shape). */
function storageType(name: string, shape: readonly number[], type: ConvertType, mmproj: boolean): GGMLType {
  if (mmproj && name.includes(".patch_embd.weight")) return type === "f16" ? GGML_TYPE.F16 : GGML_TYPE.F32;
  if (shape.length <= 1 || name.endsWith("_norm.weight") || !name.endsWith(".weight")) return GGML_TYPE.F32;
  return type === "bf16" ? registerBF16() : matrixStorage(type, shape);
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
function generalMetadata(ckpt: Qwen25VLCheckpoint, name: string, tensors: PlannedTensor[]): Array<readonly [string, GGUFValue]> {
  const g = ckpt.generation;
  const out: Array<readonly [string, GGUFValue]> = [];
  const int = (key: string, v: unknown) => {
    if (typeof v !== "number" || !Number.isInteger(v)) return;
    if (v < -0x8000_0000 || v > 0x7fff_ffff) throw mismatch(`${ckpt.dir}: generation_config.json's ${key} ${v} does not fit general.sampling.${key} (an i32)`, ckpt.dir);
    out.push([`general.sampling.${key}`, kv.i32(v)]);
  };
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

/**
 * A planned file, once every metadata value is known to fit its kind: the config values were
 * checked where they were read, so this names the GGUF key of anything those checks missed
 * before a file is opened, rather than the writer failing halfway.
 */
function planned(ckpt: Qwen25VLCheckpoint, metadata: GGUFMetadata, tensors: PlannedTensor[]): PlannedFile {
  const problem = metadataProblem(metadata);
  if (problem !== undefined) throw mismatch(`${ckpt.dir}: ${problem}; correct the config.json value it is made from`, ckpt.dir);
  return { metadata, tensors, sourceBytes: tensors.reduce((s, t) => s + t.sourceBytes, 0) };
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

  const md: GGUFMetadata = [
    ...fileHeader("qwen2vl"),
    ...generalMetadata(ckpt, name, p.tensors),
    ...qwen2vlMetadata(h, type),
    ...hfVocabMetadata(ckpt.vocab),
  ];
  return planned(ckpt, md, p.tensors);
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

  const md: GGUFMetadata = [...fileHeader("clip"), ...generalMetadata(ckpt, name, p.tensors), ...clipMetadata(v, v.projectionDim, type)];
  return planned(ckpt, md, p.tensors);
}
