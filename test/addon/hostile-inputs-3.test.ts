// Hostile inputs, third battery (issue 31), the cases the engine answers: a prompt long enough to
// stall the event loop while it is tokenized, an FLV whose last packet is a keyframe, an MP3 whose
// only picture is its cover art, and an EncodedVideo disposed while a score of it is in flight.
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rejection } from "../fixtures/errors.js";
import { VideoScorer, sampleFrames } from "../../src/index.js";
import { FIXTURE_DIR, tinyModels } from "../fixtures/models.js";
import { countingSource, decodeFrameIndex, ensureFile, ffmpeg, makeVideoFixtures, x264 } from "../fixtures/videos.js";

const dir = join(FIXTURE_DIR, "hostile-3");
let scorer: VideoScorer;
let clip: string;
const FAST = { prompt: "a red square", maxTokens: 8 };

beforeAll(async () => {
  const models = await tinyModels();
  clip = (await makeVideoFixtures()).h264Gop30!;
  scorer = await VideoScorer.load({ ...models, contextSize: 4096, threads: 2 });
});

afterAll(async () => {
  await scorer?.dispose();
});

describe("a long prompt never stalls the event loop", () => {
  it("the model says how many bytes its longest token covers", () => {
    const { maxTokenBytes } = scorer.info;
    expect(Number.isInteger(maxTokenBytes)).toBe(true);
    // Qwen2's vocabulary has tokens of many repeated characters, and none of a kilobyte.
    expect(maxTokenBytes).toBeGreaterThan(8);
    expect(maxTokenBytes).toBeLessThan(1024);
  });

  it("a prompt longer than contextSize x the longest token is ERR_CONTEXT_FULL at once, naming the bound, and the next call works", async () => {
    const { contextSize, maxTokenBytes } = scorer.info;
    const prompt = "a".repeat(contextSize * maxTokenBytes + 1);
    const e = await rejection(scorer.score(clip, { ...FAST, prompt }));
    expect(e.code).toBe("ERR_CONTEXT_FULL");
    expect(e.message).toContain(`at most ${contextSize * maxTokenBytes} bytes`);
    const p = await rejection(scorer.prepare(clip, { prompt }));
    expect(p.code).toBe("ERR_CONTEXT_FULL");
    expect((await scorer.score(clip, FAST)).timings.generatedTokens).toBeGreaterThan(0);
  });

  it("a prompt under the bound but too long for the context is tokenized off the JS thread, then refused", async () => {
    // A large context, so that the bound (contextSize x the longest token) leaves room for a prompt
    // that takes a while to tokenize.
    const big = await VideoScorer.load({ ...(await tinyModels()), contextSize: 32768, threads: 2 });
    try {
      const bound = big.info.contextSize * big.info.maxTokenBytes;
      // Varied words, so that BPE merges do not shrink it to a few tokens.
      const parts: string[] = [];
      // Under the bound by more than the template's own text around the prompt.
      for (let i = 0, n = 0; n < bound - 4096; i++) n += parts[parts.push(`w${(i * 7919) % 100_003} `) - 1]!.length;
      const words = parts.join("");
      const delay = monitorEventLoopDelay({ resolution: 10 });
      delay.enable();
      const t0 = performance.now();
      const e = await rejection(big.score(clip, { ...FAST, prompt: words }));
      const took = performance.now() - t0;
      delay.disable();
      expect(e.code).toBe("ERR_CONTEXT_FULL");
      expect(e.message).toMatch(/prompt tokens/);
      // Tokenized on the JS thread, the loop would have stood still for nearly all of the call.
      expect(delay.max / 1e6).toBeLessThan(took / 4);
    } finally {
      await big.dispose();
    }
  });
});

describe("containers the second battery left over", () => {
  it("an FLV whose last packet is a keyframe gives every planned frame, with and without B-frames", async () => {
    for (const bf of [0, 2]) {
      const flv = await ensureFile(join(dir, `counting-gop8-bf${bf}.flv`), (tmp) =>
        ffmpeg([...countingSource(160, 120, 8, 48), ...x264(8, bf), "-f", "flv", tmp]),
      );
      const v = await sampleFrames(flv, { limits: { threads: 1 } });
      expect(v.totalFrames).toBe(48);
      expect(v.frames.map((f) => f.index)).toContain(47);
      for (const f of v.frames) expect(decodeFrameIndex(f.rgb, v.width, v.height).index).toBe(f.index);
      // The full decode of every frame agrees.
      const all = await sampleFrames(flv, { nframes: 48, limits: { threads: 1 } });
      expect(all.frames.map((f) => decodeFrameIndex(f.rgb, all.width, all.height).index)).toEqual(all.frames.map((f) => f.index));
    }
  });

  it("an MP3 whose only picture is cover art is ERR_NO_VIDEO_STREAM, whatever the picture's codec", async () => {
    const png = await ensureFile(join(dir, "cover.png"), (tmp) => ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=64x64", "-frames:v", "1", "-f", "image2", tmp]));
    for (const codec of ["png", "mjpeg"]) {
      const mp3 = await ensureFile(join(dir, `cover-${codec}.mp3`), (tmp) =>
        ffmpeg([
          "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-i", png, "-map", "0", "-map", "1",
          "-c:a", "libmp3lame", "-c:v", codec, "-disposition:v:0", "attached_pic", "-id3v2_version", "3", "-f", "mp3", tmp,
        ]),
      );
      const e = await rejection(sampleFrames(mp3));
      expect(e.code).toBe("ERR_NO_VIDEO_STREAM");
      expect(e.message).toMatch(/cover art/);
    }
  });
});

describe("EncodedVideo.dispose() with a score of it in flight", () => {
  it("the score called before dispose() finishes with the same result; the memory goes when it settles; later scores are ERR_DISPOSED", async () => {
    const encoded = await scorer.encode(clip);
    const before = await scorer.score(encoded, FAST);
    expect(encoded.bytes).toBeGreaterThan(0);
    const inFlight = scorer.score(encoded, FAST);
    encoded.dispose();
    expect(encoded.disposed).toBe(true);
    const later = await rejection(scorer.score(encoded, FAST));
    expect(later.code).toBe("ERR_DISPOSED");
    const r = await inFlight;
    expect(r.rationale).toBe(before.rationale);
    expect(r.visualQuality.probs).toEqual(before.visualQuality.probs);
    expect(encoded.bytes).toBe(0);
  });

  it("disposing the scorer still ends such a score, with ERR_DISPOSED", async () => {
    const models = await tinyModels();
    const own = await VideoScorer.load({ ...models, contextSize: 4096, threads: 2 });
    const encoded = await own.encode(clip);
    const inFlight = own.score(encoded, { ...FAST, maxTokens: 64 });
    encoded.dispose();
    await own.dispose();
    expect((await rejection(inFlight)).code).toBe("ERR_DISPOSED");
    expect(encoded.bytes).toBe(0);
  });
});
