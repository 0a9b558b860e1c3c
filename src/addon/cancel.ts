/**
 * Cancellation shared with native jobs: an AbortSignal (or dispose()) raises a flag in shared memory
 * that C++ polls (native/binding/cancel_flag.h).
 */
import type { NativeCancelFlag } from "./interface.js";
import { abortError, VideoScoreError } from "./errors.js";

/** Flag values the native side understands (native/common/error.h). */
export const CANCEL_ABORTED = 1;
export const CANCEL_DISPOSED = 2;

/**
 * A flag the native job polls, raised when the caller's AbortSignal fires. Shared memory lets a job on
 * a libuv thread see the abort at once, without a round trip through the JS thread.
 */
export class Cancellation {
  readonly flag: NativeCancelFlag = new Int32Array(new SharedArrayBuffer(4));
  private readonly signal?: AbortSignal;
  private readonly onAbort = (): void => this.raise(CANCEL_ABORTED);

  constructor(signal?: AbortSignal) {
    this.signal = signal;
    if (signal?.aborted) this.raise(CANCEL_ABORTED);
    else signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  raise(state: number): void {
    if (Atomics.load(this.flag, 0) === 0) Atomics.store(this.flag, 0, state);
  }

  get state(): number {
    return Atomics.load(this.flag, 0);
  }

  /** Throws the matching error when the flag is up; call between phases. */
  throwIfRaised(): void {
    const s = this.state;
    if (s === CANCEL_ABORTED) throw abortError(this.signal);
    if (s === CANCEL_DISPOSED) throw new VideoScoreError("ERR_DISPOSED", "The scorer was disposed while this call was in flight");
  }

  /** Native errors raced by an abort become the abort error the caller expects. */
  translate(e: unknown): unknown {
    return e instanceof VideoScoreError && e.code === "ERR_ABORTED" && this.signal ? abortError(this.signal) : e;
  }

  dispose(): void {
    this.signal?.removeEventListener("abort", this.onAbort);
  }
}
