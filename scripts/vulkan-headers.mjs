#!/usr/bin/env node
// Vulkan headers new enough for the pinned ggml-vulkan (it uses VK_EXT_layer_settings, which
// Debian 12's 1.3.239 lacks): Debian 13's libvulkan-dev 1.4.309, its .deb fetched from
// deb.debian.org, checked against the sha256 pinned here, and unpacked under .cache/. Only its
// headers are used (vulkan/*.h and vulkan.hpp); the addon builds and runs against the system's
// loader (libvulkan.so.1, any 1.x) and the system's glslc. Nothing of it is committed.
//
//   node scripts/vulkan-headers.mjs      prints the include folder
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { downloadPinned } from "./pinned-download.mjs";
import { exitOnFailure, step } from "./step-log.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export const VULKAN_HEADERS = {
  version: "1.4.309",
  url: "http://deb.debian.org/debian/pool/main/v/vulkan-loader/libvulkan-dev_1.4.309.0-1_amd64.deb",
  sha256: "8d329d465e16168afff58b1bd0dd6db46aac2cc3f56054a481b25a04e90b345a",
};

/** Whether glslc, the shader compiler the Vulkan module needs, runs here. */
export function hasGlslc() {
  try {
    execFileSync("glslc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The include folder (…/usr/include), fetched and unpacked once (one step, .cache/logs/vulkan-headers.log). */
export async function vulkanHeaders() {
  const dir = join(root, ".cache", "vulkan-headers", VULKAN_HEADERS.version);
  const include = join(dir, "usr", "include");
  if (existsSync(join(include, "vulkan", "vulkan.hpp"))) return include;
  return step("vulkan-headers", `Vulkan headers ${VULKAN_HEADERS.version}`, "vulkan-headers", async (s) => {
    mkdirSync(dir, { recursive: true });
    const deb = join(dir, "libvulkan-dev.deb");
    await downloadPinned(deb, VULKAN_HEADERS, "vulkan-headers", s);
    // A .deb is an ar archive whose data.tar.* holds the files: ar and tar are everywhere dpkg-deb is not.
    const tmp = join(dir, "unpack");
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    s.runSync("ar", ["x", deb], { cwd: tmp });
    const data = readdirSync(tmp).find((f) => f.startsWith("data.tar"));
    if (!data) throw new Error(`${deb} holds no data.tar`);
    s.runSync("tar", ["-xf", data, "./usr/include"], { cwd: tmp });
    rmSync(join(dir, "usr"), { recursive: true, force: true });
    renameSync(join(tmp, "usr"), join(dir, "usr"));
    rmSync(tmp, { recursive: true, force: true });
    return include;
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  exitOnFailure();
  console.log(await vulkanHeaders());
}
