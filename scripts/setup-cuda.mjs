#!/usr/bin/env node
// Finds a CUDA toolkit for the CUDA variant, or assembles one from NVIDIA's PyPI wheels when the
// machine has none: no root, no GPU and no system CUDA needed to compile (running needs the NVIDIA
// driver, 580 or newer for CUDA 13).
//
//   node scripts/setup-cuda.mjs                 prints the toolkit's root (bin/nvcc, include/, lib/)
//   node scripts/setup-cuda.mjs --runtime [dir]  puts the CUDA runtime and cuBLAS that the CUDA addon
//                                                needs at run time into dir (default: the package's
//                                                prebuilds/<platform>-<arch>-cuda/), for a machine
//                                                with the NVIDIA driver and no CUDA toolkit
//
// A system toolkit wins when it is complete (nvcc, cudart and cuBLAS): CUDACXX, then CUDA_PATH /
// CUDA_HOME, then the nvcc on PATH, then /usr/local/cuda. Otherwise the wheels below, pinned by version
// and sha256 (pip --require-hashes), are unpacked into .cache/cuda-toolkit/ and given what a toolkit
// install has and the wheels lack: unversioned .so names for the linker, lib64, version.json, and a
// driver stub (lib/stubs/libcuda.so) so code that calls the driver API links. A stamp makes re-runs
// no-ops. The wheels are NVIDIA's (their EULA applies); nothing from them is committed.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { failureMessage, step } from "./step-log.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** CUDA 13.0: the oldest 13.x, so the driver floor is the lowest CUDA 13 allows (580). */
export const CUDA_VERSION = "13.0.88";
const WHEELS = [
  ["nvidia-cuda-nvcc", "13.0.88", "56fe502eb77625a12f25172caa3cdddb4e4c8ba2c8c17dba44b164761b380f03"],
  ["nvidia-nvvm", "13.0.88", "c5f41ffeb6466944a026dfa5317d7d85355c119bbec279205d22f1869d1054e0"],
  ["nvidia-cuda-crt", "13.0.88", "2c8043c7c9e02492716426e9919fc78d2c5b3b2a7a768a88e952676b08aa55a4"],
  ["nvidia-cuda-runtime", "13.0.96", "7f82250d7782aa23b6cfe765ecc7db554bd3c2870c43f3d1821f1d18aebf0548"],
  ["nvidia-cuda-cccl", "13.0.85", "e0da7ad981f3a8aff08241b5bfc1af868742a63e2762f53a5171c492ef242649"],
  ["nvidia-cublas", "13.0.2.14", "0cf238ffdbe46c00cb9aa98e7bca745c223a5ca5a53e686ac8b3e5a08fe80d6c"],
];
/** The libraries the CUDA addon links dynamically (resolved beside it, see scripts/build.mjs). */
export const CUDA_RUNTIME_LIBS = ["cudart", "cublas", "cublasLt"];

const cacheDir = join(root, ".cache", "cuda-toolkit");
const pypiRoot = join(cacheDir, "nvidia", "cu13");
const stampFile = join(cacheDir, "stamp.json");

/** The lib folder of a toolkit root (lib64 on a system install, lib in the wheels). */
export function toolkitLibDir(toolkit) {
  for (const d of ["lib64", "lib", "targets/x86_64-linux/lib"]) {
    if (existsSync(join(toolkit, d, "libcudart.so"))) return join(toolkit, d);
  }
  return undefined;
}

function complete(toolkit) {
  const lib = toolkitLibDir(toolkit);
  return existsSync(join(toolkit, "bin", "nvcc")) && lib !== undefined && existsSync(join(lib, "libcublas.so")) && existsSync(join(toolkit, "include", "cublas_v2.h"));
}

/** A complete toolkit already on this machine, or undefined. */
export function systemToolkit() {
  const candidates = [];
  if (process.env.CUDACXX) candidates.push(dirname(dirname(process.env.CUDACXX)));
  for (const v of [process.env.CUDA_PATH, process.env.CUDA_HOME]) if (v) candidates.push(v);
  try {
    candidates.push(dirname(dirname(realpathSync(execFileSync("which", ["nvcc"], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim()))));
  } catch {
    // no nvcc on PATH
  }
  candidates.push("/usr/local/cuda");
  return candidates.find((c) => existsSync(c) && complete(c));
}

/** The wheels that hold what the CUDA addon loads at run time (the rest is compile-time only). */
const RUNTIME_WHEELS = ["nvidia-cuda-runtime", "nvidia-cublas"];

/**
 * pip fetches the pinned wheels into dir and they are unpacked there: one set-up step (issue 30),
 * its pip and unzip output in .cache/logs/<name>.log, a progress line while pip works (~500 MB).
 */
async function pipDownload(wheels, dir, label, name) {
  mkdirSync(dir, { recursive: true });
  const req = join(dir, "requirements.txt");
  writeFileSync(req, wheels.map(([n, v, h]) => `${n}==${v} --hash=sha256:${h}`).join("\n") + "\n");
  const python = process.env.PYTHON ?? "python3";
  await step("setup-cuda", label, name, async (s) => {
    try {
      await s.run(python, ["-m", "pip", "download", "--no-deps", "--require-hashes", "--only-binary=:all:", "--progress-bar", "off", "-d", dir, "-r", req], { phase: "pip download" });
    } catch (e) {
      throw new Error(`pip could not fetch ${wheels.map((w) => w[0]).join(", ")} (${e.message}). Install a CUDA 13 toolkit, or give pip access to PyPI`);
    }
    rmSync(req);
    const whls = readdirSync(dir).filter((f) => f.endsWith(".whl"));
    for (const [i, w] of whls.entries()) await s.run(python, ["-m", "zipfile", "-e", join(dir, w), dir], { phase: `unpacking ${i + 1}/${whls.length}` });
    s.summary = `${label}: ${whls.length} wheel(s) unpacked`;
  });
  return join(dir, "nvidia", "cu13");
}

/**
 * Copies libcudart, libcublas and libcublasLt (CUDA ${CUDA_VERSION}, from the pinned wheels) into
 * dir, beside a CUDA addon whose $ORIGIN rpath finds them there.
 */
export async function installRuntime(dir, log = (m) => console.error(m)) {
  const tmp = mkdtempSync(join(tmpdir(), "vs2-cuda-runtime-"));
  const label = `the CUDA ${CUDA_VERSION} runtime and cuBLAS from PyPI (${RUNTIME_WHEELS.length} wheels, ~425 MB)`;
  const cu13 = await pipDownload(WHEELS.filter(([n]) => RUNTIME_WHEELS.includes(n)), tmp, label, "cuda-runtime");
  mkdirSync(dir, { recursive: true });
  for (const name of CUDA_RUNTIME_LIBS) {
    const file = readdirSync(join(cu13, "lib")).find((f) => f.startsWith(`lib${name}.so.`));
    if (!file) throw new Error(`setup-cuda: the wheels hold no lib${name}.so.*`);
    copyFileSync(join(cu13, "lib", file), join(dir, file));
    log(`setup-cuda: ${join(dir, file)}`);
  }
  rmSync(tmp, { recursive: true, force: true });
}

function stamp() {
  return JSON.stringify({ wheels: WHEELS });
}

/** Unpacks the pinned wheels into .cache/cuda-toolkit/ (once) and returns the toolkit root. */
export async function pypiToolkit() {
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp() && complete(pypiRoot)) return pypiRoot;
  rmSync(cacheDir, { recursive: true, force: true });
  const wheels = join(cacheDir, "wheels");
  await pipDownload(WHEELS, wheels, `no CUDA toolkit here: CUDA ${CUDA_VERSION} from PyPI (${WHEELS.length} wheels, ~530 MB)`, "cuda-toolkit");
  for (const f of readdirSync(wheels)) if (f.endsWith(".whl")) rmSync(join(wheels, f));
  renameSync(join(wheels, "nvidia"), join(cacheDir, "nvidia"));
  rmSync(wheels, { recursive: true, force: true });
  // zipfile drops the mode bits.
  for (const d of ["bin", "nvvm/bin"]) for (const f of readdirSync(join(pypiRoot, d))) if (!f.endsWith(".profile")) chmodSync(join(pypiRoot, d, f), 0o755);
  const lib = join(pypiRoot, "lib");
  for (const name of [...CUDA_RUNTIME_LIBS, "nvblas"]) {
    const versioned = readdirSync(lib).find((f) => f.startsWith(`lib${name}.so.`));
    if (versioned) symlinkSync(versioned, join(lib, `lib${name}.so`));
  }
  symlinkSync("lib", join(pypiRoot, "lib64"));
  writeFileSync(join(pypiRoot, "version.json"), JSON.stringify({ cuda: { name: "CUDA SDK", version: CUDA_VERSION } }, null, 2) + "\n");
  writeDriverStub(pypiRoot);
  writeFileSync(stampFile, stamp());
  return pypiRoot;
}

/**
 * libcuda comes with the driver, not the toolkit; a toolkit carries a stand-in under lib/stubs so
 * that code calling the driver API links (recording libcuda.so.1 as needed, which the driver's own
 * library serves at run time). Ours defines every entry point cuda.h declares, each returning
 * CUDA_ERROR_STUB_LIBRARY (34) as NVIDIA's stub does, so a process that loads it by mistake gets an
 * error from cuInit instead of undefined behaviour.
 */
function writeDriverStub(toolkit) {
  const header = readFileSync(join(toolkit, "include", "cuda.h"), "utf8");
  const names = [...new Set([...header.matchAll(/CUresult CUDAAPI (cu[A-Za-z0-9_]+)/g)].map((m) => m[1]))].sort();
  const source = names.map((n) => `int ${n}(void) { return 34; }`).join("\n") + "\n";
  const stubs = join(toolkit, "lib", "stubs");
  mkdirSync(stubs, { recursive: true });
  execFileSync("cc", ["-shared", "-fPIC", "-x", "c", "-", "-Wl,-soname,libcuda.so.1", "-o", join(stubs, "libcuda.so")], { input: source });
}

/** A toolkit that is here already (the system's, else the PyPI one if fetched before), or undefined; fetches nothing. */
export function existingToolkit() {
  return systemToolkit() ?? (existsSync(pypiRoot) && complete(pypiRoot) ? pypiRoot : undefined);
}

/** The toolkit to build with: the system's if complete, else the PyPI one (fetched once). */
export async function cudaToolkit() {
  return systemToolkit() ?? (await pypiToolkit());
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const i = process.argv.indexOf("--runtime");
    if (i >= 0) await installRuntime(process.argv[i + 1] ?? join(root, "prebuilds", `${process.platform}-${process.arch}-cuda`));
    else console.log(await cudaToolkit());
  } catch (e) {
    console.error(failureMessage(e));
    process.exit(1);
  }
}
