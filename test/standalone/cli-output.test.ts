// The human-readable output of the CLI against file names that hold newlines, escape sequences
// and bidi controls (issue 31): one table row per video, nothing the terminal would obey.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { workerEventLine } from "../../src/cli/commands/worker.js";
import { Progress } from "../../src/cli/progress.js";
import { startCli } from "../fixtures/cli.js";
import { displayLines, displayText, firstLine } from "../../src/cli/display.js";
import { formatTable, type Outcome } from "../../src/cli/output.js";
import type { ScoreResult } from "../../src/scorer/result.js";

const dim = (score: number | null) => ({ score, soft: score === null ? null : score + 0.25, expected: score, probs: [0.1, 0.2, 0.3, 0.2, 0.2], rawProbs: [0.1, 0.2, 0.3, 0.2, 0.2] });
const result = (score: number | null, text = "…"): ScoreResult =>
  ({
    visualQuality: dim(score),
    textAlignment: dim(score),
    physicalConsistency: dim(score),
    rationale: "",
    text,
    tokens: [],
    stopReason: "eos",
    frames: { count: 4, width: 64, height: 64, indices: [], times: [] },
    timings: { sampleMs: 1, encodeMs: 1, prefillMs: 1, generateMs: 1, promptTokens: 10, generatedTokens: 5 },
  }) as unknown as ScoreResult;

/** Control and bidi characters: none may reach the terminal. */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

describe("formatTable", () => {
  const names = ["clips/a\nforged row.mp4", "clips/\x1b]0;owned\x07title\x1b[2J.mp4", "clips/\u202egpj.mp4", "clips/tab\there\nnl.mp4"];
  const outcomes: Outcome[] = [
    { index: 0, video: names[0]!, prompt: "p", result: result(3) },
    { index: 1, video: names[1]!, prompt: "p", result: result(null, "ends \x1b[31mred") },
    { index: 2, video: names[2]!, prompt: "p", error: { code: "ERR_DECODE", message: `${names[2]}: cannot decode` } },
    { index: 3, video: names[3]!, prompt: "p", error: { code: "ERR_INPUT_NOT_FOUND", message: `${names[3]}: not found\nsecond line` } },
  ];
  const table = formatTable(outcomes);
  const lines = table.trimEnd().split("\n");

  it("a newline in a file name does not split its row: a header and one row per video", () => {
    expect(lines).toHaveLength(1 + outcomes.length);
    expect(lines[1]).toMatch(/^clips\/a\\nforged row\.mp4 +3 +3\.250/);
  });

  it("escape sequences, bidi overrides and tabs are written visibly, in names, messages and the model's text", () => {
    expect(table).not.toMatch(RAW);
    expect(lines[2]).toContain("clips/\\x1b]0;owned\\x07title\\x1b[2J.mp4");
    expect(lines[2]).toContain('it ended with: "ends \\x1b[31mred"');
    expect(lines[3]).toContain("clips/\\u202egpj.mp4");
    expect(lines[3]).toContain("ERR_DECODE: clips/\\u202egpj.mp4: cannot decode");
    expect(lines[4]).toMatch(/^clips\/tab\\there\\nnl\.mp4 /);
    // A message quoting a name with a newline keeps the whole name and ends at its own line break.
    expect(lines[4]).toContain("ERR_INPUT_NOT_FOUND: clips/tab\\there\\nnl.mp4: not found");
    expect(lines[4]).not.toContain("second line");
  });

  it("ordinary names are shown as they are", () => {
    const t = formatTable([{ index: 0, video: "clips/été 1.mp4", prompt: "p", result: result(4) }]);
    expect(t.split("\n")[1]).toMatch(/^clips\/été 1\.mp4 +4 +4\.250/);
  });
});

describe("display helpers", () => {
  it("displayText escapes C0, DEL, C1, line separators and bidi controls; displayLines keeps newlines", () => {
    expect(displayText("a\nb\r\t\x00\x7f\x9b\u2028\u061c\u200f\u2066x")).toBe("a\\nb\\r\\t\\x00\\x7f\\x9b\\u2028\\u061c\\u200f\\u2066x");
    expect(displayLines("line 1\nline \x1b[2J2")).toBe("line 1\nline \\x1b[2J2");
    expect(firstLine("x\ny.mp4: bad\nmore", "x\ny.mp4")).toBe("x\\ny.mp4: bad");
  });
});

describe("progress, worker log lines and error messages", () => {
  const hostile = "clips/a\nforged [9/9] ok \x1b]8;;http://x\x07\u202e.mp4";
  const RAW_LINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

  it("a progress line per item, whatever the name holds (plain and terminal modes)", () => {
    for (const tty of [false, true]) {
      let out = "";
      const p = new Progress(2, { write: (s: string) => (out += s), isTTY: tty, columns: 400 }, true, tty);
      p.working(hostile);
      p.tick(hostile, "failed", `ERR_DECODE: ${firstLine(`${hostile}: bad`, hostile)}`);
      p.log(`queue: ${hostile}`);
      p.finish();
      // The terminal mode's own redraw codes are the only escapes written.
      const text = out.replace(/\r\x1b\[2K/g, "");
      expect(text, `tty ${tty}`).not.toMatch(RAW_LINE);
      // (on a terminal the bar is redrawn in place: the failure is still one whole line after it)
      expect(text).toContain(`[1/2] FAILED    clips/a\\nforged [9/9] ok \\x1b]8;;http://x\\x07\\u202e.mp4  ERR_DECODE: clips/a\\nforged [9/9] ok \\x1b]8;;http://x\\x07\\u202e.mp4: bad\n`);
      expect(text).toContain("queue: clips/a\\nforged");
    }
  });

  it("worker log lines", () => {
    const lines = [
      workerEventLine({ type: "start", jobId: "7", video: `/data/${hostile}`, attempt: 1 }),
      workerEventLine({ type: "completed", jobId: "7", video: `/data/${hostile}`, ms: 1500 }),
      workerEventLine({ type: "failed", jobId: "7", video: `/data/${hostile}`, code: "ERR_DECODE", message: `/data/${hostile}: bad\nmore`, willRetry: false }),
    ];
    for (const l of lines) expect(l).not.toMatch(/[\n\x1b\x07\u202e]/);
    // basename() of a name with "/" in it: the last part, escaped.
    expect(lines[0]).toBe("start 7 x\\x07\\u202e.mp4 (attempt 1)");
    expect(lines[1]).toBe("done 7 x\\x07\\u202e.mp4 1.5 s");
    expect(lines[2]).toMatch(/^failed 7 .*: ERR_DECODE: \/data\/clips\/a\\nforged .*\.mp4: bad$/);
  });

  it("the command's error messages (a bench file named with a newline and an OSC sequence)", async () => {
    const name = join(tmpdir(), "b\n\x1b]0;owned\x07.json");
    const r = await startCli(["eval", name, "--model", "/m", "--mmproj", "/mm"]).done;
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/\x1b|\x07/);
    expect(r.stderr.split("\n")[0]).toContain("b\\n\\x1b]0;owned\\x07.json: ENOENT");
  });
});
