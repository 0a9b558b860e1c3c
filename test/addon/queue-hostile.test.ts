// Hostile queues (issue 31): whoever can write to Redis can complete a job with any value and give a
// job any options. A real redis-server and BullMQ; the forger is a bare BullMQ Worker on the queue
// (what such a writer would run), which scores the good clip with a real VideoScorer and forges the
// others. The producer is the CLI or the library; the worker under test is createScoringWorker.
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Queue, Worker, type Job } from "bullmq";
import { Redis as IORedis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectScores, enqueueScores } from "../../src/queue/producer.js";
import { createScoringWorker } from "../../src/queue/worker.js";
import type { ScoreJobData } from "../../src/queue/job.js";
import { VideoScorer } from "../../src/scorer/scorer.js";
import type { ScoreResult } from "../../src/scorer/result.js";
import { FIXTURE_DIR, tinyModels } from "../fixtures/models.js";
import { startCli } from "../fixtures/cli.js";
import { startRedis, type TestRedis } from "../fixtures/redis.js";
import { ffmpeg } from "../fixtures/videos.js";

const dir = join(FIXTURE_DIR, "queue-hostile");
const LOAD = { threads: 1, contextSize: 4096 };
const X = `<img src=x onerror="document.title='pwned'">`;

let redis: TestRedis;
let models: { model: string; mmproj: string };
let scorer: VideoScorer;
const clips: Record<"good" | "string" | "markup", string> = { good: "", string: "", markup: "" };

/** A result whose every number is markup: what the battery's forger wrote. */
function markupResult(real: ScoreResult): unknown {
  const dim = { ...real.visualQuality, score: X };
  return {
    ...real,
    visualQuality: dim,
    textAlignment: dim,
    physicalConsistency: dim,
    frames: { ...real.frames, count: X, width: X, height: X },
    timings: { ...real.timings, promptTokens: X, generatedTokens: X },
  };
}

/** A BullMQ worker that is not ours: it completes each job with what `forge` returns. */
function forger(queue: string, forge: (job: Job<ScoreJobData>) => Promise<unknown>): Worker {
  const w = new Worker<ScoreJobData>(queue, forge, { connection: { url: redis.url } as never, concurrency: 1 });
  w.on("error", () => undefined);
  return w;
}

const cli = (args: string[]) => startCli(args).done;

beforeAll(async () => {
  redis = await startRedis();
  models = await tinyModels();
  mkdirSync(dir, { recursive: true });
  for (const [i, k] of (["good", "string", "markup"] as const).entries()) {
    const out = join(dir, `${k}.mp4`);
    if (!existsSync(out)) await ffmpeg(["-f", "lavfi", "-i", `testsrc2=size=${160 + 32 * i}x120:rate=10`, "-frames:v", "12", "-c:v", "libx264", "-pix_fmt", "yuv420p", out]);
    clips[k] = out;
  }
  scorer = await VideoScorer.load({ ...models, ...LOAD });
});

afterAll(async () => {
  await scorer?.dispose();
  await redis?.dispose();
});

describe("forged results", () => {
  it("score --redis --out --report: a string result and a result of markup are failed jobs (exit 3); the good clip is written; the report runs no script", async () => {
    const queue = "forged-cli";
    const w = forger(queue, async (job) => {
      const { video, prompt, options } = job.data;
      const real = await scorer.score(video, { ...options, prompt });
      if (video === clips.good) return { v: 1, result: real };
      return video === clips.string ? "not a result" : { v: 1, result: markupResult(real) };
    });
    const out = join(dir, "o.jsonl");
    const report = join(dir, "r.html");
    rmSync(out, { force: true });
    rmSync(report, { force: true });
    try {
      const r = await cli(["score", clips.good, clips.string, clips.markup, "--prompt", "a test pattern", "--max-tokens", "16", "--redis", redis.url, "--queue", queue, "--format", "jsonl", "--out", out, "--report", report]);
      expect(r.stderr).not.toMatch(/TypeError|\n\s+at /);
      expect(r.code, r.stderr).toBe(3);
      const lines = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
      const good = lines.find((l) => String(l.video).endsWith("good.mp4"))!;
      const { timings: _t, ...local } = await scorer.score(clips.good, { prompt: "a test pattern", maxTokens: 16 });
      expect(good).toMatchObject({ visualQuality: local.visualQuality, text: local.text });
      for (const k of ["string", "markup"]) {
        const l = lines.find((x) => String(x.video).endsWith(`${k}.mp4`))!;
        expect(JSON.stringify(l), k).toContain("ERR_QUEUE_FORMAT");
      }
      expect(r.stderr).toMatch(/string\.mp4.*ERR_QUEUE_FORMAT/);
      const html = readFileSync(report, "utf8");
      expect(html).not.toMatch(/<img src=x/);
      expect(html).not.toContain("onerror=\"");
    } finally {
      await w.close();
    }
  });

  it("collectScores: a completed job whose value is not a ScoreResult is a failure naming the field, not a result", async () => {
    const queue = "forged-lib";
    const bad: Record<string, (r: ScoreResult) => unknown> = {
      "a string": () => "not a result",
      "null": () => null,
      "a score of markup": (r) => ({ v: 1, result: { ...r, visualQuality: { ...r.visualQuality, score: X } } }),
      "a frame count of markup": (r) => ({ v: 1, result: { ...r, frames: { ...r.frames, count: X } } }),
      "token counts as strings": (r) => ({ v: 1, result: { ...r, timings: { ...r.timings, promptTokens: "12" } } }),
      "a probability that is not a number": (r) => ({ v: 1, result: { ...r, textAlignment: { ...r.textAlignment, probs: [0.2, 0.2, 0.2, 0.2, "x"] } } }),
      "a result of another format": (r) => ({ v: 2, result: r }),
      "a bare result (no version)": (r) => r,
    };
    const names = Object.keys(bad);
    const w = forger(queue, async (job) => {
      const real = await scorer.score(job.data.video, { ...job.data.options, prompt: job.data.prompt });
      return job.data.prompt === "good" ? { v: 1, result: real } : bad[job.data.prompt]!(real);
    });
    try {
      const enq = await enqueueScores([...names, "good"].map((prompt) => ({ video: clips.good, prompt, options: { maxTokens: 8 } })), { connection: redis.url, queue });
      const out = await collectScores(enq, { connection: redis.url, queue, pollMs: 100 });
      names.forEach((n, i) => expect(out[i], n).toMatchObject({ ok: false, error: { code: "ERR_QUEUE_FORMAT" } }));
      expect(out[1]).toMatchObject({ error: { message: expect.stringContaining("the value is null") } });
      expect(out[2]).toMatchObject({ error: { message: expect.stringContaining("result.visualQuality.score is \"<img") } });
      expect(out[4]).toMatchObject({ error: { message: expect.stringContaining("result.timings.promptTokens") } });
      expect(out[6]).toMatchObject({ error: { message: expect.stringContaining("in queue format v2, and this collector reads v1") } });
      expect(out[7]).toMatchObject({ error: { message: expect.stringContaining("without a version") } });
      expect(out.at(-1)).toMatchObject({ ok: true });
    } finally {
      await w.close();
    }
  });
});

describe("job hashes BullMQ cannot have written", () => {
  it("score --redis --out: a job whose data does not parse is that clip's ERR_QUEUE_FORMAT (exit 3), no stack; the good clip is written", async () => {
    const queue = "unreadable-cli";
    const r = new IORedis(redis.url);
    // The forger completes the job after breaking its stored data: the value is fine, the hash is not.
    const w = forger(queue, async (job) => {
      const { video, prompt, options } = job.data;
      if (video === clips.markup) await r.hset(`bull:${queue}:${job.id}`, "data", "{not json");
      return { v: 1, result: await scorer.score(video, { ...options, prompt }) };
    });
    const out = join(dir, "unreadable.jsonl");
    rmSync(out, { force: true });
    try {
      const res = await cli(["score", clips.good, clips.markup, "--prompt", "a test pattern", "--max-tokens", "16", "--redis", redis.url, "--queue", queue, "--format", "jsonl", "--out", out]);
      expect(res.stderr).not.toMatch(/SyntaxError|\n\s+at /);
      expect(res.code, res.stderr).toBe(3);
      const lines = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
      const good = lines.find((l) => String(l.video).endsWith("good.mp4"))!;
      const { timings: _t, ...local } = await scorer.score(clips.good, { prompt: "a test pattern", maxTokens: 16 });
      expect(good).toMatchObject({ visualQuality: local.visualQuality, text: local.text });
      expect(JSON.stringify(lines.find((l) => String(l.video).endsWith("markup.mp4")))).toMatch(/ERR_QUEUE_FORMAT.*cannot be read/);
    } finally {
      await w.close();
      r.disconnect();
    }
  });

  it("collectScores: JSON fields that do not parse or parse to null, and a job key that is not a hash, are that job's ERR_QUEUE_FORMAT", async () => {
    const queue = "unreadable-lib";
    const w = forger(queue, async (job) => ({ v: 1, result: await scorer.score(job.data.video, { ...job.data.options, prompt: job.data.prompt }) }));
    const breaks: Record<string, (r: IORedis, key: string) => Promise<unknown>> = {
      "data that does not parse": (r, key) => r.hset(key, "data", "{not json"),
      "opts of null": (r, key) => r.hset(key, "opts", "null"),
      "progress that does not parse": (r, key) => r.hset(key, "progress", "{"),
      "a key that is not a hash": (r, key) => r.del(key).then(() => r.set(key, "x")),
    };
    const names = Object.keys(breaks);
    const r = new IORedis(redis.url);
    try {
      const enq = await enqueueScores([...names, "good"].map((prompt) => ({ video: clips.good, prompt, options: { maxTokens: 8 } })), { connection: redis.url, queue });
      expect((await collectScores(enq, { connection: redis.url, queue, pollMs: 100 })).every((o) => o?.ok)).toBe(true);
      for (const [i, n] of names.entries()) await breaks[n]!(r, `bull:${queue}:${enq.ids[i]}`);
      const out = await collectScores(enq, { connection: redis.url, queue, pollMs: 100 });
      names.forEach((n, i) => expect(out[i], n).toMatchObject({ ok: false, error: { code: "ERR_QUEUE_FORMAT", message: expect.stringMatching(new RegExp(`^job ${enq.ids[i]} in queue "${queue}" cannot be read \\(.+\\): it was not written by BullMQ`)) } }));
      expect(out.at(-1)).toMatchObject({ ok: true });
    } finally {
      await w.close();
      r.disconnect();
    }
  });
});

describe("a job cannot lift the worker's limits", () => {
  it("limits, maxTokens and samples of a job lower the worker's, never raise them; what is above is refused once, not retried", async () => {
    const queue = "ceilings";
    // 160x120 = 19 200 pixels a frame: above this worker's bound.
    const worker = await createScoringWorker({ connection: redis.url, queue, scorer, allowRoots: [dir], limits: { maxPixelsPerFrame: 10_000 }, maxTokens: 16 });
    try {
      const video = clips.good;
      const input = [
        { prompt: "lift", options: { maxTokens: 8, limits: { deadlineSeconds: 0, maxPixelsPerFrame: 1e30 } } },
        { prompt: "more tokens", options: { maxTokens: 500, limits: { maxPixelsPerFrame: 1 } } },
        { prompt: "more samples", options: { maxTokens: 8, samples: 4, limits: { maxPixelsPerFrame: 1 } } },
      ];
      const enq = await enqueueScores(input.map((i) => ({ video, ...i })), { connection: redis.url, queue });
      const out = await collectScores(enq, { connection: redis.url, queue, pollMs: 100 });
      expect(out[0]).toMatchObject({ ok: false, error: { code: "ERR_VIDEO_LIMITS" } });
      expect(out[1]).toMatchObject({ ok: false, error: { code: "ERR_INVALID_OPTION", message: expect.stringContaining("maxTokens 500 but this worker allows at most 16") } });
      expect(out[2]).toMatchObject({ ok: false, error: { code: "ERR_INVALID_OPTION", message: expect.stringContaining("samples 4 but this worker allows at most 1") } });
      const q = new Queue(queue, { connection: { url: redis.url } as never });
      for (const id of enq.ids) expect((await q.getJob(id))!.attemptsMade, id).toBe(1);
      await q.close();
    } finally {
      await worker.close();
    }
    // Under a worker that allows the frame, a job may lower the bound (and is then refused by it);
    // a job that sets no maxTokens gets the worker's ceiling when it is below the default.
    const open = await createScoringWorker({ connection: redis.url, queue: "ceilings-2", scorer, allowRoots: [dir], maxTokens: 16 });
    try {
      const enq = await enqueueScores(
        [
          { video: clips.good, prompt: "lower", options: { maxTokens: 8, limits: { maxPixelsPerFrame: 10_000 } } },
          { video: clips.good, prompt: "default", options: {} },
        ],
        { connection: redis.url, queue: "ceilings-2" },
      );
      const out = await collectScores(enq, { connection: redis.url, queue: "ceilings-2", pollMs: 100 });
      expect(out[0]).toMatchObject({ ok: false, error: { code: "ERR_VIDEO_LIMITS" } });
      expect(out[1]).toMatchObject({ ok: true });
      const r = out[1] as { result: ScoreResult };
      expect(r.result.tokens.length).toBeLessThanOrEqual(16);
      expect(r.result).toMatchObject(await scorer.score(clips.good, { prompt: "default", maxTokens: 16 }).then(({ timings: _t, ...x }) => x));
    } finally {
      await open.close();
    }
  });
});

describe("job format versions", () => {
  it("a job of another format version (or none) is failed with ERR_QUEUE_FORMAT, once, not retried; a v1 job beside it is scored", async () => {
    const queue = "formats";
    const q = new Queue(queue, { connection: { url: redis.url } as never });
    const opts = { attempts: 3, backoff: { type: "exponential", delay: 1000 } };
    const data = { video: clips.good, prompt: "p", options: { maxTokens: 8 } };
    await q.add("score", { ...data, v: 2 }, { ...opts, jobId: "v2" });
    await q.add("score", data, { ...opts, jobId: "none" });
    const worker = await createScoringWorker({ connection: redis.url, queue, scorer, allowRoots: [dir] });
    try {
      const enq = await enqueueScores([data], { connection: redis.url, queue });
      const [ok] = await collectScores(enq, { connection: redis.url, queue, pollMs: 100 });
      expect(ok).toMatchObject({ ok: true });
      const failed = await collectScores({ ids: ["v2", "none"], jobs: [{ ...data, v: 1 }, { ...data, v: 1 }] }, { connection: redis.url, queue, pollMs: 100 });
      expect(failed[0]).toMatchObject({ ok: false, error: { code: "ERR_QUEUE_FORMAT", message: expect.stringContaining("queue format v2, and this worker reads v1") } });
      expect(failed[1]).toMatchObject({ ok: false, error: { code: "ERR_QUEUE_FORMAT", message: expect.stringContaining("without a version") } });
      for (const id of ["v2", "none"]) expect((await q.getJob(id))!.attemptsMade).toBe(1);
      // The value a worker writes carries the version.
      expect((await q.getJob(enq.ids[0]!))!.returnvalue).toMatchObject({ v: 1, result: { text: expect.any(String) } });
    } finally {
      await worker.close();
      await q.close();
    }
  });
});
