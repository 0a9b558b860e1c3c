/**
 * The converter reads only regular files (links followed): a FIFO in place of a shard or a JSON
 * file would block the read until something writes to it, so Ctrl-C could not stop the command.
 * The check is the CLI's input-file one; only the error is the converter's own.
 */
import type { Stats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { VideoScoreError } from "../../addon/errors.js";
import { fileKind, openRegularFile } from "../../eval/input-file.js";

/** Opens a checkpoint file for reading; anything but a regular file is ERR_MODEL_LOAD before it is opened. */
export function openCheckpointFile(path: string): Promise<FileHandle> {
  return openRegularFile(path, (s: Stats) =>
    new VideoScoreError("ERR_MODEL_LOAD", `${path} is ${fileKind(s)}, not a regular file; replace it with the file from the checkpoint`, { path }),
  );
}

/** The text of a regular checkpoint file (see {@link openCheckpointFile}). */
export async function readCheckpointText(path: string): Promise<string> {
  const fh = await openCheckpointFile(path);
  try {
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}
