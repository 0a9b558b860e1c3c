// A set-up step prints one line, not its tools' output (issue 30): a first `npm run demo` used to
// print hundreds of compiler warnings and ninja lines, and a newcomer could not tell progress from
// trouble. Each step's commands write into one log, .cache/logs/<name>.log; the terminal gets one
// line when the step is done, a progress line while it runs (rewritten in place on a terminal as the
// tool's lines come and each second, one plain line every two minutes elsewhere: CI logs, npm's
// captured install output), and, when it fails, the log's path and its last lines. VIDEOSCORE2_VERBOSE=1 shows every line as well.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const LOG_DIR = join(root, ".cache", "logs");
/** How many of a failed step's last log lines are shown. */
export const TAIL_LINES = 20;
/** Off a terminal, progress is a plain line this often: enough to see it is alive, few enough to read. */
export const PROGRESS_EVERY_MS = 120_000;

export const isVerbose = () => process.env.VIDEOSCORE2_VERBOSE === "1";

/** A step that failed; its message is the whole report (what failed, the log, its last lines). */
export class StepError extends Error {
  constructor(message, logFile) {
    super(message);
    this.name = "StepError";
    this.logFile = logFile;
  }
}

/** A command of a step that did not succeed. */
class CommandError extends Error {}

export function formatSeconds(ms) {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

const quote = (a) => (/^[\w./=:@%+,-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);
const commandLine = (cmd, args) => [cmd, ...args].map(quote).join(" ");
/** A command as a failure line names it (the whole one is in the log): `cmake-js build`, `make`. */
function shortCommand(cmd, args) {
  const words = cmd === process.execPath && args.length > 0 ? args : [cmd, ...args];
  const lead = [basename(words[0])];
  for (const w of words.slice(1, 3)) {
    if (!/^[\w.@+-]+$/.test(w) || w.startsWith("-")) break;
    lead.push(w);
  }
  return lead.join(" ");
}

/**
 * What a tool's line says of its progress. "steps": ninja's `[n/m]` and CMake's Makefile `[ n%]`;
 * "files": one per compiled file in FFmpeg's make output (`CC libavcodec/h264dec.o`), whose total
 * make does not tell.
 */
const PROGRESS = {
  steps: (line) => {
    const m = /^\[(\d+)\/(\d+)\]/.exec(line) ?? /^\[\s*(\d+)%\]/.exec(line);
    if (!m) return undefined;
    return m[2] ? ` [${m[1]}/${m[2]}]` : ` ${m[1]}%`;
  },
  files: (line, state) => {
    if (!/^\s*(CC|CXX|AS|X86ASM|AR|LD)\s/.test(line)) return undefined;
    state.files = (state.files ?? 0) + 1;
    return `: ${state.files} file${state.files === 1 ? "" : "s"}`;
  },
};

export class Step {
  /**
   * `prefix`: the script that runs it ("build-ffmpeg"); `label`: what it makes, for people;
   * `name`: the log's file name. `out` is where its lines go (a TTY gets the in-place progress line).
   */
  constructor(prefix, label, name, { out = process.stderr, logDir = LOG_DIR, verbose = isVerbose(), progressEveryMs = PROGRESS_EVERY_MS } = {}) {
    this.prefix = prefix;
    this.label = label;
    this.out = out;
    this.verbose = verbose;
    this.tty = out.isTTY === true && !verbose;
    mkdirSync(logDir, { recursive: true });
    this.logFile = join(logDir, `${name}.log`);
    this.fd = openSync(this.logFile, "w");
    this.t0 = Date.now();
    this.status = "";
    this.shown = false;
    /** The one-line result, when it says more than the label. */
    this.summary = undefined;
    this.note(`# ${prefix}: ${label} (${new Date().toISOString()})`);
    if (!verbose) this.timer = setInterval(() => this.#tick(), this.tty ? 1000 : progressEveryMs).unref();
  }

  /** A line into the log (and onto the terminal when verbose). */
  note(text) {
    writeSync(this.fd, `${text}\n`);
    if (this.verbose) this.out.write(`${text}\n`);
  }

  /** A line the user should see now, even in a quiet step (it also goes into the log). */
  say(text) {
    this.#clear();
    writeSync(this.fd, `${text}\n`);
    this.out.write(`${text}\n`);
    this.#draw();
  }

  /** What the step is doing now ("dav1d", "FFmpeg configure"), shown on the progress line. */
  phase(text) {
    this.status = text;
    this.#draw();
  }

  /**
   * Runs a command with its output into the log; rejects when it fails. `progress`: "steps" or
   * "files" (PROGRESS), read from its lines to show how far it is.
   */
  run(cmd, args, { cwd, env, progress, phase } = {}) {
    if (phase !== undefined) this.phase(phase);
    this.note(`$ ${commandLine(cmd, args)}${cwd ? `   (in ${cwd})` : ""}`);
    const parse = progress ? PROGRESS[progress] : undefined;
    const state = {};
    const base = phase ?? this.status;
    return new Promise((resolvePromise, reject) => {
      const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
      const partial = { stdout: "", stderr: "" };
      const take = (which) => (chunk) => {
        writeSync(this.fd, chunk);
        if (this.verbose) this.out.write(chunk);
        if (!parse) return;
        const lines = (partial[which] + chunk.toString()).split(/\r?\n|\r/);
        partial[which] = lines.pop();
        for (const line of lines) {
          const p = parse(line, state);
          if (p !== undefined && `${base}${p}`.trim() !== this.status) {
            this.status = `${base}${p}`.trim();
            this.#draw();
          }
        }
      };
      child.stdout.on("data", take("stdout"));
      child.stderr.on("data", take("stderr"));
      child.on("error", (e) => reject(new CommandError(`could not start \`${cmd}\` (${e.code === "ENOENT" ? "not installed or not on PATH" : e.message})`)));
      child.on("close", (code, signal) => {
        if (code === 0) resolvePromise();
        else reject(new CommandError(`\`${shortCommand(cmd, args)}\` ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`));
      });
    });
  }

  /** `run` for synchronous callers: no progress, and verbose output goes straight to the terminal. */
  runSync(cmd, args, { cwd, env, input } = {}) {
    this.note(`$ ${commandLine(cmd, args)}${cwd ? `   (in ${cwd})` : ""}`);
    const stdio = this.verbose ? [input === undefined ? "ignore" : "pipe", "inherit", "inherit"] : [input === undefined ? "ignore" : "pipe", this.fd, this.fd];
    const r = spawnSync(cmd, args, { cwd, env, input, stdio });
    if (r.error) throw new CommandError(`could not start \`${cmd}\` (${r.error.code === "ENOENT" ? "not installed or not on PATH" : r.error.message})`);
    if (r.status !== 0) throw new CommandError(`\`${shortCommand(cmd, args)}\` ${r.signal ? `was killed by ${r.signal}` : `exited with code ${r.status}`}`);
  }

  elapsed() {
    return formatSeconds(Date.now() - this.t0);
  }

  /** Ends the step with its one line. */
  done() {
    this.#stop();
    this.note(`# done in ${this.elapsed()}`);
    closeSync(this.fd);
    this.out.write(`${this.prefix}: ${this.summary ?? this.label} (${this.elapsed()})\n`);
  }

  /** Ends the step as failed: the error to throw, whose message names the log and shows its tail. */
  fail(error) {
    this.#stop();
    const reason = error instanceof Error ? error.message : String(error);
    const tail = readFileSync(this.logFile, "utf8").split(/\r?\n|\r/).filter((l, i, all) => l !== "" || i < all.length - 1).slice(-TAIL_LINES);
    this.note(`# failed after ${this.elapsed()}: ${reason}`);
    if (!(error instanceof CommandError) && error instanceof Error && error.stack) this.note(error.stack);
    closeSync(this.fd);
    const lines = [
      `${this.prefix}: ${this.label} failed after ${this.elapsed()}: ${reason}`,
      `  full log: ${this.logFile}`,
      ...(this.verbose ? [] : [`  its last ${tail.length} lines:`, ...tail.map((l) => `  | ${l}`), "  (VIDEOSCORE2_VERBOSE=1 shows every line as it comes)"]),
    ];
    return new StepError(lines.join("\n"), this.logFile);
  }

  #line() {
    return `${this.prefix}: ${this.label} … ${this.status ? `${this.status}, ` : ""}${this.elapsed()}`;
  }

  #tick() {
    if (this.tty) this.#draw();
    else this.out.write(`${this.#line()}\n`);
  }

  #draw() {
    if (!this.tty) return;
    // Cut to the terminal's width: a wrapped line could not be rewritten in place.
    const width = this.out.columns || 100;
    this.out.write(`\r\x1b[K${this.#line().slice(0, width - 1)}`);
    this.shown = true;
  }

  #clear() {
    if (this.tty && this.shown) this.out.write("\r\x1b[K");
    this.shown = false;
  }

  #stop() {
    clearInterval(this.timer);
    this.#clear();
  }
}

/** Runs `fn(step)` as one step: its one line when it succeeds, a StepError when it fails. */
export async function step(prefix, label, name, fn, options) {
  const s = new Step(prefix, label, name, options);
  let result;
  try {
    result = await fn(s);
  } catch (e) {
    const failed = s.fail(e);
    throw e instanceof StepError ? e : failed;
  }
  s.done();
  return result;
}

/** `step` for synchronous code. */
export function stepSync(prefix, label, name, fn, options) {
  const s = new Step(prefix, label, name, options);
  let result;
  try {
    result = fn(s);
  } catch (e) {
    const failed = s.fail(e);
    throw e instanceof StepError ? e : failed;
  }
  s.done();
  return result;
}

/** The message a script prints for an error that ends it: the report, never a stack trace (unless verbose). */
export function failureMessage(e) {
  if (e instanceof StepError) return e.message;
  if (e instanceof Error) return isVerbose() && e.stack ? e.stack : e.message;
  return String(e);
}

/** For a script's entry point: an error that escapes ends it with its message and exit code 1. */
export function exitOnFailure() {
  process.on("uncaughtException", (e) => {
    process.stderr.write(`${failureMessage(e)}\n`);
    process.exit(1);
  });
}
