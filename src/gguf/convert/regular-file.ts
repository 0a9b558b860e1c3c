/**
 * The converter reads only regular files (links followed): a FIFO in place of a shard or a JSON
 * file would block the read until something writes to it, so Ctrl-C could not stop the command.
 */
import { constants, type Stats } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";
import { VideoScoreError } from "../../addon/errors.js";
import { fileKind } from "../../eval/input-file.js";

// O_NONBLOCK: a file swapped for a FIFO between the stat and the open still does not block.
const READ_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

function notRegular(path: string, s: Stats): VideoScoreError {
  return new VideoScoreError("ERR_MODEL_LOAD", `${path} is ${fileKind(s)}, not a regular file; replace it with the file from the checkpoint`, { path });
}

/** Opens a checkpoint file for reading; anything but a regular file is refused before it is opened. */
export async function openRegularFile(path: string): Promise<FileHandle> {
  const s = await stat(path);
  if (!s.isFile()) throw notRegular(path, s);
  const fh = await open(path, READ_FLAGS);
  const now = await fh.stat();
  if (!now.isFile()) {
    await fh.close();
    throw notRegular(path, now);
  }
  return fh;
}

/** The text of a regular checkpoint file (see {@link openRegularFile}). */
export async function readRegularFileText(path: string): Promise<string> {
  const fh = await openRegularFile(path);
  try {
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}
