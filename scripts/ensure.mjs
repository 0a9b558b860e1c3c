#!/usr/bin/env node
// Does whatever set-up is missing before `npm run demo` / `npm test`: system packages, npm packages,
// the pinned llama.cpp source, the native build (incremental), the TypeScript build. Each step is
// skipped when its output is current, so a second run costs a few seconds. Each prints one line with
// its time; the tools' output goes to .cache/logs/ (VIDEOSCORE2_VERBOSE=1 shows it, step-log.mjs).
import { spawnSync } from "node:child_process";
import { existsSync, statSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { hasGlslc } from "./vulkan-headers.mjs";
import { exitOnFailure, formatSeconds, step } from "./step-log.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
exitOnFailure();

/** One of our own scripts, which prints its own few lines; a failure has said why, so we only stop. */
function script(label, cmd, args) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`ensure: stopped at the ${label} (its error is above)`);
    process.exit(1);
  }
  console.log(`ensure: ${label} (${formatSeconds(Date.now() - t0)})`);
}

script("system packages", "bash", [join(root, "scripts", "setup-system.sh")]);
if (!existsSync(join(root, "node_modules", "cmake-js")) || !existsSync(join(root, "node_modules", "vitest")))
  await step("ensure", "npm ci", "npm-ci", (s) =>
    s.run("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, env: { ...process.env, VIDEOSCORE2_SKIP_INSTALL: "1" } }),
  );
// The Vulkan module too where its shader compiler is there (setup-system installs it): the tests
// run it on Mesa's software device.
const vulkan = hasGlslc();
if (!vulkan) console.log("ensure: no glslc on PATH, so no Vulkan module (install glslc and spirv-headers to build it)");
script("native build", process.execPath, [join(root, "scripts", "build.mjs"), ...(vulkan ? ["--vulkan"] : [])]);

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
  await step("ensure", "TypeScript build (tsup)", "tsup", (s) => s.run(process.execPath, [join(root, "node_modules", "tsup", "dist", "cli-default.js")], { cwd: root }));
