/**
 * Queue throughput (`npx tsx bench/queue.bench.ts [--jobs 24]`): jobs per minute with 1 and 2
 * `videoscore2 worker` processes on the tiny model, and the queue's overhead per job against the
 * same scores in-process. A real redis-server on a free port (test/fixtures/redis.ts); the clips
 * are the queue tests' (made with the ffmpeg CLI if missing). Workers are started and ready before
 * the clock starts: the numbers are enqueue → last result.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { collectScores, enqueueScores, VideoScorer } from "../src/index.js";
import type { QueueScoreOptions } from "../src/queue/job.js";
import { FIXTURE_DIR, tinyModels } from "../test/fixtures/models.js";
import { startRedis } from "../test/fixtures/redis.js";
import { ffmpeg } from "../test/fixtures/videos.js";

const { values } = parseArgs({ options: { jobs: { type: "string", default: "24" } } });
const N = Number(values.jobs);
const OPTIONS: QueueScoreOptions = { seed: 3, maxTokens: 500, constrain: { maxThinkingTokens: 400 } };
const dir = join(FIXTURE_DIR, "queue");
const ROOT = join(import.meta.dirname, "..");

mkdirSync(dir, { recursive: true });
const clips: string[] = [];
for (let i = 0; i < 12; i++) {
  const out = join(dir, `clip-${i}.mp4`);
  const w = 160 + 16 * i;
  if (!existsSync(out)) await ffmpeg(["-f", "lavfi", "-i", `testsrc2=size=${w}x${(w * 3) >> 2}:rate=10`, "-frames:v", String(10 + i), "-c:v", "libx264", "-pix_fmt", "yuv420p", out]);
  clips.push(out);
}
const models = await tinyModels();
const redis = await startRedis();
const items = (tag: string) => Array.from({ length: N }, (_, i) => ({ video: clips[i % clips.length]!, prompt: `${tag} ${i}`, options: OPTIONS }));

function startWorker(queue: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "src/cli/main.ts", "worker", "--redis", redis.url, "--queue", queue, "--model", models.model, "--mmproj", models.mmproj, "--threads", "1", "--context-size", "4096", "--allow-root", dir],
    { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    let log = "";
    child.stderr!.on("data", (d) => {
      log += d;
      if (log.includes("ready: worker")) resolve(child);
    });
    child.on("exit", (c) => reject(new Error(`worker exited ${c}: ${log}`)));
  });
}

async function queued(workers: number): Promise<number> {
  const queue = `bench-${workers}`;
  const procs = await Promise.all(Array.from({ length: workers }, () => startWorker(queue)));
  const t0 = performance.now();
  const enq = await enqueueScores(items(queue), { connection: redis.url, queue });
  const out = await collectScores(enq, { connection: redis.url, queue, pollMs: 250 });
  const ms = performance.now() - t0;
  if (out.some((r) => !r?.ok)) throw new Error("a job failed");
  for (const p of procs) p.kill("SIGTERM");
  await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null ? r(0) : p.on("exit", r)))));
  return ms;
}

const scorer = await VideoScorer.load({ model: models.model, mmproj: models.mmproj, threads: 1, contextSize: 4096 });
await scorer.score(clips[0]!, { ...OPTIONS, prompt: "warm-up" });
let t0 = performance.now();
for (const it of items("local")) await scorer.score(it.video, { ...it.options, prompt: it.prompt });
const local = performance.now() - t0;
await scorer.dispose();
const one = await queued(1);
const two = await queued(2);
await redis.dispose();

const perMin = (ms: number) => ((N / ms) * 60_000).toFixed(0);
console.log(`| run | ${N} jobs ms | jobs/min | ms/job |`);
console.log(`|---|---:|---:|---:|`);
console.log(`| in-process, one scorer | ${local.toFixed(0)} | ${perMin(local)} | ${(local / N).toFixed(1)} |`);
console.log(`| queue, 1 worker | ${one.toFixed(0)} | ${perMin(one)} | ${(one / N).toFixed(1)} |`);
console.log(`| queue, 2 workers | ${two.toFixed(0)} | ${perMin(two)} | ${(two / N).toFixed(1)} |`);
console.log(`queue overhead per job (1 worker − in-process): ${((one - local) / N).toFixed(1)} ms; 2 workers / 1 worker: ${(one / two).toFixed(2)}×`);
