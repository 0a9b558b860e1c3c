// CSV output against formula injection (issue 31): text that a spreadsheet would run as a formula
// is written with a leading ' (OWASP's advice); numbers, negative ones too, are written as they are.
import { describe, expect, it } from "vitest";
import { csvField, csvLine, parseCSV } from "../../src/eval/csv.js";
import { CSV_HEADER, toCSVFields } from "../../src/cli/output.js";

describe("CSV cells that start like a formula", () => {
  it("= + - @ tab and CR at the start of text get a leading '", () => {
    const cells = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1:A2)", "\tx", "\r=1"];
    const row = parseCSV(csvLine(cells))[0]!;
    expect(row).toEqual(cells.map((c) => `'${c}`));
    expect(csvField("=1")).toBe("'=1");
    expect(csvField("a=1")).toBe("a=1");
    expect(csvField("plain")).toBe("plain");
  });

  it("numbers are not text: -1 stays -1", () => {
    expect(csvLine([-1, 2.5, 0, "", null])).toBe("-1,2.5,0,,\r\n");
  });

  it("a scored video named like a formula, with such a prompt", () => {
    const fields = toCSVFields({ index: 0, video: "=cmd|' /C calc'!A0.mp4", prompt: "@SUM(1)", error: { code: "ERR_DECODE", message: "-bad" } });
    const row = parseCSV(csvLine(fields))[0]!;
    const col = (n: string) => row[CSV_HEADER.indexOf(n)];
    expect(col("video")).toBe("'=cmd|' /C calc'!A0.mp4");
    expect(col("prompt")).toBe("'@SUM(1)");
    expect(col("error")).toBe("'-bad");
    expect(col("error_code")).toBe("ERR_DECODE");
  });
});
