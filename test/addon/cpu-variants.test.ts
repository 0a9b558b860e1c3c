// The CPU backend is chosen at load among one module per x86 level (docs/backends.md). QEMU's
// user-mode emulator runs Node under older CPU models: Westmere (SSE4.2, no AVX) must load the
// sse42 module, Haswell the AVX2 one, and a Core 2 (below x86-64-v2) must get ERR_CPU_UNSUPPORTED
// at load, never SIGILL; each scores with the greedy tokens of this machine's own variant. QEMU 7.2
// emulates no AVX-512, so the AVX-512 levels are checked on a host that has it (this one's pick
// must be the variant of best score, and it scores the same tokens).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { versions } from "../../src/index.js";
import { FIXTURE_DIR, tinyModels } from "../fixtures/models.js";
import { h264Clip } from "../fixtures/videos.js";

const root = join(import.meta.dirname, "..", "..");
const dist = join(root, "dist", "index.js");
const qemu = spawnSync("qemu-x86_64", ["--version"]).status === 0;
const dir = join(FIXTURE_DIR, "cpu-variants");
const script = join(dir, "score.mjs");

function run(cpu?: string): { variant?: string; tokens?: number[]; code?: string; message?: string } {
  const args = [process.execPath, script];
  const r = cpu ? spawnSync("qemu-x86_64", ["-cpu", cpu, ...args], { encoding: "utf8", timeout: 300_000 }) : spawnSync(args[0]!, args.slice(1), { encoding: "utf8", timeout: 120_000 });
  expect(r.signal, r.stderr).toBeNull();
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

describe.skipIf(!versions("cpu").modular)("CPU variant chosen at load", () => {
  let native: { variant?: string; tokens?: number[] };
  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    const clip = await h264Clip(join(dir, "clip.mp4"), ["-f", "lavfi", "-i", "testsrc2=size=112x112:rate=4", "-frames:v", "8"]);
    const m = await tinyModels();
    writeFileSync(
      script,
      `import { versions, VideoScorer } from ${JSON.stringify(dist)};
try {
  const v = versions("cpu");
  const s = await VideoScorer.load({ model: ${JSON.stringify(m.model)}, mmproj: ${JSON.stringify(m.mmproj)}, gpu: "cpu", contextSize: 1024, threads: 1 });
  const r = await s.score(${JSON.stringify(clip)}, { prompt: "a fox", temperature: 0, maxTokens: 4, nframes: 2 });
  console.log(JSON.stringify({ variant: v.cpuVariant, tokens: r.tokens }));
  await s.dispose();
} catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
`,
    );
    if (!existsSync(dist)) throw new Error(`${dist} is missing: run npx tsup (npm test does)`);
    native = run();
  }, 120_000);

  it("this machine loads the variant of the best score", () => {
    const v = versions("cpu");
    expect(v.cpuVariant).toBe(native.variant);
    expect(native.tokens).toHaveLength(4);
  });

  it("the AMX level is opt-in (VIDEOSCORE2_CPU_AMX=1): scored 0 without it, so a q8_0 model never reaches its tile kernels", () => {
    const amx = versions("cpu").cpuScores.find((c) => c.variant === "sapphirerapids");
    expect(amx).toBeDefined();
    expect(amx!.score).toBe(0);
    expect(versions("cpu").cpuVariant).not.toBe("sapphirerapids");
  });

  it.skipIf(!qemu)("Westmere (x86-64-v2, no AVX) loads sse42 and scores the same tokens", () => {
    expect(run("Westmere")).toEqual({ variant: "sse42", tokens: native.tokens });
  }, 300_000);

  it.skipIf(!qemu)("Haswell loads the AVX2 variant and scores the same tokens", () => {
    expect(run("Haswell")).toEqual({ variant: "haswell", tokens: native.tokens });
  }, 300_000);

  it.skipIf(!qemu)("a Core 2 (below x86-64-v2) gets ERR_CPU_UNSUPPORTED at load, not SIGILL", () => {
    const r = run("core2duo");
    expect(r.code).toBe("ERR_CPU_UNSUPPORTED");
    expect(r.message).toMatch(/x86-64-v2.*newer CPU/);
  }, 300_000);
});
