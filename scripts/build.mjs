#!/usr/bin/env node
// Builds the addon: pinned llama.cpp source (fetch-llama.mjs), then one cmake-js build per variant in
// build/<variant>/ — a cached tree, so a rebuild only compiles what changed. The .node lands in
// build/<variant>/videoscore2.node, where src/binding.ts looks for it.
//
//   node scripts/build.mjs                  CPU variant
//   VIDEOSCORE2_CUDA=1 node scripts/build.mjs  CUDA variant (VIDEOSCORE2_CUDA_ARCHS="80;86;89;90")
//   VIDEOSCORE2_SANITIZE=1 node scripts/build.mjs  ASan/UBSan variant (build/asan)
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { fetchLlama } from "./fetch-llama.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cuda = process.env.VIDEOSCORE2_CUDA === "1";
const sanitize = process.env.VIDEOSCORE2_SANITIZE === "1";
const variant = process.env.VIDEOSCORE2_VARIANT ?? (cuda ? "cuda" : sanitize ? "asan" : "cpu");
// --build-root: where the cmake tree lives (binding.gyp uses .cache/gyp so that `node-gyp rebuild`,
// which deletes build/, keeps the llama.cpp objects); --copy-to: also place the .node there.
const { values: args } = parseArgs({ options: { "build-root": { type: "string" }, "copy-to": { type: "string" } } });
const out = join(resolve(root, args["build-root"] ?? "build"), variant);

fetchLlama();

const cmakeJs = join(root, "node_modules", "cmake-js", "bin", "cmake-js");
const defines = [
  `--CDVIDEOSCORE2_CUDA=${cuda ? "ON" : "OFF"}`,
  `--CDVIDEOSCORE2_SANITIZE=${sanitize ? "ON" : "OFF"}`,
  `--CDCMAKE_BUILD_TYPE=${sanitize ? "RelWithDebInfo" : "Release"}`,
];
if (process.env.VIDEOSCORE2_CUDA_ARCHS) defines.push(`--CDVIDEOSCORE2_CUDA_ARCHS=${process.env.VIDEOSCORE2_CUDA_ARCHS}`);
const generator = existsSync("/usr/bin/ninja") || existsSync("/usr/local/bin/ninja") ? ["-G", "Ninja"] : [];
const t0 = Date.now();
execFileSync(process.execPath, [cmakeJs, "build", "--out", out, ...generator, "--target", "videoscore2", ...defines], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: process.env.CMAKE_BUILD_PARALLEL_LEVEL ?? "" },
});
// cmake-js puts the library under <out>/Release (or <out>/Debug); give it one stable place.
for (const sub of ["Release", "RelWithDebInfo", "Debug", "."]) {
  const f = join(out, sub, "videoscore2.node");
  if (existsSync(f)) {
    mkdirSync(out, { recursive: true });
    if (sub !== ".") copyFileSync(f, join(out, "videoscore2.node"));
    if (args["copy-to"]) {
      mkdirSync(resolve(args["copy-to"]), { recursive: true });
      copyFileSync(join(out, "videoscore2.node"), join(resolve(args["copy-to"]), "videoscore2.node"));
    }
    console.log(`build: ${join(out, "videoscore2.node")} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    process.exit(0);
  }
}
console.error(`build: cmake-js finished but no videoscore2.node was found under ${out}`);
process.exit(1);
