// `videoscore2 eval` against hostile files at its journal and input paths (issue 31): what it must
// refuse, and leave as it was, before any model is loaded. No addon and no model are needed: the
// model paths are never opened, because each case ends before scoring (or has nothing to score).
import { lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { Journal } from "../../src/eval/journal.js";
import { startCli } from "../fixtures/cli.js";

const dir = join(tmpdir(), `vs2-eval-files-${process.pid}`);
const run = (args: string[]) => startCli(args).done;
const noModel = ["--model", join(dir, "absent.gguf"), "--mmproj", join(dir, "absent-mmproj.gguf")];
let bench: string;

beforeEach(() => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  bench = join(dir, "b.json");
  writeFileSync(bench, JSON.stringify([{ video_name: "a", prompt: "p", visual_score: 3, t2v_score: 3, phy_score: 3 }]));
});

const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at /);

describe("eval --journal never destroys a file that is not a journal", () => {
  it("--journal notes.txt (one line, no newline, not JSON): exit 2, the file unchanged", async () => {
    const notes = join(dir, "notes.txt");
    writeFileSync(notes, "SECRET=abc");
    const r = await run(["eval", bench, "--journal", notes, ...noModel]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${notes}: not a videoscore2 eval journal`);
    noStack(r.stderr);
    expect(readFileSync(notes, "utf8")).toBe("SECRET=abc");
  });

  it("a symlink at the default <bench>.journal.jsonl to such a file: exit 2, link and file unchanged", async () => {
    const notes = join(dir, "notes.txt");
    writeFileSync(notes, "SECRET=abc");
    const link = `${bench}.journal.jsonl`;
    symlinkSync(notes, link);
    const r = await run(["eval", bench, ...noModel]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/b\.json\.journal\.jsonl: the journal is a symbolic link to .*notes\.txt/);
    expect(readFileSync(notes, "utf8")).toBe("SECRET=abc");
    expect(readlinkSync(link)).toBe(notes);
  });
});

describe("eval refuses a symlinked journal, explicit or default (it does not write through links)", () => {
  it("--journal <link to a journal>: exit 2, the journal it points to unchanged", async () => {
    const real = join(dir, "real.jsonl");
    Journal.open(real, { benchmark: "vsb2", options: {} }).close();
    const before = readFileSync(real, "utf8");
    const link = join(dir, "link.jsonl");
    symlinkSync(real, link);
    const r = await run(["eval", bench, "--journal", link, ...noModel]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/link\.jsonl: the journal is a symbolic link/);
    expect(readFileSync(real, "utf8")).toBe(before);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
  });
});
