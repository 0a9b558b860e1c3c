#!/usr/bin/env node
// Makes the npm tarballs, as sharp and napi-rs ship native code: one package per platform holding
// the binary, with `os`/`cpu`/`libc` so npm installs only the one that fits, and the main package
// naming it in `optionalDependencies` (added here, at pack time: the platform package must be
// published before a main package that names it can be installed from the registry).
//
//   node scripts/pack.mjs [--out dir] [--with-prebuilds]
//
//   videoscore2-native-<v>.tgz                  TypeScript, sources, scripts (a source build needs them)
//   videoscore2-native-<platform>-<arch>-<v>.tgz   build/cpu: the .node, llama.cpp's libvs2-*.so and one
//                                               CPU backend module per x86 level, stripped
//   videoscore2-native-<platform>-<arch>-vulkan-<v>.tgz  build/vulkan/libggml-vulkan.so (installed by name,
//                                               like CUDA: npm install @videoscore2-native/linux-x64-vulkan)
//   videoscore2-native-<platform>-<arch>-cuda-<v>.tgz  build/cuda's, with libcudart (cuBLAS only with
//                                               VIDEOSCORE2_PREBUILD_CUBLAS=1); never an optional
//                                               dependency: 43 MB that only GPU users want, installed
//                                               by name (npm install @videoscore2-native/linux-x64-cuda)
//
// --with-prebuilds also puts the binaries into the main tarball's prebuilds/ (one self-contained
// tarball for one platform, for an offline install). Prints each tarball with its size.
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { modularLibs } from "./modular-libs.mjs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values: args } = parseArgs({ options: { out: { type: "string" }, "with-prebuilds": { type: "boolean" } } });
const out = resolve(args.out ?? join(root, ".cache", "pack"));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const arch = `${process.platform}-${process.arch}`;
const scope = "@videoscore2-native";
const stage = join(out, "stage");
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });

/** glibc for a GNU/Linux build (npm's `libc` field), nothing elsewhere. */
function libc() {
  if (process.platform !== "linux") return undefined;
  return process.report?.getReport().header.glibcVersionRuntime ? ["glibc"] : ["musl"];
}

function npmPack(dir) {
  const name = execFileSync("npm", ["pack", "--silent", "--pack-destination", out], { cwd: dir, encoding: "utf8" }).trim().split("\n").pop();
  const file = join(out, name);
  console.log(`pack: ${file} (${(statSync(file).size / 1e6).toFixed(1)} MB)`);
  return file;
}

/** A stripped copy: the symbols are of no use to a user and are most of the file. */
function copyStripped(from, to) {
  copyFileSync(from, to);
  try {
    execFileSync("strip", ["--strip-unneeded", to]);
  } catch {
    console.warn(`pack: strip failed for ${to}; packed unstripped`);
  }
}

function platformPackage(variant) {
  const src = join(root, "build", variant, "videoscore2.node");
  if (!existsSync(src)) return null;
  const name = `${scope}/${arch}${variant === "cuda" ? "-cuda" : ""}`;
  const dir = join(stage, name.replace("/", "+"));
  mkdirSync(dir, { recursive: true });
  copyStripped(src, join(dir, "videoscore2.node"));
  const files = ["videoscore2.node"];
  for (const f of modularLibs(dirname(src))) {
    copyStripped(join(dirname(src), f), join(dir, f));
    files.push(f);
  }
  if (variant === "cuda") {
    // The prebuild script knows which CUDA libraries go beside the binary.
    execFileSync(process.execPath, [join(root, "scripts", "prebuild.mjs")], { stdio: "inherit" });
    const pre = join(root, "prebuilds", `${arch}-cuda`);
    for (const f of execFileSync("ls", [pre], { encoding: "utf8" }).split("\n").filter((f) => /^lib.*\.so/.test(f))) {
      copyFileSync(join(pre, f), join(dir, f));
      files.push(f);
    }
  }
  const manifest = {
    name,
    version: pkg.version,
    description: `${variant === "cuda" ? "CUDA" : "CPU"} binary of videoscore2-native for ${arch}${variant === "cuda" ? " (NVIDIA driver 580+)" : ""}`,
    license: pkg.license,
    os: [process.platform],
    cpu: [process.arch],
    ...(libc() ? { libc: libc() } : {}),
    files,
  };
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(dir, "README.md"), `# ${name}\n\nThe prebuilt binary of [videoscore2-native](https://www.npmjs.com/package/videoscore2-native); install that package, not this one.\n`);
  return { name, file: npmPack(dir) };
}

const cpu = platformPackage("cpu");
if (!cpu) {
  console.error("pack: build/cpu/videoscore2.node is missing; run `npm run build` first");
  process.exit(1);
}
const cuda = platformPackage("cuda");
vulkanPackage();

/** The Vulkan module alone: it runs on the CPU package's libraries, which the main package brings. */
function vulkanPackage() {
  const src = join(root, "build", "vulkan", "libggml-vulkan.so");
  if (!existsSync(src)) return null;
  const name = `${scope}/${arch}-vulkan`;
  const dir = join(stage, name.replace("/", "+"));
  mkdirSync(dir, { recursive: true });
  copyStripped(src, join(dir, "libggml-vulkan.so"));
  const manifest = {
    name,
    version: pkg.version,
    description: `Vulkan backend of videoscore2-native for ${arch} (needs the system's libvulkan.so.1 and a Vulkan 1.2+ driver)`,
    license: pkg.license,
    os: [process.platform],
    cpu: [process.arch],
    ...(libc() ? { libc: libc() } : {}),
    files: ["libggml-vulkan.so"],
  };
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(dir, "README.md"), `# ${name}\n\nThe Vulkan backend of [videoscore2-native](https://www.npmjs.com/package/videoscore2-native): install it beside that package to score on AMD, Intel and NVIDIA GPUs through Vulkan.\n`);
  return { name, file: npmPack(dir) };
}

// The main package: what package.json's `files` lists, with the platform package as an optional dependency.
if (!existsSync(join(root, "dist", "index.js"))) {
  console.error("pack: dist/ is missing; run `npm run build:ts` first");
  process.exit(1);
}
const main = join(stage, "main");
mkdirSync(main, { recursive: true });
for (const f of pkg.files) if (existsSync(join(root, f))) cpSync(join(root, f), join(main, f), { recursive: true, filter: (p) => !/prebuilds\/.+\//.test(p.slice(root.length)) });
if (args["with-prebuilds"]) {
  mkdirSync(join(main, "prebuilds", arch), { recursive: true });
  const cpuDir = join(root, "build", "cpu");
  for (const f of ["videoscore2.node", ...modularLibs(cpuDir)]) copyStripped(join(cpuDir, f), join(main, "prebuilds", arch, f));
}
const manifest = { ...pkg, optionalDependencies: { ...(pkg.optionalDependencies ?? {}), [cpu.name]: pkg.version } };
delete manifest.devDependencies;
writeFileSync(join(main, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
npmPack(main);
rmSync(stage, { recursive: true, force: true });
