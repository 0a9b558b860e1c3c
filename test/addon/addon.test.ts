// The foundation: the addon loads in the main thread and in worker threads at once, reports the
// pinned llama.cpp commit and the libav versions pkg-config found; the loader's error lists every
// path tried and the fix; the fetch script refuses a tarball whose integrity does not match.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { copyCpuBuild } from "../fixtures/binaries.js";
import { versions } from "../../src/index.js";
import { candidatePaths, packageRoot, unpackedPath } from "../../src/addon/loader.js";
import { openOptions } from "../../src/video/limits.js";
// @ts-expect-error plain ESM script without types
import { PIN, verifyTarball, FetchError } from "../../scripts/fetch-llama.mjs";

const root = packageRoot();
const pkgVersion = (lib: string) => execFileSync("pkg-config", ["--modversion", lib]).toString().trim();

describe("addon", () => {
  it("reports the pinned llama.cpp commit, ggml, libav versions from pkg-config, CUDA and Node-API", () => {
    const v = versions("cpu");
    expect(v.llamaCommit).toBe(PIN.commit);
    expect(v.llamaCommit.startsWith("80fb11a")).toBe(true);
    expect(v.ggml).toMatch(/^\d+\.\d+\.\d+/);
    expect(v.libavformat).toBe(pkgVersion("libavformat"));
    expect(v.libavcodec).toBe(pkgVersion("libavcodec"));
    expect(v.libswscale).toBe(pkgVersion("libswscale"));
    expect(v.libavutil).toBe(pkgVersion("libavutil"));
    expect(v.cuda).toBe(false);
    expect(v.napiVersion).toBe(8);
    expect(v.binary).toContain("videoscore2.node");
  });

  it("loads in two worker threads at once (per-environment instance data)", async () => {
    const binary = versions("cpu").binary;
    const code = `
      const { parentPort, workerData } = require("node:worker_threads");
      const addon = require(workerData.binary);
      class E extends Error { constructor(code, message) { super(message); this.code = code; } }
      addon.setErrorClass(E);
      addon.openVideo(workerData.open).then(
        () => parentPort.postMessage({ ok: false }),
        (e) => parentPort.postMessage({ ok: e instanceof E, code: e.code, commit: addon.versions().llamaCommit }));`;
    const run = () =>
      new Promise<{ ok: boolean; code: string; commit: string }>((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { binary, open: openOptions("/definitely/missing.mp4") } });
        w.once("message", (m) => {
          resolve(m);
          void w.terminate();
        });
        w.once("error", reject);
      });
    const results = await Promise.all([run(), run()]);
    for (const r of results) expect(r).toEqual({ ok: true, code: "ERR_INPUT_NOT_FOUND", commit: PIN.commit });
    // and the main thread's addon still works after the workers are gone
    expect(versions("cpu").llamaCommit).toBe(PIN.commit);
  });
});

describe("loader", () => {
  function probe(env: NodeJS.ProcessEnv): { code: string; message: string; path?: string } {
    const script = `
      import { loadAddon } from ${JSON.stringify(join(root, "src", "addon", "loader.ts"))};
      try { loadAddon("cpu"); console.log("LOADED"); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, path: e.path })); }`;
    const dir = mkdtempSync(join(tmpdir(), "vs2-loader-"));
    const file = join(dir, "probe.mts");
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, ["--import", "tsx", file], { env: { ...process.env, ...env }, cwd: root });
    return JSON.parse(r.stdout.toString().trim().split("\n").pop()!);
  }

  it("lists every path tried and the fixes that work from inside an app when nothing loads", () => {
    // A copy of the package with no build and no prebuilds: the loader must fail cleanly.
    const fakeRoot = mkdtempSync(join(tmpdir(), "vs2-root-"));
    writeFileSync(join(fakeRoot, "package.json"), JSON.stringify({ name: "videoscore2-native" }));
    const out = probe({ VIDEOSCORE2_BINARY: "", VIDEOSCORE2_TEST_ROOT: fakeRoot });
    expect(out.code).toBe("ERR_BINARY_NOT_FOUND");
    for (const c of candidatePaths("cpu", fakeRoot)) expect(out.message).toContain(`${c.path}: not found`);
    expect(out.message).toContain("npm install cmake-js node-addon-api node-api-headers && npm rebuild videoscore2-native");
    expect(out.message).toContain("npm install @videoscore2-native/linux-x64");
    expect(out.message).toContain(`node ${join(fakeRoot, "scripts", "build.mjs")}`);
    expect(out.message).not.toContain("npm run build"); // in an app that runs the app's own script
    expect(out.message).toContain("VIDEOSCORE2_BINARY");
  });

  it("inside an Electron app, the binaries are loaded from app.asar.unpacked (dlopen cannot read the archive)", () => {
    // The layout electron-builder makes with asarUnpack: the package's JS in app.asar, its .node beside it unpacked.
    const res = mkdtempSync(join(tmpdir(), "vs2-electron-"));
    const packed = join(res, "resources", "app.asar", "node_modules", "videoscore2-native");
    const unpacked = join(res, "resources", "app.asar.unpacked", "node_modules", "videoscore2-native");
    for (const d of [packed, unpacked]) {
      mkdirSync(join(d, "build", "cpu"), { recursive: true });
      writeFileSync(join(d, "package.json"), JSON.stringify({ name: "videoscore2-native" }));
    }
    copyCpuBuild(join(root, "build", "cpu", "videoscore2.node"), join(unpacked, "build", "cpu"));
    expect(unpackedPath(join(packed, "build", "cpu", "videoscore2.node"))).toBe(join(unpacked, "build", "cpu", "videoscore2.node"));
    expect(candidatePaths("cpu", packed).every((c) => !c.path.includes(`app.asar${sep}`))).toBe(true);
    const script = join(res, "probe.mts");
    writeFileSync(script, `import { loadAddon } from ${JSON.stringify(join(root, "src", "addon", "loader.ts"))}; console.log(loadAddon("cpu").path);`);
    const r = spawnSync(process.execPath, ["--import", "tsx", script], { env: { ...process.env, VIDEOSCORE2_BINARY: "", VIDEOSCORE2_TEST_ROOT: packed }, cwd: root, encoding: "utf8" });
    expect(r.stdout.trim().split("\n").pop()).toBe(join(unpacked, "build", "cpu", "videoscore2.node"));
  });

  it.skipIf(!versions("cpu").modular)("a candidate without its CPU modules is passed over for the next one, and the error of the first stays in the list", () => {
    const fakeRoot = mkdtempSync(join(tmpdir(), "vs2-root-"));
    writeFileSync(join(fakeRoot, "package.json"), JSON.stringify({ name: "videoscore2-native" }));
    const broken = join(fakeRoot, "build", "cpu");
    const good = join(fakeRoot, "build", "Release");
    copyCpuBuild(join(root, "build", "cpu", "videoscore2.node"), broken);
    copyCpuBuild(join(root, "build", "cpu", "videoscore2.node"), good);
    for (const f of readdirSync(broken)) if (f.startsWith("libggml-cpu-")) rmSync(join(broken, f));
    const script = join(fakeRoot, "probe.mts");
    writeFileSync(script, `import { loadAddon } from ${JSON.stringify(join(root, "src", "addon", "loader.ts"))}; console.log(JSON.stringify({ path: loadAddon("cpu").path, variant: loadAddon("cpu").cpuVariant }));`);
    const r = spawnSync(process.execPath, ["--import", "tsx", script], { env: { ...process.env, VIDEOSCORE2_BINARY: "", VIDEOSCORE2_TEST_ROOT: fakeRoot }, cwd: root, encoding: "utf8" });
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(out.path).toBe(join(good, "videoscore2.node"));
    expect(out.variant).toBe(versions("cpu").cpuVariant);
    // With no good candidate at all, the modules' absence is named in the list of what was tried.
    rmSync(good, { recursive: true });
    const m = probe({ VIDEOSCORE2_BINARY: "", VIDEOSCORE2_TEST_ROOT: fakeRoot });
    expect(m.code).toBe("ERR_BINARY_NOT_FOUND");
    expect(m.message).toContain(`${join(broken, "videoscore2.node")}: No CPU backend (libggml-cpu-*.so) beside the addon`);
  });

  it("a VIDEOSCORE2_BINARY that does not load is an error naming it, not a fall-back to another binary", () => {
    const dir = mkdtempSync(join(tmpdir(), "vs2-loader-"));
    const missing = join(dir, "nope", "videoscore2.node");
    const m = probe({ VIDEOSCORE2_BINARY: missing });
    expect(m.code).toBe("ERR_BINARY_NOT_FOUND");
    expect(m.path).toBe(missing);
    expect(m.message).toContain(`VIDEOSCORE2_BINARY=${missing} does not load: not found`);
    const broken = join(dir, "broken.node");
    writeFileSync(broken, "not an ELF file");
    const b = probe({ VIDEOSCORE2_BINARY: broken });
    expect(b.code).toBe("ERR_BINARY_NOT_FOUND");
    expect(b.message).toMatch(/does not load: .*(invalid ELF header|file too short)/);
  });
});

describe("fetch-llama", () => {
  it("refuses a tarball whose integrity does not match", () => {
    const dir = mkdtempSync(join(tmpdir(), "vs2-fetch-"));
    const bad = join(dir, "node-llama-cpp-3.21.1.tgz");
    writeFileSync(bad, "not the real tarball");
    expect(() => verifyTarball(bad)).toThrow(FetchError);
    expect(() => verifyTarball(bad)).toThrow(/integrity mismatch/);
    const r = spawnSync(process.execPath, [join(root, "scripts", "fetch-llama.mjs"), "--tarball", bad, "--dest", join(dir, "llama"), "--force"]);
    expect(r.status).toBe(1);
    expect(r.stderr.toString()).toContain("integrity mismatch");
    expect(r.stderr.toString()).toContain(PIN.integrity);
  });

  it("is a no-op when the tree is current", () => {
    const r = spawnSync(process.execPath, [fileURLToPath(new URL("../../scripts/fetch-llama.mjs", import.meta.url))]);
    expect(r.status).toBe(0);
    expect(r.stdout.toString()).toContain("is up to date");
  });
});

describe("CUDA fallback on a machine without a GPU", () => {
  // A package copy whose CUDA prebuild cannot load here (no driver; the file is not even an ELF) and
  // whose CPU prebuild is the real one: "auto" must fall back to CPU, "cuda" must refuse cleanly.
  const fakeRoot = mkdtempSync(join(tmpdir(), "vs2-prebuilds-"));
  const arch = `${process.platform}-${process.arch}`;
  const setup = () => {
    writeFileSync(join(fakeRoot, "package.json"), JSON.stringify({ name: "videoscore2-native" }));
    execFileSync("mkdir", ["-p", join(fakeRoot, "prebuilds", arch), join(fakeRoot, "prebuilds", `${arch}-cuda`)]);
    writeFileSync(join(fakeRoot, "prebuilds", `${arch}-cuda`, "videoscore2.node"), "not a CUDA build");
    copyCpuBuild(versions("cpu").binary, join(fakeRoot, "prebuilds", arch));
  };
  const probe = (gpu: string) => {
    const file = join(fakeRoot, `probe-${gpu}.mts`);
    writeFileSync(
      file,
      `import { loadAddon } from ${JSON.stringify(join(root, "src", "addon", "loader.ts"))};
       try { const r = loadAddon(${JSON.stringify(gpu)}); console.log(JSON.stringify({ path: r.path, cuda: r.cuda })); }
       catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`,
    );
    const env: NodeJS.ProcessEnv = { ...process.env, VIDEOSCORE2_TEST_ROOT: fakeRoot };
    delete env.VIDEOSCORE2_BINARY; // the package copy's prebuilds are what is tested
    const r = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: root, env });
    return { out: JSON.parse(r.stdout.toString().trim().split("\n").pop()!), stderr: r.stderr.toString() };
  };

  it("auto uses the CPU build and says why once; cuda is ERR_GPU_UNAVAILABLE", () => {
    setup();
    const auto = probe("auto");
    expect(auto.out).toEqual({ path: join(fakeRoot, "prebuilds", arch, "videoscore2.node"), cuda: false });
    const hasDriver = existsSync("/proc/driver/nvidia/version") || existsSync("/dev/nvidia0");
    if (!hasDriver) expect(auto.stderr).toMatch(/CUDA build not usable \(no NVIDIA driver on this machine\); trying Vulkan, then the CPU/);
    const cuda = probe("cuda");
    expect(cuda.out.code).toBe("ERR_GPU_UNAVAILABLE");
    expect(cuda.out.message).toContain(join(fakeRoot, "prebuilds", `${arch}-cuda`, "videoscore2.node"));
  });
});
