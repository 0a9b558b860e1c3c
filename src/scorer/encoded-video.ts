/**
 * EncodedVideo: the result of VideoScorer.encode(), the KV cells of a video's prefix held in native
 * memory for any number of prompts.
 */
import { VideoScoreError } from "../addon/errors.js";
import type { NativeEncoded } from "../addon/interface.js";
import type { StreamedVideo } from "../video/sample.js";
import type { ScoredFrames } from "./result.js";

export type VideoFacts = Omit<StreamedVideo, "feed" | "openMs" | "finished">;

/** What an EncodedVideo needs of the scorer that made it (an interface, so the two files do not import each other). */
export interface EncodedOwner {
  forget(e: EncodedVideo): void;
}

/**
 * A video encoded and prefilled once ({@link VideoScorer.encode}) for any number of prompts:
 * `score(encoded, { prompt })` skips sampling, the vision encoder and the video's prefill. It holds
 * the KV cells of the chat before the video and the video (`bytes`, in native memory) until
 * {@link dispose} (or garbage collection); the scorer keeps no copy, and disposing the scorer
 * disposes it.
 */
export class EncodedVideo implements Disposable {
  /** The frames the model saw. */
  readonly frames: ScoredFrames;
  /** Tokens of the prefix it holds (the chat before the video and the video). */
  readonly tokens: number;
  /** Of the encode call. */
  readonly timings: { sampleMs: number; encodeMs: number; prefillMs: number; totalMs: number };
  #native: NativeEncoded | null;
  #disposed = false;
  // Scores that began before dispose() keep the cells until they settle: the docs promise that a
  // call in flight finishes, and a call is in flight from the moment score() is called, not from
  // when the model takes it.
  #leases = 0;

  /** @internal */
  constructor(
    /** @internal */ readonly owner: EncodedOwner,
    native: NativeEncoded,
    /** @internal */ readonly video: VideoFacts,
    sampleMs: number,
    totalMs: number,
  ) {
    this.#native = native;
    this.tokens = native.tokens;
    this.frames = {
      count: video.plan.indices.length,
      width: video.width,
      height: video.height,
      indices: video.plan.indices,
      sourceWidth: video.sourceWidth,
      sourceHeight: video.sourceHeight,
      totalFrames: video.totalFrames,
      nativeFps: video.nativeFps,
    };
    this.timings = { sampleMs, encodeMs: native.timings.encodeMs, prefillMs: native.timings.prefillMs, totalMs };
  }

  /** Bytes of native memory it holds (0 once freed: at dispose(), or when the last score begun before it settles). */
  get bytes(): number {
    return this.#native?.bytes ?? 0;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * @internal The native cells for one score call, held until `release()`; throws ERR_DISPOSED
   * after dispose().
   */
  lease(): { native: NativeEncoded; release: () => void } {
    if (this.#disposed || !this.#native) throw new VideoScoreError("ERR_DISPOSED", "The encoded video was disposed; encode it again");
    const native = this.#native;
    this.#leases++;
    let released = false;
    return {
      native,
      release: () => {
        if (released) return;
        released = true;
        if (--this.#leases === 0 && this.#disposed) this.free();
      },
    };
  }

  /**
   * Marks it disposed: later scores of it reject with ERR_DISPOSED. Scores of it already called
   * finish first; its memory is freed when the last of them settles (at once when none is).
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.owner.forget(this);
    if (this.#leases === 0) this.free();
  }

  private free(): void {
    this.#native?.dispose();
    this.#native = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
