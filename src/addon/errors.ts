/**
 * Every failure a caller can cause surfaces as a {@link VideoScoreError} with a stable `code`.
 * The table of codes is in the README; codes never change meaning once released.
 */
export type VideoScoreErrorCode =
  | "ERR_INPUT_NOT_FOUND"
  | "ERR_INPUT_UNREADABLE"
  | "ERR_INPUT_NOT_ALLOWED"
  | "ERR_NO_VIDEO_STREAM"
  | "ERR_DECODE"
  | "ERR_VIDEO_TOO_SHORT"
  | "ERR_VIDEO_LIMITS"
  | "ERR_MODEL_LOAD"
  | "ERR_MODEL_MISMATCH"
  | "ERR_BINARY_NOT_FOUND"
  | "ERR_GPU_UNAVAILABLE"
  | "ERR_CPU_UNSUPPORTED"
  | "ERR_ABORTED"
  | "ERR_DISPOSED"
  | "ERR_INVALID_OPTION"
  | "ERR_CONTEXT_FULL"
  | "ERR_QUEUE_FORMAT"
  | "ERR_INTERNAL";

export const ERROR_CODES: readonly VideoScoreErrorCode[] = [
  "ERR_INPUT_NOT_FOUND",
  "ERR_INPUT_UNREADABLE",
  "ERR_INPUT_NOT_ALLOWED",
  "ERR_NO_VIDEO_STREAM",
  "ERR_DECODE",
  "ERR_VIDEO_TOO_SHORT",
  "ERR_VIDEO_LIMITS",
  "ERR_MODEL_LOAD",
  "ERR_MODEL_MISMATCH",
  "ERR_BINARY_NOT_FOUND",
  "ERR_GPU_UNAVAILABLE",
  "ERR_CPU_UNSUPPORTED",
  "ERR_ABORTED",
  "ERR_DISPOSED",
  "ERR_INVALID_OPTION",
  "ERR_CONTEXT_FULL",
  "ERR_QUEUE_FORMAT",
  "ERR_INTERNAL",
];

/** Options attached to a {@link VideoScoreError}. */
export interface VideoScoreErrorOptions {
  /** The file the error is about, when there is one. */
  path?: string;
  /** The underlying error. */
  cause?: unknown;
}

/** The one error class of the library; `code` is stable, `message` says what to do. */
export class VideoScoreError extends Error {
  readonly code: VideoScoreErrorCode;
  readonly path?: string;

  constructor(code: VideoScoreErrorCode, message: string, options: VideoScoreErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "VideoScoreError";
    this.code = code;
    if (options.path !== undefined) this.path = options.path;
  }
}

/** The codes that are about the video a call was given. */
const INPUT_CODES: ReadonlySet<string> = new Set(["ERR_INPUT_NOT_FOUND", "ERR_INPUT_UNREADABLE", "ERR_INPUT_NOT_ALLOWED", "ERR_NO_VIDEO_STREAM", "ERR_DECODE", "ERR_VIDEO_TOO_SHORT", "ERR_VIDEO_LIMITS"]);

/**
 * Gives an error about the input video its `path`, and names the file in the message where it does
 * not yet (checks made after the file is open, such as the frame plan's, know only its contents).
 */
export function withInputPath(e: unknown, input: string | Uint8Array): unknown {
  if (typeof input === "string" && e instanceof VideoScoreError && e.path === undefined && INPUT_CODES.has(e.code)) {
    Object.defineProperty(e, "path", { value: input, enumerable: true });
    if (!e.message.includes(input)) e.message = `${input}: ${e.message}`;
  }
  return e;
}

/**
 * A path as the C++ side will read it: a NUL byte would end it there, so a different file than the
 * one named could be opened.
 */
export function checkPath(name: string, v: unknown, what: string): string {
  if (typeof v !== "string") throw invalidOption(name, what, v);
  if (v.includes("\0")) throw invalidOption(name, `${what} without a NUL byte (the path would be cut there)`, v);
  return v;
}

/** `ERR_INVALID_OPTION` in the house style: "Expected … but received …". */
export function invalidOption(name: string, expected: string, received: unknown): VideoScoreError {
  const shown = typeof received === "string" ? JSON.stringify(received) : String(received);
  return new VideoScoreError("ERR_INVALID_OPTION", `Expected ${name} to be ${expected} but received ${shown}`);
}

/** Converts an AbortSignal's state into our error (the signal's reason is kept as `cause`). */
export function abortError(signal?: AbortSignal): VideoScoreError {
  return new VideoScoreError("ERR_ABORTED", "The operation was aborted by its AbortSignal", {
    cause: signal?.reason,
  });
}
