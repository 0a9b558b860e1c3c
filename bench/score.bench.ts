// Time per phase of one score with a warm scorer and the tiny generated model, on a 10 s 720p clip.
//   npx tsx bench/score.bench.ts [--runs 5] [--max-tokens 256]
// "Outside llama.cpp compute" = total − (vision encode + prefill + generate): the part of frame
// sampling (libav) not hidden behind the model, and the TS/N-API layers; the goal is < 10 % of the
// total. A second table sets overlapped sampling (frames decoded while earlier pairs are encoded)
// against sampling first, with llama.cpp on every core and with one core left free, interleaved.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { VideoScorer, type LoadOptions, type ScoreResult } from "../src/index.js";
import { writeQwen25VLModels } from "../src/gguf/tiny-model.js";

const { values } = parseArgs({ options: { runs: { type: "string" }, "max-tokens": { type: "string" } } });
const runs = Number(values.runs ?? 5);
const maxTokens = Number(values["max-tokens"] ?? 256);
const out = join(import.meta.dirname, ".out");
mkdirSync(out, { recursive: true });
const clip = join(out, "score-720p-10s.mp4");
if (!existsSync(clip))
  execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-t", "10",
    "-c:v", "libx264", "-g", "30", "-pix_fmt", "yuv420p", clip]);
const models = await writeQwen25VLModels({ dir: join(out, "tiny"), seed: 1 });

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const outside = (t: ScoreResult["timings"]): number => t.totalMs - (t.encodeMs + t.prefillMs + t.generateMs);

const scorer = await VideoScorer.load({ ...models, contextSize: 16384 });
await scorer.score(clip, { prompt: "warm-up", maxTokens: 8 });
const rows: Record<string, number>[] = [];
for (let i = 0; i < runs; i++) {
  const r = await scorer.score(clip, { prompt: "a test pattern", maxTokens, seed: i, constrain: { maxThinkingTokens: maxTokens * 2 } });
  const t = r.timings;
  rows.push({ ...t, outsideMs: outside(t), outsideShare: outside(t) / t.totalMs });
}
const med = (k: string) => median(rows.map((r) => r[k]!));
console.log(`tiny model, 10 s 1280x720 @30 fps, ${availableParallelism()} cores, default options, ${runs} runs (median), maxTokens ${maxTokens}`);
console.log("| phase | ms |\n|---|---|");
for (const k of ["sampleMs", "sampleTotalMs", "encodeMs", "prefillMs", "generateMs", "totalMs", "outsideMs"]) console.log(`| ${k} | ${med(k).toFixed(1)} |`);
console.log(`| prompt tokens | ${med("promptTokens")} |\n| generated tokens | ${med("generatedTokens")} |\n| tokens/s | ${med("tokensPerSecond").toFixed(1)} |`);
console.log(`outside llama.cpp compute: ${(med("outsideShare") * 100).toFixed(1)} % of total`);

// Fast mode: the same clip and scorer, no chain of thought.
const direct: number[] = [];
for (let i = 0; i < runs; i++) direct.push((await scorer.score(clip, { prompt: "a test pattern", mode: "direct" })).timings.totalMs);
const think = med("totalMs");
const d = median(direct);
console.log(`direct mode total ${d.toFixed(1)} ms vs think ${think.toFixed(1)} ms (${med("generatedTokens")} tokens): ${(think / d).toFixed(2)}x faster`);
await scorer.dispose();

// Overlapped sampling vs sampling first, interleaved run by run (64 greedy tokens).
const cores = availableParallelism();
const configs: [string, Partial<LoadOptions>][] = [
  [`llama.cpp on all ${cores} cores, sampled first (default here)`, { threads: cores, overlapSampling: false }],
  [`llama.cpp on all ${cores} cores, overlapped`, { threads: cores, overlapSampling: true }],
];
if (cores > 1)
  configs.push(
    [`llama.cpp on ${cores - 1} core(s), sampled first`, { threads: cores - 1, overlapSampling: false }],
    [`llama.cpp on ${cores - 1} core(s), overlapped (default here)`, { threads: cores - 1 }],
  );
const scorers: VideoScorer[] = [];
for (const [, o] of configs) {
  const s = await VideoScorer.load({ ...models, contextSize: 16384, ...o });
  await s.score(clip, { prompt: "warm-up", maxTokens: 4 });
  scorers.push(s);
}
const results: ScoreResult["timings"][][] = configs.map(() => []);
for (let i = 0; i < runs; i++)
  for (let c = 0; c < configs.length; c++)
    results[c]!.push((await scorers[c]!.score(clip, { prompt: "a test pattern", maxTokens: 64, seed: 1, temperature: 0 })).timings);
console.log(`\n| pipeline | total ms | sampleMs (on path) | sampleTotalMs | encodeMs | outside compute |`);
console.log("|---|---:|---:|---:|---:|---:|");
configs.forEach(([name], c) => {
  const ts = results[c]!;
  const m = (f: (t: ScoreResult["timings"]) => number) => median(ts.map(f));
  console.log(`| ${name} | ${m((t) => t.totalMs).toFixed(0)} | ${m((t) => t.sampleMs).toFixed(0)} | ${m((t) => t.sampleTotalMs).toFixed(0)} | ` +
    `${m((t) => t.encodeMs).toFixed(0)} | ${(m((t) => outside(t) / t.totalMs) * 100).toFixed(1)} % |`);
});
for (const s of scorers) await s.dispose();
