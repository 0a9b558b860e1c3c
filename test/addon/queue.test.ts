// Scoring on a BullMQ queue with the real parts: a redis-server started here (127.0.0.1, a free
// port, AOF on), BullMQ itself, `videoscore2 worker` processes on the generated tiny model, clips made
// by the ffmpeg CLI. The producer is this process (the library) or the CLI. Every queued result is
// compared with the same score done in-process (same seed, same load options), timings aside.
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Job, Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectScores, enqueueScores, type CollectedScore, type ScoreJobInput } from "../../src/queue/producer.js";
import type { QueueScoreOptions } from "../../src/queue/job.js";
import type { ScoreResult } from "../../src/scorer/result.js";
import { VideoScorer } from "../../src/scorer/scorer.js";
import { FIXTURE_DIR, tinyModels } from "../fixtures/models.js";
import { startRedis, type TestRedis } from "../fixtures/redis.js";
import { ffmpeg } from "../fixtures/videos.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = join(FIXTURE_DIR, "queue");
/** Long enough a job (about 0.3 s on the tiny model) to be killed in the middle of it. */
const OPTIONS: QueueScoreOptions = { seed: 3, maxTokens: 500, constrain: { maxThinkingTokens: 400 } };
const LOAD = { threads: 1, contextSize: 4096 };
const LOCK_MS = 2000;
const QUEUE = "vs2-test";

let redis: TestRedis;
let models: { model: string; mmproj: string };
let clips: string[] = [];
let bad: string;
let reference: VideoScorer;
const refs = new Map<string, ScoreResult>();

/** Everything of a result but its timings (which differ run to run). */
function comparable(r: ScoreResult): Omit<ScoreResult, "timings"> {
  const { timings: _t, ...rest } = r;
  return rest;
}

async function referenceOf(video: string, prompt: string): Promise<Omit<ScoreResult, "timings">> {
  const key = `${video}\n${prompt}`;
  if (!refs.has(key)) refs.set(key, await reference.score(video, { ...OPTIONS, prompt }));
  return comparable(refs.get(key)!);
}

interface WorkerProc {
  child: ChildProcess;
  name: string;
  log: string[];
  /** Resolves with the first log line matching. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startWorker(queue = QUEUE, extra: string[] = []): Promise<WorkerProc> {
  const child = spawn(
    process.execPath,
    [
      "--import", "tsx", "src/cli/main.ts", "worker", "--redis", redis.url, "--queue", queue, "--model", models.model, "--mmproj", models.mmproj,
      "--threads", String(LOAD.threads), "--context-size", String(LOAD.contextSize), "--allow-root", dir, "--lock-duration", String(LOCK_MS), ...extra,
    ],
    { cwd: ROOT, env: { ...process.env, VIDEOSCORE2_MODEL: "", VIDEOSCORE2_MMPROJ: "" }, stdio: ["ignore", "ignore", "pipe"] },
  );
  const log: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let partial = "";
  child.stderr!.on("data", (d: Buffer) => {
    partial += d.toString();
    const lines = partial.split("\n");
    partial = lines.pop()!;
    for (const l of lines) {
      log.push(l);
      for (const w of [...waiters]) if (w.re.test(l)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(l));
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const waitFor = (re: RegExp, timeoutMs = 30_000) =>
    new Promise<string>((resolve, reject) => {
      const seen = log.find((l) => re.test(l));
      if (seen) return resolve(seen);
      const t = setTimeout(() => reject(new Error(`worker ${child.pid}: no line matching ${re} within ${timeoutMs} ms:\n${log.join("\n")}`)), timeoutMs);
      waiters.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) });
      void exited.then(() => setTimeout(() => reject(new Error(`worker ${child.pid} exited waiting for ${re}:\n${log.join("\n")}`)), 50));
    });
  const w: WorkerProc = { child, name: "", log, waitFor, exited };
  return waitFor(/^ready: worker /).then((l) => {
    w.name = /^ready: worker (\S+)/.exec(l)![1]!;
    return w;
  });
}

const workers: WorkerProc[] = [];
async function worker(queue?: string): Promise<WorkerProc> {
  const w = await startWorker(queue);
  workers.push(w);
  return w;
}

function items(prompt: string, videos = clips): ScoreJobInput[] {
  return videos.map((video, i) => ({ video, prompt: `${prompt} ${i}`, options: OPTIONS }));
}

/** Enqueues and collects; checks that each input came back exactly once. */
async function scoreOnQueue(input: ScoreJobInput[], queue = QUEUE, onResult?: (r: CollectedScore) => void) {
  const enq = await enqueueScores(input, { connection: redis.url, queue });
  const seen: number[] = [];
  const out = await collectScores(enq, { connection: redis.url, queue, pollMs: 250, onResult: (r) => (seen.push(r.index), onResult?.(r)) });
  expect(seen.sort((a, b) => a - b)).toEqual(input.map((_, i) => i));
  return { enq, out: out as CollectedScore[] };
}

async function expectReference(out: CollectedScore[]) {
  for (const r of out) {
    if (!r.ok) throw new Error(`${r.video}: ${r.error.code}: ${r.error.message}`);
    expect(comparable(r.result), r.video).toEqual(await referenceOf(r.video, r.prompt));
  }
}

beforeAll(async () => {
  redis = await startRedis();
  models = await tinyModels();
  mkdirSync(dir, { recursive: true });
  // 12 different clips: sizes and lengths vary, so do the frame plans.
  for (let i = 0; i < 12; i++) {
    const out = join(dir, `clip-${i}.mp4`);
    if (!existsSync(out)) {
      const w = 160 + 16 * i;
      await ffmpeg(["-f", "lavfi", "-i", `testsrc2=size=${w}x${(w * 3) >> 2}:rate=10`, "-frames:v", String(10 + i), "-c:v", "libx264", "-pix_fmt", "yuv420p", out]);
    }
    clips.push(out);
  }
  bad = join(dir, "not-a-video.mp4");
  writeFileSync(bad, "this is not a video\n");
  reference = await VideoScorer.load({ model: models.model, mmproj: models.mmproj, ...LOAD });
  await Promise.all([worker(), worker()]);
});

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
  await Promise.all(workers.map((w) => w.exited));
  await reference?.dispose();
  await redis?.dispose();
});

describe("queue scoring", () => {
  it("two workers and one producer score 12 clips: every result equals the in-process score", async () => {
    const t0 = performance.now();
    const { enq, out } = await scoreOnQueue(items("two workers"));
    const ms = performance.now() - t0;
    expect(enq).toMatchObject({ added: 12, existing: 0 });
    await expectReference(out);
    // Both workers took jobs.
    expect(new Set(out.map((r) => r.processedBy)).size).toBe(2);
    console.log(`12 jobs, 2 workers: ${ms.toFixed(0)} ms (${((12 / ms) * 60_000).toFixed(0)} jobs/min)`);
  });

  it("a rerun of the producer collects what finished instead of enqueueing again", async () => {
    const queue = new Queue(QUEUE, { connection: { url: redis.url } as never });
    const before = await queue.getJobCounts();
    const t0 = performance.now();
    const { enq, out } = await scoreOnQueue(items("two workers"));
    expect(enq).toMatchObject({ added: 0, existing: 12 });
    await expectReference(out);
    expect(await queue.getJobCounts()).toEqual(before);
    expect(performance.now() - t0).toBeLessThan(3000);
    await queue.close();
  });

  it("a bad input fails with its code, is not retried, and the worker goes on with the next job", async () => {
    const { out } = await scoreOnQueue([{ video: bad, prompt: "bad", options: OPTIONS }, ...items("after bad", clips.slice(0, 2))]);
    expect(out[0]).toMatchObject({ ok: false, error: { code: "ERR_DECODE" } });
    await expectReference(out.slice(1));
    const queue = new Queue(QUEUE, { connection: { url: redis.url } as never });
    const job = (await Job.fromId(queue, out[0]!.id))!;
    expect(job.failedReason).toMatch(/^ERR_DECODE: /);
    expect(job.opts.attempts).toBe(3);
    expect(job.attemptsMade).toBe(1);
    await queue.close();
  });

  it("a job outside the allowed roots is refused: /etc/passwd, ../, a symlink out", async () => {
    const outsideDir = join(tmpdir(), `vs2-outside-${process.pid}`);
    mkdirSync(outsideDir, { recursive: true });
    const outsideClip = join(outsideDir, "real-video.mp4");
    copyFileSync(clips[0]!, outsideClip);
    const link = join(dir, "link-out.mp4");
    rmSync(link, { force: true });
    symlinkSync(outsideClip, link);
    try {
      const { out } = await scoreOnQueue([
        { video: "/etc/passwd", prompt: "p", options: OPTIONS },
        { video: `${dir}/../../../../../etc/passwd`, prompt: "p", options: OPTIONS },
        { video: link, prompt: "p", options: OPTIONS },
        { video: clips[1]!, prompt: "allowed", options: OPTIONS },
      ]);
      for (const r of out.slice(0, 3)) expect(r, r.video).toMatchObject({ ok: false, error: { code: "ERR_INPUT_NOT_ALLOWED" } });
      expect(out[3]!.ok).toBe(true);
    } finally {
      rmSync(link, { force: true });
      rmSync(outsideDir, { recursive: true, force: true });
    }
  });
});
