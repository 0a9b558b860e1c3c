import { statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { quantize, VideoScorer } from "../../src/index.js";
import { getMetadata, readGGUF } from "../../src/gguf/reader.js";
import { FIXTURE_DIR, tinyModels } from "../fixtures/models.js";

describe("quantize()", () => {
  it("quantizes the text model in-process with progress, and the result loads", async () => {
    const { model, mmproj } = await tinyModels();
    const out = join(FIXTURE_DIR, "models", "tiny-q8_0.gguf");
    const seen: [number, number][] = [];
    await quantize(model, out, "Q8_0", { threads: 1, onProgress: (d, t) => seen.push([d, t]) });
    const header = await readGGUF(out);
    expect(getMetadata(header, "general.file_type")).toBe(7); // LLAMA_FTYPE_MOSTLY_Q8_0
    expect(header.tensors.find((t) => t.name === "blk.0.ffn_up.weight")!.type).toBe(8); // GGML_TYPE_Q8_0
    expect(statSync(out).size).toBeLessThan(statSync(model).size);
    expect(seen.length).toBe(header.tensors.length);
    expect(seen.at(-1)).toEqual([header.tensors.length, header.tensors.length]);
    const scorer = await VideoScorer.load({ model: out, mmproj, contextSize: 2048 });
    try {
      expect(scorer.info.architecture).toBe("qwen2vl");
    } finally {
      await scorer.dispose();
    }
  });

  it("rejects unknown types and unreadable inputs with typed errors", async () => {
    const { model } = await tinyModels();
    await expect(quantize(model, "/tmp/x.gguf", "Q9_X" as never)).rejects.toMatchObject({ code: "ERR_INVALID_OPTION" });
    await expect(quantize(join(FIXTURE_DIR, "nope.gguf"), join(FIXTURE_DIR, "nope-q8.gguf"), "Q8_0")).rejects.toMatchObject({ code: "ERR_MODEL_LOAD" });
  });
});
