/**
 * The CLI's output files: never one of the inputs, never two outputs on one path, and written so a
 * failed write leaves the old file as it was (a temporary file beside the target, renamed into place).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, realpathSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { UsageError } from "./args.js";

/** A write to an output failed: one line naming the flag and the file; exit 1. */
export class OutputWriteError extends Error {
  constructor(
    readonly flag: string,
    readonly path: string,
    cause: unknown,
  ) {
    const e = cause as NodeJS.ErrnoException;
    super(`${flag} ${path}: cannot write it (${e?.code ? `${e.code}: ` : ""}${e?.message?.replace(/^[A-Z]+: /, "") ?? String(cause)})`, { cause });
  }
}

/** The file a path names once links are followed; for a file not there yet, its folder's real path. */
function identity(path: string): string {
  const abs = resolve(path);
  try {
    const real = realpathSync(abs);
    const s = statSync(real);
    return `${s.dev}:${s.ino}`;
  } catch {
    try {
      return join(realpathSync(dirname(abs)), basename(abs));
    } catch {
      return abs;
    }
  }
}

/**
 * Refuses, before anything runs, an output that is also an input or two outputs on one path:
 * `--out clip.mp4` would otherwise overwrite the video, `--report` the results.
 * @throws UsageError naming both
 */
export function checkOutputs(outputs: ReadonlyArray<[flag: string, path: string | undefined]>, inputs: ReadonlyArray<[what: string, path: string | undefined]>): void {
  const seen = new Map<string, string>();
  for (const [what, path] of inputs) if (path) seen.set(identity(path), what === "video" ? `the input video ${path}` : `${what} ${path}`);
  for (const [flag, path] of outputs) {
    if (!path) continue;
    const id = identity(path);
    const other = seen.get(id);
    if (other) throw new UsageError(`${flag} ${path} is ${other}; writing it would destroy it: give ${flag} another path`);
    seen.set(id, `${flag} ${path}`);
  }
}

/**
 * An output written through a temporary file beside it and renamed over it on {@link commit}.
 * A device or pipe (`/dev/stdout`) is written directly: it cannot be replaced.
 */
export class AtomicFile {
  private fd: number;
  private readonly tmp: string | null;

  constructor(
    readonly flag: string,
    readonly path: string,
  ) {
    try {
      let direct = false;
      try {
        direct = !statSync(path).isFile();
      } catch {
        /* not there yet */
      }
      if (direct) {
        this.tmp = null;
        this.fd = openSync(path, "w");
      } else {
        mkdirSync(dirname(resolve(path)), { recursive: true });
        this.tmp = join(dirname(resolve(path)), `.${basename(path)}.${process.pid}.tmp`);
        this.fd = openSync(this.tmp, "w");
      }
    } catch (e) {
      throw new OutputWriteError(flag, path, e);
    }
  }

  write(s: string | Uint8Array): void {
    const b = typeof s === "string" ? Buffer.from(s) : s;
    try {
      for (let at = 0; at < b.length; ) at += writeSync(this.fd, b, at, b.length - at);
    } catch (e) {
      throw new OutputWriteError(this.flag, this.path, e);
    }
  }

  /** Puts the file in place (for a device: just closes it). */
  commit(): void {
    try {
      if (this.tmp) fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = -1;
      if (this.tmp) renameSync(this.tmp, this.path);
    } catch (e) {
      this.abort();
      throw new OutputWriteError(this.flag, this.path, e);
    }
  }

  /** Drops what was written; the old file, if any, stays. */
  abort(): void {
    if (this.fd >= 0) {
      try {
        closeSync(this.fd);
      } catch {
        /* already failed */
      }
      this.fd = -1;
    }
    if (this.tmp) rmSync(this.tmp, { force: true });
  }
}

/** Writes a whole output at once, atomically. */
export function writeOutput(flag: string, path: string, data: string | Uint8Array): void {
  const f = new AtomicFile(flag, path);
  try {
    f.write(data);
  } catch (e) {
    f.abort();
    throw e;
  }
  f.commit();
}
