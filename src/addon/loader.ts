/**
 * Finds and loads videoscore2.node: an explicit VIDEOSCORE2_BINARY, then the local build, then the
 * prebuilt binaries. When nothing loads, one error lists every path tried, why it failed, and the
 * commands that fix it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { VideoScoreError } from "./errors.js";
import type { NativeAddon } from "./interface.js";

/**
 * Which backend to use: "auto" tries CUDA, then a hardware Vulkan device, then the CPU
 * (docs/backends.md); "vulkan" and "cuda" fail rather than fall back.
 */
export type GpuPreference = "auto" | "cuda" | "vulkan" | "cpu";
export const GPU_PREFERENCES: readonly GpuPreference[] = ["auto", "cuda", "vulkan", "cpu"];

/** One candidate the loader tried. */
export interface BinaryAttempt {
  path: string;
  error: string;
}

const require_ = createRequire(import.meta.url);

/** The package root: the nearest folder upward holding our package.json (works from src/ and dist/). */
export function packageRoot(): string {
  // Tests point the loader at an empty copy of the package to exercise its error.
  if (process.env.VIDEOSCORE2_TEST_ROOT) return process.env.VIDEOSCORE2_TEST_ROOT;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, "package.json");
    if (existsSync(pj)) {
      try {
        if (JSON.parse(readFileSync(pj, "utf8")).name === "videoscore2-native") return dir;
      } catch {
        /* keep looking */
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error("videoscore2-native: cannot find the package root");
    dir = up;
  }
}

/** Whether the NVIDIA kernel driver is present (the CUDA build needs its libcuda). */
export function hasNvidiaDriver(): boolean {
  return existsSync("/proc/driver/nvidia/version") || existsSync("/dev/nvidia0");
}

/** What a missing library means, and what to do about it. */
function libraryHint(why: string, path: string): string {
  if (/libcuda\.so/.test(why)) return `${why} — libcuda is the NVIDIA driver's library: install the NVIDIA driver (580 or newer for CUDA 13)`;
  if (/libcu(blas|blasLt|dart)\.so/.test(why)) {
    const setup = join(packageRoot(), "scripts", "setup-cuda.mjs");
    return `${why} — put CUDA 13's runtime and cuBLAS beside ${path} with \`node ${setup} --runtime ${dirname(path)}\`, or install the CUDA 13 toolkit`;
  }
  return why;
}

/**
 * Loads a CUDA build in a child process first: a missing driver or library must not take us down,
 * and a build that loads but sees no GPU (driver too old, no device) is no use either. Returns why
 * it cannot be used, or null.
 */
function probeInChild(path: string): string | null {
  const script = `const a = require(${JSON.stringify(path)}); process.stdout.write(String(a.versions().gpuDevices.length))`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 60_000 });
  const lines = (r.stderr ?? "").trim().split("\n").filter(Boolean);
  if (r.status === 0) {
    if (Number(r.stdout) > 0) return null;
    // ggml says why CUDA did not initialise ("failed to initialize CUDA: <the runtime's reason>").
    const cudaLine = lines.find((l) => /CUDA/.test(l));
    return `it loads but finds no CUDA device${cudaLine ? ` (${cudaLine.trim()})` : ""}`;
  }
  // Node prints the dlopen error as "Error: <why>" above a stack and an object dump: keep the why.
  const why = lines.find((l) => /^\w*Error: /.test(l.trim()));
  return libraryHint(why ? why.trim().replace(/^\w*Error: /, "") : lines.slice(-3).join(" ") || r.error?.message || `exit ${r.status}`, path);
}

/** The platform package's name for this machine: `@videoscore2-native/<platform>-<arch>[-cuda|-vulkan]` (scripts/pack.mjs). */
export function platformPackage(cuda: boolean | "vulkan"): string {
  return `@videoscore2-native/${process.platform}-${process.arch}${cuda === "vulkan" ? "-vulkan" : cuda ? "-cuda" : ""}`;
}

/** A file of an installed platform package, resolved as Node resolves a dependency of ours. */
function platformFile(pkg: boolean | "vulkan", root: string, file: string): string | null {
  try {
    return join(dirname(createRequire(join(root, "package.json")).resolve(`${platformPackage(pkg)}/package.json`)), file);
  } catch {
    return null;
  }
}
const platformBinary = (cuda: boolean, root: string) => platformFile(cuda, root, "videoscore2.node");

/** Where the Vulkan backend module may be, in order: the local build, the platform package, prebuilds. */
export function vulkanModulePaths(root = packageRoot()): string[] {
  const file = "libggml-vulkan.so";
  const pkg = platformFile("vulkan", root, file);
  return [join(root, "build", "vulkan", file), ...(pkg ? [pkg] : []), join(root, "prebuilds", `${process.platform}-${process.arch}-vulkan`, file)].map(unpackedPath);
}

/**
 * Inside an Electron app the package sits in `app.asar`, which Electron's fs can read but dlopen
 * cannot: the .node and its libraries must be unpacked (`asarUnpack`), into `app.asar.unpacked`.
 */
export function unpackedPath(path: string): string {
  return path.replace(/([\\/])app\.asar([\\/])/, "$1app.asar.unpacked$2");
}

/** The candidate paths, in order, for this platform and preference. */
export function candidatePaths(gpu: GpuPreference, root = packageRoot()): { path: string; cuda: boolean }[] {
  const out: { path: string; cuda: boolean }[] = [];
  const explicit = process.env.VIDEOSCORE2_BINARY;
  if (explicit) out.push({ path: explicit, cuda: /cuda/i.test(explicit) });
  const arch = `${process.platform}-${process.arch}`;
  const cudaPackage = platformBinary(true, root);
  const cpuPackage = platformBinary(false, root);
  const cuda = [
    { path: join(root, "build", "cuda", "videoscore2.node"), cuda: true },
    ...(cudaPackage ? [{ path: cudaPackage, cuda: true }] : []),
    { path: join(root, "prebuilds", `${arch}-cuda`, "videoscore2.node"), cuda: true },
  ];
  const cpu = [
    { path: join(root, "build", "cpu", "videoscore2.node"), cuda: false },
    { path: join(root, "build", "Release", "videoscore2.node"), cuda: false },
    ...(cpuPackage ? [{ path: cpuPackage, cuda: false }] : []),
    { path: join(root, "prebuilds", arch, "videoscore2.node"), cuda: false },
  ];
  if (gpu === "auto" || gpu === "cuda") out.push(...cuda);
  if (gpu !== "cuda") out.push(...cpu);
  return out.map((c) => ({ ...c, path: unpackedPath(c.path) }));
}

/** The addon serving this thread, and the CPU backend it loaded. */
export interface LoadedAddon {
  addon: NativeAddon;
  path: string;
  cuda: boolean;
  /** The x86 level of the CPU backend loaded ("haswell", ...), "built-in" in a monolithic build. */
  cpuVariant: string;
  /** Every CPU module found and its score on this CPU (0: not used here). */
  cpuScores: { variant: string; score: number }[];
}

let cached: LoadedAddon | undefined;
const fallbackNotes: string[] = [];

/** Records a fallback for `videoscore2 info` and says it in one line (VIDEOSCORE2_QUIET=1 keeps it quiet). */
export function noteFallback(note: string): void {
  if (fallbackNotes.includes(note)) return;
  fallbackNotes.push(note);
  if (process.env.VIDEOSCORE2_QUIET !== "1") console.warn(note);
}

/** The GPU preference from VIDEOSCORE2_GPU, defaulting to "auto". */
export function gpuPreferenceFromEnv(): GpuPreference {
  const v = process.env.VIDEOSCORE2_GPU as GpuPreference | undefined;
  return v !== undefined && GPU_PREFERENCES.includes(v) ? v : "auto";
}

/** Why a candidate cannot be loaded here without trying it in this process, or null. */
function whyNotUsable(c: { path: string; cuda: boolean }, gpu: GpuPreference): string | null {
  if (!existsSync(c.path)) return "not found";
  if (c.cuda && gpu === "auto" && !hasNvidiaDriver()) return "no NVIDIA driver on this machine";
  if (c.cuda) {
    const why = probeInChild(c.path);
    if (why) return `does not load in a probe process: ${why}`;
  }
  return null;
}

/**
 * Loads the addon once per thread. The first call decides which binary serves this thread; later
 * calls return it whatever they ask for.
 */
export function loadAddon(gpu: GpuPreference = gpuPreferenceFromEnv()): LoadedAddon {
  if (cached) return cached;
  const tried: BinaryAttempt[] = [];
  for (const c of candidatePaths(gpu)) {
    const why = whyNotUsable(c, gpu);
    if (why === null) {
      try {
        const addon = require_(c.path) as NativeAddon;
        addon.setErrorClass(VideoScoreError as unknown as new (code: string, message: string) => Error);
        // The CPU backend of the best x86 level, before anything else touches ggml. ERR_CPU_UNSUPPORTED
        // (no level this CPU runs) is the user's to see: every candidate carries the same levels. A
        // candidate missing its modules (ERR_BINARY_NOT_FOUND) is only that candidate's defect.
        const { cpuVariant, cpuScores } = addon.loadBackends({ dir: dirname(c.path), gpuModules: [] });
        cached = { addon, path: c.path, cuda: c.cuda, cpuVariant, cpuScores };
        const skippedCuda = tried.filter((t) => /cuda/.test(t.path) && t.error !== "not found");
        if (!c.cuda && skippedCuda.length > 0 && gpu === "auto")
          noteFallback(`videoscore2-native: CUDA build not usable (${skippedCuda[0]!.error}); trying Vulkan, then the CPU`);
        return cached;
      } catch (e) {
        if (e instanceof VideoScoreError && e.code !== "ERR_BINARY_NOT_FOUND") throw e;
        tried.push({ path: c.path, error: (e as Error).message.split("\n")[0] ?? String(e) });
      }
    } else {
      tried.push({ path: c.path, error: why });
    }
    // A binary named on purpose that does not load is an error, never a silent fall-back to another.
    if (c.path === process.env.VIDEOSCORE2_BINARY) {
      throw new VideoScoreError(
        c.cuda && gpu !== "cpu" ? "ERR_GPU_UNAVAILABLE" : "ERR_BINARY_NOT_FOUND",
        `VIDEOSCORE2_BINARY=${c.path} does not load: ${tried[tried.length - 1]!.error}. Point it at a videoscore2.node that loads here, or unset it to use the package's own binaries.`,
        { path: c.path },
      );
    }
  }
  if (gpu === "cuda" && tried.every((t) => t.path.includes("cuda") || t.path === process.env.VIDEOSCORE2_BINARY)) {
    throw new VideoScoreError("ERR_GPU_UNAVAILABLE", binaryMessage("No usable CUDA build of videoscore2-native", tried, true));
  }
  throw new VideoScoreError("ERR_BINARY_NOT_FOUND", binaryMessage("Could not load the videoscore2-native addon", tried, gpu === "cuda"));
}

function binaryMessage(head: string, tried: BinaryAttempt[], cuda: boolean): string {
  const lines = [`${head} for ${process.platform}-${process.arch} (Node ${process.versions.node}, Node-API ${process.versions.napi}).`, "Tried:"];
  for (const t of tried) lines.push(`  - ${t.path}: ${t.error}`);
  const root = packageRoot();
  lines.push(
    "Fix it with one of:",
    `  - install the prebuilt binary for this platform: npm install ${platformPackage(false)}`,
    "  - build from source: npm install cmake-js node-addon-api node-api-headers && npm rebuild videoscore2-native",
    `    (needs cmake, a C++17 compiler, nasm and meson: bash ${join(root, "scripts", "setup-system.sh")}; or run node ${join(root, "scripts", "build.mjs")})`,
    "  - point VIDEOSCORE2_BINARY at a videoscore2.node that you built",
  );
  if (cuda) lines.push(`  - for CUDA: node ${join(root, "scripts", "build.mjs")} --cuda (fetches a CUDA toolkit if there is none), or use gpu: "cpu"`);
  return lines.join("\n");
}

/** Messages about falling back from CUDA to CPU during loading (for `videoscore2 info`). */
export function loaderNotes(): readonly string[] {
  return fallbackNotes;
}
