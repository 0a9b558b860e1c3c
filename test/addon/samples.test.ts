// samples: k chains of thought from one encode and one prefill (issue 16), and the constrained answer
// that always fits, checked with a tokenizer that writes it a byte per token.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EncodedVideo, VideoScorer, type ScoreResult } from "../../src/index.js";
import { writeQwen25VLModels } from "../../src/gguf/tiny-model.js";
import { FIXTURE_DIR, tinyModels } from "../fixtures/models.js";
import { h264Clip } from "../fixtures/videos.js";

const dir = join(FIXTURE_DIR, "scorer");

/** The tiny model with no BPE merges: every text is one token per byte, "</think>" is 8 tokens. */
async function byteVocabModels(): Promise<{ model: string; mmproj: string }> {
  const d = join(FIXTURE_DIR, "models-bytes");
  const model = join(d, "tiny-bytes.gguf");
  const mmproj = join(d, "mmproj-tiny-bytes.gguf");
  if (existsSync(model) && existsSync(mmproj)) return { model, mmproj };
  const w = await writeQwen25VLModels({ dir: d, name: "tiny-bytes", seed: 1, merges: 0 });
  return { model: w.model, mmproj: w.mmproj };
}

let scorer: VideoScorer;
let small: string;
const FAST = { prompt: "a red square moving", maxTokens: 24 };
const DIMS = ["visualQuality", "textAlignment", "physicalConsistency"] as const;

beforeAll(async () => {
  small = await h264Clip(join(dir, "small.mp4"), ["-f", "lavfi", "-i", "testsrc2=size=224x224:rate=10", "-frames:v", "20"]);
  scorer = await VideoScorer.load({ ...(await tinyModels()), contextSize: 8192, threads: 2 });
});

afterAll(async () => {
  await scorer?.dispose();
});

describe("samples: k chains from one prefill", () => {
  it("are reproducible by seed and differ from each other", async () => {
    const a = await scorer.score(small, { ...FAST, seed: 7, samples: 4 });
    const b = await scorer.score(small, { ...FAST, seed: 7, samples: 4 });
    expect(a.samples).toHaveLength(4);
    expect(a.samples!.map((s) => s.seed)).toEqual([7, 8, 9, 10]);
    expect(b.samples!.map((s) => s.tokens)).toEqual(a.samples!.map((s) => s.tokens));
    expect(new Set(a.samples!.map((s) => JSON.stringify(s.tokens))).size).toBe(4);
    // The top level is sample 0's.
    expect(a.tokens).toEqual(a.samples![0]!.tokens);
    expect(a.text).toBe(a.samples![0]!.text);
    // Every chain starts from the one prefill's logits: its first token is the solo score's.
    for (let i = 0; i < 4; i++) expect(a.samples![i]!.tokens[0]).toBe((await scorer.score(small, { ...FAST, seed: 7 + i })).tokens[0]);
  });

  it("sample i is the solo score with seed + i where the backend is batch-invariant (CPU without flash attention)", async () => {
    // ggml's CPU flash attention gives rows of a 4-token batch logits ~1e-3 away from a 1-token
    // batch's; the tiny model's logits span ~0.5, so a sampled chain drifts off within a few tokens.
    // Without it the rows agree to ~1e-7 and every token matches.
    await using exact = await VideoScorer.load({ ...(await tinyModels()), contextSize: 8192, threads: 2, flashAttention: { text: false } });
    const opts = { ...FAST, maxTokens: 60 };
    const k = await exact.score(small, { ...opts, seed: 7, samples: 4 });
    for (let i = 0; i < 4; i++) expect(k.samples![i]!.tokens).toEqual((await exact.score(small, { ...opts, seed: 7 + i })).tokens);
    // Greedy chains are all the same, and the same as alone, with flash attention too.
    const greedy = await scorer.score(small, { ...opts, temperature: 0, samples: 3 });
    const alone = await scorer.score(small, { ...opts, temperature: 0 });
    for (const s of greedy.samples!) expect(s.tokens).toEqual(alone.tokens);
  });

  it("samples: 1 is the plain result, with no sample fields", async () => {
    const plain = await scorer.score(small, { ...FAST, seed: 3, maxTokens: 40 });
    const one = await scorer.score(small, { ...FAST, seed: 3, maxTokens: 40, samples: 1 });
    expect(one.tokens).toEqual(plain.tokens);
    expect(one.text).toBe(plain.text);
    expect(one.samples).toBeUndefined();
    expect(one.unanswered).toBeUndefined();
    expect(one.visualQuality).toEqual(plain.visualQuality);
    expect("mean" in one.visualQuality).toBe(false);
  });

  it("encodes and prefills the prompt once: only the samples' own tokens are added", async () => {
    const phases = (r: { encode: number; prefill: number }) => r;
    const count = async (samples: number) => {
      const seen = { encode: 0, prefill: 0 };
      const r = await scorer.score(small, { ...FAST, seed: 1, samples, onProgress: (p) => (p.phase === "encode" || p.phase === "prefill") && seen[p.phase]++ });
      return { r, seen: phases(seen) };
    };
    const one = await count(1);
    const four = await count(4);
    expect(four.seen).toEqual(one.seen);
    const { promptTokens } = one.r.timings;
    expect(four.r.timings.promptTokens).toBe(promptTokens);
    // Each sample decodes its generated tokens but the last (nothing follows it).
    const own = (r: ScoreResult) => (r.samples ?? [r]).reduce((a, s) => a + s.tokens.length - (s.stopReason === "max_tokens" ? 1 : 0), 0);
    expect(one.r.timings.decodedTokens).toBe(promptTokens + own(one.r));
    expect(four.r.timings.decodedTokens).toBe(promptTokens + own(four.r));
    expect(four.r.timings.generatedTokens).toBe(four.r.samples!.reduce((a, s) => a + s.tokens.length, 0));
  });

  it("aggregates each dimension: mean and std of the soft scores, the majority and its agreement", async () => {
    const r = await scorer.score(small, { ...FAST, maxTokens: 300, seed: 21, samples: 5, constrain: { maxThinkingTokens: 20 } });
    expect(r.unanswered).toBe(0);
    for (const dim of DIMS) {
      const d = r[dim];
      const softs = r.samples!.map((s) => s[dim].soft!);
      const mean = softs.reduce((a, b) => a + b, 0) / 5;
      expect(d.mean).toBeCloseTo(mean, 12);
      expect(d.std).toBeCloseTo(Math.sqrt(softs.reduce((a, b) => a + (b - mean) ** 2, 0) / 5), 12);
      const scores = r.samples!.map((s) => s[dim].score!);
      const top = Math.max(...[1, 2, 3, 4, 5].map((v) => scores.filter((x) => x === v).length));
      expect(scores.filter((x) => x === d.majority).length).toBe(top);
      expect(d.agreement).toBe(top / 5);
      expect(d.answered).toBe(5);
      // The per-sample values stay sample 0's at the top level.
      expect(d.score).toBe(r.samples![0]![dim].score);
      expect(d.probs).toEqual(r.samples![0]![dim].probs);
    }
  });

  it("counts samples that end without an answer instead of dropping them", async () => {
    // Random weights never write the answer unaided in 24 tokens.
    const r = await scorer.score(small, { ...FAST, seed: 2, samples: 3 });
    expect(r.unanswered).toBe(3);
    for (const dim of DIMS) expect(r[dim]).toMatchObject({ mean: null, std: null, majority: null, agreement: 0, answered: 0 });
    expect(r.samples!.every((s) => s.stopReason === "max_tokens")).toBe(true);
  });

  it("streams each sample's tokens with its index", async () => {
    const streamed = ["", "", ""];
    const r = await scorer.score(small, { ...FAST, seed: 4, samples: 3, onToken: (t, _i, k) => (streamed[k] += t) });
    expect(streamed).toEqual(r.samples!.map((s) => s.text));
  });

  it("refuses samples in direct mode, out of range, or beyond the context", async () => {
    await expect(scorer.score(small, { ...FAST, mode: "direct", samples: 2 })).rejects.toMatchObject({ code: "ERR_INVALID_OPTION", message: expect.stringContaining("direct mode") });
    for (const samples of [0, 65, 1.5, "2"]) await expect(scorer.score(small, { ...FAST, samples: samples as number })).rejects.toMatchObject({ code: "ERR_INVALID_OPTION" });
    await expect(scorer.score(small, { ...FAST, maxTokens: 2000, samples: 4 })).rejects.toMatchObject({ code: "ERR_CONTEXT_FULL", message: expect.stringContaining("4 samples") });
    expect((await scorer.score(small, { ...FAST, mode: "direct", samples: 1 })).mode).toBe("direct");
  });
});

describe("encode once, ask many", () => {
  it("a score of an EncodedVideo equals a score of the file, for any prompt, template and samples", async () => {
    const encoded = await scorer.encode(small);
    expect(encoded).toBeInstanceOf(EncodedVideo);
    expect(encoded.bytes).toBeGreaterThan(0);
    expect(encoded.frames).toMatchObject({ count: 4, width: 336, height: 336 });
    const cases = [
      { prompt: "a red square moving", seed: 3, maxTokens: 30 },
      { prompt: "a cat on a sofa", seed: 4, maxTokens: 30, template: "benchmark" as const },
      { prompt: "x", seed: 5, maxTokens: 200, constrain: { maxThinkingTokens: 20 }, samples: 2 },
      { prompt: "y", mode: "direct" as const },
    ];
    for (const c of cases) {
      const fromFile = await scorer.score(small, c);
      const phases = new Set<string>();
      const fromEncoded = await scorer.score(encoded, { ...c, onProgress: (p) => phases.add(p.phase) });
      expect(fromEncoded.tokens).toEqual(fromFile.tokens);
      expect(fromEncoded.text).toBe(fromFile.text);
      expect(fromEncoded.samples?.map((s) => s.tokens)).toEqual(fromFile.samples?.map((s) => s.tokens));
      for (const dim of DIMS) expect(fromEncoded[dim]).toEqual(fromFile[dim]);
      expect(fromEncoded.frames).toEqual(fromFile.frames);
      // Nothing of the video is computed again: no encode, and only the prompt's text after the video is decoded.
      expect(phases.has("encode")).toBe(false);
      expect(fromEncoded.timings.promptTokens).toBe(fromFile.timings.promptTokens);
      expect(fromEncoded.timings.decodedTokens).toBe(fromFile.timings.decodedTokens - encoded.tokens);
      expect(fromEncoded.timings.encodeMs).toBe(0);
    }
    encoded.dispose();
    expect(encoded.bytes).toBe(0);
    await expect(scorer.score(encoded, FAST)).rejects.toMatchObject({ code: "ERR_DISPOSED" });
  });

  it("belongs to its scorer, and goes with it", async () => {
    const other = await VideoScorer.load({ ...(await tinyModels()), contextSize: 4096, threads: 2 });
    const encoded = await other.encode(small, { nframes: 2 });
    await expect(scorer.score(encoded, FAST)).rejects.toMatchObject({ code: "ERR_INVALID_OPTION" });
    expect((await other.score(encoded, FAST)).frames.count).toBe(2);
    await other.dispose();
    expect(encoded.disposed).toBe(true);
    await expect(other.score(encoded, FAST)).rejects.toMatchObject({ code: "ERR_DISPOSED" });
  });
});

describe("constrain: the answer always fits, as the model's tokenizer writes it", () => {
  let bytes: VideoScorer;
  beforeAll(async () => {
    bytes = await VideoScorer.load({ ...(await byteVocabModels()), contextSize: 8192, threads: 2 });
  });
  afterAll(async () => {
    await bytes?.dispose();
  });

  it("with a byte-per-token vocabulary, constrain: true answers all three lines within maxTokens", async () => {
    // Found as a new user would: with 96 tokens reserved, this ended at max_tokens inside the third line.
    for (const seed of [1, 2]) {
      const r = await bytes.score(small, { prompt: "a red square moving", maxTokens: 512, seed, constrain: true });
      expect(r.stopReason).toBe("eos");
      expect(r.tokens.length).toBeLessThanOrEqual(512);
      expect(r.text).toMatch(/<\/think>\n\n\(1\) visual quality: [1-5]\n\(2\) text-to-video alignment: [1-5]\n\(3\) physical\/common-sense consistency: [1-5]\n?$/);
      for (const dim of DIMS) expect(r[dim].score).not.toBeNull();
      expect(r.physicalConsistency.soft).not.toBeNull();
    }
  });

  it("caps a thinking budget that leaves no room for the answer, and refuses a maxTokens below the answer", async () => {
    const r = await bytes.score(small, { prompt: "x", maxTokens: 200, seed: 5, constrain: { maxThinkingTokens: 200 } });
    expect(r.stopReason).toBe("eos");
    for (const dim of DIMS) expect(r[dim].score).not.toBeNull();
    await expect(bytes.score(small, { prompt: "x", maxTokens: 90, constrain: true })).rejects.toMatchObject({ code: "ERR_INVALID_OPTION", message: expect.stringContaining("maxTokens") });
  });

  it("every sample of a constrained samples: k call answers", async () => {
    const r = await bytes.score(small, { prompt: "x", maxTokens: 160, seed: 9, samples: 3, constrain: true });
    expect(r.unanswered).toBe(0);
    expect(r.samples!.every((s) => s.stopReason === "eos")).toBe(true);
  });
});
