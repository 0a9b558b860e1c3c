/**
 * The addon side by side with llama.cpp's own `llama-mtmd-cli` (built from the same pinned tree by
 * scripts/build-llama-tools.sh), tiny model, CPU: the frames our sampler picks from a 10 s 720p clip
 * are written as PNGs and given to the CLI as images; the addon scores the clip itself.
 *
 *   bash scripts/build-llama-tools.sh && npx tsx bench/mtmd-cli.bench.ts [--runs 3] [--max-tokens 256]
 *
 * Not the same work, and the table says how: mtmd encodes each image on its own (Qwen2.5-VL repeats a
 * still image over its temporal patch), so 20 frames cost it 20 encodes and 2× the video tokens; we
 * encode frame pairs, as transformers does for a video. Per-token rates make the two comparable.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs, promisify } from "node:util";
import { VideoScorer, sampleFrames } from "../src/index.js";
import { writeQwen25VLModels } from "../src/gguf/tiny-model.js";
import { encodePNG } from "../src/png.js";
import { ffmpeg } from "../test/fixtures/videos.js";

const { values } = parseArgs({ options: { runs: { type: "string" }, "max-tokens": { type: "string" } } });
const runs = Number(values.runs ?? 3);
const maxTokens = Number(values["max-tokens"] ?? 256);
const root = resolve(import.meta.dirname, "..");
const cli = join(root, ".cache", "cmake", "tools", "bin", "llama-mtmd-cli");
if (!existsSync(cli)) {
  console.error(`mtmd-cli bench: ${cli} is missing; run bash scripts/build-llama-tools.sh first`);
  process.exit(1);
}
const out = join(import.meta.dirname, ".out");
const frameDir = join(out, "mtmd-cli-frames");
mkdirSync(frameDir, { recursive: true });
const clip = join(out, "score-720p-10s.mp4");
if (!existsSync(clip))
  await ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-t", "10", "-c:v", "libx264", "-g", "30", "-pix_fmt", "yuv420p", clip]);
const models = await writeQwen25VLModels({ dir: join(out, "tiny"), seed: 1 });
const threads = cpus().length;
const prompt = "a test pattern";
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// --- the same frames as PNG files -----------------------------------------------------------------
const sampled = await sampleFrames(clip);
const pngs = sampled.frames.map((f, i) => {
  const p = join(frameDir, `frame-${String(i).padStart(2, "0")}.png`);
  writeFileSync(p, encodePNG({ width: sampled.width, height: sampled.height, rgb: f.rgb }, 1));
  return p;
});

// --- ours -------------------------------------------------------------------------------------------
const scorer = await VideoScorer.load({ ...models, contextSize: 16384, threads });
await scorer.score(clip, { prompt: "warm-up", maxTokens: 8 });
const ours: { sample: number; encode: number; prefill: number; generate: number; total: number; wall: number; videoTokens: number; promptTokens: number; generated: number }[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const r = await scorer.score(clip, { prompt, maxTokens, seed: i, constrain: { maxThinkingTokens: maxTokens * 2 } });
  const wall = performance.now() - t0;
  const t = r.timings;
  const prep = await scorer.prepare(clip, { prompt });
  ours.push({
    sample: t.sampleMs, encode: t.encodeMs, prefill: t.prefillMs, generate: t.generateMs, total: t.totalMs, wall,
    videoTokens: prep.videoTokens.end - prep.videoTokens.start, promptTokens: t.promptTokens, generated: t.generatedTokens,
  });
}
await scorer.dispose();

// --- llama-mtmd-cli ---------------------------------------------------------------------------------
const run = promisify(execFile);
const theirs: { encode: number; imageDecode: number; promptEval: number; promptTokens: number; evalMs: number; evalTokens: number; load: number; wall: number }[] = [];
for (let i = 0; i < runs; i++) {
  const args = [
    "-m", models.model, "--mmproj", models.mmproj, ...pngs.flatMap((p) => ["--image", p]), "-p", prompt,
    "-n", String(maxTokens), "--temp", "0.7", "--top-k", "50", "--seed", String(i), "-t", String(threads),
    "-c", "16384", "-b", "2048", "-ub", "2048", "--ignore-eos",
  ];
  const t0 = performance.now();
  const { stderr, stdout } = await run(cli, args, { maxBuffer: 1 << 26 });
  const wall = performance.now() - t0;
  const log = stderr + stdout;
  const sum = (re: RegExp): number => [...log.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
  const one = (re: RegExp): RegExpMatchArray => {
    const m = log.match(re);
    if (!m) throw new Error(`mtmd-cli bench: no ${re} in the CLI's log:\n${log.slice(-3000)}`);
    return m;
  };
  const pe = one(/prompt eval time =\s*([\d.]+) ms \/\s*(\d+) tokens/);
  const ev = one(/\beval time =\s*([\d.]+) ms \/\s*(\d+) runs/);
  const load = one(/load time =\s*([\d.]+) ms/);
  theirs.push({
    encode: sum(/slice encoded in (\d+) ms/g),
    imageDecode: sum(/decoded \(batch \d+\/\d+\) in (\d+) ms/g),
    promptEval: Number(pe[1]), promptTokens: Number(pe[2]), evalMs: Number(ev[1]), evalTokens: Number(ev[2]),
    load: Number(load[1]), wall,
  });
}

const o = (k: keyof (typeof ours)[0]): number => median(ours.map((r) => r[k]));
const t = (k: keyof (typeof theirs)[0]): number => median(theirs.map((r) => r[k]));
const f = (x: number): string => x.toFixed(0);
const oursVideoTokens = o("videoTokens");
const theirVideoTokens = sampled.frames.length * (sampled.width / 28) * (sampled.height / 28);
console.log(`tiny model, CPU ${threads} threads, 10 s 1280x720 clip → ${sampled.frames.length} frames ${sampled.width}x${sampled.height}, ${maxTokens} generated tokens, median of ${runs}\n`);
console.log("| | addon (one warm scorer) | llama-mtmd-cli (same frames as PNG) |");
console.log("|---|---:|---:|");
console.log(`| frame sampling (libav) | ${f(o("sample"))} ms | – (PNGs given) |`);
console.log(`| video tokens | ${oursVideoTokens} (${sampled.frames.length / 2} pairs) | ${theirVideoTokens} (${sampled.frames.length} single images) |`);
console.log(`| vision encode | ${f(o("encode"))} ms (${((o("encode") / oursVideoTokens) * 1000).toFixed(0)} µs/token) | ${f(t("encode"))} ms (${((t("encode") / theirVideoTokens) * 1000).toFixed(0)} µs/token) |`);
console.log(`| prefill (video + text) | ${f(o("prefill"))} ms, ${o("promptTokens")} tokens | ${f(t("imageDecode") + t("promptEval"))} ms (image batches ${f(t("imageDecode"))} + text ${f(t("promptEval"))}) |`);
console.log(`| generate | ${f(o("generate"))} ms, ${o("generated")} tokens (${((o("generated") / o("generate")) * 1000).toFixed(0)} tok/s) | ${f(t("evalMs"))} ms, ${t("evalTokens")} tokens (${((t("evalTokens") / t("evalMs")) * 1000).toFixed(0)} tok/s) |`);
console.log(`| total | ${f(o("total"))} ms (wall ${f(o("wall"))}) | wall ${f(t("wall"))} ms, of it model load ${f(t("load"))} ms |`);
const compute = o("encode") + o("prefill") + o("generate");
console.log(`\noutside llama.cpp compute (addon): ${(((o("total") - compute) / o("total")) * 100).toFixed(1)} % of total (frame sampling ${f(o("sample"))} ms)`);
