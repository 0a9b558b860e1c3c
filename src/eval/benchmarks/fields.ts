/**
 * Reading fields of benchmark records: numbers that may be strings or "None", video ids from paths,
 * and where a named video lies on disk.
 */
import { basename, extname, isAbsolute, join, resolve } from "node:path";
import { VideoScoreError } from "../../addon/errors.js";
import { VIDEO_EXTENSIONS } from "../bench-file.js";

/** A usage-level problem with a benchmark file (exit 2). */
export function benchError(file: string, msg: string): never {
  throw new VideoScoreError("ERR_INVALID_OPTION", `${file}: ${msg}`, { path: file });
}

/** A finite number from a number or a numeric string; null for "", None, null, NaN. */
export function asNumber(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string") {
    const s = v.trim();
    if (s === "" || /^(none|null|nan)$/i.test(s)) return null;
    const n = Number(s);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/**
 * The id of a video named by a path or URL: its file name without a video extension
 * (`videos/a/0012.mp4` → `0012`), as the reference matches pairs to scores.
 */
export function videoId(pathOrName: string): string {
  const name = basename(pathOrName.replace(/[?#].*$/, ""));
  const ext = extname(name).toLowerCase();
  return VIDEO_EXTENSIONS.has(ext) ? name.slice(0, -ext.length) : name;
}

/**
 * Where a video named in a benchmark file lies: with `--videos`, `<dir>/<file name>`; otherwise a
 * relative path is taken from the benchmark's folder, and a URL or bare name from
 * `<bench folder>/videos/`. A name without a video extension gets `.mp4`.
 */
export function videoPath(pathOrName: string, benchDir: string, videosDir: string | undefined): string {
  const isURL = /^[a-z][a-z0-9+.-]*:\/\//i.test(pathOrName);
  let name = isURL ? basename(pathOrName.replace(/[?#].*$/, "")) : pathOrName;
  if (!VIDEO_EXTENSIONS.has(extname(name).toLowerCase())) name = `${name}.mp4`;
  if (videosDir) return join(resolve(videosDir), basename(name));
  if (isURL || !/[\\/]/.test(name)) return join(benchDir, "videos", basename(name));
  return isAbsolute(name) ? name : resolve(benchDir, name);
}

/** A record's field by any of the names, ignoring case; undefined when absent or empty. */
export function field(r: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) if (r[n] !== undefined && r[n] !== "") return r[n];
  const lower = new Map(Object.keys(r).map((k) => [k.toLowerCase(), k]));
  for (const n of names) {
    const k = lower.get(n.toLowerCase());
    if (k !== undefined && r[k] !== undefined && r[k] !== "") return r[k];
  }
  return undefined;
}
