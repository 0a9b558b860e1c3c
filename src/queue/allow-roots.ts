/**
 * Which files a worker may open. A job comes from whoever can write to the queue, so its path is
 * untrusted: it must lie inside one of the worker's allowed roots both as written (after `..` is
 * folded) and once every symlink is resolved — a link inside a root that points outside is outside.
 * The worker then opens the resolved path, so a link swapped after the check is not followed.
 */
import { realpath, stat } from "node:fs/promises";
import { isAbsolute, resolve, sep } from "node:path";
import { invalidOption, VideoScoreError } from "../addon/errors.js";

/** Roots as given (resolved) and as they really are (symlinks resolved): a path may be checked against either. */
export interface AllowedRoots {
  readonly given: readonly string[];
  readonly real: readonly string[];
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * Checks the roots: each must be an existing folder.
 * @throws VideoScoreError ERR_INVALID_OPTION naming the first root that is not.
 */
export async function allowedRoots(roots: readonly string[]): Promise<AllowedRoots> {
  if (!Array.isArray(roots) || roots.length === 0) throw invalidOption("allowRoots", "a non-empty array of folders", roots);
  const given: string[] = [];
  const real: string[] = [];
  for (const r of roots) {
    if (typeof r !== "string" || r === "") throw invalidOption("allowRoots", "folders (strings)", r);
    const g = resolve(r);
    let rp: string;
    try {
      rp = await realpath(g);
      if (!(await stat(rp)).isDirectory()) throw new Error("not a folder");
    } catch {
      throw invalidOption("allowRoots", "existing folders", r);
    }
    given.push(g);
    real.push(rp);
  }
  return { given, real };
}

/**
 * The real path of a job's video, when the worker may open it.
 * @throws VideoScoreError ERR_INPUT_NOT_ALLOWED (relative path, outside the roots as written or once
 * resolved), ERR_INPUT_NOT_FOUND (inside, but missing), ERR_INPUT_UNREADABLE (cannot be resolved).
 */
export async function resolveAllowed(video: unknown, roots: AllowedRoots): Promise<string> {
  const shown = roots.given.join(", ");
  const refuse = (v: string, why: string) => new VideoScoreError("ERR_INPUT_NOT_ALLOWED", `${v}: ${why}; this worker opens only files under ${shown}`, { path: v });
  if (typeof video !== "string" || video === "") throw invalidOption("video", "a path (string)", video);
  if (video.includes("\0")) throw refuse(JSON.stringify(video), "the path holds a NUL byte");
  if (!isAbsolute(video)) throw refuse(video, "not an absolute path (jobs name files by absolute path on storage the workers share)");
  const lexical = resolve(video);
  const under = (p: string) => roots.given.some((r) => inside(p, r)) || roots.real.some((r) => inside(p, r));
  // Refused before touching the file system, so a job cannot probe what exists outside the roots.
  if (!under(lexical)) throw refuse(video, "outside the allowed roots");
  let real: string;
  try {
    real = await realpath(lexical);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new VideoScoreError("ERR_INPUT_NOT_FOUND", `${video}: no such file`, { path: video, cause: e });
    throw new VideoScoreError("ERR_INPUT_UNREADABLE", `${video}: ${(e as Error).message}`, { path: video, cause: e });
  }
  if (!roots.real.some((r) => inside(real, r))) throw refuse(video, `resolves to ${real} (through a symlink), outside the allowed roots`);
  return real;
}
