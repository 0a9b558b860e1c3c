#!/usr/bin/env node
// npm "install" hook for consumers of the package: use a prebuilt binary when one loads, otherwise build
// from source (fetch pinned llama.cpp, cmake-js). In a git checkout it does nothing: developers run
// `npm run demo` / `npm test`, which build what is missing (scripts/ensure.mjs).
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
if (existsSync(join(root, ".git")) || process.env.VIDEOSCORE2_SKIP_INSTALL === "1") process.exit(0);

const require = createRequire(import.meta.url);
const arch = `${process.platform}-${process.arch}`;
for (const dir of [`prebuilds/${arch}`, `prebuilds/${arch}-cuda`]) {
  const file = join(root, dir, "videoscore2.node");
  if (!existsSync(file)) continue;
  try {
    require(file);
    console.log(`videoscore2-native: using ${dir}/videoscore2.node`);
    process.exit(0);
  } catch (e) {
    console.warn(`videoscore2-native: ${dir}/videoscore2.node does not load here (${e.message}); building from source`);
  }
}
execFileSync(process.execPath, [join(root, "scripts", "build.mjs")], { stdio: "inherit", cwd: root });
