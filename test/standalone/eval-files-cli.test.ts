// `videoscore2 eval` against hostile files at its journal and input paths (issue 31): what it must
// refuse, and leave as it was, before any model is loaded. No addon and no model are needed: the
// model paths are never opened, because each case ends before scoring (or has nothing to score).
import { execFileSync } from "node:child_process";
import { lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { Journal } from "../../src/eval/journal.js";
import { ROOT, startCli } from "../fixtures/cli.js";

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

describe("every file the CLI reads must be a regular file (a FIFO would block the read forever)", () => {
  /** A run that must end on its own; one still blocked after 20 s is killed and fails. */
  async function ends(args: string[]) {
    const { child, done } = startCli(args);
    const t = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const r = await done;
    clearTimeout(t);
    expect(r.signal, `still running after 20 s: ${args.join(" ")}`).toBeNull();
    noStack(r.stderr);
    return r;
  }
  const fifo = (name: string) => {
    const p = join(dir, name);
    execFileSync("mkfifo", [p]);
    return p;
  };

  it("the journal: --journal <fifo> and a FIFO at the default path", async () => {
    const f = fifo("j.fifo");
    const r = await ends(["eval", bench, "--journal", f, ...noModel]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${f}: the journal is a FIFO (named pipe), not a regular file`);
    fifo("b.json.journal.jsonl");
    const d = await ends(["eval", bench, ...noModel]);
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/b\.json\.journal\.jsonl: the journal is a FIFO/);
    const k = await ends(["eval", bench, "--journal", "/dev/null", ...noModel]);
    expect(k.code).toBe(2);
    expect(k.stderr).toContain("/dev/null: the journal is a character device");
  });

  it("the benchmark file, the pair file and --from-results", async () => {
    const b = fifo("bench.json");
    const r = await ends(["eval", b, ...noModel]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${b}: the benchmark file is a FIFO (named pipe), not a regular file`);

    const list = join(dir, "t2vqa.txt");
    writeFileSync(list, "a.mp4|p|50\nb.mp4|p|60\n");
    const pf = fifo("pref.json");
    const p = await ends(["eval", list, "--pair-file", pf, ...noModel]);
    expect(p.code).toBe(2);
    expect(p.stderr).toContain(`${pf}: the pair file is a FIFO`);

    const res = fifo("results.json");
    const q = await ends(["eval", bench, "--from-results", res]);
    expect(q.code).toBe(2);
    expect(q.stderr).toContain(`${res}: the results file is a FIFO`);
    const folder = await ends(["eval", bench, "--from-results", dir]);
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain(`${dir}: the results file is a folder, not a regular file`);
  });

  it("score --prompts <fifo>, and info --model <fifo>", async () => {
    const p = fifo("prompts.json");
    const r = await ends(["score", join(dir, "a.mp4"), "--prompts", p, ...noModel]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--prompts ${p}: the prompts file is a FIFO`);
    const m = fifo("model.gguf");
    const i = await ends(["info", "--model", m, "--format", "json"]);
    expect(i.code).toBe(1);
    expect(JSON.parse(i.stdout).model.error).toContain(`${m}: the GGUF file is a FIFO`);
  });
});

describe("a journal line of the wrong shape", () => {
  it("ok: true with null scores, then --out: exit 2 naming the line, no TypeError", async () => {
    const journal = join(dir, "nulls.jsonl");
    // The header this command writes: the benchmark, the model paths and the default template.
    const header = { format: "videoscore2-eval-journal", version: 1, benchmark: "vsb2", options: { model: noModel[1], mmproj: noModel[3], template: "benchmark" } };
    const nulls = { visualQuality: null, textAlignment: null, physicalConsistency: null };
    writeFileSync(journal, `${JSON.stringify(header)}\n${JSON.stringify({ id: "a", video: "a.mp4", prompt: "p", ok: true, scores: nulls })}\n`);
    const out = join(dir, "results.json");
    const r = await run(["eval", bench, "--journal", journal, "--out", out, ...noModel]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${journal}: line 2 of the journal is not an entry as eval writes it: scores.visualQuality is null`);
    expect(r.stderr).not.toMatch(/TypeError/);
    noStack(r.stderr);
    const q = await run(["eval", bench, "--from-results", journal]);
    expect(q.code).toBe(2);
    expect(q.stderr).toContain("line 2 of the journal is not an entry");
  });
});

describe.skipIf(process.getuid?.() !== 0)("a journal on a full filesystem", () => {
  it("no room for the header: exit 1, one line naming the journal and that nothing was kept, no file left", async () => {
    // A 16 KiB tmpfs of our own (a private mount namespace, as root), filled up.
    const d = join(dir, "full");
    mkdirSync(d);
    const tsx = join(ROOT, "node_modules", "tsx", "dist", "loader.mjs");
    const script = [
      `mount -t tmpfs -o size=16k none ${d}`,
      `cat /dev/zero > ${d}/filler 2>/dev/null`,
      `${process.execPath} --import ${tsx} src/cli/main.ts eval ${bench} --journal ${d}/j.jsonl ${noModel.join(" ")} 2>${dir}/stderr; echo "rc=$?"`,
      `ls -A ${d}`,
    ].join("; ");
    const out = execFileSync("unshare", ["-m", "sh", "-c", script], { cwd: ROOT, env: { ...process.env, VIDEOSCORE2_QUIET: "1" }, encoding: "utf8" });
    expect(out).toContain("rc=1");
    expect(out).not.toContain("j.jsonl"); // not left behind
    const lines = readFileSync(join(dir, "stderr"), "utf8").trim().split("\n");
    expect(lines).toEqual([`videoscore2: --journal ${d}/j.jsonl: cannot write it (ENOSPC: no space left on device, write); nothing was scored or kept`]);
  });
});

describe("a journal with two entries for one video that disagree", () => {
  it("eval --from-results warns naming both lines and which is used", async () => {
    const journal = join(dir, "twice.jsonl");
    const j = Journal.open(journal, { benchmark: "vsb2", options: {} });
    const e = (score: number) => ({ id: "a", video: "a.mp4", prompt: "p", ok: true, scores: Object.fromEntries(["visualQuality", "textAlignment", "physicalConsistency"].map((d) => [d, { score, soft: score, expected: score }])) as never });
    j.append(e(3));
    j.append(e(5));
    j.close();
    const r = await run(["eval", bench, "--from-results", journal, "--format", "json", "--score", "hard"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`warning: ${journal}: video a has two entries that disagree (lines 2 and 3); line 2, the first, is used`);
    expect(JSON.parse(r.stdout).metrics.dimensions.visualQuality.accuracy).toBe(1); // 3 = the human's 3
  });
});
