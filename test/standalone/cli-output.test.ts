// The human-readable output of the CLI against file names that hold newlines, escape sequences
// and bidi controls (issue 31): one table row per video, nothing the terminal would obey.
import { describe, expect, it } from "vitest";
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
