// Time per phase of one score with a warm scorer and the tiny generated model, on a 10 s 720p clip.
//   npx tsx bench/score.bench.ts [--runs 5] [--max-tokens 256]
// "Outside llama.cpp compute" = total − (vision encode + prefill + generate), i.e. frame sampling
// (libav) and the TS/N-API layers; the goal is < 10 % of the total.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { VideoScorer } from "../src/index.js";
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
const scorer = await VideoScorer.load({ ...models, contextSize: 16384 });
await scorer.score(clip, { prompt: "warm-up", maxTokens: 8 });
const rows: Record<string, number>[] = [];
for (let i = 0; i < runs; i++) {
  const r = await scorer.score(clip, { prompt: "a test pattern", maxTokens, seed: i, constrain: { maxThinkingTokens: maxTokens * 2 } });
  const t = r.timings;
  const compute = t.encodeMs + t.prefillMs + t.generateMs;
  rows.push({ ...t, outsideMs: t.totalMs - compute, outsideShare: (t.totalMs - compute) / t.totalMs });
}
const med = (k: string) => rows.map((r) => r[k]!).sort((a, b) => a - b)[Math.floor(rows.length / 2)]!;
console.log(`tiny model, 10 s 1280x720 @30 fps, ${runs} runs (median), maxTokens ${maxTokens}`);
console.log("| phase | ms |\n|---|---|");
for (const k of ["sampleMs", "sampleTotalMs", "encodeMs", "prefillMs", "generateMs", "totalMs", "outsideMs"]) console.log(`| ${k} | ${med(k).toFixed(1)} |`);
console.log(`| prompt tokens | ${med("promptTokens")} |\n| generated tokens | ${med("generatedTokens")} |\n| tokens/s | ${med("tokensPerSecond").toFixed(1)} |`);
console.log(`outside llama.cpp compute: ${(med("outsideShare") * 100).toFixed(1)} % of total`);

// Fast mode: the same clip and scorer, no chain of thought.
const direct: number[] = [];
for (let i = 0; i < runs; i++) direct.push((await scorer.score(clip, { prompt: "a test pattern", mode: "direct" })).timings.totalMs);
direct.sort((a, b) => a - b);
const think = med("totalMs");
const d = direct[Math.floor(runs / 2)]!;
console.log(`direct mode total ${d.toFixed(1)} ms vs think ${think.toFixed(1)} ms (${med("generatedTokens")} tokens): ${(think / d).toFixed(2)}x faster`);
await scorer.dispose();
