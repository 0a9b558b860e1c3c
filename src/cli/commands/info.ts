/**
 * `videoscore2 info`: package and library versions, which addon binary loads and whether it has
 * CUDA, and (with --model / --mmproj) the GGUF metadata read from the headers without loading.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describeDevice } from "../../addon/devices.js";
import { packageRoot, platformPackage, vulkanModulePaths } from "../../addon/loader.js";
import { VideoScoreError } from "../../addon/errors.js";
import { readGGUF } from "../../gguf/reader.js";
import { checkRegularFile } from "../../eval/input-file.js";
import { displayText } from "../display.js";
import type { GGUFValue } from "../../gguf/types.js";
import { versions } from "../../index.js";
import { allowOnly, enumOpt, EXIT, gpuOpt, type CliValues } from "../args.js";

/** Metadata worth showing by default (others with --all). */
const KEY_PATTERNS = [
  /^general\.(architecture|name|basename|size_label|file_type|quantization_version|finetune|version)$/,
  /^qwen2vl\.(context_length|embedding_length|block_count|feed_forward_length|attention\.head_count(_kv)?|rope\.(freq_base|dimension_sections)|attention\.layer_norm_rms_epsilon)$/,
  /^clip\.(projector_type|has_vision_encoder|use_gelu|use_silu)$/,
  /^clip\.vision\.(image_size|patch_size|embedding_length|feed_forward_length|projection_dim|block_count|attention\.head_count|spatial_merge_size|n_wa_pattern|window_size|image_mean|image_std)$/,
  /^tokenizer\.ggml\.(model|pre)$/,
];

function show(v: GGUFValue): unknown {
  if (v.type === "array") {
    const arr = v.value as unknown[];
    if (arr.length > 16) return `[${arr.length} × ${v.itemType}]`;
    return arr.map((x) => (typeof x === "bigint" ? Number(x) : x));
  }
  return typeof v.value === "bigint" ? Number(v.value) : v.value;
}

async function ggufSummary(path: string, all: boolean): Promise<Record<string, unknown>> {
  // A FIFO would block the header read forever.
  checkRegularFile(path, "the GGUF file");
  const f = await readGGUF(path);
  const meta: Record<string, unknown> = {};
  for (const [k, v] of f.metadata) if (all || KEY_PATTERNS.some((re) => re.test(k))) meta[k] = show(v);
  const tokens = f.metadata.get("tokenizer.ggml.tokens");
  let params = 0;
  for (const t of f.tensors) params += t.shape.reduce((a, b) => a * b, 1);
  return {
    path,
    bytes: statSync(path).size,
    ggufVersion: f.version,
    tensors: f.tensors.length,
    parameters: params,
    ...(tokens && tokens.type === "array" ? { vocabulary: tokens.value.length } : {}),
    metadata: meta,
  };
}

function printObject(o: Record<string, unknown>, indent = ""): void {
  for (const [k, v] of Object.entries(o)) {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      process.stdout.write(`${indent}${k}:\n`);
      printObject(v as Record<string, unknown>, `${indent}  `);
    } else process.stdout.write(`${indent}${k}: ${displayText(Array.isArray(v) ? JSON.stringify(v) : String(v))}\n`);
  }
}

export async function infoCommand(values: CliValues): Promise<number> {
  allowOnly(values, "info", ["model", "mmproj", "format", "all", "gpu"]);
  const format = enumOpt(values, "format", ["table", "json"] as const, "table");
  const gpu = gpuOpt(values);
  let pkg = "unknown";
  try {
    pkg = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")).version;
  } catch {
    /* keep unknown */
  }
  const out: Record<string, unknown> = { package: `videoscore2-native ${pkg}`, node: process.version, platform: `${process.platform}-${process.arch}` };
  let code: number = EXIT.ok;
  try {
    const v = versions(gpu);
    out.addon = {
      binary: v.binary,
      cuda: v.cuda ? "yes (CUDA build loaded)" : "no (CPU build)",
      cpuVariant: v.cpuVariant,
      vulkanModule: vulkanModulePaths().find((p) => existsSync(p)) ?? `not installed (npm install ${platformPackage("vulkan")})`,
      vulkanLoader: v.vulkan.loaderFound ? "libvulkan.so.1" : v.vulkan.problem,
      llamaCpp: v.llamaCommit,
      ggml: v.ggml,
      libavformat: v.libavformat,
      libavcodec: v.libavcodec,
      libswscale: v.libswscale,
      libavutil: v.libavutil,
      napi: `${v.napiVersion} (runtime ${v.runtimeNapiVersion})`,
      ...(v.loaderNotes.length ? { notes: v.loaderNotes.join("; ") } : {}),
    };
    // Every GPU, each on one line: what `gpuDevice` takes (a Vulkan index or a name).
    out.gpuDevices = v.gpuDevices.length === 0 ? "none" : Object.fromEntries(v.gpuDevices.map((d) => [d.name || `${d.backend}#${d.index}`, `${describeDevice(d)}${d.driver ? `, driver ${d.driver}` : ""}${d.name ? "" : ", Vulkan module not loaded yet"}`]));
  } catch (e) {
    out.addon = { error: e instanceof VideoScoreError ? `${e.code}: ${e.message}` : String(e) };
    code = EXIT.fatal;
  }
  out.nvidiaDriver = existsSync("/proc/driver/nvidia/version") ? readFileSync("/proc/driver/nvidia/version", "utf8").split("\n")[0]?.trim() : "none found";
  for (const key of ["model", "mmproj"] as const) {
    const path = values[key] ?? process.env[key === "model" ? "VIDEOSCORE2_MODEL" : "VIDEOSCORE2_MMPROJ"];
    if (!path) continue;
    try {
      out[key] = await ggufSummary(path, values.all ?? false);
    } catch (e) {
      out[key] = { path, error: (e as Error).message };
      code = EXIT.fatal;
    }
  }
  if (format === "json") process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  else printObject(out);
  return code;
}
