/**
 * Reading the results journal of `videoscore2 eval` (src/eval/journal.ts writes it): its header
 * line, its entries, and what a crash can leave (a last line cut short). Anything else that is not
 * what we write is an error naming the line: the file is left as it was.
 */
import { VideoScoreError } from "../addon/errors.js";
import { DIMENSIONS, type Dimension } from "../scorer/parse.js";
import { readRegularText } from "./input-file.js";

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
  /** Videos with two entries that disagree: the first is kept (1-based line numbers). */
  conflicts: JournalConflict[];
}

/** Two entries for one video with different results. */
export interface JournalConflict {
  id: string;
  keptLine: number;
  droppedLine: number;
}

/** The warning for a conflict, naming both lines and which is kept. */
export function conflictWarning(path: string, c: JournalConflict): string {
  return `${path}: video ${c.id} has two entries that disagree (lines ${c.keptLine} and ${c.droppedLine}); line ${c.keptLine}, the first, is used: delete the line you do not want`;
}

/** What of an entry is its result (two runs write the same video with other text around it). */
const resultOf = (e: JournalEntry) => JSON.stringify([e.ok, e.scores ?? null, e.error?.code ?? null]);

export function journalError(path: string, msg: string): never {
  throw new VideoScoreError("ERR_INVALID_OPTION", `${path}: ${msg}`, { path });
}

/** Whether text begins like a journal. */
export function looksLikeJournal(text: string): boolean {
  return text.trimStart().startsWith("{") && text.slice(0, 300).includes(`"format":"${JOURNAL_FORMAT}"`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Why a parsed first line is not our header; null when it is one. */
function headerProblem(v: unknown): string | null {
  if (!isObject(v) || v.format !== JOURNAL_FORMAT) return `its first line is not a journal header (no "format": "${JOURNAL_FORMAT}")`;
  if (v.version !== 1) return `its header has version ${JSON.stringify(v.version)}; this version of videoscore2 reads version 1`;
  if (typeof v.benchmark !== "string" || !isObject(v.options)) return "its header lacks the benchmark or the options";
  return null;
}

const numOrNull = (v: unknown) => v === null || (typeof v === "number" && Number.isFinite(v));
const show = (v: unknown) => (v === undefined ? "missing" : JSON.stringify(v)?.slice(0, 60));

/**
 * Why a parsed line is not an entry as eval writes it; null when it is one. Everything read later
 * (the metrics, `--out`'s results layout) may then rely on the shape.
 */
export function entryProblem(v: unknown): string | null {
  if (!isObject(v)) return "it is not a JSON object";
  if (typeof v.id !== "string" || v.id === "") return "it has no id";
  for (const k of ["video", "prompt"] as const) if (typeof v[k] !== "string") return `its ${k} is ${show(v[k])}, not a string`;
  if (typeof v.ok !== "boolean") return `its ok is ${show(v.ok)}, not true or false`;
  if (v.output !== undefined && typeof v.output !== "string") return `its output is ${show(v.output)}, not a string`;
  if (v.ok) {
    if (!isObject(v.scores)) return `it is ok but its scores are ${show(v.scores)}`;
    for (const d of DIMENSIONS) {
      const s = v.scores[d];
      if (!isObject(s)) return `scores.${d} is ${show(s)}, not {score, soft, expected}`;
      for (const k of ["score", "soft", "expected"] as const) if (!numOrNull(s[k])) return `scores.${d}.${k} is ${show(s[k])}, not a number or null`;
    }
  } else if (!isObject(v.error) || typeof v.error.code !== "string" || typeof v.error.message !== "string")
    return `it failed but its error is ${show(v.error)}, not {code, message}`;
  return null;
}

const NOT_A_JOURNAL = "it is left as it was: give --journal a new path, or move the file away";

/**
 * Parses a journal's text. A last line that is not JSON is reported as cut (a crash mid-write);
 * a file cut within its first line counts as cut only where its text is the start of `fresh`, the
 * header this run would write. Anything else that is not a journal is an error, as is any bad line.
 */
export function parseJournal(text: string, path: string, fresh?: string): JournalContents {
  const out: JournalContents = { header: null, entries: new Map(), goodBytes: 0, cut: false, needsNewline: false, conflicts: [] };
  const lineOf = new Map<string, number>();
  if (text === "") return out;
  const lines = text.split("\n");
  let bytes = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const last = i === lines.length - 1;
    if (last && line === "") break;
    let v: unknown;
    let parsed = true;
    try {
      v = JSON.parse(line);
    } catch {
      parsed = false;
    }
    if (i === 0) {
      const problem = parsed ? headerProblem(v) : "its first line is not JSON";
      if (problem) {
        // A crash while the header was written leaves the start of the same header.
        if (last && fresh !== undefined && fresh.startsWith(text)) {
          out.cut = true;
          return out;
        }
        return journalError(path, `not a videoscore2 eval journal (${problem}); ${NOT_A_JOURNAL}`);
      }
      out.header = v as JournalHeader;
    } else {
      if (!parsed) {
        if (last) {
          out.cut = true;
          break;
        }
        return journalError(path, `line ${i + 1} of the journal is not JSON; remove it or use another --journal`);
      }
      const problem = entryProblem(v);
      if (problem) return journalError(path, `line ${i + 1} of the journal is not an entry as eval writes it: ${problem}; remove the line or use another --journal`);
      const e = v as JournalEntry;
      const had = out.entries.get(e.id);
      // Two runs on one journal at once can both score a video; the first entry stays in use.
      if (had) {
        if (resultOf(had) !== resultOf(e)) out.conflicts.push({ id: e.id, keptLine: lineOf.get(e.id)!, droppedLine: i + 1 });
      } else {
        out.entries.set(e.id, e);
        lineOf.set(e.id, i + 1);
      }
    }
    bytes += Buffer.byteLength(line) + (last ? 0 : 1);
    if (last) out.needsNewline = true;
    out.goodBytes = bytes;
  }
  return out;
}

/** Reads a journal (a regular file, links followed: it is only read); a missing file is empty. */
export function readJournal(path: string): JournalContents {
  let text: string;
  try {
    text = readRegularText(path, "the journal");
  } catch (e) {
    if (e instanceof VideoScoreError && e.code === "ERR_INPUT_NOT_FOUND") return parseJournal("", path);
    throw e;
  }
  return parseJournal(text, path);
}
