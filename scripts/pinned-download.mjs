// A file fetched once and checked against the sha256 pinned for it: a second run with the file in
// place fetches nothing, and a file that does not match is removed and never used.
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { fileDigest } from "./fetch-llama.mjs";

/** `pin`: { url, version, sha256 }; `label` prefixes the messages (the script that asks). */
export async function downloadPinned(file, pin, label) {
  if (existsSync(file) && fileDigest(file) === pin.sha256) return;
  console.error(`${label}: fetching ${pin.url}`);
  const res = await fetch(pin.url);
  if (!res.ok) throw new Error(`${label}: ${pin.url} answered ${res.status}`);
  writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  const actual = fileDigest(file);
  if (actual !== pin.sha256) {
    rmSync(file, { force: true });
    throw new Error(`${label}: ${pin.url} is not the pinned ${pin.version}: sha256 ${actual}, expected ${pin.sha256}. Do not build from it.`);
  }
}
