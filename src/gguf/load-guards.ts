/**
 * What llama.cpp and mtmd assert on while loading a Qwen2.5-VL pair, checked first. A GGML_ASSERT
 * aborts the whole process, so every condition a file's contents can break on the load path (and
 * in the first decode and vision encode after it) is refused here with the key or tensor named.
 * Checks that llama.cpp itself reports as a load error (a thrown exception it catches) are left to
 * it. docs/architecture.md lists each guard with the assert it stands for.
 */
import type { GGUFFile, GGUFTensorInfo } from "./reader.js";
import type { GGUFValue } from "./types.js";

/** A file llama.cpp would abort on, and why (`key` names the metadata key or tensor). */
export class LoadGuardError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

/** ggml's LLAMA_MAX_LAYERS (llama-hparams.h). */
export const MAX_TEXT_LAYERS = 512;

/**
 * Tensor types the CPU (and CUDA) kernels compute with. I8..F64, Q8_1 and Q8_K are valid GGUF
 * types but have no matrix-multiply or row-lookup kernels: ggml aborts in the first decode.
 */
const COMPUTABLE_TYPES = new Set([0, 1, 2, 3, 6, 7, 8, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20, 21, 22, 23, 29, 30, 34, 35, 39, 40, 41, 42]);
const F32 = 0;

function fail(key: string, message: string): never {
  throw new LoadGuardError(key, message);
}

function value(file: GGUFFile, key: string): GGUFValue | undefined {
  return file.metadata.get(key);
}

const INT_TYPES = new Set(["u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64"]);

/** An integer scalar, or undefined when the key is absent. */
function int(file: GGUFFile, key: string): number | undefined {
  const v = value(file, key);
  if (v === undefined) return undefined;
  if (!INT_TYPES.has(v.type)) fail(key, `${key} is a ${v.type}, not an integer`);
  return Number(v.value);
}

function requiredInt(file: GGUFFile, key: string): number {
  const n = int(file, key);
  if (n === undefined) fail(key, `${key} is missing`);
  return n;
}

/** An integer, or a per-layer array of them that must all be equal (llama.cpp builds the graph from layer 0's). */
function uniformInt(file: GGUFFile, key: string, layers: number): number | undefined {
  const v = value(file, key);
  if (v === undefined) return undefined;
  if (v.type !== "array") return int(file, key);
  if (!INT_TYPES.has(v.itemType)) fail(key, `${key} is an array of ${v.itemType}, not of integers`);
  const xs = (v.value as Array<number | bigint>).map(Number);
  if (xs.length !== layers) fail(key, `${key} has ${xs.length} entries for ${layers} layers`);
  if (xs.some((x) => x !== xs[0])) fail(key, `${key} differs between layers (${[...new Set(xs)].join(", ")}); only uniform layers are supported`);
  return xs[0];
}

function absentOrZero(file: GGUFFile, key: string): void {
  const v = value(file, key);
  if (v === undefined) return;
  const xs = v.type === "array" ? (v.value as unknown[]) : [v.value];
  if (xs.some((x) => Number(x) !== 0)) fail(key, `${key} is set, but a Qwen2.5-VL text model has none`);
}

function positiveFloat(file: GGUFFile, key: string, required: boolean): void {
  const v = value(file, key);
  if (v === undefined) {
    if (required) fail(key, `${key} is missing`);
    return;
  }
  if (v.type !== "f32" && v.type !== "f64") fail(key, `${key} is a ${v.type}, not a float`);
  if (!(Number.isFinite(v.value) && v.value > 0)) fail(key, `${key} is ${v.value}; it must be a finite number > 0`);
}

/** Scalar keys mtmd reads with an exact type (a wrong type or an array is an assert in gguf_get_val_*). */
const CLIP_KEY_TYPES: Record<string, GGUFValue["type"]> = {
  "general.name": "string",
  "general.description": "string",
  "clip.has_vision_encoder": "bool",
  "clip.has_audio_encoder": "bool",
  "clip.has_gen_audio_encoder": "bool",
  "clip.use_gelu": "bool",
  "clip.use_silu": "bool",
  "clip.projector_type": "string",
  "clip.vision.projector_type": "string",
  "clip.vision.mm_patch_merge_type": "string",
  "clip.vision.embedding_length": "u32",
  "clip.vision.attention.head_count": "u32",
  "clip.vision.attention.head_dim": "u32",
  "clip.vision.attention.head_count_kv": "u32",
  "clip.vision.feed_forward_length": "u32",
  "clip.vision.block_count": "u32",
  "clip.vision.projection_dim": "u32",
  "clip.vision.image_size": "u32",
  "clip.vision.patch_size": "u32",
  "clip.vision.spatial_merge_size": "u32",
  "clip.vision.n_wa_pattern": "u32",
  "clip.minicpmv_query_num": "u32",
  "clip.minicpmv_version": "i32",
  "clip.vision.attention.layer_norm_epsilon": "f32",
};

function checkTensorBasics(t: GGUFTensorInfo): void {
  if (t.shape.some((n) => n < 1)) fail(t.name, `tensor ${t.name} has an empty dimension (${t.shape.join("x")})`);
  if (!COMPUTABLE_TYPES.has(t.type)) fail(t.name, `tensor ${t.name} has ggml type ${t.type}, which no compute kernel takes; convert or quantize the model again`);
  if (t.shape.length === 1 && t.type !== F32) fail(t.name, `tensor ${t.name} is 1-D but not F32 (type ${t.type}); norms and biases must stay F32`);
}

function shapeIs(t: GGUFTensorInfo | undefined, name: string, want: number[]): void {
  if (!t) fail(name, `tensor ${name} is missing`);
  if (t.shape.length !== want.length || t.shape.some((n, i) => n !== want[i]))
    fail(name, `tensor ${name} is ${t.shape.join("x")}, expected ${want.join("x")}`);
}

const TEXT_LAYER_TENSORS = new Set([
  "attn_norm.weight", "attn_q.weight", "attn_q.bias", "attn_k.weight", "attn_k.bias", "attn_v.weight", "attn_v.bias",
  "attn_output.weight", "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
]);
const TEXT_GLOBAL_TENSORS = new Set(["token_embd.weight", "output_norm.weight", "output.weight"]);
const ROPE_SCALING = new Set(["none", "linear", "yarn", "longrope"]);

/**
 * The text model (architecture `qwen2vl`): layer count, head layout, M-RoPE sections, norms, the
 * tensors present and their types, and the vocabulary. Returns its embedding width.
 * @throws LoadGuardError naming the key or tensor
 */
export function guardTextModel(file: GGUFFile): { nEmbd: number } {
  const a = "qwen2vl";
  const split = int(file, "split.count");
  if (split !== undefined && split > 1) fail("split.count", `the model is split into ${split} files; merge them into one (llama-gguf-split --merge)`);
  const layers = requiredInt(file, `${a}.block_count`);
  if (layers < 1 || layers > MAX_TEXT_LAYERS) fail(`${a}.block_count`, `${a}.block_count is ${layers}; it must be in 1..${MAX_TEXT_LAYERS}`);
  absentOrZero(file, `${a}.nextn_predict_layers`);
  for (const k of ["expert_count", "expert_used_count", "expert_group_count", "expert_group_used_count"]) absentOrZero(file, `${a}.${k}`);
  const scaling = value(file, `${a}.rope.scaling.type`);
  if (scaling !== undefined && (scaling.type !== "string" || !ROPE_SCALING.has(scaling.value)))
    fail(`${a}.rope.scaling.type`, `${a}.rope.scaling.type is ${JSON.stringify(scaling.value)}; expected one of ${[...ROPE_SCALING].join(", ")}`);
  const causal = value(file, `${a}.attention.causal`);
  if (causal !== undefined && causal.value !== true) fail(`${a}.attention.causal`, `${a}.attention.causal must be true for a text model`);

  const nEmbd = requiredInt(file, `${a}.embedding_length`);
  if (nEmbd < 1) fail(`${a}.embedding_length`, `${a}.embedding_length is ${nEmbd}`);
  const nHead = uniformInt(file, `${a}.attention.head_count`, layers);
  if (nHead === undefined || nHead < 1 || nEmbd % nHead !== 0)
    fail(`${a}.attention.head_count`, `${a}.attention.head_count is ${nHead}; it must be >= 1 and divide embedding_length ${nEmbd}`);
  const headDim = nEmbd / nHead;
  if (headDim % 2 !== 0) fail(`${a}.attention.head_count`, `the head size ${nEmbd}/${nHead} = ${headDim} is odd; rotary embeddings need an even one`);
  const nHeadKv = uniformInt(file, `${a}.attention.head_count_kv`, layers) ?? nHead;
  if (nHeadKv < 1 || nHead % nHeadKv !== 0)
    fail(`${a}.attention.head_count_kv`, `${a}.attention.head_count_kv is ${nHeadKv}; it must be >= 1 and divide head_count ${nHead}`);
  const nFf = uniformInt(file, `${a}.feed_forward_length`, layers);
  if (nFf !== undefined && nFf < 1) fail(`${a}.feed_forward_length`, `${a}.feed_forward_length is ${nFf}`);
  for (const k of ["attention.key_length", "attention.value_length", "rope.dimension_count"]) {
    const n = int(file, `${a}.${k}`);
    if (n !== undefined && n !== headDim) fail(`${a}.${k}`, `${a}.${k} is ${n}, but the heads are ${headDim} wide (${nEmbd}/${nHead})`);
  }
  const sections = value(file, `${a}.rope.dimension_sections`);
  if (sections !== undefined) {
    const key = `${a}.rope.dimension_sections`;
    if (sections.type !== "array" || !INT_TYPES.has(sections.itemType) || sections.value.length !== 4) fail(key, `${key} must be 4 integers`);
    const s = (sections.value as Array<number | bigint>).map(Number);
    const sum = s.reduce((x, y) => x + y, 0);
    if (s.some((x) => x < 0 || x > headDim) || s[0]! + s[1]! + s[2]! <= 0 || sum > headDim / 2)
      fail(key, `${key} is [${s.join(", ")}]; the sections must be >= 0, not all zero, and sum to at most half the head size (${headDim / 2})`);
  }
  positiveFloat(file, `${a}.attention.layer_norm_rms_epsilon`, false);

  for (const t of file.tensors) {
    const m = /^blk\.(\d+)\.(.+)$/.exec(t.name);
    const known = m ? Number(m[1]) < layers && TEXT_LAYER_TENSORS.has(m[2]!) : TEXT_GLOBAL_TENSORS.has(t.name);
    if (!known) fail(t.name, `tensor ${t.name} is not part of a Qwen2.5-VL text model (${layers} layers)`);
    checkTensorBasics(t);
  }
  guardVocabulary(file);
  return { nEmbd };
}

/** The tokenizer: Qwen2's byte-level BPE, every token string distinct (llama.cpp asserts a one-to-one map). */
function guardVocabulary(file: GGUFFile): void {
  const model = value(file, "tokenizer.ggml.model");
  if (model?.type !== "string" || model.value !== "gpt2")
    fail("tokenizer.ggml.model", `tokenizer.ggml.model is ${JSON.stringify(model?.value)}; VideoScore2 needs Qwen2's byte-level BPE ("gpt2")`);
  const pre = value(file, "tokenizer.ggml.pre");
  if (pre?.type !== "string" || pre.value !== "qwen2")
    fail("tokenizer.ggml.pre", `tokenizer.ggml.pre is ${JSON.stringify(pre?.value)}; VideoScore2 needs the "qwen2" pre-tokenizer`);
  const tokens = value(file, "tokenizer.ggml.tokens");
  if (tokens?.type !== "array" || tokens.itemType !== "string") fail("tokenizer.ggml.tokens", "tokenizer.ggml.tokens is missing or not a list of strings");
  const seen = new Map<string, number>();
  tokens.value.forEach((raw, i) => {
    // llama.cpp names an empty token "[EMPTY_<id>]" before it builds the map.
    const text = raw === "" ? `[EMPTY_${i}]` : (raw as string);
    const first = seen.get(text);
    if (first !== undefined) fail("tokenizer.ggml.tokens", `tokenizer.ggml.tokens has ${JSON.stringify(text)} twice (ids ${first} and ${i}); every token must be distinct`);
    seen.set(text, i);
  });
}

const VISION_LAYER_TENSORS: Record<string, "E" | "F" | "EE" | "EF" | "FE" | "PATCH"> = {
  "ln1.weight": "E", "ln1.bias": "E", "ln2.weight": "E", "ln2.bias": "E",
  "attn_q.weight": "EE", "attn_q.bias": "E", "attn_k.weight": "EE", "attn_k.bias": "E", "attn_v.weight": "EE", "attn_v.bias": "E",
  "attn_out.weight": "EE", "attn_out.bias": "E",
  "ffn_up.weight": "EF", "ffn_up.bias": "F", "ffn_gate.weight": "EF", "ffn_gate.bias": "F", "ffn_down.weight": "FE", "ffn_down.bias": "E",
};
const VISION_REQUIRED = ["attn_q.weight", "attn_q.bias", "attn_k.weight", "attn_k.bias", "attn_v.weight", "attn_v.bias", "attn_out.weight", "ln1.weight", "ln2.weight", "ffn_up.weight", "ffn_down.weight"];

/**
 * The Qwen2.5-VL projector (architecture `clip`, `qwen2.5vl_merger`): key types, the patch and merge
 * sizes the window attention is built for, heads, and the shape of every vision tensor (mtmd looks
 * tensors up by name without checking their shapes).
 * @throws LoadGuardError naming the key or tensor
 */
export function guardProjector(file: GGUFFile, textEmbd: number): void {
  for (const [key, type] of Object.entries(CLIP_KEY_TYPES)) {
    const v = value(file, key);
    if (v !== undefined && v.type !== type) fail(key, `${key} is ${v.type === "array" ? "an array" : `a ${v.type}`}; mtmd reads it as a ${type}`);
  }
  const flag = (k: string) => value(file, k)?.value === true;
  if (!flag("clip.has_vision_encoder")) fail("clip.has_vision_encoder", "clip.has_vision_encoder is not true: the file has no vision encoder");
  for (const k of ["clip.has_audio_encoder", "clip.has_gen_audio_encoder"]) if (flag(k)) fail(k, `${k} is set; a Qwen2.5-VL projector has no audio part`);
  const u = (k: string) => requiredInt(file, k);
  const patch = u("clip.vision.patch_size");
  if (patch !== 14) fail("clip.vision.patch_size", `clip.vision.patch_size is ${patch}; Qwen2.5-VL's is 14`);
  const merge = int(file, "clip.vision.spatial_merge_size");
  if (merge !== undefined && merge !== 2) fail("clip.vision.spatial_merge_size", `clip.vision.spatial_merge_size is ${merge}; Qwen2.5-VL's is 2`);
  const e = u("clip.vision.embedding_length");
  const nHead = u("clip.vision.attention.head_count");
  if (nHead < 1 || e % nHead !== 0 || (e / nHead) % 4 !== 0)
    fail("clip.vision.attention.head_count", `clip.vision.attention.head_count is ${nHead} for a width of ${e}; the heads must divide it into sizes that are multiples of 4`);
  const headDim = int(file, "clip.vision.attention.head_dim");
  if (headDim !== undefined && headDim !== e / nHead) fail("clip.vision.attention.head_dim", `clip.vision.attention.head_dim is ${headDim}, but ${e}/${nHead} = ${e / nHead}`);
  const f = u("clip.vision.feed_forward_length");
  const layers = u("clip.vision.block_count");
  const proj = u("clip.vision.projection_dim");
  if (proj !== textEmbd) fail("clip.vision.projection_dim", `clip.vision.projection_dim is ${proj} but the text model is ${textEmbd} wide`);
  positiveFloat(file, "clip.vision.attention.layer_norm_epsilon", false);

  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const dims = { E: [e], F: [f], EE: [e, e], EF: [e, f], FE: [f, e], PATCH: [patch, patch, 3, e] } as const;
  for (const t of file.tensors) {
    checkTensorBasics(t);
    const m = /^v\.blk\.(\d+)\.(.+)$/.exec(t.name);
    if (m) {
      const kind = VISION_LAYER_TENSORS[m[2]!];
      if (kind === undefined || Number(m[1]) >= layers) fail(t.name, `tensor ${t.name} is not part of a Qwen2.5-VL vision tower (${layers} layers)`);
      shapeIs(t, t.name, [...dims[kind]]);
    } else if (t.name === "v.patch_embd.weight" || t.name === "v.patch_embd.weight.1") {
      shapeIs(t, t.name, [...dims.PATCH]);
    } else if (/^v\.(post_ln|pre_ln)\.(weight|bias)$/.test(t.name)) {
      shapeIs(t, t.name, [e]);
    } else if (!/^mm\.[02]\.(weight|bias)$/.test(t.name)) {
      fail(t.name, `tensor ${t.name} is not part of a Qwen2.5-VL projector`);
    }
  }
  for (const name of ["v.patch_embd.weight", "v.patch_embd.weight.1"]) if (!byName.has(name)) fail(name, `tensor ${name} is missing`);
  for (let i = 0; i < layers; i++)
    for (const k of VISION_REQUIRED) if (!byName.has(`v.blk.${i}.${k}`)) fail(`v.blk.${i}.${k}`, `tensor v.blk.${i}.${k} is missing`);
  // The merger: 2x2 patches concatenated (4E) -> hidden X -> the text model's width.
  const mm0 = byName.get("mm.0.weight");
  if (!mm0 || mm0.shape.length !== 2) fail("mm.0.weight", "tensor mm.0.weight is missing or not 2-D");
  const hidden = mm0.shape[1]!;
  shapeIs(mm0, "mm.0.weight", [4 * e, hidden]);
  shapeIs(byName.get("mm.0.bias"), "mm.0.bias", [hidden]);
  shapeIs(byName.get("mm.2.weight"), "mm.2.weight", [hidden, proj]);
  shapeIs(byName.get("mm.2.bias"), "mm.2.bias", [proj]);
  // A bias is added to its weight's output: one without the weight has nothing to be added to.
  for (const t of file.tensors)
    if (t.name.endsWith(".bias") && !byName.has(t.name.replace(/\.bias$/, ".weight"))) fail(t.name, `tensor ${t.name} has no ${t.name.replace(/\.bias$/, ".weight")}`);
}
