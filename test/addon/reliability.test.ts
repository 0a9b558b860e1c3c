// Reliability: hostile inputs and model files, many concurrent calls, worker threads, exit with work
// in flight. Every failure must be a typed error, the process must stay up, the next call must work.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/addon/loader.js";
import { nativeSampling } from "../../src/scorer/options.js";
import { openOptions } from "../../src/video/limits.js";
import { VideoScoreError, VideoScorer, sampleFrames, versions } from "../../src/index.js";
import { absurdFpsVideo, eightKVideo, hostileModels, hostileVideos, manyStreamsVideo, smallClip } from "../fixtures/hostile.js";
import { FIXTURE_DIR, tinyModels } from "../fixtures/models.js";

const run = promisify(execFile);
const dir = join(FIXTURE_DIR, "reliability");
const FAST = { prompt: "a ball", maxTokens: 12 };

async function make(name: string, args: string[]): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const out = join(dir, name);
  if (!existsSync(out)) {
    const tmp = join(dir, `tmp-${name}`);
    await run("ffmpeg", ["-loglevel", "error", "-y", ...args, tmp], { maxBuffer: 1 << 24 });
    renameSync(tmp, out);
  }
  return out;
}

let models: { model: string; mmproj: string };
let scorer: VideoScorer;
let clipA: string;
let clipB: string;

beforeAll(async () => {
  models = await tinyModels();
  clipA = await smallClip(dir);
  clipB = await make("b.mp4", ["-f", "lavfi", "-i", "mandelbrot=size=200x150:rate=6", "-frames:v", "18", "-pix_fmt", "yuv420p"]);
  scorer = await VideoScorer.load({ ...models, contextSize: 4096 });
});
afterAll(async () => {
  await scorer?.dispose();
});

async function expectCode(p: Promise<unknown>, codes: string[]): Promise<VideoScoreError> {
  const t0 = performance.now();
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e, "expected a rejection").toBeInstanceOf(VideoScoreError);
  expect(codes).toContain((e as VideoScoreError).code);
  expect(performance.now() - t0).toBeLessThan(30_000);
  return e as VideoScoreError;
}

describe("hostile videos", () => {
  it("every hostile video gets a typed error (or is scored), in bounded time, and the next call on the scorer works", async () => {
    for (const c of await hostileVideos(dir)) {
      const t0 = performance.now();
      const r = await scorer.score(c.input, FAST).catch((e: unknown) => e);
      expect(performance.now() - t0, c.name).toBeLessThan(30_000);
      if (r instanceof VideoScoreError) {
        expect(c.codes, `${c.name}: ${r.message}`).toContain(r.code);
        expect(r.message.length, c.name).toBeGreaterThan(10);
      } else {
        expect(r, `${c.name} was scored`).toHaveProperty("tokens");
        expect(c.codes, `${c.name} was scored`).toContain(null);
      }
      expect((await scorer.score(clipA, FAST)).tokens.length, `after ${c.name}`).toBeGreaterThan(0);
    }
  });

  it("a container with a thousand streams is read in bounded time: its one video stream is scored", async () => {
    const r = await scorer.score(await manyStreamsVideo(dir), FAST);
    expect(r.frames.count).toBe(4);
  });

  it("absurd frame-rate metadata plans sanely", async () => {
    const s = await sampleFrames(await absurdFpsVideo(dir));
    expect(s.totalFrames).toBe(16);
    expect(s.frames.length).toBeGreaterThanOrEqual(4);
  });

  it("8K frames are refused by the default pixel limit, accepted when raised", async () => {
    const big = await eightKVideo(dir);
    const e = await expectCode(scorer.score(big, FAST), ["ERR_VIDEO_LIMITS"]);
    expect(e.message).toContain("maxPixelsPerFrame");
    const ok = await sampleFrames(big, { limits: { maxPixelsPerFrame: 7680 * 4320 * 2 } });
    expect(ok.frames.length).toBe(2);
  });

  it("a cut-off Buffer is ERR_DECODE", async () => {
    await expectCode(scorer.score(readFileSync(clipA).subarray(0, 1500), FAST), ["ERR_DECODE"]);
  });
});

describe("hostile model files", () => {
  it("each is a typed error naming the problem, and a good pair still loads after them", async () => {
    for (const c of await hostileModels(join(dir, "models"), models)) {
      const e = await expectCode(VideoScorer.load({ model: c.model, mmproj: c.mmproj }), c.codes);
      expect(e.message.length, c.name).toBeGreaterThan(10);
      if (c.name.includes("projection size")) expect(e.message).toMatch(/64.*96|96.*64/);
    }
    const again = await VideoScorer.load({ ...models, contextSize: 4096 });
    expect((await again.score(clipA, FAST)).tokens.length).toBeGreaterThan(0);
    await again.dispose();
  });
});

describe("concurrency and lifecycle", () => {
  it("16 concurrent score() calls all settle with the right result for the right input", async () => {
    const jobs = Array.from({ length: 16 }, (_, i) => ({ video: i % 2 ? clipA : clipB, seed: i }));
    const results = await Promise.all(jobs.map((j) => scorer.score(j.video, { ...FAST, seed: j.seed })));
    for (const [i, j] of jobs.entries()) {
      const alone = await scorer.score(j.video, { ...FAST, seed: j.seed });
      expect(results[i]!.tokens).toEqual(alone.tokens);
      expect(results[i]!.frames.width).toBe(alone.frames.width);
    }
  });

  it("two models in two worker threads generate at the same time, each as on the main thread", async () => {
    const binary = versions("cpu").binary;
    const workerCode = `
      const { parentPort, workerData } = require("node:worker_threads");
      const addon = require(workerData.binary);
      (async () => {
        const model = await addon.loadModel({ model: workerData.model, mmproj: workerData.mmproj, gpuLayers: 0, threads: 1,
          contextSize: 2048, batchSize: 2048, flashAttention: false, flashAttentionVision: false, parallel: 1, samplesPerCall: 1, device: "" });
        const video = await addon.openVideo(workerData.open);
        const info = video.info;
        const d = await video.decode({ indices: [0, 5, 10, 15], width: 336, height: 252 });
        video.close();
        const flag = new Int32Array(new SharedArrayBuffer(4));
        const out = await model.generate({ beforeVideo: "<|im_start|>user\\n<|vision_start|>", afterVideo: "<|vision_end|>", userText: "hi", afterText: "<|im_end|>\\n<|im_start|>assistant\\n",
          video: { frames: d.frames.map((f) => f.rgb), width: 336, height: 252 }, sampling: { ...workerData.sampling, seed: workerData.seed, maxTokens: 16 } }, flag);
        model.dispose();
        parentPort.postMessage({ ids: Array.from(out.tokenIds), frames: info.totalFrames });
      })().catch((e) => parentPort.postMessage({ error: String(e) }));`;
    const runWorker = (seed: number) =>
      new Promise<{ ids: number[]; error?: string }>((resolve, reject) => {
        const w = new Worker(workerCode, { eval: true, workerData: { binary, ...models, open: openOptions(clipA), sampling: nativeSampling(), seed } });
        w.once("message", (m) => {
          resolve(m);
          void w.terminate();
        });
        w.once("error", reject);
      });
    const [a, b] = await Promise.all([runWorker(1), runWorker(2)]);
    expect(a.error).toBeUndefined();
    expect(b.error).toBeUndefined();
    const [a2] = await Promise.all([runWorker(1)]);
    expect(a2.ids).toEqual(a.ids);
    expect(a.ids).not.toEqual(b.ids);
  });

  it("abort at every phase (sampling, encoding, prefill, generation) rejects promptly and the scorer keeps working", async () => {
    // Phases made long enough for the abort to land inside them: 16 frames (8 vision encodes of
    // 280×280 pairs), a ~1700-token prompt prefilled 32 tokens per llama_decode, 2000 tokens to generate.
    const slow = await VideoScorer.load({ ...models, contextSize: 12288, batchSize: 32 });
    try {
      const long = await make("long.mp4", ["-f", "lavfi", "-i", "testsrc2=size=280x280:rate=8", "-frames:v", "16", "-pix_fmt", "yuv420p"]);
      const opts = { prompt: "a red ball rolls ".repeat(100), nframes: 16, maxTokens: 2000, seed: 1 };
      const order = ["sample", "encode", "prefill", "generate"] as const;
      for (const phase of order) {
        const ac = new AbortController();
        const seen: string[] = [];
        let abortedAt = 0;
        const p = slow.score(long, {
          ...opts,
          signal: ac.signal,
          onProgress: (e) => {
            seen.push(`${e.phase}:${e.done}/${e.total}`);
            if (abortedAt === 0 && e.phase === phase && (phase !== "generate" || e.done >= 3)) {
              abortedAt = performance.now();
              ac.abort();
            }
          },
        });
        const e = await expectCode(p, ["ERR_ABORTED"]);
        expect(abortedAt, `${phase}: the phase was reached (${seen.join(" ")})`).toBeGreaterThan(0);
        expect(performance.now() - abortedAt, `${phase}: rejected promptly`).toBeLessThan(1500);
        expect(e.message.length).toBeGreaterThan(5);
        // Nothing of a later phase ran after the abort (progress events are delivered in order).
        const later = order.slice(order.indexOf(phase) + 1);
        expect(seen.filter((s) => later.some((l) => s.startsWith(l))), `${phase}: ${seen.join(" ")}`).toEqual([]);
        // The phase itself did not run to completion.
        if (phase !== "sample") expect(seen.some((s) => s.startsWith(phase) && /:(\d+)\/\1$/.test(s) && !s.endsWith(":0/0")), `${phase}: ${seen.join(" ")}`).toBe(false);
      }
      const ok = await slow.score(clipA, FAST);
      expect(ok.tokens.length).toBeGreaterThan(0);
    } finally {
      await slow.dispose();
    }
  }, 120_000);

  it("process exit with a score in flight neither hangs nor crashes", async () => {
    const script = join(dir, "exit-mid-score.mts");
    writeFileSync(
      script,
      `import { VideoScorer } from ${JSON.stringify(join(packageRoot(), "src", "index.ts"))};
       const s = await VideoScorer.load({ model: ${JSON.stringify(models.model)}, mmproj: ${JSON.stringify(models.mmproj)}, contextSize: 4096 });
       s.score(${JSON.stringify(clipA)}, { prompt: "x", maxTokens: 3000, onToken: (_t, i) => { if (i >= 3) process.exit(7); } });`,
    );
    const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: packageRoot(), stdio: "ignore" });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.once("exit", (c, signal) => {
        clearTimeout(timer);
        resolve(signal ? -1 : c);
      });
    });
    expect(code).toBe(7);
  });
});

