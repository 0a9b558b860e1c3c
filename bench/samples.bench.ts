// Stable scores for less (issue 16), side by side in one run on one warm scorer:
//   1. `samples: 4` (one encode + one prefill, 4 chains decoded together) vs 4 separate scores
//      with seeds s..s+3 (goal: <= 0.5x the time);
//   2. four prompts on one EncodedVideo (encode included) vs four scores of the file (goal <= 0.4x);
//   3. the spread over 10 seeds (std) of the mean soft score with k = 1 vs k = 8;
//   4. four concurrent videos on a scorer loaded with `parallel: 4` vs `parallel: 1` (throughput),
//      and four prompts on one EncodedVideo scored concurrently with `parallel: 4`.
//
//   npx tsx bench/samples.bench.ts [--runs 3] [--max-tokens 256] [--model m.gguf --mmproj p.gguf]
//       [--gpu-layers -1] [--threads n] [--seeds 10] [--clip c.mp4] [--json out.json] [--sections 1,2,3,4]
// Without --model it writes the tiny random-weight model (bench/.out/tiny). bench/gpu/samples.sh runs
// this file unchanged on a GPU machine.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { VideoScorer, type ScoreOptions, type ScoreResult } from "../src/index.js";
import { writeQwen25VLModels } from "../src/gguf/tiny-model.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string" },
    "max-tokens": { type: "string" },
    model: { type: "string" },
    mmproj: { type: "string" },
    "gpu-layers": { type: "string" },
    clip: { type: "string" },
    json: { type: "string" },
    seeds: { type: "string" },
    threads: { type: "string" },
    sections: { type: "string" },
  },
});
const report: Record<string, unknown> = {};
const sections = new Set((values.sections ?? "1,2,3,4").split(",").map(Number));
const runs = Number(values.runs ?? 3);
const maxTokens = Number(values["max-tokens"] ?? 256);
const nSeeds = Number(values.seeds ?? 10);
const out = join(import.meta.dirname, ".out");
mkdirSync(out, { recursive: true });
let clip = values.clip;
if (!clip) {
  clip = join(out, "score-720p-10s.mp4");
  if (!existsSync(clip))
    execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-t", "10",
      "-c:v", "libx264", "-g", "30", "-pix_fmt", "yuv420p", clip]);
}
const models = values.model && values.mmproj ? { model: values.model, mmproj: values.mmproj } : await writeQwen25VLModels({ dir: join(out, "tiny"), seed: 1 });
const gpuLayers = values["gpu-layers"] === undefined ? undefined : Number(values["gpu-layers"]);
const threads = values.threads === undefined ? undefined : Number(values.threads);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const std = (xs: number[]): number => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
};

const loadOpts = { ...models, ...(gpuLayers === undefined ? {} : { gpuLayers }), ...(threads === undefined ? {} : { threads }) };
const scorer = await VideoScorer.load({ ...loadOpts, contextSize: 16384 });
const base: ScoreOptions = { prompt: "a test pattern", maxTokens };
await scorer.score(clip, { ...base, maxTokens: 8 });

if (sections.has(1)) {
// 1. samples: 4 vs four separate scores, interleaved run by run.
const k = 4;
const together: number[] = [];
const separate: number[] = [];
let one: ScoreResult | undefined;
let four: ScoreResult | undefined;
for (let r = 0; r < runs; r++) {
  const seed = 100 * r;
  let t0 = performance.now();
  four = await scorer.score(clip, { ...base, seed, samples: k });
  together.push(performance.now() - t0);
  t0 = performance.now();
  for (let i = 0; i < k; i++) one = await scorer.score(clip, { ...base, seed: seed + i });
  separate.push(performance.now() - t0);
}
const t = four!.timings;
const s1 = one!.timings;
const ratio = median(together) / median(separate);
console.log(`${models.model.split("/").pop()}, clip ${clip.split("/").pop()}, ${availableParallelism()} cores${threads ? `, threads ${threads}` : ""}${gpuLayers ? `, gpuLayers ${gpuLayers}` : ""}, maxTokens ${maxTokens} (unconstrained, every chain runs to maxTokens or EOS), median of ${runs} interleaved runs\n`);
console.log("| | ms | encode ms | prefill ms | generate ms | tokens computed |\n|---|---:|---:|---:|---:|---:|");
console.log(`| samples: ${k} (one call) | ${median(together).toFixed(0)} | ${t.encodeMs.toFixed(0)} | ${t.prefillMs.toFixed(0)} | ${t.generateMs.toFixed(0)} | ${t.decodedTokens} |`);
console.log(`| ${k} separate scores | ${median(separate).toFixed(0)} | ${(k * s1.encodeMs).toFixed(0)} | ${(k * s1.prefillMs).toFixed(0)} | ${(k * s1.generateMs).toFixed(0)} | ${k * s1.decodedTokens} |`);
console.log(`\nsamples: ${k} takes ${ratio.toFixed(2)}x the time of ${k} separate scores (goal <= 0.5x); ${t.generatedTokens} tokens generated, ${(t.generatedTokens / (t.generateMs / 1000)).toFixed(0)} tok/s batched vs ${s1.tokensPerSecond.toFixed(0)} tok/s alone\n`);
  report.samples = { k, togetherMs: median(together), separateMs: median(separate), ratio, timings: t, solo: s1 };
}

const prompts4 = ["a test pattern", "a red square moving", "colour bars on a screen", "a clock counting seconds"];
if (sections.has(2)) {
// 2. Four prompts on one EncodedVideo (encode included) vs four scores of the file, interleaved.
const prompts = ["a test pattern", "a red square moving", "colour bars on a screen", "a clock counting seconds"];
const enc: number[] = [];
const files: number[] = [];
let encBytes = 0;
for (let r = 0; r < runs; r++) {
  let t0 = performance.now();
  const v = await scorer.encode(clip);
  encBytes = v.bytes;
  for (const [i, prompt] of prompts.entries()) await scorer.score(v, { ...base, prompt, seed: r + i });
  v.dispose();
  enc.push(performance.now() - t0);
  t0 = performance.now();
  for (const [i, prompt] of prompts.entries()) await scorer.score(clip, { ...base, prompt, seed: r + i });
  files.push(performance.now() - t0);
}
const encRatio = median(enc) / median(files);
console.log("| | ms |\n|---|---:|");
console.log(`| encode + ${prompts.length} prompts on the EncodedVideo | ${median(enc).toFixed(0)} |`);
console.log(`| ${prompts.length} scores of the file | ${median(files).toFixed(0)} |`);
console.log(`\n${prompts.length} prompts on one EncodedVideo take ${encRatio.toFixed(2)}x the time of ${prompts.length} scores of the file (goal <= 0.4x); it holds ${(encBytes / 2 ** 20).toFixed(1)} MiB\n`);
  report.encoded = { prompts: prompts.length, encodedMs: median(enc), fileMs: median(files), ratio: encRatio, bytes: encBytes };
}

if (sections.has(3)) {
// 3. Spread of the mean soft score over seeds, k = 1 vs k = 8 (constrained so that every sample answers).
const dims = ["visualQuality", "textAlignment", "physicalConsistency"] as const;
const spread: Record<string, Record<string, number>> = {};
for (const kk of [1, 8]) {
  const means: Record<string, number[]> = { visualQuality: [], textAlignment: [], physicalConsistency: [] };
  let unanswered = 0;
  const t0 = performance.now();
  for (let s = 0; s < nSeeds; s++) {
    const r = await scorer.score(clip, { ...base, maxTokens: Math.max(maxTokens, 200), seed: 1000 * s, samples: kk, constrain: true });
    unanswered += r.unanswered ?? (r.visualQuality.score === null ? 1 : 0);
    for (const d of dims) means[d]!.push(kk === 1 ? r[d].soft! : r[d].mean!);
  }
  spread[`k=${kk}`] = { ...Object.fromEntries(dims.map((d) => [d, std(means[d]!)])), msPerCall: (performance.now() - t0) / nSeeds, unanswered };
}
console.log(`std over ${nSeeds} seeds of the (mean) soft score, constrain: true\n`);
console.log("| | visual quality | text alignment | physical consistency | ms per call | unanswered |\n|---|---:|---:|---:|---:|---:|");
for (const [name, v] of Object.entries(spread))
  console.log(`| ${name} | ${v.visualQuality!.toFixed(4)} | ${v.textAlignment!.toFixed(4)} | ${v.physicalConsistency!.toFixed(4)} | ${v.msPerCall!.toFixed(0)} | ${v.unanswered} |`);
  report.spread = spread;
}

// 4. Four concurrent videos, parallel: 4 vs parallel: 1 (each with room for all four), interleaved;
//    and four prompts on one EncodedVideo, concurrently with parallel: 4.
const par: Record<string, unknown> = {};
report.parallel = par;
if (sections.has(4)) {
  const sources = ["testsrc2", "smptebars", "rgbtestsrc", "mandelbrot"];
  const clips = sources.map((src, i) => {
    const f = join(out, `par-${i}-720p-10s.mp4`);
    if (i === 0) return clip!;
    if (!existsSync(f))
      execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", `${src}=size=1280x720:rate=30`, "-t", "10", "-c:v", "libx264", "-g", "30", "-pix_fmt", "yuv420p", f]);
    return f;
  });
  const one = await VideoScorer.load({ ...loadOpts, contextSize: 40960, parallel: 1 });
  const four = await VideoScorer.load({ ...loadOpts, contextSize: 40960, parallel: 4 });
  await four.score(clip, { ...base, maxTokens: 8 });
  const all = (s: VideoScorer) => Promise.all(clips.map((c, i) => s.score(c, { ...base, seed: i })));
  const t1: number[] = [];
  const t4: number[] = [];
  const te: number[] = [];
  let shared = 0;
  for (let r = 0; r < runs; r++) {
    let t0 = performance.now();
    await all(one);
    t1.push(performance.now() - t0);
    t0 = performance.now();
    shared = (await all(four)).reduce((a, x) => a + x.timings.sharedSteps, 0);
    t4.push(performance.now() - t0);
    t0 = performance.now();
    const v = await four.encode(clip);
    await Promise.all(prompts4.map((prompt, i) => four.score(v, { ...base, prompt, seed: r + i })));
    v.dispose();
    te.push(performance.now() - t0);
  }
  await one.dispose();
  await four.dispose();
  Object.assign(par, { parallel1Ms: median(t1), parallel4Ms: median(t4), encodedParallel4Ms: median(te), sharedSteps: shared });
  console.log("| 4 videos at once | ms | videos/min |\n|---|---:|---:|");
  console.log(`| parallel: 1 | ${median(t1).toFixed(0)} | ${(240000 / median(t1)).toFixed(1)} |`);
  console.log(`| parallel: 4 | ${median(t4).toFixed(0)} | ${(240000 / median(t4)).toFixed(1)} |`);
  console.log(`\nparallel: 4 gives ${(median(t1) / median(t4)).toFixed(2)}x the throughput of parallel: 1 (${shared} steps shared in the last run)`);
  console.log(`encode + ${prompts4.length} concurrent prompts on the EncodedVideo with parallel: 4: ${median(te).toFixed(0)} ms\n`);
}

await scorer.dispose();

if (values.json) writeFileSync(values.json, JSON.stringify({ maxTokens, runs, ...report }, null, 2));
