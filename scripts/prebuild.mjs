#!/usr/bin/env node
// Fills prebuilds/ for `npm pack`: prebuilds/<platform>-<arch>/ from the CPU build (the .node, llama.cpp's
// libraries and the CPU backend modules), prebuilds/<platform>-<arch>-vulkan/ with the Vulkan module and,
// when a CUDA build exists, prebuilds/<platform>-<arch>-cuda/ with libcudart (0.7 MB) copied beside it
// (the addon's rpath is $ORIGIN). cuBLAS (libcublas + libcublasLt, 594 MB) is not copied unless
// VIDEOSCORE2_PREBUILD_CUBLAS=1 (an app bundle or an image, where size matters less than having
// nothing to fetch): a user without it gets it with `node scripts/setup-cuda.mjs --runtime`, or
// from a system CUDA toolkit. Real files only, no symlinks. Never committed.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, rmSync, realpathSync } from "node:fs";
import { modularLibs } from "./modular-libs.mjs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { existingToolkit, toolkitLibDir } from "./setup-cuda.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const arch = `${process.platform}-${process.arch}`;

/** The library folder of the toolkit the CUDA build was made with (system or PyPI, see setup-cuda.mjs). */
function toolkitLibDirs() {
  const toolkit = existingToolkit();
  const lib = toolkit && toolkitLibDir(toolkit);
  return lib ? [lib] : [];
}

function place(variant, dest) {
  const src = join(root, "build", variant, "videoscore2.node");
  if (!existsSync(src)) return false;
  const dir = join(root, "prebuilds", dest);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(src, join(dir, "videoscore2.node"));
  // The modular CPU build: llama.cpp's libraries and the CPU backend modules sit beside the .node.
  for (const name of modularLibs(dirname(src))) copyFileSync(join(dirname(src), name), join(dir, name));
  if (variant === "cuda") {
    // ldd lists the CUDA runtime libraries the addon needs; copy each, dereferenced, from where the
    // loader resolves it or else from the toolkit that built it.
    const ldd = execFileSync("ldd", [src]).toString();
    const copied = process.env.VIDEOSCORE2_PREBUILD_CUBLAS === "1" ? /cudart|cublas|cublasLt/ : /cudart/;
    const needed = [...ldd.matchAll(/^\s*(lib(?:cudart|cublas|cublasLt)\.so[.\d]*)\s+=>\s+(\S+)/gm)].filter((m) => copied.test(m[1]));
    if (needed.length === 0) throw new Error("prebuild: build/cuda/videoscore2.node links no CUDA runtime library; is it a CUDA build?");
    for (const [, name, resolved] of needed) {
      const from = resolved !== "not" ? resolved : toolkitLibDirs().map((d) => join(d, name)).find((f) => existsSync(f));
      if (!from) throw new Error(`prebuild: cannot find ${name}; run node scripts/setup-cuda.mjs, or put a CUDA toolkit's nvcc on PATH`);
      copyFileSync(realpathSync(from), join(dir, name));
      console.log(`prebuild: ${dest}/${name}`);
    }
  }
  console.log(`prebuild: ${dest}/videoscore2.node`);
  return true;
}

if (!place("cpu", arch)) {
  console.error("prebuild: build/cpu/videoscore2.node is missing; run `npm run build:native` first");
  process.exit(1);
}
// The Vulkan module: a package of its own beside the CPU one (it needs the CPU build's libraries).
const vulkan = join(root, "build", "vulkan", "libggml-vulkan.so");
const vulkanDir = join(root, "prebuilds", `${arch}-vulkan`);
rmSync(vulkanDir, { recursive: true, force: true });
if (existsSync(vulkan)) {
  mkdirSync(vulkanDir, { recursive: true });
  copyFileSync(vulkan, join(vulkanDir, "libggml-vulkan.so"));
  console.log(`prebuild: ${arch}-vulkan/libggml-vulkan.so`);
} else console.log("prebuild: no Vulkan module (node scripts/build.mjs --vulkan)");
if (!place("cuda", `${arch}-cuda`)) console.log("prebuild: no CUDA build (VIDEOSCORE2_CUDA=1 npm run build:native); CPU only");
