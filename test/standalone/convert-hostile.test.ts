// Hostile checkpoint folders (issue 31): files that are not regular files, an --out that is a
// file, config values the tensors do not back or the GGUF cannot hold, safetensors byte ranges
// that overlap or leave gaps. Each must come back as a typed one-line error, never a hang, a
// runaway allocation or a stack.
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertQwen25VL } from "../../src/gguf/convert/qwen25vl.js";
import { startCli } from "../fixtures/cli.js";
import { checkpointVariant, editConfig, writeHfCheckpoint } from "../fixtures/hf-checkpoint.js";

const DIR = join(tmpdir(), `vs2-convert-hostile-${process.pid}`);
const HF = join(DIR, "hf");

beforeAll(async () => {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  await writeHfCheckpoint(HF);
});
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

const variant = (name: string, edit: (dir: string) => void): string => checkpointVariant(HF, join(DIR, name), edit);

describe("convert: hostile files", () => {
  // Every file the converter reads; chat_template.jinja is optional (the fixture has none).
  const files = [
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
    "model.safetensors.index.json",
    "config.json",
    "preprocessor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "generation_config.json",
    "chat_template.jinja",
  ];
  for (const f of files) {
    it(`a FIFO in place of ${f} is refused as ERR_MODEL_LOAD naming it, without blocking`, async () => {
      const dir = variant(`fifo-${f}`, (d) => {
        rmSync(join(d, f), { force: true });
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

  it("CLI: a FIFO shard prints one line and exits 1 (it used to block, and Ctrl-C could not end it)", async () => {
    const fifo = variant("cli-fifo", (d) => {
      rmSync(join(d, "model-00002-of-00002.safetensors"));
      execFileSync("mkfifo", [join(d, "model-00002-of-00002.safetensors")]);
    });
    const r = await startCli(["convert", fifo, "--out", join(fifo, "out"), "--quiet"]).done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ERR_MODEL_LOAD: .*model-00002-of-00002\.safetensors is a FIFO \(named pipe\), not a regular file; replace it/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  }, 60_000);
});

async function refusal(dir: string): Promise<Error & { code?: string }> {
  const e = await convertQwen25VL({ input: dir, outDir: join(dir, "out") }).catch((x: unknown) => x);
  expect(e, "convert succeeded").toBeInstanceOf(Error);
  expect((e as Error).message).not.toContain("\n");
  return e as Error & { code?: string };
}

describe("convert: config values the tensors do not back", () => {
  // Before the fix the vocabulary was built with vocab_size entries before any tensor was looked
  // at: 6e7 took minutes and gigabytes, 2^32 threw an untyped RangeError (Invalid array length).
  for (const [vocab, why] of [
    [2 ** 32, /vocab_size is 4294967296, more than the GGUF's u32 holds/], // too large for the GGUF at all
    [6e7, /vocab_size is 60000000 but tensor 'model.embed_tokens.weight' has \d+ rows/],
    [3e7, /vocab_size is 30000000 but tensor 'model.embed_tokens.weight' has \d+ rows/],
  ] as const) {
    it(`vocab_size ${vocab} is ERR_MODEL_MISMATCH naming the key, before anything sized by it is built`, async () => {
      const dir = variant(`vocab-${vocab}`, (d) => editConfig(d, (c) => (c.vocab_size = vocab)));
      const e = await refusal(dir);
      expect(e.code).toBe("ERR_MODEL_MISMATCH");
      expect(e.message).toMatch(why);
    }, 20_000);
  }

  it("layer counts the shards do not hold name num_hidden_layers / depth", async () => {
    let e = await refusal(variant("layers-1e9", (d) => editConfig(d, (c) => (c.num_hidden_layers = 1e9))));
    expect(e).toMatchObject({ code: "ERR_MODEL_MISMATCH", message: expect.stringMatching(/num_hidden_layers is 1000000000 but the checkpoint has \d+ layers/) });
    e = await refusal(variant("depth-1e9", (d) => editConfig(d, (c) => ((c.vision_config as Record<string, unknown>).depth = 1e9))));
    expect(e).toMatchObject({ code: "ERR_MODEL_MISMATCH", message: expect.stringMatching(/vision_config depth is 1000000000 but the checkpoint has \d+ vision blocks/) });
  });
});

describe("convert: config values the GGUF cannot hold name their key", () => {
  const cases: Array<[string, (c: Record<string, unknown>) => void, RegExp]> = [
    ["max_position_embeddings 2^40", (c) => (c.max_position_embeddings = 2 ** 40), /config\.json: max_position_embeddings is 1099511627776, more than the GGUF's u32 holds/],
    [
      "yarn original_max_position_embeddings 2^40",
      (c) => Object.assign(c.rope_scaling as object, { type: "yarn", factor: 2, original_max_position_embeddings: 2 ** 40 }),
      /rope_scaling\.original_max_position_embeddings is 1099511627776/,
    ],
    ["vision image_size 2^33", (c) => ((c.vision_config as Record<string, unknown>).image_size = 2 ** 33), /vision_config: image_size is 8589934592/],
    ["negative fullatt_block_indexes", (c) => ((c.vision_config as Record<string, unknown>).fullatt_block_indexes = [-5]), /fullatt_block_indexes is missing or malformed \(\[-5\]\)/],
  ];
  for (const [label, edit, why] of cases) {
    it(label, async () => {
      const e = await refusal(variant(`range-${label.replaceAll(/\W+/g, "-")}`, (d) => editConfig(d, edit)));
      expect(e.code).toBe("ERR_MODEL_MISMATCH");
      expect(e.message).toMatch(why);
    });
  }

  it("generation_config.json's top_k 1e12 names the key", async () => {
    const dir = variant("range-top-k", (d) => {
      const g = JSON.parse(readFileSync(join(d, "generation_config.json"), "utf8")) as Record<string, unknown>;
      writeFileSync(join(d, "generation_config.json"), JSON.stringify({ ...g, top_k: 1e12 }));
    });
    const e = await refusal(dir);
    expect(e).toMatchObject({ code: "ERR_MODEL_MISMATCH", message: expect.stringContaining("generation_config.json's top_k 1000000000000 does not fit general.sampling.top_k (an i32)") });
  });
});

/** Rewrites a shard's JSON header (the data section is kept as it is, `extra` bytes appended). */
function editShard(path: string, edit: (h: Record<string, { data_offsets: [number, number]; shape: number[] }>) => void, extra = 0): void {
  const b = readFileSync(path);
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString("utf8")) as Record<string, { data_offsets: [number, number]; shape: number[] }>;
  edit(header);
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([len, json, b.subarray(8 + n), Buffer.alloc(extra)]));
}

/** The shard's tensors in data order. */
function byOffset(h: Record<string, { data_offsets: [number, number]; shape: number[] }>): string[] {
  return Object.keys(h)
    .filter((k) => k !== "__metadata__")
    .sort((a, b) => h[a]!.data_offsets[0] - h[b]!.data_offsets[0]);
}

describe("convert: safetensors byte ranges must tile the data section", () => {
  const SHARD = "model-00001-of-00002.safetensors";

  it("two tensors sharing bytes are ERR_MODEL_LOAD naming the file and both tensors", async () => {
    let pair: [string, string] = ["", ""];
    const dir = variant("overlap", (d) =>
      editShard(join(d, SHARD), (h) => {
        const names = byOffset(h);
        const size = (k: string) => h[k]!.data_offsets[1] - h[k]!.data_offsets[0];
        // Two tensors of one size, so each entry still agrees with its own shape and dtype.
        const i = names.findIndex((a, j) => names.slice(j + 1).some((b) => size(b) === size(a)));
        const a = names[i]!;
        const b = names.slice(i + 1).find((x) => size(x) === size(a))!;
        h[b]!.data_offsets = [...h[a]!.data_offsets];
        pair = [a, b];
      }),
    );
    const e = await refusal(dir);
    expect(e.code).toBe("ERR_MODEL_LOAD");
    expect(e.message).toContain(`${SHARD}: tensors '${pair[0]}' and '${pair[1]}' overlap (data_offsets [`);
    expect(e.message).toMatch(/; the file is corrupt or forged, download it again$/);
  });

  it("a gap between tensors is ERR_MODEL_LOAD naming the bytes and the tensors around it", async () => {
    let last = "";
    const dir = variant("gap", (d) =>
      editShard(
        join(d, SHARD),
        (h) => {
          last = byOffset(h).at(-1)!;
          h[last]!.data_offsets = [h[last]!.data_offsets[0] + 2, h[last]!.data_offsets[1] + 2];
        },
        2,
      ),
    );
    const e = await refusal(dir);
    expect(e.code).toBe("ERR_MODEL_LOAD");
    expect(e.message).toMatch(new RegExp(`${SHARD}: data bytes \\d+\\.\\.\\d+ belong to no tensor \\(after '.+' .*before '${last.replaceAll(".", "\\.")}'`));
  });

  it("bytes after the last tensor are ERR_MODEL_LOAD", async () => {
    const dir = variant("trailing", (d) => appendFileSync(join(d, SHARD), Buffer.alloc(6)));
    const e = await refusal(dir);
    expect(e).toMatchObject({ code: "ERR_MODEL_LOAD", message: expect.stringMatching(/: 6 data bytes after the last tensor '.+' \[\d+, \d+\] belong to no tensor/) });
  });
});
