// A file fetched once and checked against the sha256 pinned for it: a second run with the file in
// place fetches nothing, and a file that does not match is removed and never used.
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { fileDigest } from "./fetch-llama.mjs";

const DEBIAN = "http://deb.debian.org/debian/";

/**
 * The URL to fetch a pin from: VIDEOSCORE2_DEBIAN_MIRROR (a Debian mirror's base, e.g.
 * https://ftp.de.debian.org/debian) stands in for deb.debian.org, for a network that blocks it or
 * plain http. The sha256 check makes any mirror as good as the original.
 */
export function pinnedUrl(pin) {
  const mirror = process.env.VIDEOSCORE2_DEBIAN_MIRROR;
  if (!mirror || !pin.url.startsWith(DEBIAN)) return pin.url;
  return mirror.replace(/\/*$/, "/") + pin.url.slice(DEBIAN.length);
}

/**
 * `pin`: { url, version, sha256 }; `label` prefixes the messages (the script that asks). Inside a
 * step (step-log.mjs) the messages go to its log and a failure is the step's.
 */
export async function downloadPinned(file, pin, label, step) {
  if (existsSync(file) && fileDigest(file) === pin.sha256) return;
  const url = pinnedUrl(pin);
  // A step's failure line names the script already.
  const who = step ? "" : `${label}: `;
  if (step) {
    step.phase(`fetching ${url.split("/").pop()}`);
    step.note(`fetching ${url}`);
  } else console.error(`${label}: fetching ${url}`);
  const offline =
    `Check the network (or set VIDEOSCORE2_DEBIAN_MIRROR to a Debian mirror), or put the file there by hand: ` +
    `${file} (sha256 ${pin.sha256}, from ${pin.url}).`;
  let res;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(`${who}could not fetch ${url} (${e.cause?.message ?? e.message}). ${offline}`);
  }
  if (!res.ok) throw new Error(`${who}${url} answered ${res.status}. ${offline}`);
  writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  const actual = fileDigest(file);
  if (actual !== pin.sha256) {
    rmSync(file, { force: true });
    throw new Error(`${who}${url} is not the pinned ${pin.version}: sha256 ${actual}, expected ${pin.sha256}. Do not build from it.`);
  }
}
