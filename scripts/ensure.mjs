#!/usr/bin/env node
// Does whatever set-up is missing before `npm run demo` / `npm test`: system packages, npm packages,
// the pinned llama.cpp source, the native build (incremental), the TypeScript build. Each step is
// skipped when its output is current, so a second run costs a few seconds.
import { execFileSync } from "node:child_process";
import { existsSync, statSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { hasGlslc } from "./vulkan-headers.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: root, stdio: "inherit", ...opts });
const t = (label, fn) => {
  const t0 = Date.now();
  fn();
  console.log(`ensure: ${label} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
};

t("system packages", () => run("bash", ["scripts/setup-system.sh"]));
if (!existsSync(join(root, "node_modules", "cmake-js")) || !existsSync(join(root, "node_modules", "vitest")))
  t("npm ci", () => run("npm", ["ci", "--no-audit", "--no-fund"], { env: { ...process.env, VIDEOSCORE2_SKIP_INSTALL: "1" } }));
// The Vulkan module too where its shader compiler is there (setup-system installs it): the tests
// run it on Mesa's software device.
const vulkan = hasGlslc();
if (!vulkan) console.log("ensure: no glslc on PATH, so no Vulkan module (install glslc and spirv-headers to build it)");
t("native build", () => run(process.execPath, ["scripts/build.mjs", ...(vulkan ? ["--vulkan"] : [])]));

function newest(dir) {
  let m = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    m = Math.max(m, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return m;
}
const dist = join(root, "dist", "cli", "main.js");
if (!existsSync(dist) || statSync(dist).mtimeMs < newest(join(root, "src")))
  t("typescript build", () => run(process.execPath, [join(root, "node_modules", "tsup", "dist", "cli-default.js")]));
