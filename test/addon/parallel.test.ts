// parallel: concurrent score() calls on one scorer, their generation steps decoded together
// (issue 16, part 3; issue 29, part 2). Solo results are the reference, and no call may disturb another.
//
// With parallel > 1 every chain of thought has a KV stream of its own (contextSize / parallel cells),
// laid out from cell 0 as when it runs alone, and with flash attention off ggml's CPU kernels give a
// row of a batch the same floats whatever else is in the batch: batched calls equal their solo runs
// exactly, tokens and p(1..5), sampled as well as greedy.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VideoScorer, type ScoreOptions, type ScoreResult } from "../../src/index.js";
import { FIXTURE_DIR, tinyModels } from "../fixtures/models.js";
import { h264Clip } from "../fixtures/videos.js";
import { join } from "node:path";

const SOURCES = ["testsrc2", "smptebars", "mandelbrot", "rgbtestsrc"];
let clips: string[];
let models: { model: string; mmproj: string };
const EXACT = { contextSize: 8192, threads: 2, flashAttention: { text: false } } as const;
let solo: VideoScorer;
let par: VideoScorer;

const opts = (i: number, extra: Partial<ScoreOptions> = {}): ScoreOptions => ({
  prompt: `a moving pattern, take ${i}`,
  maxTokens: 40 + 10 * i,
  seed: 11 + i,
  temperature: 0,
  ...extra,
});
const digits = (r: ScoreResult) => [r.visualQuality, r.textAlignment, r.physicalConsistency].map((d) => d.probs ?? []);
/** The largest |p(d) batched - p(d) solo| over the answers' digits. */
function worstProbDiff(a: ScoreResult[], b: ScoreResult[]): number {
  let worst = 0;
  a.forEach((r, i) => digits(r).forEach((p, d) => p.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - digits(b[i]!)[d]![k]!))))));
  return worst;
}

beforeAll(async () => {
  models = await tinyModels();
  clips = await Promise.all(
    SOURCES.map((src, i) => h264Clip(join(FIXTURE_DIR, "parallel", `clip${i}.mp4`), ["-f", "lavfi", "-i", `${src}=size=224x224:rate=10`, "-frames:v", "20"])),
  );
  solo = await VideoScorer.load({ ...models, ...EXACT });
  par = await VideoScorer.load({ ...models, ...EXACT, parallel: 4 });
});

afterAll(async () => {
  await solo?.dispose();
  await par?.dispose();
});

async function soloRuns(o: (i: number) => ScoreOptions): Promise<ScoreResult[]> {
  const out: ScoreResult[] = [];
  for (let i = 0; i < clips.length; i++) out.push(await solo.score(clips[i]!, o(i)));
  return out;
}

describe("parallel: concurrent calls generate in the same batches", () => {
  it("each batched greedy call equals its solo run, with samples and a constrained answer read from batched steps", async () => {
    expect(par.info.parallel).toBe(4);
    // Long enough generations that each call is still generating when the last one arrives (the
    // calls reach the model a vision encode and a prefill apart): every call must share steps.
    // With samples, the solo run is the call alone on the same scorer: parallel: 1 keeps one unified
    // cache, where a call's samples share the prompt's cells and their tokens interleave. Two streams
    // per call, so that all four calls are in at once.
    await using paired = await VideoScorer.load({ ...models, ...EXACT, parallel: 4, samplesPerCall: 2 });
    const variants: [(i: number) => ScoreOptions, VideoScorer, VideoScorer][] = [
      [(i) => opts(i, { maxTokens: 200 + 10 * i }), par, solo],
      [(i) => opts(i, { samples: 1 + (i % 2), constrain: { maxThinkingTokens: 150 }, maxTokens: 240 }), paired, paired],
    ];
    for (const [o, batched, reference] of variants) {
      const alone: ScoreResult[] = [];
      for (let i = 0; i < clips.length; i++) alone.push(await reference.score(clips[i]!, o(i)));
      const together = await Promise.all(clips.map((c, i) => batched.score(c, o(i))));
      for (let i = 0; i < clips.length; i++) {
        expect(together[i]!.tokens).toEqual(alone[i]!.tokens);
        expect(together[i]!.samples?.map((s) => s.tokens)).toEqual(alone[i]!.samples?.map((s) => s.tokens));
        expect(alone[i]!.timings.sharedSteps).toBe(0);
      }
      // Batched steps happened (solo, never). The tiny model generates ~4k tokens/s, so how many
      // calls overlap depends on how far apart their prefills end; at least two always did.
      expect(together.filter((t) => t.timings.sharedSteps > 0).length).toBeGreaterThanOrEqual(2);
      // A constrained answer forces segments of several tokens into a batched step, which llama.cpp
      // splits into other ubatches than alone: p(1..5) may then move by one float32 ulp (1.5e-8 seen).
      expect(worstProbDiff(together, alone)).toBeLessThanOrEqual(reference === solo ? 0 : 6e-8);
    }
  });

  it("sampled think-mode calls, batched, equal their solo runs token for token (32 calls)", async () => {
    // Unified, 2 of 32 such calls parted from their solo run at token 18.
    for (let round = 0; round < 8; round++) {
      const o = (i: number) => opts(i, { temperature: 0.8, seed: 100 + 4 * round + i, maxTokens: 60 });
      const alone = await soloRuns(o);
      const together = await Promise.all(clips.map((c, i) => par.score(c, o(i))));
      for (let i = 0; i < clips.length; i++) expect(together[i]!.tokens).toEqual(alone[i]!.tokens);
      expect(worstProbDiff(together, alone)).toBe(0);
    }
  });

  it("direct mode, sampled: p(1..5) batched equal solo exactly without flash attention, within 1e-3 with it", async () => {
    // ggml's CPU flash attention takes another path for a batch than for one token.
    await using fa = await VideoScorer.load({ ...models, contextSize: 8192, threads: 2, parallel: 4 });
    await using faSolo = await VideoScorer.load({ ...models, contextSize: 8192, threads: 2 });
    const o = (i: number) => opts(i, { mode: "direct", temperature: 0.7 });
    for (const [s, p, exact] of [[solo, par, true], [faSolo, fa, false]] as const) {
      const alone: ScoreResult[] = [];
      for (let i = 0; i < clips.length; i++) alone.push(await s.score(clips[i]!, o(i)));
      const together = await Promise.all(clips.map((c, i) => p.score(c, o(i))));
      if (exact) expect(worstProbDiff(together, alone)).toBe(0);
      else expect(worstProbDiff(together, alone)).toBeLessThan(1e-3);
    }
  });

  it("parallel: 1 takes calls one at a time, never batched", async () => {
    const rs = await Promise.all(clips.map((c, i) => solo.score(c, opts(i, { maxTokens: 8 }))));
    for (const r of rs) expect(r.timings.sharedSteps).toBe(0);
  });

  it("aborting one of four batched calls leaves the other three unchanged", async () => {
    const alone = await soloRuns((i) => opts(i));
    const ctl = new AbortController();
    let seen = 0;
    const settled = await Promise.allSettled(
      clips.map((c, i) =>
        par.score(c, { ...opts(i), ...(i === 1 ? { signal: ctl.signal, onToken: () => void (++seen === 5 && ctl.abort()) } : {}) }),
      ),
    );
    expect(settled[1]).toMatchObject({ status: "rejected", reason: { code: "ERR_ABORTED" } });
    for (const i of [0, 2, 3]) {
      expect(settled[i]!.status).toBe("fulfilled");
      expect((settled[i] as PromiseFulfilledResult<ScoreResult>).value.tokens).toEqual(alone[i]!.tokens);
    }
    // And the scorer goes on.
    expect((await par.score(clips[1]!, opts(1))).tokens).toEqual(alone[1]!.tokens);
  });

  it("a call that fails after its prefill does not disturb the batched others", async () => {
    const alone = await soloRuns((i) => opts(i));
    // constrain with too small a maxTokens is refused in the generation loop, once the prompt is in.
    const settled = await Promise.allSettled(clips.map((c, i) => par.score(c, i === 2 ? opts(i, { constrain: true, maxTokens: 5 }) : opts(i))));
    expect(settled[2]).toMatchObject({ status: "rejected", reason: { code: "ERR_INVALID_OPTION" } });
    for (const i of [0, 1, 3]) expect((settled[i] as PromiseFulfilledResult<ScoreResult>).value.tokens).toEqual(alone[i]!.tokens);
  });

  it("samples take a stream each: calls wait for free streams, and each equals its run alone", async () => {
    await using two = await VideoScorer.load({ ...models, ...EXACT, parallel: 2, samplesPerCall: 2 });
    expect(two.info.streams).toBe(4);
    expect(two.info.streamCells).toBe(two.info.contextSize / 4);
    // Three calls of three samples: one at a time fits (3 of 4 streams), two do not.
    const o = (i: number) => opts(i, { samples: 3, temperature: 0.7, maxTokens: 40 });
    const together = await Promise.all([0, 1, 2].map((i) => two.score(clips[i]!, o(i))));
    for (let i = 0; i < 3; i++) {
      expect(together[i]!.timings.sharedSteps).toBe(0);
      const alone = await two.score(clips[i]!, o(i));
      expect(together[i]!.samples?.map((s) => s.tokens)).toEqual(alone.samples?.map((s) => s.tokens));
    }
  });

  it("a call larger than one stream is ERR_CONTEXT_FULL at once, and more samples than streams ERR_INVALID_OPTION", async () => {
    const base = opts(0, { nframes: 2 });
    const prompt = (await solo.prepare(clips[0]!, base)).tokens.length;
    await using tight = await VideoScorer.load({ ...models, ...EXACT, contextSize: 3 * 512, parallel: 3 });
    expect(tight.info.streamCells).toBe(512);
    await expect(tight.score(clips[0]!, { ...base, maxTokens: 512 - prompt + 1 })).rejects.toMatchObject({
      code: "ERR_CONTEXT_FULL",
      message: expect.stringContaining("cells of a KV stream"),
    });
    await expect(tight.score(clips[0]!, { ...base, samples: 4 })).rejects.toMatchObject({ code: "ERR_INVALID_OPTION", message: expect.stringContaining("samplesPerCall >= samples") });
    expect((await tight.score(clips[0]!, { ...base, maxTokens: 512 - prompt - 8 })).tokens.length).toBeGreaterThan(0);
  });

  it("prompts on one EncodedVideo, batched, equal the same prompts on the file", async () => {
    using encoded = await par.encode(clips[3]!);
    // Long generations, as above: a call's prefill here is its prompt's text alone, and at ~4k
    // tokens/s a short call can be done before the next one is in.
    const o = (i: number) => opts(i, { prompt: ["a fox", "a city at night", "a red ball", "waves"][i]!, maxTokens: 200 + 10 * i });
    const together = await Promise.all([0, 1, 2, 3].map((i) => par.score(encoded, o(i))));
    for (let i = 0; i < 4; i++) expect(together[i]!.tokens).toEqual((await solo.score(clips[3]!, o(i))).tokens);
    expect(together.filter((t) => t.timings.sharedSteps > 0).length).toBeGreaterThanOrEqual(2);
  });

  it("dispose with batched calls running rejects each with ERR_DISPOSED, and a new scorer works", async () => {
    const s = await VideoScorer.load({ ...models, ...EXACT, parallel: 4 });
    let tokens = 0;
    let disposed: Promise<void> | undefined;
    const calls = clips.map((c, i) => s.score(c, { ...opts(i, { maxTokens: 400 }), onToken: () => void (++tokens === 20 && (disposed = s.dispose())) }));
    const settled = await Promise.allSettled(calls);
    await disposed;
    for (const r of settled) expect(r).toMatchObject({ status: "rejected", reason: { code: "ERR_DISPOSED" } });
    await using again = await VideoScorer.load({ ...models, ...EXACT, parallel: 4 });
    const r = await again.score(clips[0]!, opts(0));
    expect(r.tokens).toEqual((await solo.score(clips[0]!, opts(0))).tokens);
  });

  it("refuses a parallel outside [1, 64]", async () => {
    for (const parallel of [0, 65, 1.5, "2"])
      await expect(VideoScorer.load({ ...models, parallel } as never)).rejects.toMatchObject({ code: "ERR_INVALID_OPTION" });
  });
});
