// The Vulkan backend, run on Mesa's software device (llvmpipe): every GPU line of the engine —
// offloaded layers, the vision encoder on a device, KV cells in device memory copied out by encode()
// and forked by samples, logits read back — executes here. Each case checks where loading put
// things, so a silent run on the CPU fails. Skipped where build/vulkan or llvmpipe is absent.
import { spawnSync } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VideoScorer, versions, type LoadOptions, type ScoreResult } from "../../src/index.js";
import { FIXTURE_DIR, tinyModels } from "../fixtures/models.js";
import { h264Clip } from "../fixtures/videos.js";
import { canHideLibav, systemVulkanLoaderFiles, withFilesHidden } from "../fixtures/hide-libav.js";

const root = join(import.meta.dirname, "..", "..");
const module = join(root, "build", "vulkan", "libggml-vulkan.so");
const llvmpipe = existsSync(module) && versions("cpu").gpuDevices.some((d) => d.backend === "vulkan" && d.type === "software");
const dir = join(FIXTURE_DIR, "vulkan");
const GREEDY = { prompt: "a fox jumps", temperature: 0, maxTokens: 12 };

let clip: string;
let gpu: VideoScorer;
let cpu: VideoScorer;

/** The tiny model on llvmpipe, named (auto never picks a software device). */
async function onLlvmpipe(extra: Partial<LoadOptions> = {}): Promise<VideoScorer> {
  return VideoScorer.load({ ...(await tinyModels()), contextSize: 2048, threads: 2, gpu: "vulkan", gpuDevice: "llvmpipe", ...extra });
}

function expectOnVulkan(s: VideoScorer): void {
  const i = s.info;
  expect(i.device).toMatch(/^Vulkan\d+$/);
  expect(i.offloadedLayers).toBe(i.nLayer + 1);
  expect(i.visionDevice).toBe(i.device);
  expect(i.visionOnGpu).toBe(true);
  expect(i.buffers.filter((b) => b.device === i.device).map((b) => b.kind)).toEqual(expect.arrayContaining(["model", "kv", "compute"]));
}

/** Largest difference of p(1..5) over the three dimensions. */
function maxProbDiff(a: ScoreResult, b: ScoreResult): number {
  let m = 0;
  for (const d of ["visualQuality", "textAlignment", "physicalConsistency"] as const)
    for (let k = 0; k < 5; k++) m = Math.max(m, Math.abs(a[d].probs![k]! - b[d].probs![k]!));
  return m;
}

describe.skipIf(!llvmpipe)("Vulkan on llvmpipe", () => {
  beforeAll(async () => {
    clip = await h264Clip(join(dir, "clip.mp4"), ["-f", "lavfi", "-i", "testsrc2=size=112x112:rate=4", "-frames:v", "8"]);
    const models = await tinyModels();
    gpu = await onLlvmpipe({ parallel: 2 });
    cpu = await VideoScorer.load({ ...models, contextSize: 2048, threads: 2, gpu: "cpu", flashAttention: false });
  }, 120_000);

  afterAll(async () => {
    await gpu?.dispose();
    await cpu?.dispose();
  });

  it("offloads every layer and the vision encoder to the device named", () => {
    expectOnVulkan(gpu);
    expect(cpu.info.device).toBe("");
    expect(cpu.info.visionDevice).toBe("CPU");
    expect(cpu.info.offloadedLayers).toBe(0);
  });

  it("greedy tokens equal the CPU's, p(1..5) within 1e-5 (think and direct mode)", async () => {
    const [g, c] = [await gpu.score(clip, GREEDY), await cpu.score(clip, GREEDY)];
    expect(g.tokens.length).toBe(12);
    expect(g.tokens).toEqual(c.tokens);
    expect(g.frames).toEqual(c.frames);
    const [gd, cd] = [await gpu.score(clip, { prompt: GREEDY.prompt, mode: "direct" }), await cpu.score(clip, { prompt: GREEDY.prompt, mode: "direct" })];
    // Measured on llvmpipe: 2e-6 (the two backends sum in different orders).
    expect(maxProbDiff(gd, cd)).toBeLessThan(1e-5);
    expect(gd.visualQuality.score).toBe(cd.visualQuality.score);
  }, 120_000);

  it("encode once / ask many and samples: 2 on device KV cells equal a fresh score", async () => {
    const encoded = await gpu.encode(clip);
    try {
      const opts = { prompt: GREEDY.prompt, maxTokens: 8, temperature: 0.9, seed: 3, samples: 2 };
      const [fromEncoded, fresh] = [await gpu.score(encoded, opts), await gpu.score(clip, opts)];
      expect(fromEncoded.samples!.map((s) => s.tokens)).toEqual(fresh.samples!.map((s) => s.tokens));
      expect(fromEncoded.samples![0]!.tokens).not.toEqual(fromEncoded.samples![1]!.tokens);
    } finally {
      encoded.dispose();
    }
  }, 120_000);

  it("parallel: 2 calls decoded together, an abort mid-call, and the next call works", async () => {
    const ac = new AbortController();
    const aborted = gpu.score(clip, { ...GREEDY, maxTokens: 200, signal: ac.signal, onProgress: (p) => p.phase === "generate" && ac.abort() });
    const [a, b] = await Promise.all([gpu.score(clip, GREEDY), aborted.then(() => null, (e: { code?: string }) => e.code)]);
    expect(b).toBe("ERR_ABORTED");
    const solo = await gpu.score(clip, GREEDY);
    expect(a.tokens).toEqual(solo.tokens);
  }, 120_000);

  it("partial offload: one layer on the device, the rest and the output on the CPU", async () => {
    const s = await onLlvmpipe({ gpuDevice: 0, gpuLayers: 1 });
    try {
      expect(s.info.offloadedLayers).toBe(1);
      expect(s.info.device).toMatch(/^Vulkan/);
      const [p, c] = [await s.score(clip, GREEDY), await cpu.score(clip, GREEDY)];
      expect(p.tokens).toEqual(c.tokens);
    } finally {
      await s.dispose();
    }
  }, 120_000);

  /** A child process: a fresh loader state, and environment variables that hide the device. */
  let n = 0;
  function child(code: string, env: Record<string, string> = {}): { out: string; err: string } {
    const file = join(dir, `child-${process.pid}-${n++}.ts`);
    writeFileSync(file, code);
    const r = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: root, encoding: "utf8", env: { ...process.env, VIDEOSCORE2_QUIET: "", ...env }, timeout: 120_000 });
    rmSync(file, { force: true });
    return { out: r.stdout, err: r.stderr };
  }
  const loadIn = (opts: string) =>
    `import { VideoScorer } from "${root}/src/index.js"; import { tinyModels } from "${root}/test/fixtures/models.js";
     try { const s = await VideoScorer.load({ ...(await tinyModels()), contextSize: 1024, ${opts} });
           console.log(JSON.stringify({ device: s.info.device, vision: s.info.visionDevice })); await s.dispose(); }
     catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`;

  it("auto never picks the software device: it uses the CPU and says so in one line", () => {
    const r = child(loadIn(`gpu: "auto"`));
    expect(JSON.parse(r.out)).toEqual({ device: "", vision: "CPU" });
    expect(r.err.split("\n").filter((l) => l.includes("using the CPU"))).toEqual([expect.stringMatching(/no hardware Vulkan device.*llvmpipe/)]);
  });

  it("gpu: vulkan with only a software device, or none, is ERR_GPU_UNAVAILABLE that says what to do", () => {
    const soft = JSON.parse(child(loadIn(`gpu: "vulkan"`)).out);
    expect(soft.code).toBe("ERR_GPU_UNAVAILABLE");
    expect(soft.message).toMatch(/llvmpipe.*gpuDevice/);
    const none = JSON.parse(child(loadIn(`gpu: "vulkan", gpuDevice: "llvmpipe"`), { VK_ICD_FILENAMES: "/nonexistent/icd.json", VK_DRIVER_FILES: "/nonexistent/icd.json" }).out);
    expect(none.code).toBe("ERR_GPU_UNAVAILABLE");
    const wrong = JSON.parse(child(loadIn(`gpu: "vulkan", gpuDevice: 7`)).out);
    expect(wrong).toMatchObject({ code: "ERR_GPU_UNAVAILABLE", message: expect.stringMatching(/names no Vulkan device.*llvmpipe/) });
  });

  it.runIf(canHideLibav && systemVulkanLoaderFiles().length > 0)("with the Vulkan loader hidden, gpu: vulkan is ERR_GPU_UNAVAILABLE naming libvulkan.so.1", () => {
    const file = join(dir, "hidden-loader.ts");
    writeFileSync(file, loadIn(`gpu: "vulkan", gpuDevice: "llvmpipe"`));
    const r = withFilesHidden(systemVulkanLoaderFiles(), `cd ${JSON.stringify(root)} && ${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(file)}`);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(out.code, r.stderr).toBe("ERR_GPU_UNAVAILABLE");
    expect(out.message).toMatch(/libvulkan\.so\.1/);
    expect(out.message).toMatch(/install/);
  });

  it("flash attention on the device: measured against the CPU (docs/backends.md)", async () => {
    const s = await onLlvmpipe({ flashAttention: true });
    try {
      expectOnVulkan(s);
      const [g, c] = [await s.score(clip, { prompt: GREEDY.prompt, mode: "direct" }), await cpu.score(clip, { prompt: GREEDY.prompt, mode: "direct" })];
      const d = maxProbDiff(g, c);
      console.log(`flash attention on llvmpipe: max |p(1..5) difference| against the CPU = ${d.toExponential(2)}`);
      expect(d).toBeLessThan(1e-4);
    } finally {
      await s.dispose();
    }
  }, 120_000);

  it("dispose() with a call in flight settles the call and leaves the next load working", async () => {
    const s = await onLlvmpipe();
    const inFlight = s.score(clip, { ...GREEDY, maxTokens: 200 }).then(() => "done", (e: { code?: string }) => e.code);
    await new Promise((r) => setTimeout(r, 300));
    await s.dispose();
    expect(["done", "ERR_DISPOSED", "ERR_ABORTED"]).toContain(await inFlight);
    const again = await onLlvmpipe();
    try {
      expectOnVulkan(again);
    } finally {
      await again.dispose();
    }
  }, 120_000);

  it("a scorer in a worker thread runs on the device and scores the main thread's tokens", async () => {
    const file = join(dir, "worker.mjs");
    writeFileSync(
      file,
      `import { parentPort } from "node:worker_threads";
import { VideoScorer } from ${JSON.stringify(join(root, "dist", "index.js"))};
const s = await VideoScorer.load({ ...${JSON.stringify(await tinyModels())}, contextSize: 2048, threads: 2, gpu: "vulkan", gpuDevice: "llvmpipe" });
const r = await s.score(${JSON.stringify(clip)}, ${JSON.stringify(GREEDY)});
parentPort.postMessage({ device: s.info.device, vision: s.info.visionDevice, tokens: r.tokens });
await s.dispose();`,
    );
    const { Worker } = await import("node:worker_threads");
    const w = new Worker(file);
    const msg = await new Promise<{ device: string; vision: string; tokens: number[] }>((res, rej) => {
      w.once("message", res);
      w.once("error", rej);
    });
    await w.terminate();
    expect(msg.device).toMatch(/^Vulkan\d+$/);
    expect(msg.vision).toBe(msg.device);
    expect(msg.tokens).toEqual((await cpu.score(clip, GREEDY)).tokens);
  }, 120_000);

  it("versions() lists the device with its name, type, driver and memory once the module is loaded", () => {
    const dev = versions().gpuDevices.find((d) => d.backend === "vulkan" && d.type === "software");
    expect(dev).toMatchObject({ name: expect.stringMatching(/^Vulkan\d+$/), description: expect.stringMatching(/llvmpipe/), driver: expect.stringMatching(/Mesa/), index: 0 });
    expect(dev!.memoryTotal).toBeGreaterThan(0);
  });
});
