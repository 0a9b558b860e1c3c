// Issue 29, part 3: the CPU on a model of the real size. The 7B-shaped random pair of
// bench/gpu/score-7b.ts, its text model quantized to Q4_K_M by our quantize(), side by side in one run:
//   1. prefill and generation tok/s with three CPU backends under the same addon: the AVX2 module
//      alone (what the build was before the variants: haswell), the set shipped (the loader picks
//      the best level this CPU runs), and one module built with -march=native;
//   2. four think-mode calls on one EncodedVideo (short prompts, --tokens generated each) on a scorer
//      loaded with parallel: 4 against parallel: 1 (throughput).
// Each backend runs in a child process of its own (ggml loads one CPU module per process), the
// children taking turns run by run.
//
//   npx tsx bench/gpu/score-7b.ts --quant Q4_K_M --only model --work /work/7b     (once: the pair)
//   bash bench/build-cpu-native.sh                                                  (once: the -march=native module)
//   npx tsx bench/cpu-7b.bench.ts --work /work/7b [--runs 2] [--tokens 64] [--threads n] [--json out.json]
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values: a } = parseArgs({
  options: {
    work: { type: "string", default: "bench/.out/gpu" },
    runs: { type: "string", default: "2" },
    tokens: { type: "string", default: "64" },
    threads: { type: "string" },
    json: { type: "string" },
    child: { type: "string" },
    "native-module": { type: "string", default: ".cache/cmake/cpu-native/bin/libggml-cpu.so" },
    sections: { type: "string", default: "1,2" },
  },
});
const root = resolve(import.meta.dirname, "..");
const modelDir = join(a.work, "models", "random-7b");
const models = { model: join(modelDir, "random-7b-Q4_K_M.gguf"), mmproj: join(modelDir, "mmproj-random-7b-f16.gguf") };
const threads = a.threads === undefined ? availableParallelism() : Number(a.threads);
const tokens = Number(a.tokens);
const clip = join(a.work, "clips", "cpu-7b-2s.mp4");
const frames = { nframes: 2, maxPixels: 224 * 224 } as const;

if (a.child) await child(a.child);
else await parent();

async function child(kind: string): Promise<void> {
  const { VideoScorer, versions } = await import("../src/index.js");
  const cpuVariant = versions().cpuVariant;
  const send = (r: object) => process.stdout.write(`RESULT ${JSON.stringify({ cpuVariant, ...r })}\n`);
  if (kind === "speed") {
    let t = performance.now();
    await using s = await VideoScorer.load({ ...models, threads, contextSize: 4096 });
    const loadMs = performance.now() - t;
    t = performance.now();
    const r = await s.score(clip, { prompt: "a red fox jumps over a fence", ...frames, maxTokens: tokens, temperature: 0 });
    const tm = r.timings;
    send({ loadMs, promptTokens: tm.promptTokens, encodeMs: tm.encodeMs, prefillTps: tm.promptTokens / (tm.prefillMs / 1000),
      generatedTokens: tm.generatedTokens, genTps: tm.generatedTokens / (tm.generateMs / 1000), totalMs: performance.now() - t });
    return;
  }
  const parallel = Number(kind.replace("parallel", ""));
  await using s = await VideoScorer.load({ ...models, threads, contextSize: 2048 * parallel, parallel });
  using video = await s.encode(clip, frames);
  const prompts = ["a fox", "a city at night", "a red ball", "waves on a beach"];
  const t = performance.now();
  const rs = await Promise.all(prompts.map((prompt, i) => s.score(video, { prompt, maxTokens: tokens, temperature: 0, seed: i })));
  const ms = performance.now() - t;
  send({ parallel, ms, generated: rs.reduce((n, r) => n + r.timings.generatedTokens, 0), sharedSteps: rs.map((r) => r.timings.sharedSteps),
    promptTokens: rs.map((r) => r.timings.promptTokens), prefillMs: rs.map((r) => Math.round(r.timings.prefillMs)), generateMs: rs.map((r) => Math.round(r.timings.generateMs)) });
}

/** A folder holding the built addon and its libraries with exactly the CPU modules given. */
function variantDir(name: string, modules: [from: string, as: string][]): string {
  const dir = join(a.work, "variants", name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const build = join(root, "build", "cpu");
  for (const f of readdirSync(build)) if (!f.startsWith("libggml-cpu-")) copyFileSync(join(build, f), join(dir, f));
  for (const [from, as] of modules) copyFileSync(from, join(dir, as));
  return dir;
}

function runChild(kind: string, dir: string): Record<string, unknown> {
  const out = execFileSync(process.execPath, ["--import", "tsx", join(root, "bench", "cpu-7b.bench.ts"), "--child", kind,
    "--work", a.work, "--tokens", String(tokens), "--threads", String(threads)],
    { env: { ...process.env, VIDEOSCORE2_BINARY: join(dir, "videoscore2.node") }, encoding: "utf8", maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "inherit"] });
  const line = out.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`${kind} in ${dir}: no result`);
  return JSON.parse(line.slice(7)) as Record<string, unknown>;
}

async function parent(): Promise<void> {
  for (const f of Object.values(models)) if (!existsSync(f)) throw new Error(`${f} is missing: npx tsx bench/gpu/score-7b.ts --quant Q4_K_M --only model --work ${a.work}`);
  if (!existsSync(clip)) {
    mkdirSync(join(a.work, "clips"), { recursive: true });
    execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=4", "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", clip]);
  }
  const sections = new Set(a.sections!.split(",").map(Number));
  const runs = Number(a.runs);
  const report: Record<string, unknown> = { cpu: cpus()[0]?.model, threads, tokens, runs };
  const shipped = join(root, "build", "cpu");
  const median = (xs: number[]) => {
    const o = [...xs].sort((x, y) => x - y);
    return o.length % 2 ? o[(o.length - 1) / 2]! : (o[o.length / 2 - 1]! + o[o.length / 2]!) / 2;
  };

  if (sections.has(1)) {
    const dirs: Record<string, string> = {
      avx2: variantDir("avx2", [[join(shipped, "libggml-cpu-haswell.so"), "libggml-cpu-haswell.so"]]),
      auto: variantDir("auto", readdirSync(shipped).filter((f) => f.startsWith("libggml-cpu-")).map((f) => [join(shipped, f), f])),
    };
    if (existsSync(a["native-module"]!)) {
      dirs.native = variantDir("native", [[a["native-module"]!, "libggml-cpu-native.so"]]);
      // Built beside a libggml-base.so of its own: point it at ours, found beside it.
      const mod = join(dirs.native, "libggml-cpu-native.so");
      execFileSync("patchelf", ["--replace-needed", "libggml-base.so.0", "libvs2-ggml-base.so", "--set-rpath", "$ORIGIN", mod]);
    } else console.error(`no ${a["native-module"]}: the -march=native row is left out (bash bench/build-cpu-native.sh)`);
    const rows: Record<string, Record<string, unknown>[]> = {};
    for (let r = 0; r < runs; r++)
      for (const [name, dir] of Object.entries(dirs)) {
        const res = runChild("speed", dir);
        console.error(`run ${r + 1} ${name}: ${JSON.stringify(res)}`);
        (rows[name] ??= []).push(res);
      }
    const speed: Record<string, unknown> = {};
    for (const [name, rs] of Object.entries(rows))
      speed[name] = { cpuVariant: rs[0]!.cpuVariant, prefillTps: median(rs.map((x) => x.prefillTps as number)), genTps: median(rs.map((x) => x.genTps as number)),
        promptTokens: rs[0]!.promptTokens, loadMs: median(rs.map((x) => x.loadMs as number)), encodeMs: median(rs.map((x) => x.encodeMs as number)) };
    report.speed = speed;
    console.log("\nbackend   module           prefill tok/s   gen tok/s   vision encode   load");
    for (const [name, s] of Object.entries(speed) as [string, Record<string, number | string>][])
      console.log(`${name.padEnd(9)} ${String(s.cpuVariant).padEnd(16)} ${(s.prefillTps as number).toFixed(2).padStart(13)}   ${(s.genTps as number).toFixed(2).padStart(9)}   ${((s.encodeMs as number) / 1000).toFixed(1).padStart(11)} s   ${((s.loadMs as number) / 1000).toFixed(1)} s`);
    const sp = speed as Record<string, { prefillTps: number; genTps: number }>;
    if (sp.native) console.log(`picked vs -march=native prefill: ${(sp.native.prefillTps / sp.auto!.prefillTps).toFixed(3)}x slower (goal <= 1.05)`);
  }

  if (sections.has(2)) {
    const ms: Record<number, number[]> = { 1: [], 4: [] };
    for (let r = 0; r < runs; r++)
      for (const p of [1, 4]) {
        const res = runChild(`parallel${p}`, shipped);
        console.error(`run ${r + 1} parallel ${p}: ${JSON.stringify(res)}`);
        ms[p]!.push(res.ms as number);
      }
    report.parallel = { ms1: median(ms[1]!), ms4: median(ms[4]!), ratio: median(ms[1]!) / median(ms[4]!) };
    console.log(`\n4 think-mode calls x ${tokens} tokens on one EncodedVideo: parallel 1 ${(median(ms[1]!) / 1000).toFixed(1)} s, parallel 4 ${(median(ms[4]!) / 1000).toFixed(1)} s: ${(median(ms[1]!) / median(ms[4]!)).toFixed(2)}x (goal >= 1.4)`);
  }
  if (a.json) writeFileSync(a.json, JSON.stringify(report, null, 2));
}
