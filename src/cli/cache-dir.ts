/**
 * Where the CLI keeps what it generates for itself (the demo's tiny model and sample clip): the
 * user's cache folder, never the installed package (which may be read-only, and is replaced on
 * every install).
 */
import { homedir } from "node:os";
import { join } from "node:path";

/** VIDEOSCORE2_CACHE_DIR, else $XDG_CACHE_HOME/videoscore2, else ~/.cache/videoscore2. */
export function userCacheDir(): string {
  if (process.env.VIDEOSCORE2_CACHE_DIR) return process.env.VIDEOSCORE2_CACHE_DIR;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "videoscore2");
}
