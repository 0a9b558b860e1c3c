/** The steps around one call's video stream: waiting for the decode, ending it, and its times. */
import { CANCEL_ABORTED, type Cancellation } from "../addon/cancel.js";
import type { StreamedVideo } from "../video/sample.js";

/**
 * When the model failed or never ran the decode may still be going: stop it, and let it end before
 * the call settles. Then the frames go now rather than at garbage collection.
 */
export async function endStream(stream: StreamedVideo, settledOk: boolean, cancel: Cancellation): Promise<void> {
  if (!settledOk) cancel.raise(CANCEL_ABORTED);
  await stream.finished;
  stream.feed.close();
}

export type Finished = Awaited<StreamedVideo["finished"]>;

/** Without overlap every frame is decoded before the model is asked for: waits for that (rejects with the decode's error). */
export async function decodeFirst(sampled: StreamedVideo, overlap: boolean): Promise<Finished> {
  if (overlap) return null;
  await sampled.feed.done;
  return sampled.finished;
}

/**
 * The call's wait on sampling and sampling's own time. Sampled first, all of it was on the call's
 * path; overlapped, opening and the encoder's waits for frames were.
 */
export function sampleTimes(sampled: StreamedVideo, frameWaitMs: number, first: Finished, finished: Finished): { sampleMs: number; sampleTotalMs: number } {
  const onPath = first ? first.sampleTotalMs : sampled.openMs + frameWaitMs;
  const sampleTotalMs = finished?.sampleTotalMs ?? onPath;
  return { sampleMs: Math.min(onPath, sampleTotalMs), sampleTotalMs };
}

