// File names that are not valid UTF-8, found by a folder scan or a glob (issue 31): no JS string
// opens them, so they are named as the problem they are instead of "No such file".
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { displayBytes } from "../../src/cli/display.js";
import { expandInputs, type UnnamableFile } from "../../src/cli/inputs.js";
import { startCli } from "../fixtures/cli.js";

const dir = mkdtempSync(join(tmpdir(), "vs2-names-"));
/** A file at dir/<sub>/<bytes> (a Buffer path: the bytes as they are). */
const touch = (sub: string, name: Buffer) => {
  mkdirSync(join(dir, sub), { recursive: true });
  writeFileSync(Buffer.concat([Buffer.from(`${join(dir, sub)}/`), name]), "");
};
const latin1 = (s: string) => Buffer.from(s, "latin1"); // "é" as the one byte 0xe9

describe("names that are not valid UTF-8", () => {
  touch("mixed", latin1("caf\u00e9.mp4"));
  touch("mixed", Buffer.from("ok.mp4"));
  touch("mixed", latin1("notes\u00e9.txt"));
  mkdirSync(Buffer.concat([Buffer.from(`${join(dir, "mixed")}/`), latin1("sub\u00e9")]));
  touch("only-bad", latin1("\u00e9t\u00e9.mp4"));

  it("displayBytes shows each invalid byte as \\xNN and the rest as it reads", () => {
    expect(displayBytes(latin1("caf\u00e9.mp4"))).toBe("caf\\xe9.mp4");
    expect(displayBytes(Buffer.from("été\n.mp4"))).toBe("été\\n.mp4");
    expect(displayBytes(Buffer.from([0xc0, 0xaf, 0x41, 0xed, 0xa0, 0x80]))).toBe("\\xc0\\xafA\\xed\\xa0\\x80"); // overlong, surrogate
  });

  it("a folder scan lists them apart (videos only; folders with --recursive), the others as before", () => {
    const bad: UnnamableFile[] = [];
    expect(expandInputs([join(dir, "mixed")], { unnamable: bad })).toEqual([join(dir, "mixed", "ok.mp4")]);
    expect(bad).toEqual([{ shown: join(dir, "mixed", "caf\\xe9.mp4"), dir: false }]);
    const deep: UnnamableFile[] = [];
    expandInputs([join(dir, "mixed")], { recursive: true, unnamable: deep });
    expect(deep).toEqual([{ shown: join(dir, "mixed", "caf\\xe9.mp4"), dir: false }, { shown: join(dir, "mixed", "sub\\xe9"), dir: true }]);
  });

  it("so does a glob", () => {
    const bad: UnnamableFile[] = [];
    expect(expandInputs([`${join(dir, "mixed")}/*.mp4`], { unnamable: bad })).toEqual([join(dir, "mixed", "ok.mp4")]);
    expect(bad.map((b) => b.shown)).toEqual([join(dir, "mixed", "caf\\xe9.mp4")]);
  });

  it("score on a folder of only such names: exit 2 naming the file and the fix, not 'No such file'", async () => {
    const r = await startCli(["score", join(dir, "only-bad"), "--prompt", "x", "--model", "/m", "--mmproj", "/mm"]).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`name that is not valid UTF-8 (${join(dir, "only-bad", "\\xe9t\\xe9.mp4")})`);
    expect(r.stderr).not.toMatch(/No such file|ENOENT/);
  });
});
