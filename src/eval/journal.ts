/**
 * The results journal of `videoscore2 eval`: one JSON line per scored video, appended and handed
 * to the OS as soon as the video settles, after a first line holding the options that made them.
 * Rerunning the same command reads it back and scores only what is missing; a last line cut by a
 * crash is dropped (and that video scored again); a journal made with other options is refused.
 *
 * The journal is the one file `eval` changes in place, so it is opened with care: a file that is
 * not a journal is refused and left as it was, and so is a symbolic link (it is not written
 * through, wherever it points) and anything that is not a regular file (a FIFO would block).
 */
import { closeSync, constants, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, rmSync, writeSync, type Stats } from "node:fs";
import { dirname } from "node:path";
import { fileKind } from "./input-file.js";
import { journalError, parseJournal, type JournalConflict, type JournalEntry, type JournalHeader, JOURNAL_FORMAT } from "./journal-read.js";

export * from "./journal-read.js";

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

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

function refuseLink(path: string): never {
  let target = "";
  try {
    target = ` to ${readlinkSync(path)}`;
  } catch {
    /* gone already */
  }
  return journalError(
    path,
    `the journal is a symbolic link${target}; eval does not write through links (the file it points to may be anything): ` +
      "give --journal the file itself, or remove the link",
  );
}

/**
 * A write to the journal failed (a full disk, an I/O error): nothing torn is left in it, and
 * `kept` says how many entries it holds. The command reports it in one line, exit 1.
 */
export class JournalWriteError extends Error {
  constructor(
    readonly path: string,
    /** Entries the journal holds, all complete. */
    readonly kept: number,
    cause: unknown,
  ) {
    const e = cause as NodeJS.ErrnoException;
    super(`--journal ${path}: cannot write it (${e?.code ? `${e.code}: ` : ""}${e?.message?.replace(/^[A-Z]+: /, "") ?? String(cause)})`, { cause });
    this.name = "JournalWriteError";
  }
}

/** How the journal writes; tests put a full or stuttering disk here. */
export interface JournalIO {
  /** As fs.writeSync(fd, buffer, offset, length, position): the bytes written, maybe fewer than asked. */
  write(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
}

const FS_IO: JournalIO = { write: (fd, b, off, len, pos) => writeSync(fd, b, off, len, pos) };

// O_NOFOLLOW: a link put in place after the check is refused (ELOOP), not written through.
// O_NONBLOCK: a FIFO put in place after the check does not block the open.
const OPEN_FLAGS = constants.O_RDWR | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Writes all of `b` at `at`, continuing short writes; returns the end. */
function writeAll(io: JournalIO, fd: number, b: Uint8Array, at: number): number {
  for (let done = 0; done < b.length; ) {
    const n = io.write(fd, b, done, b.length - done, at + done);
    // A write that makes no progress would loop forever; the OS says ENOSPC only on the next.
    if (!(n > 0)) throw Object.assign(new Error("no space left on device (a write made no progress)"), { code: "ENOSPC" });
    done += n;
  }
  return at + b.length;
}

/** An open journal: what it held, and appends. */
export class Journal {
  readonly entries: Map<string, JournalEntry>;
  /** How many entries were read back from an earlier run. */
  readonly resumed: number;
  /** A cut last line was dropped. */
  readonly repaired: boolean;
  /** Videos with two entries that disagree (the first is used); the command warns of each. */
  conflicts: JournalConflict[] = [];
  private fd: number;
  /** Where the next line goes: the end of the last complete line. */
  private size: number;

  private constructor(
    readonly path: string,
    private readonly io: JournalIO,
    fd: number,
    size: number,
    entries: Map<string, JournalEntry>,
    repaired: boolean,
  ) {
    this.fd = fd;
    this.size = size;
    this.entries = entries;
    this.resumed = entries.size;
    this.repaired = repaired;
  }

  /**
   * Opens (or starts) the journal at `path` for this run's options; refuses one made with other
   * options, a file that is not a journal, a symbolic link and anything but a regular file, and
   * drops a last line cut by a crash.
   * @throws VideoScoreError ERR_INVALID_OPTION naming the path and why
   * @throws JournalWriteError when the header cannot be written (a new journal is then removed)
   */
  static open(path: string, header: Omit<JournalHeader, "format" | "version">, io: JournalIO = FS_IO): Journal {
    const full: JournalHeader = { format: JOURNAL_FORMAT, version: 1, ...header };
    const headerLine = `${JSON.stringify(full)}\n`;
    const st = lstatOrNull(path);
    if (st?.isSymbolicLink()) refuseLink(path);
    if (st && !st.isFile()) journalError(path, `the journal is ${fileKind(st)}, not a regular file; give --journal the path of a file`);
    let fd: number;
    if (!st) {
      mkdirSync(dirname(path), { recursive: true });
      // O_EXCL: whatever appeared at the path since the check (a link included) is not replaced.
      fd = openSync(path, OPEN_FLAGS | constants.O_CREAT | constants.O_EXCL, 0o644);
    } else {
      try {
        fd = openSync(path, OPEN_FLAGS);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ELOOP") refuseLink(path);
        throw e;
      }
    }
    try {
      const now = fstatSync(fd);
      if (!now.isFile()) journalError(path, `the journal is ${fileKind(now)}, not a regular file; give --journal the path of a file`);
      const c = parseJournal(readFileSync(fd, "utf8"), path, headerLine);
      if (c.header) {
        const diff = optionDifference(path, c.header, header);
        if (diff) journalError(path, diff);
      }
      let size: number;
      if (!c.header) {
        // New, empty, or cut within the header this run writes: nothing to keep.
        ftruncateSync(fd, 0);
        try {
          size = writeAll(io, fd, Buffer.from(headerLine), 0);
        } catch (e) {
          if (st) ftruncateSync(fd, 0);
          else rmSync(path, { force: true });
          throw new JournalWriteError(path, 0, e);
        }
      } else {
        ftruncateSync(fd, c.goodBytes);
        size = c.goodBytes;
        try {
          if (c.needsNewline) size = writeAll(io, fd, Buffer.from("\n"), size);
        } catch (e) {
          ftruncateSync(fd, c.goodBytes);
          throw new JournalWriteError(path, c.entries.size, e);
        }
      }
      const j = new Journal(path, io, fd, size, c.entries, c.cut && c.header !== null);
      j.conflicts = c.conflicts;
      return j;
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /**
   * Appends one settled video. The line is written whole (a short write is continued), so a crash
   * cuts at most this line; a failed write is taken back, so no torn line is left either.
   * @throws JournalWriteError
   */
  append(e: JournalEntry): void {
    try {
      this.size = writeAll(this.io, this.fd, Buffer.from(`${JSON.stringify(e)}\n`), this.size);
    } catch (err) {
      try {
        ftruncateSync(this.fd, this.size);
      } catch {
        /* the next open drops a cut last line anyway */
      }
      throw new JournalWriteError(this.path, this.entries.size, err);
    }
    this.entries.set(e.id, e);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
