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
import { encodePNG } from "../src/video/png.js";
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
  const r = await scorer.score(clip, { prompt, maxTokens, seed: i });
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
// The pinned CLI logs its vision encodes ("mtmd batch encoding done in N ms") with a timestamp on
// every line, but no prefill or generation timings: those come from two runs, one generating a single
// token and one generating 1 + maxTokens, both with --ignore-eos.
const run = promisify(execFile);
async function cliRun(seed: number, nPredict: number): Promise<{ wall: number; load: number; encode: number }> {
  const args = [
    "-m", models.model, "--mmproj", models.mmproj, "--image", pngs.join(","), "-p", prompt,
    "-n", String(nPredict), "--temp", "0.7", "--top-k", "50", "--seed", String(seed), "-t", String(threads),
    "-c", "16384", "-b", "2048", "-ub", "2048", "--ignore-eos", "--no-warmup",
  ];
  const t0 = performance.now();
  const { stderr, stdout } = await run(cli, args, { maxBuffer: 1 << 26 });
  const wall = performance.now() - t0;
  const log = stderr + stdout;
  const encodes = [...log.matchAll(/mtmd batch encoding done in (\d+) ms/g)].map((m) => Number(m[1]));
  // Timestamps read minutes.seconds.milliseconds.microseconds since the process started.
  const first = log.match(/^(\d+)\.(\d+)\.(\d+)\.(\d+) I encoding mtmd batch/m);
  if (encodes.length !== pngs.length || !first)
    throw new Error(`mtmd-cli bench: expected ${pngs.length} encodes in the CLI's log, found ${encodes.length}:\n${log.slice(-3000)}`);
  const load = Number(first[1]) * 60000 + Number(first[2]) * 1000 + Number(first[3]) + Number(first[4]) / 1000;
  return { wall, load, encode: encodes.reduce((a, b) => a + b, 0) };
}
const theirs: { load: number; encode: number; prefill: number; generate: number; wall: number }[] = [];
for (let i = 0; i < runs; i++) {
  const one = await cliRun(i, 1);
  const full = await cliRun(i, 1 + maxTokens);
  theirs.push({ load: full.load, encode: full.encode, prefill: one.wall - one.load - one.encode, generate: full.wall - one.wall, wall: full.wall });
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
console.log(`| prefill (video + text) | ${f(o("prefill"))} ms, ${o("promptTokens")} tokens | ${f(t("prefill"))} ms (run with 1 token − load − encode) |`);
console.log(`| generate | ${f(o("generate"))} ms, ${o("generated")} tokens (${((o("generated") / o("generate")) * 1000).toFixed(0)} tok/s) | ${f(t("generate"))} ms, ${maxTokens} tokens (${((maxTokens / t("generate")) * 1000).toFixed(0)} tok/s; run with 1 + ${maxTokens} − run with 1) |`);
console.log(`| total | ${f(o("total"))} ms (wall ${f(o("wall"))}) | ${f(t("wall") - t("load"))} ms without model load (wall ${f(t("wall"))}, load ${f(t("load"))}) |`);
const compute = o("encode") + o("prefill") + o("generate");
console.log(`\noutside llama.cpp compute (addon): ${(((o("total") - compute) / o("total")) * 100).toFixed(1)} % of total (frame sampling ${f(o("sample"))} ms)`);
