#!/usr/bin/env node
// Builds the addon: pinned llama.cpp source (fetch-llama.mjs), then one cmake-js build per variant in
// .cache/cmake/<variant>/ — a cached tree outside build/ (which `node-gyp rebuild` deletes), so a
// rebuild only compiles what changed. The .node is copied to build/<variant>/videoscore2.node, where
// src/addon/loader.ts looks for it.
//
//   node scripts/build.mjs                  CPU variant: build/cpu/ holds the .node, llama.cpp's shared
//                                           libraries and one CPU backend module per x86 level (docs/backends.md)
//   node scripts/build.mjs --vulkan (or VIDEOSCORE2_VULKAN=1)  also ggml's Vulkan backend module, in the
//                                           same tree, to build/vulkan/libggml-vulkan.so (needs glslc)
//   node scripts/build.mjs --cuda (or VIDEOSCORE2_CUDA=1)  CUDA variant (VIDEOSCORE2_CUDA_ARCHS, default in CMakeLists.txt),
//                                              with the system's CUDA toolkit or one from PyPI (setup-cuda.mjs)
//   VIDEOSCORE2_SANITIZE=1 node scripts/build.mjs  ASan/UBSan variant (build/asan)
//   VIDEOSCORE2_SYSTEM_FFMPEG=1 …                  link the system's shared libav instead of the minimal
//                                                  static FFmpeg (the default, built by build-ffmpeg.mjs)
//   VIDEOSCORE2_FFMPEG_DIR=<prefix> …               the static FFmpeg from a prefix built before (not rebuilt)
//   VIDEOSCORE2_VERBOSE=1 …                         every tool's output on the terminal too (otherwise
//                                                  one line per step, the output in .cache/logs/, step-log.mjs)
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fetchLlama } from "./fetch-llama.mjs";
import { buildFFmpeg } from "./build-ffmpeg.mjs";
import { CUDA_RUNTIME_LIBS, cudaToolkit, toolkitLibDir } from "./setup-cuda.mjs";
import { hasGlslc, vulkanHeaders } from "./vulkan-headers.mjs";
import { modularLibs } from "./modular-libs.mjs";
import { exitOnFailure, step } from "./step-log.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
exitOnFailure();
// --copy-to: also place the .node there (binding.gyp passes node-gyp's build/Release).
const { values: args } = parseArgs({ options: { "copy-to": { type: "string" }, cuda: { type: "boolean" }, vulkan: { type: "boolean" } } });
const cuda = args.cuda === true || process.env.VIDEOSCORE2_CUDA === "1";
const sanitize = process.env.VIDEOSCORE2_SANITIZE === "1";
// CUDA and sanitizer builds are monolithic (everything static in the .node); the CPU build is modular.
const modular = !cuda && !sanitize;
const vulkan = modular && (args.vulkan === true || process.env.VIDEOSCORE2_VULKAN === "1");
const variant = process.env.VIDEOSCORE2_VARIANT ?? (cuda ? "cuda" : sanitize ? "asan" : "cpu");
const out = join(root, ".cache", "cmake", variant);
const dest = join(root, "build", variant);

fetchLlama();

// Through Node's module resolution: inside an app, npm hoists cmake-js to the app's node_modules.
const cmakeJs = join(dirname(createRequire(import.meta.url).resolve("cmake-js/package.json")), "bin", "cmake-js");
const defines = [
  `--CDVIDEOSCORE2_CUDA=${cuda ? "ON" : "OFF"}`,
  `--CDVIDEOSCORE2_SANITIZE=${sanitize ? "ON" : "OFF"}`,
  `--CDCMAKE_BUILD_TYPE=${sanitize ? "RelWithDebInfo" : "Release"}`,
];
if (vulkan && !hasGlslc()) {
  console.error("build: --vulkan needs glslc (the shader compiler) and the SPIR-V headers: apt-get install glslc spirv-headers (bash scripts/setup-system.sh)");
  process.exit(1);
}
// The headers serve the Vulkan module and the addon's own device list (which opens the loader at
// run time), so a modular build always has them.
if (modular) defines.push(`--CDVIDEOSCORE2_VULKAN=${vulkan ? "ON" : "OFF"}`, `--CDVIDEOSCORE2_VULKAN_INCLUDE_DIR=${await vulkanHeaders()}`);
if (process.env.VIDEOSCORE2_CPU_VARIANTS) defines.push(`--CDVIDEOSCORE2_CPU_VARIANTS=${process.env.VIDEOSCORE2_CPU_VARIANTS}`);
if (process.env.VIDEOSCORE2_CUDA_ARCHS) defines.push(`--CDVIDEOSCORE2_CUDA_ARCHS=${process.env.VIDEOSCORE2_CUDA_ARCHS}`);
// libav: the minimal static FFmpeg of build-ffmpeg.mjs, so the .node needs nothing of the system's
// libav; or, with VIDEOSCORE2_SYSTEM_FFMPEG=1, the system's (the build is then not self-contained).
// VIDEOSCORE2_FFMPEG_DIR names an install prefix built elsewhere (bench/gpu/pack.mjs carries one to a
// machine without network): it is used as it is, never rebuilt.
export const systemFFmpeg = process.env.VIDEOSCORE2_SYSTEM_FFMPEG === "1";
const ffmpegDir = systemFFmpeg ? "" : process.env.VIDEOSCORE2_FFMPEG_DIR ? resolve(process.env.VIDEOSCORE2_FFMPEG_DIR) : await buildFFmpeg();
defines.push(`--CDVIDEOSCORE2_FFMPEG_DIR=${ffmpegDir}`);
const env = { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: process.env.CMAKE_BUILD_PARALLEL_LEVEL ?? "" };
const toolkit = cuda ? await cudaToolkit() : undefined;
if (toolkit) {
  console.log(`build: CUDA toolkit ${toolkit}`);
  defines.push(`--CDCUDAToolkit_ROOT=${toolkit}`, `--CDCMAKE_CUDA_COMPILER=${join(toolkit, "bin", "nvcc")}`);
  env.PATH = `${join(toolkit, "bin")}:${env.PATH ?? ""}`;
}
const generator = existsSync("/usr/bin/ninja") || existsSync("/usr/local/bin/ninja") ? ["-G", "Ninja"] : [];
const t0 = Date.now();
const cmake = (s, verb, extra, opts) => s.run(process.execPath, [cmakeJs, verb, "--out", out, ...generator, ...extra, ...defines], { cwd: root, env, ...opts });
// `cmake-js build` configures only a tree that has no cache yet, so defines that changed since (a
// new FFmpeg, other CUDA archs) would be ignored: reconfigure when they differ from the last ones.
const stamp = join(out, "videoscore2-defines.json");
const wanted = JSON.stringify(defines);
const parts = cuda ? "llama.cpp with CUDA and the addon" : vulkan ? "llama.cpp, its Vulkan module and the addon" : "llama.cpp and the addon";
await step("build", `${parts} (${variant}, cmake${generator.length ? " + ninja" : ""})`, `cmake-${variant}`, async (s) => {
  if (existsSync(join(out, "CMakeCache.txt")) && (!existsSync(stamp) || readFileSync(stamp, "utf8") !== wanted)) await cmake(s, "configure", [], { phase: "configuring" });
  const fresh = !existsSync(join(out, "CMakeCache.txt"));
  await cmake(s, "build", ["--target", "videoscore2"], { phase: fresh ? "configuring and compiling" : "compiling", progress: "steps" });
});
writeFileSync(stamp, wanted);

/**
 * The CUDA addon finds libcudart/libcublas/libcublasLt through its $ORIGIN rpath: link the ones it
 * was built against beside it (scripts/prebuild.mjs copies them instead).
 */
function linkCudaRuntime(dir) {
  const lib = toolkitLibDir(toolkit);
  for (const name of CUDA_RUNTIME_LIBS) {
    const file = readdirSync(lib).find((f) => new RegExp(`^lib${name}\\.so\\.\\d+$`).test(f));
    if (!file) throw new Error(`build: ${lib} has no lib${name}.so.<major>`);
    rmSync(join(dir, file), { force: true });
    symlinkSync(join(lib, file), join(dir, file));
  }
}
/** Copy then rename: overwriting a file in place would change the pages of a library that a running
 * process has mapped (it dies with SIGBUS); a rename leaves that process its old file. */
function install(from, dir, name) {
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  copyFileSync(from, tmp);
  renameSync(tmp, join(dir, name));
}

// cmake-js puts the library under <out>/Release (or <out>/Debug); give it one stable place. In the
// modular layout the shared libraries and CPU modules go beside it, the Vulkan module to build/vulkan.
for (const sub of ["Release", "RelWithDebInfo", "Debug", "."]) {
  const built = join(out, sub);
  const f = join(built, "videoscore2.node");
  if (!existsSync(f)) continue;
  const libs = modular ? modularLibs(built) : [];
  if (modular && !libs.some((n) => n.startsWith("libggml-cpu-"))) {
    console.error(`build: no CPU backend module (libggml-cpu-*.so) was built in ${built}`);
    process.exit(1);
  }
  for (const d of [dest, args["copy-to"] && resolve(args["copy-to"])]) {
    if (!d) continue;
    // Modules of a variant no longer built must not stay behind to be loaded.
    if (modular && existsSync(d)) for (const n of readdirSync(d)) if (/^libggml-cpu-.*\.so$/.test(n) && !libs.includes(n)) rmSync(join(d, n));
    for (const n of libs) install(join(built, n), d, n);
    install(f, d, "videoscore2.node");
    if (toolkit) linkCudaRuntime(d);
  }
  if (vulkan) {
    const module = join(built, "libggml-vulkan.so");
    if (!existsSync(module)) {
      console.error(`build: the Vulkan module ${module} was not built`);
      process.exit(1);
    }
    install(module, join(root, "build", "vulkan"), "libggml-vulkan.so");
    console.log(`build: ${join(root, "build", "vulkan", "libggml-vulkan.so")}`);
  }
  console.log(`build: ${join(dest, "videoscore2.node")}${libs.length ? ` + ${libs.length} libraries` : ""} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  process.exit(0);
}
console.error(`build: cmake-js finished but no videoscore2.node was found under ${out}`);
process.exit(1);
