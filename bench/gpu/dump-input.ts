/**
 * The model input of the score benchmark, for the Python reference (bench/gpu/reference_bench.py):
 * the frames our sampler picks from the clip (raw RGB24, frame after frame) and the token ids our
 * engine feeds for BENCH_PROMPT, so both engines process the same pixels and the same number of
 * tokens.
 *
 *   npx tsx bench/gpu/dump-input.ts [--clip fps-720p] [--work bench/.out/gpu] [--out <work>/input-<clip>]
 *
 * The ids come from the tiny generated model: every model our writer makes (SEVEN_B included) shares
 * its vocabulary, padded to 152064 for 7B, so the 7B model tokenizes the prompt to the same ids. Our
 * vocabulary is a small BPE, not Qwen's: the prompt is longer in tokens than Qwen's tokenizer would
 * make it, on both sides alike. Its 22 added tokens are Qwen's, in Qwen's order, so
 * `addedBase` lets the reference map them to Qwen's ids (151643 + k).
 */
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { sampleFrames, VideoScorer } from "../../src/index.js";
import { writeQwen25VLModels } from "../../src/gguf/tiny-model.js";
import { BENCH_PROMPT, DEFAULT_WORK, ensureClip, writeJson } from "./common.js";

const { values: a } = parseArgs({
  options: {
    clip: { type: "string", default: "fps-720p" },
    work: { type: "string", default: DEFAULT_WORK },
    out: { type: "string" },
  },
});
const out = a.out ?? join(a.work, `input-${a.clip}`);
const clip = await ensureClip(a.clip, a.work);
const tiny = await writeQwen25VLModels({ dir: join(a.work, "models", "tokenizer-tiny"), seed: 1 });
// Tokenizing needs no GPU; the CPU path keeps this step independent of the CUDA build.
const scorer = await VideoScorer.load({ model: tiny.model, mmproj: tiny.mmproj, gpuLayers: 0, contextSize: 32768 });
const p = await scorer.prepare(clip, { prompt: BENCH_PROMPT });
await scorer.dispose();
const v = await sampleFrames(clip);
if (v.frames.length !== p.frames.count || v.width !== p.frames.width || v.height !== p.frames.height)
  throw new Error("sampleFrames and prepare() disagree on the frame plan");
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "frames.rgb"), Buffer.concat(v.frames.map((f) => f.rgb)));
writeJson(join(out, "input.json"), {
  clip: a.clip,
  prompt: BENCH_PROMPT,
  template: "inference",
  width: v.width,
  height: v.height,
  nframes: v.frames.length,
  indices: v.frames.map((f) => f.index),
  tokens: p.tokens,
  videoStart: p.videoTokens.start,
  videoEnd: p.videoTokens.end,
  grid: p.grid,
  addedBase: tiny.vocab.special["<|endoftext|>"],
  vocabSize: tiny.vocab.tokens.length,
});
console.log(`${a.clip}: ${v.frames.length} frames ${v.width}x${v.height}, ${p.tokens.length} tokens (${p.videoTokens.end - p.videoTokens.start} video) -> ${out}`);
