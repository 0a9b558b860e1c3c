// Hostile checkpoint folders (issue 31): files that are not regular files, and an --out that is
// a file. Each must come back as a typed one-line error, never a hang or a stack.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { convertQwen25VL } from "../../src/gguf/convert/qwen25vl.js";
import { writeHfCheckpoint } from "../fixtures/hf-checkpoint.js";

const DIR = join(tmpdir(), `vs2-convert-hostile-${process.pid}`);
const HF = join(DIR, "hf");

beforeAll(async () => {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  await writeHfCheckpoint(HF);
});

function variant(name: string, edit: (dir: string) => void): string {
  const dir = join(DIR, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(HF)) copyFileSync(join(HF, f), join(dir, f));
  edit(dir);
  return dir;
}

describe("convert: hostile files", () => {
  const files = ["model-00001-of-00002.safetensors", "config.json", "tokenizer_config.json", "model.safetensors.index.json"];
  for (const f of files) {
    it(`a FIFO in place of ${f} is refused as ERR_MODEL_LOAD naming it, without blocking`, async () => {
      const dir = variant(`fifo-${f}`, (d) => {
        rmSync(join(d, f));
        execFileSync("mkfifo", [join(d, f)]);
      });
      const e = await convertQwen25VL({ input: dir, outDir: join(dir, "out") }).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: "ERR_MODEL_LOAD" });
      expect((e as Error).message).toContain(`${f} is a FIFO (named pipe), not a regular file`);
      expect((e as Error).message).not.toContain("\n");
    }, 10_000);
  }

  it("--out naming an existing file is ERR_INVALID_OPTION saying to give a folder", async () => {
    const out = join(DIR, "a-file");
    writeFileSync(out, "x");
    await expect(convertQwen25VL({ input: HF, outDir: out })).rejects.toMatchObject({
      code: "ERR_INVALID_OPTION",
      message: expect.stringMatching(/is a file \(or lies under one\), not a folder; give --out/),
    });
  });
});
