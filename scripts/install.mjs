#!/usr/bin/env node
// npm "install" hook for consumers of the package: use a prebuilt binary when one loads, otherwise build
// from source (fetch pinned llama.cpp, cmake-js). In a git checkout it does nothing: developers run
// `npm run demo` / `npm test`, which build what is missing (scripts/ensure.mjs).
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { spawnSync } from "node:child_process";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
if (existsSync(join(root, ".git")) || process.env.VIDEOSCORE2_SKIP_INSTALL === "1") process.exit(0);

const require = createRequire(import.meta.url);
const arch = `${process.platform}-${process.arch}`;
// The platform package npm installed beside us (optionalDependencies, scripts/pack.mjs), then the
// binaries inside this package.
const fromPackage = (name) => {
  try {
    return dirname(require.resolve(`${name}/package.json`, { paths: [root] }));
  } catch {
    return null;
  }
};
const places = [fromPackage(`@videoscore2-native/${arch}`), fromPackage(`@videoscore2-native/${arch}-cuda`), join(root, "prebuilds", arch), join(root, "prebuilds", `${arch}-cuda`)];
for (const dir of places.filter(Boolean)) {
  const file = join(dir, "videoscore2.node");
  if (!existsSync(file)) continue;
  try {
    require(file);
    console.log(`videoscore2-native: using ${dir}/videoscore2.node`);
    process.exit(0);
  } catch (e) {
    console.warn(`videoscore2-native: ${dir}/videoscore2.node does not load here (${e.message}); building from source`);
  }
}
// The build tools are optional peer dependencies: a user of a prebuilt binary never installs them.
const missing = ["cmake-js", "node-addon-api", "node-api-headers"].filter((m) => !fromPackage(m));
if (missing.length > 0) {
  // Not an install failure (npm would roll the whole app back): the loader names the same fix when
  // the package is first used.
  console.warn(
    `videoscore2-native: no prebuilt binary for ${arch} loads here, and building one needs ${missing.join(", ")}.\n` +
      `  Install them and rebuild: npm install ${missing.join(" ")} && npm rebuild videoscore2-native\n` +
      "  (also needed: cmake, a C++17 compiler, nasm and meson; on Debian/Ubuntu: bash node_modules/videoscore2-native/scripts/setup-system.sh)",
  );
  process.exit(0);
}
// One line per step (build.mjs, step-log.mjs), the compilers' output in this package's .cache/logs/:
// npm shows a script's output only when it fails (or with --foreground-scripts), and then this is
// what it shows.
console.log(`videoscore2-native: no prebuilt binary for ${arch} loads here; building from source (12-18 min on 2 cores; VIDEOSCORE2_VERBOSE=1 shows the compilers' output)`);
const build = spawnSync(process.execPath, [join(root, "scripts", "build.mjs")], { stdio: "inherit", cwd: root });
if (build.status !== 0) {
  console.error(`videoscore2-native: the source build failed (the step and its log are named above). Once it is fixed: npm rebuild videoscore2-native`);
  process.exit(1);
}
