/**
 * The results journal of `videoscore2 eval`: one JSON line per scored video, appended and handed
 * to the OS as soon as the video settles, after a first line holding the options that made them.
 * Rerunning the same command reads it back and scores only what is missing; a last line cut by a
 * crash is dropped (and that video scored again); a journal made with other options is refused.
 */
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { VideoScoreError } from "../addon/errors.js";
import type { Dimension } from "../scorer/parse.js";

/** The `format` of a journal's first line. */
export const JOURNAL_FORMAT = "videoscore2-eval-journal";

/** The first line: what made the scores. */
export interface JournalHeader {
  format: typeof JOURNAL_FORMAT;
  version: 1;
  /** The benchmark layout the journal belongs to. */
  benchmark: string;
  /** The options that change a score (model files, template, frames, sampling). */
  options: Record<string, unknown>;
}

/** One dimension's scores, every kind, so `--score` can change without scoring again. */
export interface JournalScore {
  score: number | null;
  soft: number | null;
  expected: number | null;
}

/** One settled video. */
export interface JournalEntry {
  id: string;
  video: string;
  prompt: string;
  ok: boolean;
  scores?: Record<Dimension, JournalScore>;
  /** The generated text. */
  output?: string;
  error?: { code: string; message: string };
}

/** The command-line flag of each recorded option, for messages. */
const FLAG: Record<string, string> = {
  model: "--model",
  mmproj: "--mmproj",
  template: "--template",
  mode: "--mode",
  fps: "--fps",
  nframes: "--nframes",
  maxPixels: "--max-pixels",
  seed: "--seed",
  temperature: "--temperature",
  maxTokens: "--max-tokens",
  constrain: "--constrain / --max-thinking-tokens",
};

const show = (v: unknown) => (v === undefined || v === null ? "(default)" : typeof v === "string" ? v : JSON.stringify(v));

function usage(path: string, msg: string): never {
  throw new VideoScoreError("ERR_INVALID_OPTION", `${path}: ${msg}`, { path });
}

/** What a journal file holds. */
export interface JournalContents {
  header: JournalHeader | null;
  entries: Map<string, JournalEntry>;
  /** Bytes of complete lines (what is kept when a cut last line is dropped). */
  goodBytes: number;
  /** A last line cut short was found (and is not in `entries`). */
  cut: boolean;
  /** The last complete line lacks its newline. */
  needsNewline: boolean;
}

/** Whether text begins like a journal. */
export function looksLikeJournal(text: string): boolean {
  return text.trimStart().startsWith("{") && text.slice(0, 300).includes(`"format":"${JOURNAL_FORMAT}"`);
}

/** Reads a journal; a last line that is not JSON is reported as cut, any other bad line is an error. */
export function readJournal(path: string): JournalContents {
  const out: JournalContents = { header: null, entries: new Map(), goodBytes: 0, cut: false, needsNewline: false };
  if (!existsSync(path)) return out;
  const text = readFileSync(path, "utf8");
  const lines = text.split("\n");
  let bytes = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const last = i === lines.length - 1;
    if (last && line === "") break;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      if (last) {
        out.cut = true;
        break;
      }
      return usage(path, `line ${i + 1} of the journal is not JSON; remove it or use another --journal`);
    }
    bytes += Buffer.byteLength(line) + (last ? 0 : 1);
    if (last) out.needsNewline = true;
    if (i === 0) {
      const h = v as JournalHeader;
      if (!h || h.format !== JOURNAL_FORMAT) return usage(path, `not a videoscore2 eval journal (its first line has no "format": "${JOURNAL_FORMAT}")`);
      out.header = h;
    } else {
      const e = v as JournalEntry;
      if (!e || typeof e.id !== "string") return usage(path, `line ${i + 1} of the journal has no id`);
      out.entries.set(e.id, e);
    }
    out.goodBytes = bytes;
  }
  return out;
}

/** The first option that differs between a journal and this run, as a message; null when none. */
export function optionDifference(path: string, had: JournalHeader, now: Omit<JournalHeader, "format" | "version">): string | null {
  if (had.benchmark !== now.benchmark)
    return `the journal was made for the ${had.benchmark} benchmark; this run is ${now.benchmark} (--benchmark). Use another --journal.`;
  const keys = new Set([...Object.keys(had.options ?? {}), ...Object.keys(now.options)]);
  for (const k of keys) {
    const a = had.options?.[k] ?? null;
    const b = now.options[k] ?? null;
    if (JSON.stringify(a) !== JSON.stringify(b))
      return `the journal was made with ${FLAG[k] ?? k} ${show(a)}; this run has ${FLAG[k] ?? k} ${show(b)}. Rerun with the same options to resume, or give another --journal to start afresh.`;
  }
  return null;
}

/** An open journal: what it held, and appends. */
export class Journal {
  readonly entries: Map<string, JournalEntry>;
  /** How many entries were read back from an earlier run. */
  readonly resumed: number;
  /** A cut last line was dropped. */
  readonly repaired: boolean;
  private fd: number;

  private constructor(fd: number, entries: Map<string, JournalEntry>, repaired: boolean) {
    this.fd = fd;
    this.entries = entries;
    this.resumed = entries.size;
    this.repaired = repaired;
  }

  /**
   * Opens (or starts) the journal at `path` for this run's options; refuses one made with other
   * options, and drops a last line cut by a crash.
   */
  static open(path: string, header: Omit<JournalHeader, "format" | "version">): Journal {
    const c = readJournal(path);
    if (c.header) {
      const diff = optionDifference(path, c.header, header);
      if (diff) usage(path, diff);
    }
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(path, existsSync(path) ? "r+" : "w+");
    const full: JournalHeader = { format: JOURNAL_FORMAT, version: 1, ...header };
    if (!c.header) {
      // Empty, or only a cut first line: start afresh.
      ftruncateSync(fd, 0);
      writeSync(fd, `${JSON.stringify(full)}\n`, 0);
    } else {
      ftruncateSync(fd, c.goodBytes);
      if (c.needsNewline) writeSync(fd, "\n", c.goodBytes);
    }
    closeSync(fd);
    return new Journal(openSync(path, "a"), c.entries, c.cut);
  }

  /** Appends one settled video (one write, so a crash cuts at most this line). */
  append(e: JournalEntry): void {
    writeSync(this.fd, `${JSON.stringify(e)}\n`);
    this.entries.set(e.id, e);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
