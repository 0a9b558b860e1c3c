// CPU levels and the Vulkan device side by side, on the tiny model (npx tsx bench/backends.bench.ts
// [rounds]). Each CPU level runs in a child process whose package copy holds that one CPU module
// (the level is chosen once per process); rounds are interleaved and the median is reported.
// "haswell" is the AVX2 code the static build shipped before the modular layout.
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tinyModels } from "../test/fixtures/models.js";
import { h264Clip } from "../test/fixtures/videos.js";
import { packageRoot } from "../src/addon/loader.js";

const root = packageRoot();
const rounds = Number(process.argv[2] ?? 3);
const work = join(root, ".cache", "bench-backends");
const cpuDir = join(root, "build", "cpu");

/** A copy of build/cpu with only one CPU module in it. */
function levelDir(level: string): string {
  const d = join(work, level);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
  for (const f of readdirSync(cpuDir)) if (f === "videoscore2.node" || f.startsWith("libvs2-") || f === `libggml-cpu-${level}.so`) copyFileSync(join(cpuDir, f), join(d, f));
  return join(d, "videoscore2.node");
}

interface Run { variant: string; device: string; prefill: number; generate: number; encodeMs: number }

async function main(): Promise<void> {
  mkdirSync(work, { recursive: true });
  const models = await tinyModels();
  const clip = await h264Clip(join(work, "clip.mp4"), ["-f", "lavfi", "-i", "testsrc2=size=224x224:rate=4", "-frames:v", "8"]);
  const script = join(work, "one.mts");
  writeFileSync(
    script,
    `import { versions, VideoScorer } from ${JSON.stringify(join(root, "src", "index.ts"))};
const [gpu, gpuDevice] = process.argv.slice(2);
const s = await VideoScorer.load({ ...${JSON.stringify(models)}, contextSize: 4096, gpu, gpuDevice: gpuDevice || undefined, flashAttention: gpu === "cpu" ? { text: false } : undefined });
await s.score(${JSON.stringify(clip)}, { prompt: "warm-up", temperature: 0, maxTokens: 4 });
const r = await s.score(${JSON.stringify(clip)}, { prompt: "a red fox jumps over a fence", temperature: 0, maxTokens: 64 });
const t = r.timings;
console.log(JSON.stringify({ variant: versions().cpuVariant, device: s.info.device || "CPU", prefill: t.promptTokens / (t.prefillMs / 1000), generate: t.generatedTokens / (t.generateMs / 1000), encodeMs: t.encodeMs }));
await s.dispose();`,
  );
  const levels = readdirSync(cpuDir).flatMap((f) => /^libggml-cpu-(.*)\.so$/.exec(f)?.[1] ?? []);
  const usable = ["haswell", ...levels.filter((l) => l !== "haswell")];
  const configs: { label: string; env: NodeJS.ProcessEnv; args: string[] }[] = [];
  for (const level of usable) configs.push({ label: `CPU ${level}`, env: { VIDEOSCORE2_BINARY: levelDir(level) }, args: ["cpu"] });
  configs.push({ label: "CPU best (chosen at load)", env: {}, args: ["cpu"] });
  if (existsSync(join(root, "build", "vulkan", "libggml-vulkan.so"))) configs.push({ label: "Vulkan llvmpipe", env: {}, args: ["vulkan", "llvmpipe"] });
  const results = new Map<string, Run[]>();
  for (let i = 0; i < rounds; i++)
    for (const c of configs) {
      const r = spawnSync(process.execPath, ["--import", "tsx", script, ...c.args], { cwd: root, encoding: "utf8", env: { ...process.env, VIDEOSCORE2_QUIET: "1", ...c.env }, timeout: 600_000 });
      const line = r.stdout.trim().split("\n").pop() ?? "";
      if (r.status !== 0 || !line.startsWith("{")) {
        // A level this CPU cannot run is refused at load (ERR_CPU_UNSUPPORTED): not a result.
        if (i === 0) console.log(`${c.label}: skipped (${(r.stderr.trim().split("\n").find((l) => /ERR_|Error/.test(l)) ?? `exit ${r.status}`).slice(0, 160)})`);
        continue;
      }
      results.set(c.label, [...(results.get(c.label) ?? []), JSON.parse(line) as Run]);
    }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`\n${cpus()[0]?.model} · ${cpus().length} cores · tiny model, 8 frames 224×224, 64 generated tokens · median of ${rounds}\n`);
  console.log("| backend | level loaded | prefill tok/s | generate tok/s | vision encode ms |");
  console.log("|---|---|---:|---:|---:|");
  for (const [label, runs] of results)
    console.log(`| ${label} | ${runs[0]!.variant} (${runs[0]!.device}) | ${median(runs.map((r) => r.prefill)).toFixed(0)} | ${median(runs.map((r) => r.generate)).toFixed(0)} | ${median(runs.map((r) => r.encodeMs)).toFixed(0)} |`);
}

await main();
