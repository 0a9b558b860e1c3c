// A Python producer (python/videoscore2_queue.py on PyPI's bullmq, in a venv the setup makes) with
// a real redis-server and a real Node worker on the tiny model: the job id is the Node one byte for
// byte, a Python job is scored once and equals the in-process score, a rerun adds nothing, failures
// come back typed, and the job format's version is refused both ways.
import { mkdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VideoScoreError } from "../../src/addon/errors.js";
import { scoreJobId } from "../../src/queue/job.js";
import { collectScores, enqueueScores } from "../../src/queue/producer.js";
import { checkJobResult } from "../../src/queue/result-check.js";
import { createScoringWorker, type ScoringWorker } from "../../src/queue/worker.js";
import { VideoScorer } from "../../src/scorer/scorer.js";
import type { ScoreResult } from "../../src/scorer/result.js";
import { FIXTURE_DIR, tinyModels } from "../fixtures/models.js";
import { pythonEnv, runPython, type PythonEnv } from "../fixtures/python.js";
import { startRedis, type TestRedis } from "../fixtures/redis.js";
import { ffmpeg } from "../fixtures/videos.js";

const dir = join(FIXTURE_DIR, "queue-python");
const OPTIONS = { seed: 5, maxTokens: 160, constrain: { maxThinkingTokens: 60 } };
const LOAD = { threads: 1, contextSize: 4096 };
let env: PythonEnv;
let redis: TestRedis;
let scorer: VideoScorer;
let worker: ScoringWorker;
const started: string[] = [];
const clips: string[] = [];

/** Python that enqueues `items` (stdin) on the queue and collects them; prints {enq, out}. */
const ENQUEUE_AND_COLLECT = `
import asyncio, json, sys
import videoscore2_queue as vq
args = json.load(sys.stdin)
if args.get("format") is not None:
    vq.JOB_FORMAT = args["format"]
async def main():
    enq = await vq.enqueue_scores(args["items"], args["url"], queue=args["queue"])
    out = await vq.collect_scores(enq, args["url"], poll_seconds=0.1, timeout_seconds=60)
    print(json.dumps({"enq": {k: enq[k] for k in ("ids", "added", "existing")}, "out": out}))
asyncio.run(main())
`;

function comparable(r: ScoreResult) {
  const { timings: _t, ...rest } = r;
  return rest;
}

beforeAll(async () => {
  env = await pythonEnv();
  if (env.skip) return;
  redis = await startRedis();
  const models = await tinyModels();
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 2; i++) {
    const out = join(dir, `clip-${i}.mp4`);
    if (!existsSync(out)) await ffmpeg(["-f", "lavfi", "-i", `testsrc2=size=${176 + 32 * i}x128:rate=10`, "-frames:v", "12", "-c:v", "libx264", "-pix_fmt", "yuv420p", out]);
    clips.push(out);
  }
  scorer = await VideoScorer.load({ ...models, ...LOAD });
  worker = await createScoringWorker({ connection: redis.url, queue: "py", ...models, load: LOAD, allowRoots: [dir], onEvent: (e) => e.type === "start" && started.push(e.jobId) });
}, 240_000);

afterAll(async () => {
  await worker?.close();
  await scorer?.dispose();
  await redis?.dispose();
});

describe("Python producer (bullmq from PyPI)", () => {
  it("score_job_id is scoreJobId byte for byte: key order, non-ASCII, escapes, numbers as JavaScript writes them", async (ctx) => {
    if (env.skip) return ctx.skip(env.skip);
    const cases = [
      { video: "/data/a.mp4", prompt: "a cat", options: {} },
      { video: "/data/ünï cödé/ビデオ 🎬.mp4", prompt: 'quotes " and \\ back\nslash\ttab \u0001\u001f\u007f \u2028', options: { seed: 3, maxTokens: 500, constrain: { maxThinkingTokens: 400 } } },
      { video: "/v.mp4", prompt: "", options: { temperature: 0.1, topP: 0.95, fps: 1.5, start: 1e-7, end: 1e21, totalPixels: 90316800, limits: { deadlineSeconds: 123.456 }, z: null, a: [1, 2.5, true, false, "x"] } },
      // Keys JavaScript sorts by UTF-16 code units: U+FF5E before the astral U+1F600 (code points would put it first too, U+E000 after).
      { video: "/k.mp4", prompt: "k", options: { "\u{1F600}": 1, "\uFF5E": 2, "\uE000": 3, B: 4, a: 5, "": 6 } },
      { video: "/n.mp4", prompt: "n", options: { big: 123456789012345680000, small: 0.000001, tiny: 1.5e-300, neg: -2.5, int: 9007199254740993 } },
    ];
    const py = await runPython<string[]>(env.python!, `
import json, sys
import videoscore2_queue as vq
print(json.dumps([vq.score_job_id(c["video"], c["prompt"], c["options"]) for c in json.load(sys.stdin)]))`, cases);
    expect(py).toEqual(cases.map((c) => scoreJobId(c)));
    // Python's own floats (1.0 is an int to JavaScript) and tuples give the id of the same JSON.
    const own = await runPython<string>(env.python!, `
import json, videoscore2_queue as vq
print(json.dumps(vq.score_job_id("/f.mp4", "p", {"fps": 2.0, "x": (1, 2), "t": 1e21, "s": 1e-7})))`);
    const same = { fps: 2, x: [1, 2], t: 1e21, s: 1e-7 };
    expect(own).toBe(scoreJobId({ video: "/f.mp4", prompt: "p", options: same }));
  });

  it("a Python job is scored once by the Node worker and equals the in-process score; a rerun adds nothing; Node finds the same job", async (ctx) => {
    if (env.skip) return ctx.skip(env.skip);
    const items = clips.map((video, i) => ({ video, prompt: `python ${i}`, options: OPTIONS }));
    const args = { url: redis.url, queue: "py", items };
    const first = await runPython<{ enq: { ids: string[]; added: number; existing: number }; out: { ok: boolean; id: string; result: ScoreResult }[] }>(env.python!, ENQUEUE_AND_COLLECT, args);
    expect(first.enq).toMatchObject({ added: 2, existing: 0 });
    expect(first.enq.ids).toEqual(items.map((it) => scoreJobId(it)));
    for (const [i, r] of first.out.entries()) {
      expect(r.ok, JSON.stringify(r)).toBe(true);
      expect(comparable(r.result)).toEqual(comparable(await scorer.score(clips[i]!, { ...OPTIONS, prompt: `python ${i}` })));
    }
    const rerun = await runPython<typeof first>(env.python!, ENQUEUE_AND_COLLECT, args);
    expect(rerun.enq).toMatchObject({ added: 0, existing: 2 });
    expect(rerun.out.map((r) => r.result)).toEqual(first.out.map((r) => r.result));
    // Each job was started once, whatever collected it how many times.
    for (const id of first.enq.ids) expect(started.filter((s) => s === id), id).toHaveLength(1);
    const fromNode = await enqueueScores(items, { connection: redis.url, queue: "py" });
    expect(fromNode).toMatchObject({ added: 0, existing: 2 });
  });

  it("a path outside the allowed roots comes back to Python as ERR_INPUT_NOT_ALLOWED, not retried", async (ctx) => {
    if (env.skip) return ctx.skip(env.skip);
    const { out } = await runPython<{ out: { ok: boolean; id: string; error: { code: string; message: string } }[] }>(env.python!, ENQUEUE_AND_COLLECT, {
      url: redis.url,
      queue: "py",
      items: [{ video: "/etc/passwd", prompt: "p", options: OPTIONS }, { video: `${dir}/../../../../etc/passwd`, prompt: "p", options: OPTIONS }],
    });
    for (const r of out) expect(r).toMatchObject({ ok: false, error: { code: "ERR_INPUT_NOT_ALLOWED", message: expect.stringContaining("outside the allowed roots") } });
    const q = new Queue("py", { connection: { url: redis.url } as never });
    for (const r of out) expect((await q.getJob(r.id))!.attemptsMade).toBe(1);
    await q.close();
  });

  it("versions: a Python job of another format is failed by the worker with ERR_QUEUE_FORMAT, not retried; a result of another format is refused by the Python collector", async (ctx) => {
    if (env.skip) return ctx.skip(env.skip);
    const job = await runPython<{ out: { ok: boolean; id: string; error: { code: string; message: string } }[] }>(env.python!, ENQUEUE_AND_COLLECT, {
      url: redis.url,
      queue: "py",
      format: 2,
      items: [{ video: clips[0], prompt: "from a newer release", options: OPTIONS }],
    });
    expect(job.out[0]).toMatchObject({ ok: false, error: { code: "ERR_QUEUE_FORMAT", message: expect.stringContaining("queue format v2, and this worker reads v1") } });
    const q = new Queue("py", { connection: { url: redis.url } as never });
    expect((await q.getJob(job.out[0]!.id))!.attemptsMade).toBe(1);
    await q.close();
    // Results of another release's worker: what it would write, by a BullMQ worker that is not ours.
    const real = await scorer.score(clips[1]!, { ...OPTIONS, prompt: "r" });
    const values: Record<string, unknown> = { newer: { v: 2, result: real }, bare: real, junk: "not a result", good: { v: 1, result: real } };
    const other = new Worker("py-other", async (j) => values[j.data.prompt as string], { connection: { url: redis.url } as never });
    try {
      const res = await runPython<{ out: { ok: boolean; error?: { code: string; message: string } }[] }>(env.python!, ENQUEUE_AND_COLLECT, {
        url: redis.url,
        queue: "py-other",
        items: Object.keys(values).map((prompt) => ({ video: clips[1], prompt, options: OPTIONS })),
      });
      expect(res.out[0]).toMatchObject({ ok: false, error: { code: "ERR_QUEUE_FORMAT", message: expect.stringContaining("queue format v2, and this collector reads v1") } });
      expect(res.out[1]).toMatchObject({ ok: false, error: { code: "ERR_QUEUE_FORMAT", message: expect.stringContaining("without a version") } });
      expect(res.out[2]).toMatchObject({ ok: false, error: { code: "ERR_QUEUE_FORMAT" } });
      expect(res.out[3]).toMatchObject({ ok: true });
    } finally {
      await other.close();
    }
  });

  it("the Python collector checks a result's shape as collectScores does: each forged value is the same ERR_QUEUE_FORMAT failure, word for word", async (ctx) => {
    if (env.skip) return ctx.skip(env.skip);
    const X = `<img src=x onerror="alert(1)">`;
    const real = await scorer.score(clips[1]!, { ...OPTIONS, prompt: "r" });
    const { rationale: _r, ...noRationale } = real;
    const forged: Record<string, unknown> = {
      "a string": "not a result",
      "null": null,
      "an empty object": {},
      "a bare result (no version)": real,
      "a result of another format": { v: 2, result: real },
      "a score of markup": { v: 1, result: { ...real, visualQuality: { ...real.visualQuality, score: X } } },
      "a boolean score": { v: 1, result: { ...real, textAlignment: { ...real.textAlignment, score: true } } },
      "a frame count of markup": { v: 1, result: { ...real, frames: { ...real.frames, count: X } } },
      "token counts as strings": { v: 1, result: { ...real, timings: { ...real.timings, promptTokens: "12" } } },
      "a probability that is not a number": { v: 1, result: { ...real, physicalConsistency: { ...real.physicalConsistency, probs: [0.2, 0.2, 0.2, 0.2, "x"] } } },
      "no rationale": { v: 1, result: noRationale },
      "another stop reason": { v: 1, result: { ...real, stopReason: "length" } },
      "markup in a sample": { v: 1, result: { ...real, samples: [{ ...real, seed: X }] } },
      "good": { v: 1, result: real },
    };
    const queue = "py-forged";
    const other = new Worker(queue, async (j) => forged[j.data.prompt as string], { connection: { url: redis.url } as never });
    other.on("error", () => undefined);
    try {
      const items = Object.keys(forged).map((prompt) => ({ video: clips[1]!, prompt, options: OPTIONS }));
      const py = await runPython<{ out: { ok: boolean; result?: ScoreResult; error?: { code: string; message: string } }[] }>(env.python!, ENQUEUE_AND_COLLECT, { url: redis.url, queue, items });
      const node = await collectScores(await enqueueScores(items, { connection: redis.url, queue }), { connection: redis.url, queue, pollMs: 100 });
      items.forEach(({ prompt }, i) => {
        if (prompt === "good") {
          expect(py.out[i], prompt).toMatchObject({ ok: true, result: real });
          return expect(node[i], prompt).toMatchObject({ ok: true });
        }
        expect(py.out[i]!.error, prompt).toEqual({ code: "ERR_QUEUE_FORMAT", message: expect.any(String) });
        expect(py.out[i]!.error, prompt).toEqual((node[i] as { error: unknown }).error);
      });
      expect(py.out[5]!.error!.message).toContain(`result.visualQuality.score is "<img src=x`);
    } finally {
      await other.close();
    }
    // Numbers JSON can write but a double cannot hold are Infinity to JavaScript: not finite for either.
    const text = JSON.stringify({ v: 1, result: real });
    const texts = [`"promptTokens":1e400`, `"promptTokens":${"9".repeat(400)}`, `"promptTokens":-1e400`, `"promptTokens":12.0`].map((t) => text.replace(/"promptTokens":\d+/, t));
    const fromNode = texts.map((t) => {
      try {
        checkJobResult(JSON.parse(t), "job x");
        return { ok: true };
      } catch (e) {
        return { ok: false, error: { code: (e as VideoScoreError).code, message: (e as Error).message } };
      }
    });
    const fromPython = await runPython<{ ok: boolean }[]>(env.python!, `
import json, sys
import videoscore2_queue as vq
print(json.dumps([{k: v for k, v in vq.read_job_value("x", json.loads(t)).items() if k != "result"} for t in json.load(sys.stdin)]))`, texts);
    expect(fromNode.map((r) => r.ok)).toEqual([false, false, false, true]);
    expect(fromPython).toEqual(fromNode);
  });

  it("a job hash BullMQ cannot have written is that item's ERR_QUEUE_FORMAT in Python too; the other items are collected", async (ctx) => {
    if (env.skip) return ctx.skip(env.skip);
    const real = await scorer.score(clips[1]!, { ...OPTIONS, prompt: "r" });
    const queue = "py-unreadable";
    const other = new Worker(queue, async () => ({ v: 1, result: real }), { connection: { url: redis.url } as never });
    other.on("error", () => undefined);
    const breaks: Record<string, (r: Redis, key: string) => Promise<unknown>> = {
      "data that does not parse": (r, key) => r.hset(key, "data", "{not json"),
      "opts of null": (r, key) => r.hset(key, "opts", "null"),
      "progress that does not parse": (r, key) => r.hset(key, "progress", "{"),
      "a timestamp that is not a number": (r, key) => r.hset(key, "timestamp", "soon"),
      "a key that is not a hash": (r, key) => r.del(key).then(() => r.set(key, "x")),
    };
    const r = new Redis(redis.url);
    try {
      const items = [...Object.keys(breaks), "good"].map((prompt) => ({ video: clips[1]!, prompt, options: OPTIONS }));
      type Out = { out: { ok: boolean; id: string; error?: { code: string; message: string } }[] };
      const first = await runPython<Out>(env.python!, ENQUEUE_AND_COLLECT, { url: redis.url, queue, items });
      expect(first.out.every((o) => o.ok)).toBe(true);
      for (const [i, b] of Object.values(breaks).entries()) await b(r, `bull:${queue}:${first.out[i]!.id}`);
      const { out } = await runPython<Out>(env.python!, ENQUEUE_AND_COLLECT, { url: redis.url, queue, items });
      Object.keys(breaks).forEach((n, i) =>
        expect(out[i], n).toMatchObject({ ok: false, error: { code: "ERR_QUEUE_FORMAT", message: expect.stringMatching(new RegExp(`^job ${out[i]!.id} in queue "${queue}" cannot be read \\(.+\\): it was not written by BullMQ`)) } }),
      );
      expect(out.at(-1)).toMatchObject({ ok: true });
    } finally {
      await other.close();
      r.disconnect();
    }
  });
});
