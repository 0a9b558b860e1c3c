// The results journal of `eval` against files it must not destroy (issue 31): a file that is not a
// journal, a symbolic link, a FIFO; and what it must still repair: a last line cut by a crash.
import { execFileSync } from "node:child_process";
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { VideoScoreError } from "../../src/addon/errors.js";
import { existsSync, writeSync } from "node:fs";
import { readResultScores } from "../../src/eval/results.js";
import { Journal, JOURNAL_FORMAT, JournalWriteError, readJournal, type JournalIO } from "../../src/eval/journal.js";

const dir = mkdtempSync(join(tmpdir(), "vs2-journal-"));
const header = { benchmark: "vsb2", options: { model: "/m.gguf", seed: 1, template: "benchmark" } };
const dims = (v: unknown) => ({ visualQuality: v, textAlignment: v, physicalConsistency: v });
const entry = (id: string, score = 3) => ({ id, video: `${id}.mp4`, prompt: "p", ok: true, scores: dims({ score, soft: score + 0.1, expected: score }) as never });

function refusal(fn: () => unknown): VideoScoreError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VideoScoreError);
    return e as VideoScoreError;
  }
  throw new Error("expected the journal to be refused");
}

describe("a file that is not a journal is refused and left as it was", () => {
  for (const [name, text] of [
    ["one line, no newline, not JSON", "SECRET=abc"],
    ["several lines of text", "line one\nline two\n"],
    ["JSON that is not a journal header", '{"format":"something-else","x":1}\n{"id":"a"}\n'],
    ["a JSON array", "[1,2,3]"],
    ["a journal header of another version", `{"format":"${JOURNAL_FORMAT}","version":2,"benchmark":"vsb2","options":{}}\n`],
  ] as const) {
    it(name, () => {
      const path = join(dir, `${name.replace(/\W+/g, "-")}.txt`);
      writeFileSync(path, text);
      const e = refusal(() => Journal.open(path, header));
      expect(e.code).toBe("ERR_INVALID_OPTION");
      expect(e.message).toContain(path);
      expect(e.message).toMatch(/not a videoscore2 eval journal .*left as it was/);
      expect(readFileSync(path, "utf8")).toBe(text);
    });
  }

  it("only the start of the header this run writes counts as a journal cut as it was created", () => {
    const path = join(dir, "cut-header.jsonl");
    Journal.open(path, header).close();
    const line = readFileSync(path, "utf8");
    const cut = line.slice(0, -5); // past the options: "…seed":1,"templ…
    writeFileSync(path, cut);
    // The start of another run's header is not this run's to redo.
    refusal(() => Journal.open(path, { ...header, options: { ...header.options, seed: 2 } }));
    expect(readFileSync(path, "utf8")).toBe(cut);
    const j = Journal.open(path, header);
    j.close();
    expect(j.repaired).toBe(false);
    expect(readFileSync(path, "utf8")).toBe(line);
    writeFileSync(path, `${line.slice(0, 30)}x`);
    refusal(() => Journal.open(path, header));
    expect(readFileSync(path, "utf8")).toBe(`${line.slice(0, 30)}x`);
  });

  it("a real journal's cut last line is still dropped and the rest kept", () => {
    const path = join(dir, "cut-last.jsonl");
    const j = Journal.open(path, header);
    j.append(entry("a"));
    j.close();
    const good = readFileSync(path, "utf8");
    writeFileSync(path, `${good}{"id":"b","vi`);
    const k = Journal.open(path, header);
    expect(k.repaired).toBe(true);
    k.append(entry("b"));
    k.close();
    expect(readFileSync(path, "utf8")).toBe(`${good}${JSON.stringify(entry("b"))}\n`);
  });

  it("an empty file becomes a journal (nothing in it to lose)", () => {
    const path = join(dir, "empty.jsonl");
    writeFileSync(path, "");
    Journal.open(path, header).close();
    expect(readJournal(path).header).toMatchObject({ format: JOURNAL_FORMAT, ...header });
  });
});

describe("a symbolic link is refused, never written through", () => {
  it("a link to a file that is not a journal: both stay as they were", () => {
    const target = join(dir, "notes.txt");
    writeFileSync(target, "SECRET=abc");
    const link = join(dir, "bench.json.journal.jsonl");
    symlinkSync(target, link);
    const e = refusal(() => Journal.open(link, header));
    expect(e.code).toBe("ERR_INVALID_OPTION");
    expect(e.message).toMatch(/is a symbolic link to .*notes\.txt; eval does not write through links/);
    expect(readFileSync(target, "utf8")).toBe("SECRET=abc");
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(target);
  });

  it("a link to a real journal: refused too, the journal unchanged", () => {
    const real = join(dir, "real.jsonl");
    const j = Journal.open(real, header);
    j.append(entry("a"));
    j.close();
    const before = readFileSync(real, "utf8");
    const link = join(dir, "to-real.jsonl");
    symlinkSync(real, link);
    expect(refusal(() => Journal.open(link, header)).message).toMatch(/symbolic link/);
    expect(readFileSync(real, "utf8")).toBe(before);
  });

  it("a dangling link: refused, nothing created where it points", () => {
    const link = join(dir, "dangling.jsonl");
    symlinkSync(join(dir, "nowhere", "x.jsonl"), link);
    expect(refusal(() => Journal.open(link, header)).message).toMatch(/symbolic link/);
    expect(() => lstatSync(join(dir, "nowhere"))).toThrow();
  });
});

describe("a line that is not an entry as eval writes it is refused, naming the line", () => {
  const good = entry("a");
  for (const [name, bad, why] of [
    ["ok with null scores", { ...good, scores: dims(null) }, /scores\.visualQuality is null, not \{score, soft, expected\}/],
    ["ok without scores", { ...good, scores: undefined }, /it is ok but its scores are missing/],
    ["a score that is a string", { ...good, scores: { ...(good.scores as object), textAlignment: { score: "3", soft: 3, expected: 3 } } }, /scores\.textAlignment\.score is "3"/],
    ["ok that is not a boolean", { ...good, ok: "yes" }, /its ok is "yes"/],
    ["a failure without its error", { id: "a", video: "a.mp4", prompt: "p", ok: false }, /it failed but its error is missing/],
    ["no video", { id: "a", prompt: "p", ok: false, error: { code: "E", message: "m" } }, /its video is missing/],
    ["a number", 42, /not a JSON object/],
  ] as const) {
    it(name, () => {
      const path = join(dir, `shape-${name.replace(/\W+/g, "-")}.jsonl`);
      const j = Journal.open(path, header);
      j.append(entry("b"));
      j.close();
      writeFileSync(path, `${readFileSync(path, "utf8")}${JSON.stringify(bad)}\n${JSON.stringify(entry("c"))}\n`);
      const before = readFileSync(path, "utf8");
      for (const f of [() => readJournal(path), () => Journal.open(path, header)]) {
        const e = refusal(f);
        expect(e.code).toBe("ERR_INVALID_OPTION");
        expect(e.message).toContain(`${path}: line 3 of the journal is not an entry as eval writes it`);
        expect(e.message).toMatch(why);
      }
      expect(readFileSync(path, "utf8")).toBe(before);
    });
  }

  it("what eval writes passes: null scores of a dimension the model did not answer, a failure with its error", () => {
    const path = join(dir, "shape-good.jsonl");
    const j = Journal.open(path, header);
    j.append({ ...entry("a"), scores: dims({ score: null, soft: null, expected: null }) as never, output: "text" });
    j.append({ id: "b", video: "b.mp4", prompt: "p", ok: false, error: { code: "ERR_DECODE", message: "bad" } });
    j.close();
    expect([...readJournal(path).entries.keys()]).toEqual(["a", "b"]);
  });
});

describe("a full disk: the write fails whole, nothing torn is left, and the error says what is kept", () => {
  const enospc = () => Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
  /** A disk with room for `room` more bytes, written at most `chunk` bytes a call. */
  const disk = (room: number, chunk = Infinity): JournalIO => ({
    write(fd, b, off, len, pos) {
      if (room <= 0) throw enospc();
      const n = Math.min(len, room, chunk);
      room -= n;
      return writeSync(fd, b, off, n, pos);
    },
  });
  function writeError(fn: () => unknown): JournalWriteError {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(JournalWriteError);
      return e as JournalWriteError;
    }
    throw new Error("expected a JournalWriteError");
  }

  it("no room for the header: a new journal is not left behind", () => {
    const path = join(dir, "full-header.jsonl");
    const e = writeError(() => Journal.open(path, header, disk(20)));
    expect(e.message).toMatch(new RegExp(`^--journal ${path}: cannot write it \\(ENOSPC: no space left on device`));
    expect(e.kept).toBe(0);
    expect(existsSync(path)).toBe(false);
  });

  it("short writes are continued: every line whole", () => {
    const path = join(dir, "short-writes.jsonl");
    const j = Journal.open(path, header, disk(Infinity, 7));
    for (const id of ["a", "b", "c"]) j.append(entry(id));
    j.close();
    expect([...readJournal(path).entries.keys()]).toEqual(["a", "b", "c"]);
    expect(readJournal(path).cut).toBe(false);
  });

  it("room for a few entries: the failing line is taken back, the rest kept and resumable", () => {
    const path = join(dir, "full-later.jsonl");
    const line = Buffer.byteLength(`${JSON.stringify(entry("a"))}\n`);
    const headerBytes = Buffer.byteLength(`${JSON.stringify({ format: JOURNAL_FORMAT, version: 1, ...header })}\n`);
    const j = Journal.open(path, header, disk(headerBytes + 2 * line + 10, 16));
    j.append(entry("a"));
    j.append(entry("b"));
    const e = writeError(() => j.append(entry("c")));
    j.close();
    expect(e.kept).toBe(2);
    expect(e.message).toContain(`--journal ${path}: cannot write it (ENOSPC`);
    const back = readJournal(path);
    expect(back.cut).toBe(false); // no torn line: the 10 bytes of "c" that fitted were taken back
    expect([...back.entries.keys()]).toEqual(["a", "b"]);
    expect(readFileSync(path, "utf8").endsWith("\n")).toBe(true);
  });

  it("a write that makes no progress is an error, not a loop", () => {
    const path = join(dir, "no-progress.jsonl");
    const e = writeError(() => Journal.open(path, header, { write: () => 0 }));
    expect(e.message).toMatch(/ENOSPC/);
  });
});

describe("two entries for one video", () => {
  it("that disagree: the first is used, and the conflict names both lines", () => {
    const path = join(dir, "conflict.jsonl");
    const j = Journal.open(path, header);
    j.append(entry("a", 3));
    j.append(entry("b", 2));
    j.append(entry("a", 5));
    j.append(entry("b", 2)); // the same result again: no conflict
    j.close();
    const c = readJournal(path);
    expect(c.entries.get("a")?.scores?.visualQuality.score).toBe(3);
    expect(c.conflicts).toEqual([{ id: "a", keptLine: 2, droppedLine: 4 }]);
    const k = Journal.open(path, header);
    k.close();
    expect(k.conflicts).toEqual(c.conflicts);
    expect(k.entries.get("a")?.scores?.visualQuality.score).toBe(3);
    const r = readResultScores(path, "hard");
    expect(r.scores.get("a")?.visualQuality).toBe(3);
    expect(r.warnings).toEqual([`${path}: video a has two entries that disagree (lines 2 and 4); line 2, the first, is used: delete the line you do not want`]);
  });
});
