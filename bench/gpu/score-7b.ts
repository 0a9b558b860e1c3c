/**
 * Issue 7, step "score": a random-weight model of Qwen2.5-VL-7B's shapes (src/gguf/tiny-model.ts
 * SEVEN_B), quantized in-process, scores the 5 s 720p clip through the public API with every layer
 * on the GPU; reports vision encode, prefill and decode speed, the total, and the VRAM peak.
 *
 *   npx tsx bench/gpu/score-7b.ts [--quant Q4_K_M|Q8_0|F16] [--gpu-layers=-1] [--max-tokens 1024] [--runs 3]
 *                                 [--gpu auto|cuda|vulkan|cpu] [--gpu-device name|index]
 *                                 [--work bench/.out/gpu] [--out file.json] [--only model] [--dry-run]
 *   validation without a GPU:  --tiny (TINY shapes)  or  --text-layers 1 --vision-layers 1 (7B widths, few blocks)
 *
 * The F16 pair is written once (about 16.6 GB for 7B) and quantized per --quant; both are reused by
 * later runs. Q4_K_M/Q8_0 are made from the F16 file because llama.cpp refuses to requantize a Q8_0
 * one. --dry-run writes no weights: it plans the full-size files and writes their headers (and the
 * first 16 MiB of data) only, reading them back to check the tensor table.
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { quantize, QUANT_TYPES, VideoScorer, versions, type QuantType, type ScoreResult } from "../../src/index.js";
import { GPU_PREFERENCES, type GpuPreference } from "../../src/addon/loader.js";
import { encodeF16 } from "../../src/gguf/encode.js";
import { readGGUF } from "../../src/gguf/reader.js";
import { buildQwenVocab } from "../../src/gguf/tokenizer.js";
import {
  SEVEN_B,
  TINY,
  textMetadata,
  textTensors,
  visionMetadata,
  visionTensors,
  writeQwen25VLModels,
  type TextHparams,
  type VisionHparams,
} from "../../src/gguf/tiny-model.js";
import { GGML_TYPE, tensorBytes, tensorElements } from "../../src/gguf/types.js";
import { planGGUF, writeGGUF, type GGUFLayout, type GGUFTensorSpec } from "../../src/gguf/writer.js";
import type { GGUFMetadata } from "../../src/gguf/types.js";
import { BENCH_PROMPT, DEFAULT_WORK, ensureClip, intArg, median, VramMonitor, writeJson } from "./common.js";

const { values: a } = parseArgs({
  options: {
    quant: { type: "string", default: "Q4_K_M" },
    tiny: { type: "boolean", default: false },
    "text-layers": { type: "string" },
    "vision-layers": { type: "string" },
    "gpu-layers": { type: "string" },
    gpu: { type: "string" },
    "gpu-device": { type: "string" },
    "max-tokens": { type: "string" },
    runs: { type: "string" },
    clip: { type: "string", default: "fps-720p" },
    work: { type: "string", default: DEFAULT_WORK },
    out: { type: "string" },
    only: { type: "string" },
    "dry-run": { type: "boolean", default: false },
    "exact-weights": { type: "boolean", default: false },
    constrain: { type: "boolean", default: false },
    "context-size": { type: "string" },
    "batch-size": { type: "string" },
  },
});

const quant = a.quant as QuantType;
if (!QUANT_TYPES.includes(quant)) throw new Error(`--quant: one of ${QUANT_TYPES.join(", ")}`);
const textLayers = a["text-layers"] === undefined ? undefined : intArg("text-layers", a["text-layers"], 0);
const visionLayers = a["vision-layers"] === undefined ? undefined : intArg("vision-layers", a["vision-layers"], 0);
const preset = a.tiny ? TINY : SEVEN_B;
const text: TextHparams = { ...TINY.text, ...preset.text, ...(textLayers ? { nLayer: textLayers } : {}) };
const vision: VisionHparams = { ...TINY.vision, ...preset.vision, ...(visionLayers ? { nLayer: visionLayers } : {}) };
const label = `${a.tiny ? "tiny" : "7b"}${textLayers ? `-L${textLayers}` : ""}${visionLayers ? `-V${visionLayers}` : ""}`;
const name = `random-${label}`;
const modelDir = join(a.work, "models", name);
const f16Paths = { model: join(modelDir, `${name}-f16.gguf`), mmproj: join(modelDir, `mmproj-${name}-f16.gguf`) };
const quantPath = quant === "F16" ? f16Paths.model : join(modelDir, `${name}-${quant}.gguf`);
const SEED = 1;

/** The converter's tensor specs and metadata for the pair, as writeQwen25VLModels builds them. */
function plan() {
  const vocab = buildQwenVocab(text.vocabSize === undefined ? {} : { padTo: text.vocabSize });
  const projectionDim = vision.projectionDim ?? text.nEmbd;
  return {
    model: { metadata: textMetadata(text, vocab, "f16", name), specs: textTensors(text, vocab.tokens.length, "f16", SEED) },
    // Same seed mixing as writeQwen25VLModels, so --exact-weights and this plan describe one file.
    mmproj: { metadata: visionMetadata(vision, projectionDim, "f16", name), specs: visionTensors(vision, projectionDim, "f16", SEED ^ 0x5bd1e995) },
  };
}

/**
 * Random F16 bytes from one 64 MiB pool, read at a pseudo-random offset per chunk. The exact writer
 * draws every weight in JS (~40 M values/s: 3.5 min for the 8.3 B weights, most of a 10-minute step);
 * speed, memory and quantization do not depend on the values, and the model still outputs noise, so
 * recycling a pool makes the file at disk speed. Norms and biases keep their exact sources (ones, noise).
 */
function pooled(specs: GGUFTensorSpec[], pool: Uint8Array, budget?: { left: number }): GGUFTensorSpec[] {
  const CHUNK = 8 << 20;
  return specs.map((s, ti) => {
    if (s.type !== GGML_TYPE.F16 && !budget) return s;
    const nbytes = tensorBytes(s.shape, s.type);
    return {
      ...s,
      data: function* () {
        if (s.type !== GGML_TYPE.F16) {
          // Header-only mode: small F32 tensors are still produced exactly.
          for (const c of s.data() as Iterable<Float32Array | Uint8Array>) {
            spend(budget, c.byteLength);
            yield c;
          }
          return;
        }
        let state = (ti + 1) * 0x9e3779b1;
        for (let done = 0; done < nbytes; ) {
          const len = Math.min(CHUNK, nbytes - done);
          state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
          const start = 2 * (state % ((pool.length - len) / 2 + 1));
          spend(budget, len);
          yield pool.subarray(start, start + len);
          done += len;
        }
      },
    };
  });
}

/** Thrown by --dry-run's sources once their budget is out: by then writeGGUF has flushed the real header. */
class HeaderWritten extends Error {}
function spend(budget: { left: number } | undefined, n: number): void {
  if (!budget) return;
  if (budget.left <= 0) throw new HeaderWritten();
  budget.left -= n;
}

function makePool(): Uint8Array {
  // std 0.02 like the exact writer; Box–Muller on a fixed LCG, encoded once with the writer's F16 encoder.
  const n = 32 << 20;
  const f = new Float32Array(n);
  let s = 12345;
  const u = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) + 1) / 4294967297;
  for (let i = 0; i < n; i += 2) {
    const r = 0.02 * Math.sqrt(-2 * Math.log(u()));
    const t = 2 * Math.PI * u();
    f[i] = r * Math.cos(t);
    f[i + 1] = r * Math.sin(t);
  }
  const out = new Uint8Array(n * 2);
  encodeF16(f, out);
  return out;
}

async function writeAtomically(path: string, metadata: GGUFMetadata, specs: GGUFTensorSpec[]): Promise<GGUFLayout> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const layout = await writeGGUF(tmp, metadata, specs);
    renameSync(tmp, path);
    return layout;
  } finally {
    rmSync(tmp, { force: true });
  }
}

const fileOk = (path: string, layout: GGUFLayout): boolean => existsSync(path) && statSync(path).size === layout.fileSize;
const gb = (n: number): string => `${(n / 1e9).toFixed(2)} GB`;
const params = (specs: GGUFTensorSpec[]): number => specs.reduce((s, t) => s + tensorElements(t.shape), 0);

async function dryRun(): Promise<void> {
  const p = plan();
  const pool = makePool();
  const report: Record<string, unknown> = { label, text, vision };
  for (const which of ["model", "mmproj"] as const) {
    const { metadata, specs } = p[which];
    const layout = planGGUF(metadata, specs);
    const path = join(a.work, "dry-run", `${which}-header.gguf`);
    const budget = { left: 16 << 20 };
    mkdirSync(join(a.work, "dry-run"), { recursive: true });
    try {
      await writeGGUF(path, metadata, pooled(specs, pool, budget));
    } catch (e) {
      if (!(e instanceof HeaderWritten)) throw e;
    }
    // Read back the real header the writer produced and check it against the plan.
    const back = await readGGUF(path);
    const mism = layout.tensors.filter((t, i) => {
      const r = back.tensors[i];
      return !r || r.name !== t.name || r.type !== t.type || r.offset !== t.offset || r.shape.join() !== t.shape.join();
    });
    if (back.tensors.length !== layout.tensors.length || mism.length || back.dataOffset !== layout.dataOffset)
      throw new Error(`${which}: header read back differs from the plan (${mism.length} tensors)`);
    const md = (k: string) => back.metadata.get(k)?.value;
    report[which] = {
      fileSize: layout.fileSize,
      fileSizeGB: gb(layout.fileSize),
      headerBytes: layout.dataOffset,
      tensors: layout.tensors.length,
      params: params(specs),
      readBack: "ok",
      keys:
        which === "model"
          ? Object.fromEntries(["general.architecture", "qwen2vl.block_count", "qwen2vl.embedding_length", "qwen2vl.feed_forward_length",
              "qwen2vl.attention.head_count", "qwen2vl.attention.head_count_kv", "qwen2vl.rope.dimension_sections"].map((k) => [k, md(k)]))
          : Object.fromEntries(["general.architecture", "clip.projector_type", "clip.vision.block_count", "clip.vision.embedding_length",
              "clip.vision.projection_dim", "clip.vision.n_wa_pattern"].map((k) => [k, md(k)])),
      vocab: which === "model" ? (md("tokenizer.ggml.tokens") as unknown[]).length : undefined,
      sample: layout.tensors.filter((t) => /^(token_embd|output|blk\.0\.|v\.patch|v\.blk\.0\.attn_q|mm\.)/.test(t.name)).map((t) => `${t.name} [${t.shape}] ${t.type === GGML_TYPE.F16 ? "f16" : "f32"}`),
    };
    rmSync(path, { force: true });
  }
  console.log(JSON.stringify(report, (_, v) => (typeof v === "bigint" ? Number(v) : v), 1));
}

async function ensureModels(): Promise<{ model: string; mmproj: string; writeMs: number; quantizeMs: number }> {
  const p = plan();
  const layouts = { model: planGGUF(p.model.metadata, p.model.specs), mmproj: planGGUF(p.mmproj.metadata, p.mmproj.specs) };
  let writeMs = 0;
  if (!fileOk(f16Paths.model, layouts.model) || !fileOk(f16Paths.mmproj, layouts.mmproj)) {
    const t0 = performance.now();
    console.log(`writing ${name} f16: ${gb(layouts.model.fileSize)} + ${gb(layouts.mmproj.fileSize)} (${a["exact-weights"] ? "exact" : "pooled"} weights)`);
    if (a["exact-weights"]) {
      // Same general.name as the pooled path; the writer names the pair <name>.gguf / mmproj-<name>.gguf.
      const w = await writeQwen25VLModels({ dir: modelDir, name, seed: SEED, type: "f16", text, vision });
      renameSync(w.model, f16Paths.model);
      renameSync(w.mmproj, f16Paths.mmproj);
    } else {
      const pool = makePool();
      mkdirSync(modelDir, { recursive: true });
      await writeAtomically(f16Paths.model, p.model.metadata, pooled(p.model.specs, pool));
      await writeAtomically(f16Paths.mmproj, p.mmproj.metadata, pooled(p.mmproj.specs, pool));
    }
    writeMs = performance.now() - t0;
    console.log(`  written in ${(writeMs / 1000).toFixed(1)} s`);
  }
  let quantizeMs = 0;
  if (!existsSync(quantPath)) {
    const t0 = performance.now();
    const tmp = `${quantPath}.tmp-${process.pid}`;
    console.log(`quantizing to ${quant}`);
    try {
      await quantize(f16Paths.model, tmp, quant);
      renameSync(tmp, quantPath);
    } finally {
      rmSync(tmp, { force: true });
    }
    quantizeMs = performance.now() - t0;
    console.log(`  ${gb(statSync(quantPath).size)} in ${(quantizeMs / 1000).toFixed(1)} s`);
  }
  return { model: quantPath, mmproj: f16Paths.mmproj, writeMs, quantizeMs };
}

function runRow(r: ScoreResult) {
  const t = r.timings;
  const modelMs = t.encodeMs + t.prefillMs + t.generateMs;
  const decodeTps = t.generatedTokens > 0 ? (t.generatedTokens * 1000) / t.generateMs : 0;
  return {
    sampleMs: t.sampleMs,
    encodeMs: t.encodeMs,
    prefillMs: t.prefillMs,
    generateMs: t.generateMs,
    totalMs: t.totalMs,
    modelMs,
    promptTokens: t.promptTokens,
    generatedTokens: t.generatedTokens,
    stopReason: r.stopReason,
    // Video tokens are decoded between the frame pairs' encodes; prefillMs holds only the decoding.
    prefillTokPerS: (t.promptTokens * 1000) / t.prefillMs,
    decodeTokPerS: decodeTps,
    /** The total had it generated exactly --max-tokens at the measured decode rate (random weights may stop early). */
    totalMsAtMaxTokens: t.totalMs - t.generateMs + (decodeTps > 0 ? (maxTokens * 1000) / decodeTps : 0),
    modelMsAtMaxTokens: modelMs - t.generateMs + (decodeTps > 0 ? (maxTokens * 1000) / decodeTps : 0),
  };
}

const maxTokens = intArg("max-tokens", a["max-tokens"], 1024);
const runs = intArg("runs", a.runs, 3);
const gpuLayers = intArg("gpu-layers", a["gpu-layers"], -1);

if (a["dry-run"]) {
  await dryRun();
  process.exit(0);
}
const files = await ensureModels();
if (a.only === "model") process.exit(0);
// Started after the files exist, so the baseline is the GPU before the model loads.
const vram = new VramMonitor();
await vram.ready();
const clip = await ensureClip(a.clip, a.work);
const v = versions();
const loadT0 = performance.now();
const gpu = a.gpu as GpuPreference | undefined;
if (gpu !== undefined && !GPU_PREFERENCES.includes(gpu)) throw new Error(`--gpu: one of ${GPU_PREFERENCES.join(", ")}`);
const gpuDevice = a["gpu-device"] === undefined ? undefined : /^\d+$/.test(a["gpu-device"]) ? Number(a["gpu-device"]) : a["gpu-device"];
const scorer = await VideoScorer.load({
  model: files.model,
  mmproj: files.mmproj,
  gpuLayers,
  ...(gpu ? { gpu } : {}),
  ...(gpuDevice === undefined ? {} : { gpuDevice }),
  contextSize: intArg("context-size", a["context-size"], 16384),
  ...(a["batch-size"] ? { batchSize: intArg("batch-size", a["batch-size"], 2048) } : {}),
});
const loadMs = performance.now() - loadT0;
const opts = { prompt: BENCH_PROMPT, maxTokens, ...(a.constrain ? { constrain: { maxThinkingTokens: maxTokens + 1 } } : {}) };
// Warm-up: CUDA kernels load and cuBLAS/graph state settles on the first call.
await scorer.score(clip, { ...opts, maxTokens: 8, seed: 0 });
const rows: ReturnType<typeof runRow>[] = [];
for (let i = 0; i < runs; i++) {
  const r = await scorer.score(clip, { ...opts, seed: i + 1 });
  const row = runRow(r);
  rows.push(row);
  console.log(
    `run ${i + 1}: encode ${row.encodeMs.toFixed(0)} ms, prefill ${row.prefillMs.toFixed(0)} ms (${row.prefillTokPerS.toFixed(0)} tok/s), ` +
      `decode ${row.generatedTokens} tok at ${row.decodeTokPerS.toFixed(1)} tok/s (${row.stopReason}), total ${row.totalMs.toFixed(0)} ms`,
  );
}
const info = scorer.info;
await scorer.dispose();
const mem = await vram.stop();
const med = Object.fromEntries(
  (["sampleMs", "encodeMs", "prefillMs", "generateMs", "totalMs", "modelMs", "promptTokens", "generatedTokens", "prefillTokPerS", "decodeTokPerS", "totalMsAtMaxTokens", "modelMsAtMaxTokens"] as const).map(
    (k) => [k, median(rows.map((r) => r[k]))],
  ),
);
const result = {
  kind: "ours",
  label,
  quant,
  cuda: v.cuda,
  /** ggml's name of where the text model ran: "CUDA0", "Vulkan0", "CPU". */
  device: info.device,
  binary: v.binary,
  llamaCommit: v.llamaCommit,
  loaderNotes: v.loaderNotes,
  gpuLayers,
  settings: { maxTokens, runs, clip: a.clip, prompt: BENCH_PROMPT, constrain: a.constrain, template: "inference", temperature: 0.7, topK: 50, weights: a["exact-weights"] ? "exact" : "pooled" },
  model: { file: files.model, mmproj: files.mmproj, nParams: info.nParams, sizeBytes: info.sizeBytes, nLayer: info.nLayer, nEmbd: info.nEmbd, nVocab: info.nVocab },
  prepMs: { write: files.writeMs, quantize: files.quantizeMs, load: loadMs },
  runs: rows,
  median: med,
  vram: mem,
};
// A Vulkan run beside the CUDA one: its own file, so both go into the report.
const backendTag = info.device.startsWith("Vulkan") ? "-vulkan" : "";
const out = a.out ?? join(a.work, "results", `score-${label}-${quant}${backendTag}.json`);
writeJson(out, result);
console.log(
  `${label} ${quant} (${info.device}, gpuLayers ${gpuLayers}): median encode ${med.encodeMs!.toFixed(0)} ms, prefill ${med.prefillTokPerS!.toFixed(0)} tok/s, ` +
    `decode ${med.decodeTokPerS!.toFixed(1)} tok/s, total ${med.totalMs!.toFixed(0)} ms (${med.generatedTokens} tokens), ` +
    `VRAM peak ${mem ? `${mem.peakMiB} MiB (+${mem.deltaMiB})` : "n/a"} -> ${out}`,
);
