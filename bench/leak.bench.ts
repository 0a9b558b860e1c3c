// Memory over many scores: 500 consecutive score() calls with the tiny model; RSS after warm-up vs at
// the end must grow < 5 %. Not a vitest test (it takes minutes); run it with
//   npx tsx bench/leak.bench.ts [--runs 500] [--warmup 50]
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { VideoScorer, sampleFrames } from "../src/index.js";
import { writeQwen25VLModels } from "../src/gguf/tiny-model.js";

const { values } = parseArgs({ options: { runs: { type: "string" }, warmup: { type: "string" } } });
const runs = Number(values.runs ?? 500);
const warmup = Number(values.warmup ?? 50);
const out = join(import.meta.dirname, ".out");
mkdirSync(out, { recursive: true });
const clip = join(out, "leak-320x240.mp4");
if (!existsSync(clip))
  execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10", "-frames:v", "30", "-c:v", "libx264", "-pix_fmt", "yuv420p", clip]);
const models = await writeQwen25VLModels({ dir: join(out, "tiny"), seed: 1 });
const scorer = await VideoScorer.load({ ...models, contextSize: 4096 });
// Frames streamed into the encoder as they decode (the default beside a GPU or with spare cores).
const overlapped = await VideoScorer.load({ ...models, contextSize: 4096, overlapSampling: true });
const mb = () => process.memoryUsage().rss / 2 ** 20;
let base = 0;
const t0 = performance.now();
for (let i = 0; i < runs; i++) {
  // alternate the paths a long-lived app exercises: aborts, bad inputs, decode failures, overlapped sampling
  if (i % 10 === 9) await scorer.score(join(out, "missing.mp4"), { prompt: "x" }).catch(() => undefined);
  else if (i % 10 === 8) {
    const ac = new AbortController();
    const p = scorer.score(clip, { prompt: "x", maxTokens: 64, signal: ac.signal, onToken: () => ac.abort() });
    await p.catch(() => undefined);
  } else if (i % 10 === 7) await sampleFrames(clip);
  else if (i % 10 === 6) await overlapped.score(clip, { prompt: "a test pattern", maxTokens: 16, seed: i });
  else if (i % 10 === 5) await overlapped.score(clip, { prompt: "x", limits: { deadlineSeconds: 1e-6 } }).catch(() => undefined);
  else await scorer.score(clip, { prompt: "a test pattern", maxTokens: 16, seed: i });
  if (global.gc) global.gc();
  if (i + 1 === warmup) base = mb();
  if ((i + 1) % 50 === 0) console.log(`${i + 1}/${runs}  rss ${mb().toFixed(1)} MiB  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}
const end = mb();
const growth = (end - base) / base;
console.log(`RSS after warm-up (${warmup}): ${base.toFixed(1)} MiB; after ${runs}: ${end.toFixed(1)} MiB; growth ${(growth * 100).toFixed(2)} % (goal < 5 %)`);
await scorer.dispose();
await overlapped.dispose();
process.exitCode = growth < 0.05 ? 0 : 1;
