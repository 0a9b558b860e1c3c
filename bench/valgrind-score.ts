// The short scoring run scripts/valgrind.sh puts under memcheck: load the tiny model, sample a small
// clip (file and Buffer), score it in both modes, abort one score, hit two error paths, dispose.
// Plain JS-side checks only; memcheck judges the native side.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { VideoScorer, sampleFrames } from "../src/index.js";
import { writeQwen25VLModels } from "../src/gguf/tiny-model.js";

const out = join(import.meta.dirname, ".out", "valgrind");
mkdirSync(out, { recursive: true });
const clip = join(out, "clip-96x64.mp4");
if (!existsSync(clip))
  execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=4", "-frames:v", "8", "-c:v", "libx264", "-bf", "2", "-pix_fmt", "yuv420p", clip]);
const models = await writeQwen25VLModels({ dir: join(out, "tiny"), seed: 1 });
const scorer = await VideoScorer.load({ ...models, contextSize: 2048, threads: 2 });
const opts = { prompt: "a test pattern", maxTokens: 8, seed: 3, minPixels: 56 * 56, maxPixels: 56 * 56 };
const frames = await sampleFrames(readFileSync(clip), { minPixels: 56 * 56, maxPixels: 56 * 56 });
console.log(`sampled ${frames.frames.length} frames ${frames.width}x${frames.height}`);
const think = await scorer.score(clip, opts);
console.log(`think: ${think.tokens.length} tokens`);
const direct = await scorer.score(clip, { ...opts, mode: "direct" });
console.log(`direct: ${direct.visualQuality.score} ${direct.textAlignment.score} ${direct.physicalConsistency.score}`);
const ac = new AbortController();
await scorer.score(clip, { ...opts, maxTokens: 64, signal: ac.signal, onToken: () => ac.abort() }).catch((e) => console.log(`abort: ${e.code}`));
await scorer.score(join(out, "missing.mp4"), opts).catch((e) => console.log(`missing: ${e.code}`));
await scorer.score(Buffer.from("not a video at all, just text"), opts).catch((e) => console.log(`junk: ${e.code}`));
await scorer.dispose();
console.log("done");
