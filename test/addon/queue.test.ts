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
import { startCli } from "../fixtures/cli.js";
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
  /** Resolves with the first log line matching, from line `from` on. */
  waitFor(re: RegExp, from?: number, timeoutMs?: number): Promise<string>;
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
  const waitFor = (re: RegExp, from = 0, timeoutMs = 30_000) =>
    new Promise<string>((resolve, reject) => {
      const seen = log.slice(from).find((l) => re.test(l));
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

/** Removes the finished jobs, so the same inputs make new jobs (and share one set of references). */
async function cleanQueue(queue = QUEUE): Promise<void> {
  const q = new Queue(queue, { connection: { url: redis.url } as never });
  await q.clean(0, 0, "completed");
  await q.clean(0, 0, "failed");
  await q.close();
}

const cli = (args: string[]) => startCli(args).done;
/** The flags that give OPTIONS on the command line. */
const SCORE_FLAGS = ["--seed", "3", "--max-tokens", "500", "--constrain", "--max-thinking-tokens", "400"];
const LOCAL_FLAGS = ["--model", "", "--mmproj", "", "--threads", String(LOAD.threads), "--context-size", String(LOAD.contextSize)];
const localFlags = () => LOCAL_FLAGS.map((f, i) => (i === 1 ? models.model : i === 3 ? models.mmproj : f));
const withoutTimings = (json: string) => (JSON.parse(json) as Record<string, unknown>[]).map(({ timings: _t, ...r }) => r);

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

  it("score --redis: the same output as scoring in-process; a killed producer rerun collects, adds nothing", async () => {
    await cleanQueue();
    const videos = clips.slice(0, 4);
    const local = await cli(["score", ...videos, "--prompt", "cli", ...SCORE_FLAGS, ...localFlags(), "--format", "json", "--quiet"]);
    expect(local.code, local.stderr).toBe(0);
    // Killed before it collects anything: the jobs stay queued and the workers score them.
    const first = startCli(["score", ...videos, "--prompt", "cli", ...SCORE_FLAGS, "--redis", redis.url, "--queue", QUEUE, "--format", "json"]);
    await new Promise<void>((resolve) => first.child.stderr!.on("data", (d: Buffer) => /4 jobs added/.test(d.toString()) && resolve()));
    first.child.kill("SIGKILL");
    const rerun = await cli(["score", ...videos, "--prompt", "cli", ...SCORE_FLAGS, "--redis", redis.url, "--queue", QUEUE, "--format", "json"]);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toContain(`queue "${QUEUE}": 0 jobs added, 4 already there`);
    expect(rerun.stderr).toContain("4 scored, 0 failed");
    expect(withoutTimings(rerun.stdout)).toEqual(withoutTimings(local.stdout));
    // Load options are the workers'.
    const wrong = await cli(["score", videos[0]!, "--prompt", "x", "--redis", redis.url, "--threads", "2"]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("--threads is a worker's option with --redis");
    // A wrong URL is an error at start, not a silent wait.
    const nobody = await cli(["score", videos[0]!, "--prompt", "x", "--redis", "redis://127.0.0.1:1"]);
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toContain("no Redis answers at redis://127.0.0.1:1 (connect ECONNREFUSED");
  });

  it("eval --redis prints the same metrics as eval in-process", async () => {
    const bdir = join(dir, "bench");
    mkdirSync(join(bdir, "videos"), { recursive: true });
    clips.slice(0, 3).forEach((c, i) => copyFileSync(c, join(bdir, "videos", `clip_${i}.mp4`)));
    const bench = join(bdir, "bench.json");
    writeFileSync(
      bench,
      JSON.stringify([
        { video_name: "clip_0", prompt: "a test pattern", visual_score: 3, t2v_score: 4, phy_score: 2 },
        { video_name: "clip_1", prompt: "a test pattern", visual_score: 2, t2v_score: 4, phy_score: 3 },
        { video_name: "clip_2", prompt: "a test pattern", visual_score: 4, t2v_score: 2, phy_score: 3 },
        { video_name: "missing", prompt: "a test pattern", visual_score: 5, t2v_score: 5, phy_score: 5 },
      ]),
    );
    const flags = ["--mode", "direct", "--score", "hard", "--format", "json", "--quiet"];
    // Each with a journal of its own (one journal holds one set of options) and none left from a run before.
    for (const j of ["local", "queued"]) rmSync(`${bench}.${j}.jsonl`, { force: true });
    const local = await cli(["eval", bench, ...flags, ...localFlags(), "--journal", `${bench}.local.jsonl`]);
    const queued = await cli(["eval", bench, ...flags, "--redis", redis.url, "--queue", QUEUE, "--journal", `${bench}.queued.jsonl`]);
    expect(local.code, local.stderr).toBe(3); // the missing video
    expect(queued.code, queued.stderr).toBe(3);
    // The same output but for the run's own facts: its journal and its time.
    const facts = (out: string) => ({ ...JSON.parse(out), journal: undefined, seconds: undefined });
    expect(facts(queued.stdout)).toEqual(facts(local.stdout));
  });

  it("Redis restarted mid-run: workers and producer reconnect and the run completes", async () => {
    await cleanQueue();
    let restarted = 0;
    let firstAfter = 0;
    let n = 0;
    let restart: Promise<void> | undefined;
    const { out } = await scoreOnQueue(items("two workers"), QUEUE, () => {
      n++;
      if (n === 3)
        restart = (async () => {
          await redis.stop();
          await new Promise((r) => setTimeout(r, 1000));
          await redis.start();
          restarted = performance.now();
        })();
      else if (restarted && !firstAfter) firstAfter = performance.now();
    });
    await restart;
    await expectReference(out);
    expect(restarted).toBeGreaterThan(0);
    console.log(`after the Redis restart the next result came ${firstAfter ? (firstAfter - restarted).toFixed(0) : "?"} ms later`);
  });

  it("a worker SIGKILLed mid-job: its job is taken again by the other worker; all 12 arrive, each once", async () => {
    await cleanQueue();
    const [victim, survivor] = workers.filter((w) => w.child.exitCode === null);
    const input = items("two workers");
    const mark = victim!.log.length;
    const enq = await enqueueScores(input, { connection: redis.url, queue: QUEUE });
    // Kill it as soon as it starts a job (the job runs ~0.3 s): the job's lock lapses, the survivor takes it.
    const line = await victim!.waitFor(/^start /, mark);
    const killedJob = /^start (\S+)/.exec(line)![1]!;
    victim!.child.kill("SIGKILL");
    const killedAt = performance.now();
    let recoveredAt = 0;
    const seen: number[] = [];
    const out = (await collectScores(enq, {
      connection: redis.url,
      queue: QUEUE,
      pollMs: 250,
      onResult: (r) => {
        seen.push(r.index);
        if (r.id === killedJob) recoveredAt = performance.now();
      },
    })) as CollectedScore[];
    expect((await victim!.exited).signal).toBe("SIGKILL");
    expect(seen.sort((a, b) => a - b)).toEqual(input.map((_, i) => i));
    await expectReference(out);
    const redone = out.find((r) => r.id === killedJob)!;
    expect(redone.processedBy).toBe(survivor!.name);
    expect(recoveredAt).toBeGreaterThan(0);
    console.log(`job of the killed worker done by the other ${(recoveredAt - killedAt).toFixed(0)} ms after the SIGKILL (lock ${LOCK_MS} ms)`);
  });

  it("SIGTERM: the worker finishes its job, takes no other and exits 0; the other worker does the rest", async () => {
    await cleanQueue();
    await worker();
    const [stopped, other] = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
    const input = items("two workers");
    const mark = stopped!.log.length;
    const enq = await enqueueScores(input, { connection: redis.url, queue: QUEUE });
    const line = await stopped!.waitFor(/^start /, mark);
    const job = /^start (\S+)/.exec(line)![1]!;
    stopped!.child.kill("SIGTERM");
    const { out } = { out: (await collectScores(enq, { connection: redis.url, queue: QUEUE, pollMs: 250 })) as CollectedScore[] };
    expect(await stopped!.exited).toEqual({ code: 0, signal: null });
    await expectReference(out);
    // The job it had is its own, finished (not aborted and redone); nothing after it.
    expect(out.find((r) => r.id === job)!.processedBy).toBe(stopped!.name);
    expect(stopped!.log.slice(mark).filter((l) => l.startsWith("start "))).toHaveLength(1);
    expect(stopped!.log.some((l) => l.startsWith(`done ${job}`))).toBe(true);
    expect(out.filter((r) => r.processedBy === other!.name)).toHaveLength(11);
    expect(stopped!.log.at(-1)).toBe("stopped");
  });
});

