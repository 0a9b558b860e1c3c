// The real CUDA binary (build/cuda/videoscore2.node, `npm run build:cuda`), checked on whatever
// machine has one: what it links and exports, and how the loader treats it with no driver, with a
// driver that cannot run it (the toolkit's driver stub), and, where there is a GPU, a score on it.
// Each load runs in a child process: the loader keeps the first binary it loads for the process.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hasNvidiaDriver, packageRoot } from "../../src/addon/loader.js";
import { FIXTURE_DIR, tinyModels } from "../fixtures/models.js";
import { ensureFile, ffmpeg } from "../fixtures/videos.js";
// @ts-expect-error -- a plain ESM script without types
import { existingToolkit, toolkitLibDir } from "../../scripts/setup-cuda.mjs";

const root = packageRoot();
const cudaNode = join(root, "build", "cuda", "videoscore2.node");
const cpuNode = join(root, "build", "cpu", "videoscore2.node");
const driver = hasNvidiaDriver();

/** The driver stub of the toolkit the build used (a system toolkit's, or the one setup-cuda.mjs made). */
function driverStub(): string | undefined {
  const toolkit = existingToolkit();
  const lib = toolkit && toolkitLibDir(toolkit);
  const stub = lib && join(lib, "stubs", "libcuda.so");
  return stub && existsSync(stub) ? stub : undefined;
}

const neededOf = (file: string) => [...execFileSync("readelf", ["-d", file]).toString().matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);

/** Runs a module script with tsx in a child process; returns its exit code, stdout and stderr. */
function child(source: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", source], {
    cwd: root,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, VIDEOSCORE2_BINARY: "", VIDEOSCORE2_GPU: "", VIDEOSCORE2_QUIET: "", ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const index = JSON.stringify(join(root, "src", "index.ts"));

describe.runIf(existsSync(cudaNode))("the CUDA build", () => {
  it("needs only the CPU build's libraries plus the CUDA runtime, cuBLAS and the driver, found through $ORIGIN", () => {
    const cuda = neededOf(cudaNode);
    const extra = cuda.filter((l) => !neededOf(cpuNode).includes(l)).sort();
    expect(extra).toEqual(["libcublas.so.13", "libcuda.so.1", "libcudart.so.13"]); // libcublasLt comes through libcublas
    expect(execFileSync("readelf", ["-d", cudaNode]).toString()).toMatch(/\(RUNPATH\)\s+Library runpath: \[\$ORIGIN\]/);
    // The build links the runtime it was compiled against beside the addon, where $ORIGIN finds it.
    for (const l of ["libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13"]) expect(existsSync(join(root, "build", "cuda", l)), l).toBe(true);
  });

  it("exports only the Node-API entry points (ggml, llama.cpp, CUDA and libav stay inside)", () => {
    const symbols = execFileSync("nm", ["-D", "--defined-only", cudaNode])
      .toString()
      .trim()
      .split("\n")
      .map((l) => l.split(/\s+/).pop()!);
    const ours = symbols.filter((s) => !/^_Z(N|NK|TI|TS|TV|ZN)?St/.test(s)); // libstdc++ template instances are weak and harmless
    expect(ours.sort()).toEqual(["napi_register_module_v1", "node_api_module_get_api_version_v1"]);
    expect(symbols.filter((s) => /ggml|llama|mtmd|cuda|cublas|^av/i.test(s))).toEqual([]);
  });

  it.runIf(!driver)("without a driver, gpu: \"cuda\" is ERR_GPU_UNAVAILABLE and names the driver's library", () => {
    const r = child(`
      import { versions } from ${index};
      try { versions("cuda"); console.log("loaded"); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
    `);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(out.code).toBe("ERR_GPU_UNAVAILABLE");
    expect(out.message).toContain(cudaNode);
    expect(out.message).toMatch(/libcuda\.so\.1.*NVIDIA driver/);
  });

  it.runIf(!driver)("without a driver, gpu: \"auto\" uses the CPU build and says why in one line", () => {
    const r = child(`
      import { versions } from ${index};
      const v = versions("auto");
      console.log(JSON.stringify({ cuda: v.cuda, binary: v.binary, notes: v.loaderNotes }));
    `);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(out.cuda).toBe(false);
    expect(out.binary).toBe(cpuNode);
    const warnings = r.stderr.split("\n").filter((l) => /CUDA/.test(l));
    expect(warnings).toEqual([`videoscore2-native: CUDA build not usable (no NVIDIA driver on this machine); using the CPU build`]);
    expect(out.notes).toEqual(warnings);
  });

  const stub = driverStub();
  it.runIf(!driver && stub !== undefined)(
    "with a driver that cannot run it (the toolkit's stub), the binary loads and reports a CUDA build with no device; gpu: \"cuda\" says so",
    () => {
      const dir = mkdtempSync(join(tmpdir(), "vs2-stub-"));
      try {
        symlinkSync(stub!, join(dir, "libcuda.so.1"));
        const env = { LD_LIBRARY_PATH: dir };
        const direct = child(`
          import { createRequire } from "node:module";
          const v = createRequire(import.meta.url)(${JSON.stringify(cudaNode)}).versions();
          console.log(JSON.stringify(v));
        `, env);
        expect(direct.status, direct.stderr).toBe(0);
        const v = JSON.parse(direct.stdout.trim().split("\n").pop()!);
        expect(v.cuda).toBe(true);
        expect(v.gpuDevices).toEqual([]);
        expect(v.llamaCommit).toMatch(/^80fb11a/);

        const viaLoader = child(`
          import { versions } from ${index};
          try { versions("cuda"); console.log("loaded"); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
        `, env);
        const out = JSON.parse(viaLoader.stdout.trim().split("\n").pop()!);
        expect(out.code).toBe("ERR_GPU_UNAVAILABLE");
        expect(out.message).toMatch(/loads but finds no CUDA device/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it.runIf(driver)("with a GPU, versions() lists it and a score with every layer on it gives the CPU build's answer", async () => {
    const models = await tinyModels();
    const clip = await ensureFile(join(FIXTURE_DIR, "videos", "cuda-2s.mp4"), (tmp) =>
      ffmpeg(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=8:duration=2", "-pix_fmt", "yuv420p", "-c:v", "libx264", tmp]),
    );
    const script = (gpu: string) => `
      import { VideoScorer, versions } from ${index};
      const s = await VideoScorer.load({ model: ${JSON.stringify(models.model)}, mmproj: ${JSON.stringify(models.mmproj)}, gpu: "${gpu}", gpuLayers: -1 });
      const r = await s.score(${JSON.stringify(clip)}, { prompt: "a test", temperature: 0, maxTokens: 64 });
      console.log(JSON.stringify({ v: versions(), tokens: r.tokens.slice(0, 8), probs: r.visualQuality.rawProbs }));
      await s.dispose();
    `;
    const gpu = child(script("cuda"));
    expect(gpu.status, gpu.stderr).toBe(0);
    const g = JSON.parse(gpu.stdout.trim().split("\n").pop()!);
    expect(g.v.cuda).toBe(true);
    expect(g.v.gpuDevices.length).toBeGreaterThan(0);
    const cpu = JSON.parse(child(script("cpu")).stdout.trim().split("\n").pop()!);
    expect(g.tokens).toEqual(cpu.tokens);
  }, 600_000);
});
