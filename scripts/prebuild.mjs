#!/usr/bin/env node
// Fills prebuilds/ for `npm pack`: prebuilds/<platform>-<arch>/videoscore2.node from the CPU build and,
// when a CUDA build exists, prebuilds/<platform>-<arch>-cuda/ with the CUDA runtime libraries it links
// (libcudart, libcublas, libcublasLt) copied beside it — the addon's rpath is $ORIGIN, so the only
// runtime requirement left is the NVIDIA driver. Real files only, no symlinks. Never committed.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, rmSync, realpathSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const arch = `${process.platform}-${process.arch}`;

function place(variant, dest) {
  const src = join(root, "build", variant, "videoscore2.node");
  if (!existsSync(src)) return false;
  const dir = join(root, "prebuilds", dest);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(src, join(dir, "videoscore2.node"));
  if (variant === "cuda") {
    // ldd lists what the loader would resolve; copy the CUDA runtime ones, dereferenced.
    const ldd = execFileSync("ldd", [src]).toString();
    for (const m of ldd.matchAll(/^\s*(lib(?:cudart|cublas|cublasLt)\.so[.\d]*)\s+=>\s+(\S+)/gm)) {
      copyFileSync(realpathSync(m[2]), join(dir, m[1]));
      console.log(`prebuild: ${dest}/${m[1]}`);
    }
  }
  console.log(`prebuild: ${dest}/videoscore2.node`);
  return true;
}

if (!place("cpu", arch)) {
  console.error("prebuild: build/cpu/videoscore2.node is missing; run `npm run build:native` first");
  process.exit(1);
}
if (!place("cuda", `${arch}-cuda`)) console.log("prebuild: no CUDA build (VIDEOSCORE2_CUDA=1 npm run build:native); CPU only");
