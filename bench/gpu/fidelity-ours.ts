/**
 * Our side of the fidelity check (bench/gpu/fidelity.py drives it):
 *
 *   npx tsx bench/gpu/fidelity-ours.ts model --shape tiny|small --dir DIR
 *       writes our random f32 GGUF pair (make_tiny_hf.py turns it into the transformers checkpoint)
 *   npx tsx bench/gpu/fidelity-ours.ts run --model M --mmproj P --clip NAME --out-dir DIR [--gpu-layers -1] [--top 20]
 *       samples the clip (frames.rgb + input.json, which the transformers side is fed), then reads the
 *       raw logits (top N) and p("1".."5") at the first generated position and at the three score
 *       positions under the parity goldens' forced answer (ours.json)
 *
 * The addon is the one VIDEOSCORE2_GPU selects (fidelity.py sets "cuda" for --device cuda, so a missing
 * CUDA build fails instead of silently measuring the CPU).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chatLayout, renderUserPrompt, sampleFrames, versions } from "../../src/index.js";
import { loadAddon } from "../../src/addon/loader.js";
import { nativeSampling } from "../../src/scorer/options.js";
import { writeQwen25VLModels, type WriteModelsOptions } from "../../src/gguf/tiny-model.js";
import { ROOT, ensureClip, intArg, writeJson } from "./common.js";

/**
 * "tiny" is the parity model's shape (parity/tiny-model-options.ts). "small" has the real head dims
 * (text 64 like Qwen2.5's small models, vision 80 like Qwen2.5-VL's) and widths large enough that
 * the GPU runs its real kernels (tiled matmuls, flash attention) rather than toy cases, while the
 * converter round trip stays a few seconds. Vision depth 4: the converter maps merger.mlp.2 only for
 * depth >= 3.
 */
const SHAPES: Record<string, Omit<WriteModelsOptions, "dir">> = {
  tiny: { vision: { nLayer: 4, nWaPattern: 2 } },
  small: {
    text: { nEmbd: 896, nHead: 14, nHeadKv: 2, nLayer: 4, nFf: 4864, ropeSections: [8, 12, 12, 0] },
    vision: { nEmbd: 640, nHead: 8, nFf: 1710, nLayer: 4, nWaPattern: 2 },
  },
};

const [cmd, ...rest] = process.argv.slice(2);
const { values: a } = parseArgs({
  args: rest,
  options: {
    shape: { type: "string", default: "tiny" },
    dir: { type: "string" },
    model: { type: "string" },
    mmproj: { type: "string" },
    clip: { type: "string", default: "min4-upscale" },
    work: { type: "string", default: join(ROOT, "bench", ".out", "gpu") },
    "out-dir": { type: "string" },
    "gpu-layers": { type: "string" },
    top: { type: "string" },
  },
});

if (cmd === "model") {
  const shape = SHAPES[a.shape];
  if (!shape || !a.dir) throw new Error(`usage: model --shape ${Object.keys(SHAPES).join("|")} --dir DIR`);
  const w = await writeQwen25VLModels({ ...shape, name: `fidelity-${a.shape}`, seed: 1, type: "f32", dir: a.dir });
  console.log(JSON.stringify({ model: w.model, mmproj: w.mmproj }));
} else if (cmd === "run") {
  if (!a.model || !a.mmproj || !a["out-dir"]) throw new Error("usage: run --model M --mmproj P --out-dir DIR [--clip NAME]");
  const outDir = a["out-dir"];
  const top = intArg("top", a.top, 20);
  const gpuLayers = intArg("gpu-layers", a["gpu-layers"], -1);
  // The parity goldens' prompt and teacher-forced answer: one definition for CPU parity and this check.
  const meta = JSON.parse(readFileSync(join(ROOT, "test", "parity", "goldens", "meta.json"), "utf8")) as { t2v_prompt: string; forced: string[] };
  const clip = await ensureClip(a.clip, a.work);
  const v = await sampleFrames(clip);
  const frames = v.frames.map((f) => f.rgb);
  const layout = chatLayout(renderUserPrompt("inference", meta.t2v_prompt));

  const { addon, cuda, path } = loadAddon();
  const model = await addon.loadModel({
    model: a.model,
    mmproj: a.mmproj,
    gpuLayers: cuda ? gpuLayers : 0,
    device: "",
    threads: 0,
    contextSize: 16384,
    batchSize: 2048,
    flashAttention: cuda,
    flashAttentionVision: cuda,
    parallel: 1,
    samplesPerCall: 1,
  });
  const p = await model.prepare({ ...layout, nframes: v.frames.length, width: v.width, height: v.height });
  const cancel = new Int32Array(new SharedArrayBuffer(4));
  const positions = [];
  for (let k = 0; k < 4; k++) {
    const forcedText = meta.forced.slice(0, k).join("");
    // topLogits reads the raw logits before sampling; the digit grammar makes the one sampled token a
    // digit, so p("1".."5") under the raw logits is recorded too.
    const r = await model.generate(
      { ...layout, video: { frames, width: v.width, height: v.height }, sampling: nativeSampling({ maxTokens: 1, grammar: "root ::= [1-5]", forcedText, topLogits: top }) },
      cancel,
    );
    positions.push({
      name: k === 0 ? "first" : `score${k}`,
      promptTokens: r.timings.promptTokens,
      top: r.firstTopLogits,
      rawProbs: r.digits[0]?.rawProbs ?? null,
      encodeMs: r.timings.encodeMs,
      prefillMs: r.timings.prefillMs,
    });
  }
  model.dispose();
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "frames.rgb"), Buffer.concat(frames));
  writeJson(join(outDir, "input.json"), {
    clip: a.clip,
    width: v.width,
    height: v.height,
    nframes: v.frames.length,
    indices: v.frames.map((f) => f.index),
    tokens: Array.from(p.tokens),
    videoStart: p.videoStart,
    videoEnd: p.videoEnd,
    beforeVideo: layout.beforeVideo,
    // Our tokenizer reads userText as plain text; the goldens' prompt has no control-token strings, so
    // HF's tokenizer gives the same ids for the joined string.
    afterVideo: layout.afterVideo + layout.userText + layout.afterText,
  });
  writeJson(join(outDir, "ours.json"), { binary: path, cuda, gpuLayers: cuda ? gpuLayers : 0, llamaCommit: versions().llamaCommit, forced: meta.forced, positions });
  console.log(`ours (${cuda ? `CUDA, gpuLayers ${gpuLayers}` : "CPU"}): ${p.tokens.length} prompt tokens, 4 positions -> ${outDir}`);
} else {
  throw new Error("usage: fidelity-ours.ts model|run ...");
}
