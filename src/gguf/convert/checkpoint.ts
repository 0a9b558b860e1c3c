/**
 * Reads and validates a Hugging Face Qwen2.5-VL checkpoint folder (VideoScore2 is one): config.json,
 * the tokenizer, the preprocessor config and every safetensors header. No tensor data is read here;
 * src/gguf/convert/plan.ts maps what this finds onto the two GGUF files.
 */
import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { VideoScoreError } from "../../addon/errors.js";
import { readHfVocab, readJson } from "./hf-vocab.js";
import type { HfVocab } from "./hf-vocab.js";
import { readCheckpointText } from "./regular-file.js";
import { openCheckpointTensors } from "./safetensors.js";
import type { SafetensorsTensor } from "./safetensors.js";
import type { Qwen2vlKeys } from "../qwen25vl-metadata.js";

/** Hyper-parameters of the text model: the GGUF's keys, and what the tensor plan needs besides. */
export interface Qwen25VLTextParams extends Qwen2vlKeys {
  headDim: number;
  /** `head_dim` when config.json states it (then key/value lengths are written). */
  explicitHeadDim: number | undefined;
  ropeSections: [number, number, number, number];
  ropeScaling: Qwen2vlKeys["ropeScaling"];
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

/** The converter's error for a checkpoint that is not what it expects. */
export function mismatch(message: string, path?: string): VideoScoreError {
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

/** Largest value of the GGUF's u32 keys, which every hyper-parameter here is written as. */
const U32_MAX = 0xffff_ffff;

/** A positive integer that fits the GGUF uint32 it is written as (a larger one is named here, not at write time). */
function posInt(v: number, what: string, where: string): number {
  if (!Number.isInteger(v) || v <= 0) throw mismatch(`${where}: ${what} must be a positive integer, got ${v}`);
  if (v > U32_MAX) throw mismatch(`${where}: ${what} is ${v}, more than the GGUF's u32 holds (${U32_MAX}); the config is not a real checkpoint's`);
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
    ropeScaling = { type: "yarn", factor: rope.factor, originalContext: posInt(orig, "rope_scaling.original_max_position_embeddings", where) };
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
  if (!Array.isArray(fab) || fab.length === 0 || !fab.every((x) => Number.isInteger(x) && x >= 0 && x < U32_MAX)) {
    throw mismatch(`${w}: fullatt_block_indexes is missing or malformed (${JSON.stringify(fab ?? null)}); Qwen2.5-VL's windowed attention needs a list of block numbers`);
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

/** How many numbered blocks `<prefix>N.` the checkpoint holds (highest N + 1). */
function blockCount(tensors: ReadonlyMap<string, SafetensorsTensor>, prefix: string): number {
  let n = 0;
  for (const name of tensors.keys()) {
    if (!name.startsWith(prefix)) continue;
    const i = Number.parseInt(name.slice(prefix.length), 10);
    if (Number.isSafeInteger(i) && i >= n) n = i + 1;
  }
  return n;
}

/**
 * The config values that size what the converter builds (the vocabulary, the per-layer loops)
 * checked against the tensors the shards actually hold, naming the config key that disagrees.
 * The planner checks every other shape; these come first because they are used before it runs.
 */
function checkAgainstTensors(text: Qwen25VLTextParams, vision: Qwen25VLVisionParams, tensors: ReadonlyMap<string, SafetensorsTensor>, configPath: string): void {
  const notOurs = "; the config does not belong to these weights";
  const embd = tensors.get("model.embed_tokens.weight");
  if (embd === undefined) throw mismatch(`${configPath}: tensor 'model.embed_tokens.weight' is missing from the checkpoint, so vocab_size ${text.vocabSize} cannot be checked`, configPath);
  if (embd.shape.length !== 2) throw mismatch(`${embd.file}: tensor '${embd.name}' has shape [${embd.shape.join(", ")}], expected [vocab_size, hidden_size]`, embd.file);
  const [rows, cols] = embd.shape as [number, number];
  if (rows !== text.vocabSize) throw mismatch(`${configPath}: vocab_size is ${text.vocabSize} but tensor '${embd.name}' has ${rows} rows${notOurs}`, configPath);
  if (cols !== text.nEmbd) throw mismatch(`${configPath}: hidden_size is ${text.nEmbd} but tensor '${embd.name}' has ${cols} columns${notOurs}`, configPath);
  const layers = blockCount(tensors, "model.layers.");
  if (layers !== text.nLayer) throw mismatch(`${configPath}: num_hidden_layers is ${text.nLayer} but the checkpoint has ${layers} layers (model.layers.N)${notOurs}`, configPath);
  const blocks = blockCount(tensors, "visual.blocks.");
  if (blocks !== vision.nLayer) throw mismatch(`${configPath}: vision_config depth is ${vision.nLayer} but the checkpoint has ${blocks} vision blocks (visual.blocks.N)${notOurs}`, configPath);
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
 * generation_config.json, or {} when it is unreadable or not JSON (the Python converter ignores
 * it then too); only something that is not a regular file is refused, since reading it could block.
 */
async function readGenerationConfig(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readCheckpointText(path);
  } catch (e) {
    if (e instanceof VideoScoreError) throw e;
    return {};
  }
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
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
  // Before the vocabulary is read: it allocates vocab_size entries, so a header value the tensors
  // do not back (3e7, 2^32) must be refused while memory is still bounded by the largest tensor.
  checkAgainstTensors(text, vision, tensors, configPath);
  const vocab = await readHfVocab(root, config, text.vocabSize);
  let generation: Record<string, unknown> = {};
  if (files.includes("generation_config.json")) generation = await readGenerationConfig(join(root, "generation_config.json"));
  return { dir: root, config, text, vision, vocab, generation, tensors, sourceBytes };
}
