/**
 * Stops the native work of calls still running when the process exits. `process.exit()` joins
 * libuv's worker threads before it returns to the OS, so a generation in flight would otherwise run on
 * to `maxTokens` first (seconds to minutes). The 'exit' event comes before that join, and raising a
 * call's cancel flag stops its generation within a token.
 */
import { CANCEL_ABORTED, type Cancellation } from "../addon/cancel.js";

const live = new Set<Cancellation>();
let hooked = false;

/** Tracks `c` until the returned function is called. */
export function cancelOnExit(c: Cancellation): () => void {
  if (!hooked) {
    hooked = true;
    process.on("exit", () => {
      for (const x of live) x.raise(CANCEL_ABORTED);
    });
  }
  live.add(c);
  return () => void live.delete(c);
}
