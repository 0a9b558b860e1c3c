/**
 * Hostile inputs (issue 6): each case of test/fixtures/hostile.ts in a fresh process, on a warm
 * scorer with the tiny model. Reports the code it gets, the time to settle, the process's peak RSS
 * during the case above the warm baseline, and whether the next call on the same scorer works.
 *
 *   npx tsx bench/hostile.bench.ts            markdown table on stdout
 *
 * Peak memory: `process.resourceUsage().maxRSS` (the kernel's high-water mark) read after warm-up and
 * again after the case, so the difference is what the case itself added at its worst moment.
 */
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { VideoScoreError, VideoScorer } from "../src/index.js";
import { hostileModels, hostileVideos, smallClip } from "../test/fixtures/hostile.js";
import { FIXTURE_DIR, tinyModels } from "../test/fixtures/models.js";

const DIR = join(FIXTURE_DIR, "reliability");
const FAST = { prompt: "a ball", maxTokens: 12 };
const self = fileURLToPath(import.meta.url);
const mib = (kib: number): number => kib / 1024;

interface Outcome {
  name: string;
  kind: "video" | "model";
  code: string;
  ms: number;
  baselineMiB: number;
  peakMiB: number;
  nextOk: boolean;
}

async function child(kind: "video" | "model", index: number): Promise<Outcome> {
  const models = await tinyModels();
  if (kind === "video") {
    const c = (await hostileVideos(DIR))[index]!;
    const scorer = await VideoScorer.load({ ...models, contextSize: 4096 });
    const clip = await smallClip(DIR);
    await scorer.score(clip, FAST);
    const baseline = process.resourceUsage().maxRSS;
    const t0 = performance.now();
    const r = await scorer.score(c.input, FAST).catch((e: unknown) => e);
    const ms = performance.now() - t0;
    const peak = process.resourceUsage().maxRSS;
    const nextOk = (await scorer.score(clip, FAST)).tokens.length > 0;
    await scorer.dispose();
    const code = r instanceof VideoScoreError ? r.code : r instanceof Error ? `untyped: ${r.message}` : "scored";
    return { name: c.name, kind, code, ms, baselineMiB: mib(baseline), peakMiB: mib(peak), nextOk };
  }
  const c = (await hostileModels(join(DIR, "models"), models))[index]!;
  const baseline = process.resourceUsage().maxRSS;
  const t0 = performance.now();
  const r = await VideoScorer.load({ model: c.model, mmproj: c.mmproj }).catch((e: unknown) => e);
  const ms = performance.now() - t0;
  const peak = process.resourceUsage().maxRSS;
  const scorer = await VideoScorer.load({ ...models, contextSize: 4096 });
  const nextOk = (await scorer.score(await smallClip(DIR), FAST)).tokens.length > 0;
  await scorer.dispose();
  const code = r instanceof VideoScoreError ? r.code : r instanceof Error ? `untyped: ${r.message}` : "loaded";
  return { name: c.name, kind, code, ms, baselineMiB: mib(baseline), peakMiB: mib(peak), nextOk };
}

async function parent(): Promise<void> {
  const models = await tinyModels();
  const videos = await hostileVideos(DIR);
  const modelCases = await hostileModels(join(DIR, "models"), models);
  const rows: Outcome[] = [];
  const run = promisify(execFile);
  const jobs: ["video" | "model", number][] = [
    ...videos.map((_, i) => ["video", i] as ["video", number]),
    ...modelCases.map((_, i) => ["model", i] as ["model", number]),
  ];
  for (const [kind, i] of jobs) {
    const { stdout } = await run(process.execPath, ["--import", "tsx", self, "--child", kind, String(i)], {
      cwd: resolve(self, "..", ".."),
      maxBuffer: 1 << 24,
    });
    const o = JSON.parse(stdout.trim().split("\n").pop()!) as Outcome;
    rows.push(o);
    process.stderr.write(`${o.name}: ${o.code} ${o.ms.toFixed(0)} ms\n`);
  }
  console.log("| case | code | time to settle | peak RSS above warm baseline | next call |");
  console.log("|---|---|---:|---:|---|");
  for (const o of rows)
    console.log(
      `| ${o.name} | ${o.code} | ${o.ms < 10 ? o.ms.toFixed(1) : o.ms.toFixed(0)} ms | ${(o.peakMiB - o.baselineMiB).toFixed(1)} MiB | ${o.nextOk ? "works" : "FAILED"} |`,
    );
  const base = rows.filter((r) => r.kind === "video").map((r) => r.baselineMiB);
  console.log(`\nWarm baseline (tiny model loaded, one score done): ${Math.min(...base).toFixed(0)}–${Math.max(...base).toFixed(0)} MiB RSS.`);
}

const at = process.argv.indexOf("--child");
if (at >= 0) {
  const o = await child(process.argv[at + 1] as "video" | "model", Number(process.argv[at + 2]));
  console.log(JSON.stringify(o));
} else {
  await parent();
}
