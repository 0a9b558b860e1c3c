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
// Frame sizes that are not whole blocks of swscale's SIMD (rows end mid-block), 4:4:4 at odd sizes,
// a plan at the source size (no resize) and upscales: every path of the RGB conversion and resize.
const shapes: [string, string[], { minPixels?: number; maxPixels?: number }][] = [
  ["98x62", ["-pix_fmt", "yuv420p"], {}],
  ["75x45", ["-pix_fmt", "yuv444p"], { minPixels: 28 * 28, maxPixels: 84 * 56 }],
  ["112x112", ["-pix_fmt", "yuv420p"], { minPixels: 112 * 112, maxPixels: 112 * 112 }],
  ["202x118", ["-pix_fmt", "yuv420p"], { minPixels: 28 * 28, maxPixels: 56 * 28 }],
];
for (const [size, fmt, plan] of shapes) {
  const f = join(out, `shape-${size}-${fmt[1]}.mp4`);
  if (!existsSync(f))
    execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", `testsrc2=size=${size}:rate=4`, "-frames:v", "6", "-c:v", "libx264", ...fmt, f]);
  const r = await sampleFrames(f, plan);
  console.log(`${size} ${fmt[1]}: ${r.frames.length} frames ${r.sourceWidth}x${r.sourceHeight} -> ${r.width}x${r.height}`);
}
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
