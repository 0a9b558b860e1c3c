// Reliability: hostile inputs and model files, many concurrent calls, worker threads, exit with work
// in flight. Every failure must be a typed error, the process must stay up, the next call must work.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../src/binding.js";
import { VideoScoreError, VideoScorer, sampleFrames, versions } from "../src/index.js";
import { writeQwen25VLModels } from "../src/gguf/tiny-model.js";
import { FIXTURE_DIR, tinyModels } from "./fixtures/models.js";

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
  clipA = await make("a.mp4", ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=8", "-frames:v", "16", "-pix_fmt", "yuv420p"]);
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
  it("a container with a thousand streams is handled in bounded time, and the scorer keeps working", async () => {
    // 999 audio streams + 1 video (libav's default cap is 1000 streams; the ffmpeg CLI cannot write more).
    const maps: string[] = [];
    for (let i = 0; i < 999; i++) maps.push("-map", "1:a");
    const many = await make("many-streams.mkv", [
      "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=4", "-f", "lavfi", "-i", "sine=d=0.25:sample_rate=8000",
      "-t", "2", "-map", "0:v", ...maps, "-c:v", "mpeg4", "-c:a", "pcm_u8",
    ]);
    const t0 = performance.now();
    const r = await scorer.score(many, FAST).catch((e: unknown) => e);
    expect(performance.now() - t0).toBeLessThan(30_000);
    if (r instanceof VideoScoreError) expect(["ERR_DECODE", "ERR_VIDEO_LIMITS"]).toContain(r.code);
    else expect((r as { frames: { count: number } }).frames.count).toBe(4);
    expect((await scorer.score(clipA, FAST)).tokens.length).toBeGreaterThan(0);
  });

  it("absurd frame-rate metadata either plans sanely or fails typed", async () => {
    // 16 frames stamped one hour apart: a video of 15 hours at 1/3600 fps.
    const slow = await make("absurd-fps.mp4", ["-i", clipA, "-c", "copy", "-bsf:v", "setts=ts=N*3600*90000", "-video_track_timescale", "90000"]);
    const r = await sampleFrames(slow).catch((e: unknown) => e);
    if (r instanceof VideoScoreError) expect(["ERR_DECODE", "ERR_VIDEO_LIMITS", "ERR_VIDEO_TOO_SHORT"]).toContain(r.code);
    else {
      const s = r as Awaited<ReturnType<typeof sampleFrames>>;
      expect(s.totalFrames).toBe(16);
      expect(s.frames.length).toBeGreaterThanOrEqual(4);
    }
    expect((await sampleFrames(clipA)).frames.length).toBe(4);
  });

  it("8K frames are refused by the default pixel limit, accepted when raised", async () => {
    const big = await make("8k.mp4", ["-f", "lavfi", "-i", "color=c=blue:s=7680x4320:r=2", "-frames:v", "2", "-c:v", "mpeg4", "-q:v", "31"]);
    const e = await expectCode(scorer.score(big, FAST), ["ERR_VIDEO_LIMITS"]);
    expect(e.message).toContain("maxPixelsPerFrame");
    const ok = await sampleFrames(big, { limits: { maxPixelsPerFrame: 7680 * 4320 * 2 } });
    expect(ok.frames.length).toBe(2);
  });

  it("aspect ratio beyond 200 is ERR_VIDEO_LIMITS", async () => {
    const thin = await make("thin.mp4", ["-f", "lavfi", "-i", "color=c=red:s=4032x16:r=4", "-frames:v", "4", "-c:v", "mpeg4"]);
    await expectCode(scorer.score(thin, FAST), ["ERR_VIDEO_LIMITS"]);
  });

  it("every bad input in a row, then a good one, on one scorer", async () => {
    const junk = join(dir, "junk.bin");
    writeFileSync(junk, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
    const empty = join(dir, "empty.mp4");
    writeFileSync(empty, "");
    const cases: [string | Buffer, string[]][] = [
      [join(dir, "missing.mp4"), ["ERR_INPUT_NOT_FOUND"]],
      [dir, ["ERR_INPUT_NOT_FOUND"]],
      [empty, ["ERR_INPUT_UNREADABLE"]],
      [junk, ["ERR_DECODE"]],
      [readFileSync(junk), ["ERR_DECODE"]],
      [readFileSync(clipA).subarray(0, 1500), ["ERR_DECODE"]],
    ];
    for (const [input, codes] of cases) await expectCode(scorer.score(input, FAST), codes);
    expect((await scorer.score(clipA, FAST)).tokens.length).toBeGreaterThan(0);
  });
});

describe("hostile model files", () => {
  it("a truncated GGUF and a projector of another size are typed errors", async () => {
    const truncated = join(dir, "truncated.gguf");
    writeFileSync(truncated, readFileSync(models.model).subarray(0, 200_000));
    await expectCode(VideoScorer.load({ model: truncated, mmproj: models.mmproj }), ["ERR_MODEL_LOAD"]);
    const wide = await writeQwen25VLModels({ dir: join(dir, "wide"), name: "wide", seed: 2, text: { nEmbd: 96, nHead: 6, nFf: 192 }, vision: { projectionDim: 96 } });
    const e = await expectCode(VideoScorer.load({ model: wide.model, mmproj: models.mmproj }), ["ERR_MODEL_MISMATCH"]);
    expect(e.message).toMatch(/64.*96|96.*64/);
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
        const model = await addon.loadModel({ model: workerData.model, mmproj: workerData.mmproj, contextSize: 2048, threads: 1 });
        const video = await addon.openVideo(workerData.video);
        const info = video.info;
        const d = await video.decode([0, 5, 10, 15], 336, 252);
        video.close();
        const flag = new Int32Array(new SharedArrayBuffer(4));
        const out = await model.generate("<|im_start|>user\\n<|vision_start|>", "<|vision_end|>hi<|im_end|>\\n<|im_start|>assistant\\n",
          d.frames.map((f) => f.rgb), 336, 252, { temperature: 0.7, topK: 50, topP: 1, seed: workerData.seed, maxTokens: 16 }, flag);
        model.dispose();
        parentPort.postMessage({ ids: Array.from(out.tokenIds), frames: info.totalFrames });
      })().catch((e) => parentPort.postMessage({ error: String(e) }));`;
    const runWorker = (seed: number) =>
      new Promise<{ ids: number[]; error?: string }>((resolve, reject) => {
        const w = new Worker(workerCode, { eval: true, workerData: { binary, ...models, video: clipA, seed } });
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

