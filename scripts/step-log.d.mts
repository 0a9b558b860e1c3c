/** Types of scripts/step-log.mjs, for the tests. */
export const LOG_DIR: string;
export const TAIL_LINES: number;
export const PROGRESS_EVERY_MS: number;
export function isVerbose(): boolean;
export class StepError extends Error {
  readonly logFile: string;
}
export interface StepOut {
  write(chunk: string | Uint8Array): unknown;
  isTTY?: boolean;
  columns?: number;
}
export interface StepOptions {
  out?: StepOut;
  logDir?: string;
  verbose?: boolean;
  progressEveryMs?: number;
}
export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  progress?: "steps" | "files";
  phase?: string;
}
export class Step {
  constructor(prefix: string, label: string, name: string, options?: StepOptions);
  readonly logFile: string;
  summary: string | undefined;
  note(text: string): void;
  say(text: string): void;
  phase(text: string): void;
  run(cmd: string, args: string[], options?: RunOptions): Promise<void>;
  runSync(cmd: string, args: string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string }): void;
  elapsed(): string;
  done(): void;
  fail(error: unknown): StepError;
}
export function formatSeconds(ms: number): string;
export function step<T>(prefix: string, label: string, name: string, fn: (s: Step) => T | Promise<T>, options?: StepOptions): Promise<T>;
export function stepSync<T>(prefix: string, label: string, name: string, fn: (s: Step) => T, options?: StepOptions): T;
export function failureMessage(e: unknown): string;
export function exitOnFailure(): void;
