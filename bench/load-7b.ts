/**
 * The full-size random model on the CPU: proof that the generator's 7B files (written by
 * `npx tsx bench/gpu/score-7b.ts --exact-weights --quant F16 --only model --work DIR`) are a model
 * llama.cpp and mtmd load and run, not only a header. Loads the pair, prints what llama.cpp read,
 * prepares a clip and scores it in direct mode on a small frame plan (a 7B prefill on 2 cores is
 * slow: the plan keeps the video to a few tokens).
 *
 *   npx tsx bench/load-7b.ts [--work /tmp/7b] [--threads N]
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { VideoScorer } from "../src/index.js";

const { values } = parseArgs({ options: { work: { type: "string", default: "bench/.out/gpu" }, threads: { type: "string" } } });
const dir = join(values.work!, "models", "random-7b");
const model = join(dir, "random-7b-f16.gguf");
const mmproj = join(dir, "mmproj-random-7b-f16.gguf");
for (const f of [model, mmproj]) if (!existsSync(f)) throw new Error(`${f} is missing: write it with bench/gpu/score-7b.ts --exact-weights --quant F16 --only model`);

const clip = join(values.work!, "clips", "load-7b-2s.mp4");
if (!existsSync(clip)) {
  mkdirSync(join(values.work!, "clips"), { recursive: true });
  execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=4", "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", clip]);
}
const gb = (p: string) => `${(statSync(p).size / 1e9).toFixed(2)} GB`;
console.log(`model ${gb(model)}, mmproj ${gb(mmproj)}`);

let t = performance.now();
const scorer = await VideoScorer.load({ model, mmproj, contextSize: 2048, threads: values.threads ? Number(values.threads) : undefined });
console.log(`loaded in ${((performance.now() - t) / 1000).toFixed(1)} s:`, JSON.stringify(scorer.info));
// 4 frames at 56x56: 2 pairs of 2x2 merged cells = 8 video tokens.
const plan = { prompt: "a red fox jumps over a fence", nframes: 4, minPixels: 56 * 56, maxPixels: 56 * 56 };
const prep = await scorer.prepare(clip, plan);
console.log(`prepare: ${prep.tokens.length} tokens, video tokens [${prep.videoTokens.start}, ${prep.videoTokens.end}), frames ${prep.frames.count} × ${prep.frames.width}x${prep.frames.height}`);
t = performance.now();
const r = await scorer.score(clip, { ...plan, mode: "direct" });
const tm = r.timings;
console.log(
  `direct score in ${((performance.now() - t) / 1000).toFixed(1)} s (encode ${tm.encodeMs.toFixed(0)} ms, prefill ${tm.prefillMs.toFixed(0)} ms for ${tm.promptTokens} tokens, ` +
    `generate ${tm.generateMs.toFixed(0)} ms): ${r.visualQuality.score}/${r.textAlignment.score}/${r.physicalConsistency.score}, ` +
    `p(1..5) ${r.visualQuality.probs!.map((p) => p.toExponential(2)).join(" ")} (random weights: meaningless)`,
);
await scorer.dispose();
