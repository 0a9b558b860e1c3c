/**
 * Reading the CLI's input files (benchmark, pair, prompts and results files, journals) only when
 * they are regular files once links are followed. A FIFO would block the read until something
 * writes to it (a synchronous read blocks the event loop, so not even SIGTERM ends the command), a
 * device such as /dev/zero never ends, and a folder cannot be read at all.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync, type Stats } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";
import { VideoScoreError } from "../addon/errors.js";

/** What a non-regular file is, for messages. */
export function fileKind(s: Stats): string {
  if (s.isFIFO()) return "a FIFO (named pipe)";
  if (s.isCharacterDevice()) return "a character device";
  if (s.isBlockDevice()) return "a block device";
  if (s.isSocket()) return "a socket";
  if (s.isDirectory()) return "a folder";
  return "not a regular file";
}

function notRegular(path: string, what: string, s: Stats): VideoScoreError {
  return new VideoScoreError("ERR_INPUT_UNREADABLE", `${path}: ${what} is ${fileKind(s)}, not a regular file; give the path of a file`, { path });
}

function readError(path: string, e: unknown): VideoScoreError {
  if (e instanceof VideoScoreError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  return new VideoScoreError(code === "ENOENT" ? "ERR_INPUT_NOT_FOUND" : "ERR_INPUT_UNREADABLE", `${path}: ${(e as Error).message}`, { path, cause: e });
}

// Without O_NONBLOCK, opening a FIFO for reading waits for a writer: a file swapped for a FIFO
// between the check and the open would still block. For a regular file the flag changes nothing.
const READ_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/**
 * Throws unless `path` names a regular file (after following links).
 * @throws VideoScoreError ERR_INPUT_NOT_FOUND, or ERR_INPUT_UNREADABLE naming what it is instead
 */
export function checkRegularFile(path: string, what = "the file"): void {
  let s: Stats;
  try {
    s = statSync(path);
  } catch (e) {
    throw readError(path, e);
  }
  if (!s.isFile()) throw notRegular(path, what, s);
}

/** The text of a regular file; anything else is refused before it is read (see the module comment). */
export function readRegularText(path: string, what = "the file"): string {
  checkRegularFile(path, what);
  let fd = -1;
  try {
    fd = openSync(path, READ_FLAGS);
    const s = fstatSync(fd);
    if (!s.isFile()) throw notRegular(path, what, s);
    return readFileSync(fd, "utf8");
  } catch (e) {
    throw readError(path, e);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/**
 * Opens `path` for reading, off the event loop, only if it is a regular file (after following
 * links), checked before the open and again on the open file. `refuse` makes the error for
 * anything else, so each caller names what the file is for; fs errors (ENOENT, EACCES) pass as
 * they are. The caller closes the handle.
 */
export async function openRegularFile(path: string, refuse: (s: Stats) => Error): Promise<FileHandle> {
  const s = await stat(path);
  if (!s.isFile()) throw refuse(s);
  const fh = await open(path, READ_FLAGS);
  try {
    const now = await fh.stat();
    if (!now.isFile()) throw refuse(now);
  } catch (e) {
    await fh.close();
    throw e;
  }
  return fh;
}

/** {@link readRegularText}, reading off the event loop. */
export async function readRegularTextAsync(path: string, what = "the file"): Promise<string> {
  let fh: FileHandle | undefined;
  try {
    fh = await openRegularFile(path, (s) => notRegular(path, what, s));
    return await fh.readFile("utf8");
  } catch (e) {
    throw readError(path, e);
  } finally {
    await fh?.close();
  }
}
