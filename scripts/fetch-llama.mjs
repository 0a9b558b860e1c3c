#!/usr/bin/env node
// Obtains the pinned llama.cpp source from the npm package node-llama-cpp (its llama/gitRelease.bundle),
// verifies the tarball against the integrity pinned below, checks out the pinned commit into
// deps/llama.cpp and applies native/patches/*.patch. A stamp file makes a second run a no-op.
//
// Usage: node scripts/fetch-llama.mjs [--tarball path.tgz] [--dest dir] [--force]
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { failureMessage, stepSync } from "./step-log.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** What we build against. Upgrading llama.cpp means changing these three values and re-running the tests. */
export const PIN = {
  pkg: "node-llama-cpp",
  version: "3.21.1",
  integrity: "sha512-E3N0Ev2Va0wzydvXYFwM9Hvyo07PoWjt8T/9GMc43Cvt8YkV/NU/tYUgEMC1grTPv2o9PRjQi0G3Wb5P/awiMg==",
  commit: "80fb11ac73e66d89eae2c6a91d8a77428fa733ed",
};

export class FetchError extends Error {}

/** A file's digest (hex by default), for pinned downloads. */
export function fileDigest(file, algo = "sha256", encoding = "hex") {
  return createHash(algo).update(readFileSync(file)).digest(encoding);
}

/** npm's integrity format: "<algo>-<base64 digest>". */
export function integrityOf(file, algo = "sha512") {
  return `${algo}-${fileDigest(file, algo, "base64")}`;
}

export function verifyTarball(file, expected = PIN.integrity) {
  const algo = expected.split("-")[0];
  const actual = integrityOf(file, algo);
  if (actual !== expected) {
    throw new FetchError(
      `integrity mismatch for ${file}\n  expected ${expected}\n  actual   ${actual}\n` +
        `The tarball is not ${PIN.pkg}@${PIN.version} as pinned. Delete it and run this script again; ` +
        `if the registry really serves different bytes, do not build from it.`,
    );
  }
}

function patchFiles() {
  const dir = join(root, "native", "patches");
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".patch")).sort().map((f) => join(dir, f)) : [];
}

/** Identifies commit + patch contents: when it matches the stamp, there is nothing to do. */
export function wantedStamp() {
  const h = createHash("sha256").update(PIN.commit);
  for (const f of patchFiles()) h.update(f.split("/").pop()).update(readFileSync(f));
  return `${PIN.pkg}@${PIN.version} ${PIN.commit} patches:${h.digest("hex").slice(0, 16)}`;
}

const git = (step, args, cwd) => step.runSync("git", ["-c", "advice.detachedHead=false", ...args], { cwd });

function obtainTarball(step, cacheDir) {
  const file = join(cacheDir, `${PIN.pkg}-${PIN.version}.tgz`);
  if (!existsSync(file)) {
    mkdirSync(cacheDir, { recursive: true });
    step.phase(`npm pack ${PIN.pkg}@${PIN.version}`);
    step.runSync("npm", ["pack", `${PIN.pkg}@${PIN.version}`, "--pack-destination", cacheDir, "--silent"]);
  }
  return file;
}

export function fetchLlama({ tarball, dest = join(root, "deps", "llama.cpp"), force = false } = {}) {
  const stampFile = join(dest, ".videoscore2-stamp");
  const stamp = wantedStamp();
  if (!force && existsSync(stampFile) && readFileSync(stampFile, "utf8").trim() === stamp) {
    console.log(`fetch-llama: ${dest} is up to date (${stamp})`);
    return { dest, changed: false };
  }
  const patches = patchFiles();
  const label = `llama.cpp ${PIN.commit.slice(0, 8)} (${PIN.pkg}@${PIN.version}) + ${patches.length} patch${patches.length === 1 ? "" : "es"}`;
  return stepSync("fetch-llama", label, "fetch-llama", (s) => {
    const tgz = tarball ?? obtainTarball(s, join(root, "deps", ".cache"));
    verifyTarball(tgz);
    const tmp = mkdtempSync(join(tmpdir(), "vs2-llama-"));
    try {
      s.runSync("tar", ["-xzf", tgz, "-C", tmp, "package/llama/gitRelease.bundle"]);
      const bundle = join(tmp, "package", "llama", "gitRelease.bundle");
      rmSync(dest, { recursive: true, force: true });
      mkdirSync(dirname(dest), { recursive: true });
      git(s, ["clone", "--quiet", "--no-checkout", bundle, dest]);
      git(s, ["checkout", "--quiet", PIN.commit], dest);
      for (const p of patches) git(s, ["apply", "--whitespace=nowarn", p], dest);
      writeFileSync(stampFile, stamp + "\n");
      s.summary = `${label} ready in ${dest}`;
      return { dest, changed: true };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { tarball: { type: "string" }, dest: { type: "string" }, force: { type: "boolean" } },
  });
  try {
    fetchLlama({ tarball: values.tarball, dest: values.dest && resolve(values.dest), force: values.force });
  } catch (e) {
    console.error(e instanceof FetchError ? `fetch-llama: ${e.message}` : failureMessage(e));
    process.exit(1);
  }
}
