// `videoscore2 convert`: a tiny random Qwen2.5-VL checkpoint in Hugging Face layout (bf16
// safetensors in two shards, tokenizer files), written by test/fixtures/hf-checkpoint.ts, converted
// to GGUF in TypeScript. The result must be what our tiny-model generator writes for the same
// hyper-parameters (keys, tensor names, shapes, types), hold the checkpoint's values bit for bit,
// load in llama.cpp, and score exactly like the same weights written directly.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runConvert, sha256File } from "../../src/cli/convert.js";
import { VideoScorer } from "../../src/index.js";
import type { ScoreResult } from "../../src/index.js";
import { decodeBF16, GGML_TYPE_BF16 } from "../../src/gguf/convert/bf16.js";
import { convertQwen25VL } from "../../src/gguf/convert/qwen25vl.js";
import { inspectQwen25VL } from "../../src/gguf/convert/checkpoint.js";
import type { ConvertType } from "../../src/gguf/convert/plan.js";
import { openCheckpointTensors, readSafetensorsHeader } from "../../src/gguf/convert/safetensors.js";
import { decodeF16 } from "../../src/gguf/encode.js";
import { getMetadata, readGGUF, readTensorBytes } from "../../src/gguf/reader.js";
import type { GGUFFile } from "../../src/gguf/reader.js";
import { writeQwen25VLModels } from "../../src/gguf/tiny-model.js";
import type { ModelFileType } from "../../src/gguf/tiny-model.js";
import { GGML_TYPE } from "../../src/gguf/types.js";
import { checkpointVariant, editConfig, writeHfCheckpoint, writeReferenceModels } from "../fixtures/hf-checkpoint.js";
import type { HfCheckpointOptions } from "../fixtures/hf-checkpoint.js";
import { FIXTURE_DIR, tinyModels } from "../fixtures/models.js";

const DIR = join(FIXTURE_DIR, "convert");
const HF = join(DIR, "hf");
const NAME = "tiny";
const CKPT: HfCheckpointOptions = {}; // TINY shapes, seed 1, bf16, 2 shards, legacy names

/** Converted pairs by type, written once. */
const converted = new Map<ConvertType, { model: string; mmproj: string }>();
async function convertOnce(type: ConvertType): Promise<{ model: string; mmproj: string }> {
  const have = converted.get(type);
  if (have) return have;
  const r = await convertQwen25VL({ input: HF, outDir: join(DIR, `out-${type}`), name: NAME, type });
  const pair = { model: r.model!.path, mmproj: r.mmproj!.path };
  converted.set(type, pair);
  return pair;
}

const json = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x));

/**
 * Keys convert_hf_to_gguf writes that the tiny-model generator does not: sampling defaults copied
 * from generation_config.json and the parameter-count label. The converter writes them too (checked
 * separately); header comparisons with the generator leave them out.
 */
const CONVERTER_ONLY_KEY = /^general\.(sampling\.\w+|size_label)$/;

/** Every header difference between two GGUF files (keys in order with values, tensors in order). */
function headerDiff(a: GGUFFile, b: GGUFFile, expectType: (name: string, typeInA: number) => number = (_n, t) => t): string[] {
  const out: string[] = [];
  const ka = [...a.metadata.keys()].filter((k) => !CONVERTER_ONLY_KEY.test(k));
  const kb = [...b.metadata.keys()].filter((k) => !CONVERTER_ONLY_KEY.test(k));
  if (json(ka) !== json(kb)) out.push(`key order: ${json(ka)} vs ${json(kb)}`);
  for (const k of new Set([...ka, ...kb])) {
    if (k === "general.file_type") continue;
    if (json(a.metadata.get(k)) !== json(b.metadata.get(k))) out.push(`value of ${k}`);
  }
  if (a.tensors.length !== b.tensors.length) out.push(`tensor count ${a.tensors.length} vs ${b.tensors.length}`);
  for (let i = 0; i < Math.min(a.tensors.length, b.tensors.length); i++) {
    const x = a.tensors[i]!;
    const y = b.tensors[i]!;
    if (x.name !== y.name) out.push(`tensor ${i}: ${x.name} vs ${y.name}`);
    else if (json(x.shape) !== json(y.shape)) out.push(`${x.name}: shape ${json(x.shape)} vs ${json(y.shape)}`);
    else if (expectType(x.name, x.type) !== y.type) out.push(`${x.name}: type ${expectType(x.name, x.type)} expected, got ${y.type}`);
  }
  return out;
}

async function tensorDataDiff(a: GGUFFile, b: GGUFFile): Promise<string[]> {
  const out: string[] = [];
  for (const t of a.tensors) {
    const x = await readTensorBytes(a, t.name);
    const y = await readTensorBytes(b, t.name);
    if (!x.equals(y)) out.push(t.name);
  }
  return out;
}

/** The checkpoint's stored values of one HF tensor, decoded here (not with the converter's code). */
async function hfValues(dir: string, name: string): Promise<{ shape: number[]; values: Float32Array; raw: Buffer }> {
  const files = readdirSync(dir);
  const t = (await openCheckpointTensors(dir, files)).get(name)!;
  const raw = Buffer.alloc(t.nbytes);
  const fd = readFileSync(t.file);
  fd.copy(raw, 0, t.offset, t.offset + t.nbytes);
  expect(t.dtype).toBe("BF16");
  const values = new Float32Array(raw.length / 2);
  for (let i = 0; i < values.length; i++) {
    const b = Buffer.alloc(4);
    b.writeUInt16LE(raw.readUInt16LE(2 * i), 2);
    values[i] = b.readFloatLE(0);
  }
  return { shape: t.shape, values, raw };
}

async function f32Tensor(file: GGUFFile, name: string): Promise<Float32Array> {
  const b = await readTensorBytes(file, name);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

let clip: string;

beforeAll(async () => {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  await writeHfCheckpoint(HF, CKPT);
  // Beside DIR (which is wiped above), kept once made (a machine without the ffmpeg CLI gets it carried: bench/gpu/pack.mjs).
  clip = join(FIXTURE_DIR, "videos", "convert-224x224.mp4");
  if (!existsSync(clip)) execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=224x224:rate=10", "-frames:v", "20", "-c:v", "libx264", "-pix_fmt", "yuv420p", clip]);
});

describe("the fixture checkpoint", () => {
  it("is in Hugging Face layout: bf16 safetensors in 2 shards with an index, tokenizer and processor configs", async () => {
    const files = readdirSync(HF).sort();
    expect(files).toEqual([
      "config.json",
      "generation_config.json",
      "model-00001-of-00002.safetensors",
      "model-00002-of-00002.safetensors",
      "model.safetensors.index.json",
      "preprocessor_config.json",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
    const index = JSON.parse(readFileSync(join(HF, "model.safetensors.index.json"), "utf8")) as { weight_map: Record<string, string> };
    expect(new Set(Object.values(index.weight_map)).size).toBe(2);
    const h = await readSafetensorsHeader(join(HF, "model-00001-of-00002.safetensors"));
    expect(h.every((t) => t.dtype === "BF16")).toBe(true);
    const ck = await inspectQwen25VL(HF);
    expect(ck.text).toMatchObject({ nEmbd: 64, nHead: 4, nHeadKv: 2, headDim: 16, ropeSections: [2, 3, 3, 0], nLayer: 2, nFf: 128 });
    expect(ck.vision).toMatchObject({ nEmbd: 32, nLayer: 2, nHead: 2, nFf: 64, projectionDim: 64, nWaPattern: 2, windowSize: 112, patchSize: 14 });
    expect(ck.tensors.get("visual.patch_embed.proj.weight")!.shape).toEqual([32, 3, 2, 14, 14]);
    expect(ck.tensors.get("visual.blocks.1.attn.qkv.weight")!.shape).toEqual([96, 32]);
  });
});

describe("convert: the GGUF headers are what the tiny-model generator writes", () => {
  for (const type of ["f16", "q8_0", "f32"] as const) {
    it(`--type ${type}: same keys and values, tensor names, shapes and types`, async () => {
      const ours = await convertOnce(type);
      const gen = await writeQwen25VLModels({ dir: join(DIR, `gen-${type}`), name: NAME, seed: 1, type: type as ModelFileType });
      for (const [a, b] of [
        [gen.model, ours.model],
        [gen.mmproj, ours.mmproj],
      ] as const) {
        const A = await readGGUF(a);
        const B = await readGGUF(b);
        expect(headerDiff(A, B)).toEqual([]);
        expect(getMetadata(B, "general.file_type")).toBe(getMetadata(A, "general.file_type"));
      }
      const t = await readGGUF(ours.model);
      // generation_config.json's sampling defaults and the size label, as the Python converter writes them
      expect([...t.metadata.keys()].filter((k) => CONVERTER_ONLY_KEY.test(k))).toEqual([
        "general.sampling.top_k",
        "general.sampling.top_p",
        "general.sampling.temp",
        "general.sampling.penalty_repeat",
        "general.size_label",
      ]);
      expect(getMetadata(t, "general.sampling.top_k")).toBe(1);
      expect(getMetadata(t, "general.sampling.temp")).toBeCloseTo(0.1, 6);
      expect(getMetadata(t, "general.size_label")).toBe(`${Math.round(t.tensors.reduce((n, x) => n + x.shape.reduce((p, d) => p * d, 1), 0) / 1000)}K`);
      expect(getMetadata(t, "qwen2vl.attention.layer_norm_rms_epsilon")).toBeCloseTo(1e-6, 12);
      expect(getMetadata(t, "qwen2vl.rope.dimension_sections")).toEqual([2, 3, 3, 0]);
      expect(getMetadata(t, "tokenizer.ggml.pre")).toBe("qwen2");
      const v = await readGGUF(ours.mmproj);
      expect(getMetadata(v, "clip.projector_type")).toBe("qwen2.5vl_merger");
      expect(getMetadata(v, "clip.vision.n_wa_pattern")).toBe(2);
      const patch = v.tensors.find((x) => x.name === "v.patch_embd.weight.1")!;
      expect(patch.shape).toEqual([14, 14, 3, 32]);
      expect(patch.type).toBe(type === "f16" ? GGML_TYPE.F16 : GGML_TYPE.F32);
    });
  }

  it("--type bf16: the f16 layout with BF16 matrices (patch embedding F32, norms and biases F32, file type 32)", async () => {
    const ours = await convertOnce("bf16");
    const gen = await writeQwen25VLModels({ dir: join(DIR, "gen-f16"), name: NAME, seed: 1, type: "f16" });
    const asBf16 = (name: string, t: number) => (name.includes("patch_embd") ? GGML_TYPE.F32 : t === GGML_TYPE.F16 ? GGML_TYPE_BF16 : t);
    for (const [a, b] of [
      [gen.model, ours.model],
      [gen.mmproj, ours.mmproj],
    ] as const) {
      const B = await readGGUF(b);
      expect(headerDiff(await readGGUF(a), B, asBf16)).toEqual([]);
      expect(getMetadata(B, "general.file_type")).toBe(32);
    }
  });
});

describe("convert: values", () => {
  for (const type of ["f32", "f16", "q8_0"] as const) {
    it(`--type ${type}: every tensor is byte-identical to the same weights written directly`, async () => {
      const ours = await convertOnce(type);
      const ref = await writeReferenceModels(CKPT, { dir: join(DIR, `ref-${type}`), name: NAME, type });
      for (const [a, b] of [
        [ref.model, ours.model],
        [ref.mmproj, ours.mmproj],
      ] as const) {
        const A = await readGGUF(a);
        const B = await readGGUF(b);
        expect(headerDiff(A, B)).toEqual([]);
        expect(await tensorDataDiff(A, B)).toEqual([]);
      }
    });
  }

  it("round-trips the bf16 source exactly (renames, qkv split, Conv3D split)", async () => {
    const f32 = await readGGUF((await convertOnce("f32")).model);
    const v32 = await readGGUF((await convertOnce("f32")).mmproj);
    const emb = await hfValues(HF, "model.embed_tokens.weight");
    expect(await f32Tensor(f32, "token_embd.weight")).toEqual(emb.values);
    const kb = await hfValues(HF, "model.layers.1.self_attn.k_proj.bias");
    expect(await f32Tensor(f32, "blk.1.attn_k.bias")).toEqual(kb.values);
    const norm = await hfValues(HF, "model.layers.0.post_attention_layernorm.weight");
    expect(await f32Tensor(f32, "blk.0.ffn_norm.weight")).toEqual(norm.values);
    // qkv [3E, E]: rows E..2E are k
    const qkv = await hfValues(HF, "visual.blocks.1.attn.qkv.weight");
    expect(await f32Tensor(v32, "v.blk.1.attn_k.weight")).toEqual(qkv.values.subarray(32 * 32, 2 * 32 * 32));
    const qkvb = await hfValues(HF, "visual.blocks.0.attn.qkv.bias");
    expect(await f32Tensor(v32, "v.blk.0.attn_v.bias")).toEqual(qkvb.values.subarray(64, 96));
    // Conv3D [E, 3, 2, P, P]: weight.1 is [:, :, 1]
    const conv = await hfValues(HF, "visual.patch_embed.proj.weight");
    const w1 = await f32Tensor(v32, "v.patch_embd.weight.1");
    for (const [e, c, y, x] of [[0, 0, 0, 0], [5, 2, 13, 7], [31, 1, 6, 13]] as const) {
      expect(w1[((e * 3 + c) * 14 + y) * 14 + x]).toBe(conv.values[(((e * 3 + c) * 2 + 1) * 14 + y) * 14 + x]);
    }
    // bf16 output stores the source bits unchanged; f16 output decodes to the same values here
    const bf = await readGGUF((await convertOnce("bf16")).model);
    const up = await hfValues(HF, "model.layers.0.mlp.up_proj.weight");
    expect((await readTensorBytes(bf, "blk.0.ffn_up.weight")).equals(up.raw)).toBe(true);
    expect(decodeBF16(await readTensorBytes(bf, "blk.0.ffn_up.weight"))).toEqual(up.values);
    const f16 = await readGGUF((await convertOnce("f16")).model);
    const d16 = decodeF16(await readTensorBytes(f16, "blk.0.ffn_up.weight"));
    for (let i = 0; i < d16.length; i++) expect(Math.abs(d16[i]! - up.values[i]!)).toBeLessThanOrEqual(2 ** -24);
  });

  const variants: Array<[string, HfCheckpointOptions]> = [
    ["transformers >= 4.52 names, text_config + rope_parameters, merge pairs, f16 weights, 1 file", { layout: "v4.52", mergesFormat: "pairs", dtype: "F16", shards: 1 }],
    ["f32 weights in 3 shards", { dtype: "F32", shards: 3 }],
  ];
  for (const [label, opts] of variants) {
    it(`reads other checkpoint layouts: ${label}`, async () => {
      const dir = join(DIR, `hf-variant-${opts.layout ?? "legacy"}-${opts.dtype}`);
      await writeHfCheckpoint(dir, opts);
      const r = await convertQwen25VL({ input: dir, outDir: join(dir, "out"), name: NAME, type: "f16" });
      const ref = await writeReferenceModels(opts, { dir: join(dir, "ref"), name: NAME, type: "f16" });
      for (const [a, b] of [
        [ref.model, r.model!.path],
        [ref.mmproj, r.mmproj!.path],
      ] as const) {
        const A = await readGGUF(a);
        const B = await readGGUF(b);
        expect(headerDiff(A, B)).toEqual([]);
        expect(await tensorDataDiff(A, B)).toEqual([]);
      }
    });
  }
});

describe("convert: llama.cpp loads the result", () => {
  const opts = { prompt: "a red square moving", mode: "direct" as const, temperature: 0, seed: 0 };
  const probs = (r: ScoreResult) => [r.visualQuality, r.textAlignment, r.physicalConsistency].map((d) => [d.score, d.rawProbs, d.probs]);

  it("the converted f16 pair tokenizes like the tiny model and scores exactly like the same weights written directly", async () => {
    const ours = await convertOnce("f16");
    const ref = await writeReferenceModels(CKPT, { dir: join(DIR, "ref-f16"), name: NAME, type: "f16" });
    const tiny = await tinyModels();
    const a = await VideoScorer.load({ ...ours, contextSize: 4096, threads: 2 });
    const b = await VideoScorer.load({ ...ref, contextSize: 4096, threads: 2 });
    const c = await VideoScorer.load({ ...tiny, contextSize: 4096, threads: 2 });
    try {
      expect(a.info.architecture).toBe("qwen2vl");
      const pa = await a.prepare(clip, { prompt: "a red fox jumps over a fence, 2 times!" });
      const pc = await c.prepare(clip, { prompt: "a red fox jumps over a fence, 2 times!" });
      expect(pa.tokens).toEqual(pc.tokens);
      expect(pa.positions).toEqual(pc.positions);
      const ra = await a.score(clip, opts);
      const rb = await b.score(clip, opts);
      expect(ra.tokens).toEqual(rb.tokens);
      expect(probs(ra)).toEqual(probs(rb));
      expect(ra.visualQuality.rawProbs!.every((p) => Number.isFinite(p))).toBe(true);
    } finally {
      await Promise.all([a.dispose(), b.dispose(), c.dispose()]);
    }
  });

  it("the bf16 and q8_0 pairs load and score", async () => {
    for (const type of ["bf16", "q8_0"] as const) {
      const pair = await convertOnce(type);
      const s = await VideoScorer.load({ ...pair, contextSize: 4096, threads: 2 });
      try {
        const r = await s.score(clip, opts);
        expect(r.visualQuality.rawProbs!.reduce((x, y) => x + y, 0)).toBeGreaterThan(0);
      } finally {
        await s.dispose();
      }
    }
  });

  it("CLI: --quant Q8_0 and Q4_K_M write loadable text models, sizes and sha256 are printed", async () => {
    for (const q of ["Q8_0", "Q4_K_M"]) {
      const out = join(DIR, `cli-${q}`);
      let stdout = "";
      let stderr = "";
      const code = await runConvert([HF, "--out", out, "--quant", q, "--name", NAME, "--threads", "2"], {
        stdout: { write: (s: string) => (stdout += s) },
        stderr: { write: (s: string) => (stderr += s) },
      });
      expect(code, stderr).toBe(0);
      const model = join(out, `${NAME}-${q.toLowerCase()}.gguf`);
      const mmproj = join(out, `mmproj-${NAME}-f16.gguf`);
      expect(readdirSync(out).sort()).toEqual([`mmproj-${NAME}-f16.gguf`, `${NAME}-${q.toLowerCase()}.gguf`].sort());
      expect(stdout).toContain(`sha256 ${await sha256File(model)}`);
      expect(stdout).toContain(`sha256 ${await sha256File(mmproj)}`);
      expect(stderr).toMatch(/converted .* MB\/s/);
      const h = await readGGUF(model);
      expect(getMetadata(h, "general.file_type")).toBe(q === "Q8_0" ? 7 : 15);
      const s = await VideoScorer.load({ model, mmproj, contextSize: 4096, threads: 2 });
      try {
        const r = await s.score(clip, opts);
        expect(r.visualQuality.rawProbs).not.toBeNull();
      } finally {
        await s.dispose();
      }
    }
  });
});

describe("convert: refusals and errors", () => {
  const variantDir = async (name: string, edit: (dir: string) => void): Promise<string> => checkpointVariant(HF, join(DIR, name), edit);

  it("a non-Qwen2.5-VL config is refused with ERR_MODEL_MISMATCH naming what it found", async () => {
    const llama = await variantDir("bad-llama", (d) =>
      editConfig(d, (c) => {
        c.architectures = ["LlamaForCausalLM"];
        c.model_type = "llama";
      }),
    );
    const e = await convertQwen25VL({ input: llama, outDir: join(llama, "out") }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: "ERR_MODEL_MISMATCH" });
    expect((e as Error).message).toContain("LlamaForCausalLM");
    expect((e as Error).message).toContain('"llama"');
    expect(existsSync(join(llama, "out"))).toBe(false);

    const qwen2vl = await variantDir("bad-qwen2vl", (d) =>
      editConfig(d, (c) => {
        c.architectures = ["Qwen2VLForConditionalGeneration"];
        c.model_type = "qwen2_vl";
      }),
    );
    await expect(convertQwen25VL({ input: qwen2vl, outDir: join(qwen2vl, "out") })).rejects.toThrow(/Qwen2VLForConditionalGeneration.*Qwen2-VL \(not 2\.5\)/);

    await expect(convertQwen25VL({ input: join(DIR, "does-not-exist"), outDir: DIR })).rejects.toMatchObject({ code: "ERR_MODEL_LOAD" });
    const empty = join(DIR, "empty");
    mkdirSync(empty, { recursive: true });
    await expect(convertQwen25VL({ input: empty, outDir: DIR })).rejects.toMatchObject({ code: "ERR_MODEL_MISMATCH", message: expect.stringContaining("no config.json") });
  });

  it("tensors whose byte ranges overlap are refused with ERR_MODEL_LOAD naming both (issue 31)", async () => {
    const file = join(DIR, "overlap.safetensors");
    const header = Buffer.from(JSON.stringify({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] }, b: { dtype: "F32", shape: [4], data_offsets: [8, 24] } }));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(file, Buffer.concat([len, header, Buffer.alloc(24)]));
    await expect(readSafetensorsHeader(file)).rejects.toMatchObject({ code: "ERR_MODEL_LOAD", message: expect.stringMatching(/'a' and 'b' overlap/) });
    // Adjacent ranges are fine.
    const ok = Buffer.from(JSON.stringify({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] }, b: { dtype: "F32", shape: [2], data_offsets: [16, 24] } }));
    len.writeBigUInt64LE(BigInt(ok.length));
    writeFileSync(file, Buffer.concat([len, ok, Buffer.alloc(24)]));
    expect((await readSafetensorsHeader(file)).map((t) => t.name)).toEqual(["a", "b"]);
  });

  it("a truncated or corrupt safetensors file is ERR_MODEL_LOAD naming the file, and nothing is left behind", async () => {
    const dir = await variantDir("bad-truncated", (d) => {
      const f = join(d, "model-00002-of-00002.safetensors");
      truncateSync(f, statSync(f).size - 100);
    });
    const out = join(dir, "out");
    const e = await convertQwen25VL({ input: dir, outDir: out }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: "ERR_MODEL_LOAD" });
    expect((e as Error).message).toMatch(/model-00002-of-00002\.safetensors: truncated/);
    expect(existsSync(out)).toBe(false);

    // A hyperparameter too large for its GGUF field is named by its key (issue 31), before anything is written.
    for (const [key, value] of [["max_position_embeddings", 2 ** 40], ["vocab_size", 2 ** 32]] as const) {
      const huge = await variantDir(`bad-${key}`, (d) => editConfig(d, (c) => Object.assign(c, { [key]: value })));
      const hugeOut = join(DIR, `out-bad-${key}`);
      await expect(convertQwen25VL({ input: huge, outDir: hugeOut })).rejects.toMatchObject({ code: "ERR_MODEL_MISMATCH", message: expect.stringContaining(key) });
      expect(existsSync(hugeOut)).toBe(false);
    }

    const corrupt = await variantDir("bad-header", (d) => {
      const f = join(d, "model-00001-of-00002.safetensors");
      const b = readFileSync(f);
      b.write("#", 8); // the JSON header's opening brace
      writeFileSync(f, b);
    });
    await expect(convertQwen25VL({ input: corrupt, outDir: join(corrupt, "out") })).rejects.toMatchObject({ code: "ERR_MODEL_LOAD", message: expect.stringContaining("corrupt safetensors header") });

    const missing = await variantDir("bad-missing-shard", (d) => rmSync(join(d, "model-00002-of-00002.safetensors")));
    await expect(convertQwen25VL({ input: missing, outDir: join(missing, "out") })).rejects.toMatchObject({ code: "ERR_MODEL_LOAD", message: expect.stringContaining("missing") });
  });

  it("shapes that disagree with config.json are ERR_MODEL_MISMATCH", async () => {
    const dir = await variantDir("bad-shape", (d) => editConfig(d, (c) => (c.intermediate_size = 96)));
    await expect(convertQwen25VL({ input: dir, outDir: join(dir, "out") })).rejects.toMatchObject({
      code: "ERR_MODEL_MISMATCH",
      message: expect.stringMatching(/gate_proj.weight' has shape \[128, 64\], config.json implies \[96, 64\]/),
    });
  });

  it("an aborted conversion rejects with ERR_ABORTED and leaves no file", async () => {
    const ac = new AbortController();
    const out = join(DIR, "aborted");
    const p = convertQwen25VL({ input: HF, outDir: out, signal: ac.signal, onProgress: (x) => x.index >= 3 && ac.abort() });
    await expect(p).rejects.toMatchObject({ code: "ERR_ABORTED" });
    expect(readdirSync(out)).toEqual([]);
  });

  it("CLI exit codes: 2 for usage errors, 1 for a refused checkpoint, 0 with --help", async () => {
    const io = () => {
      const o = { out: "", err: "" };
      return { o, io: { stdout: { write: (s: string) => (o.out += s) }, stderr: { write: (s: string) => (o.err += s) } } };
    };
    let x = io();
    expect(await runConvert([HF], x.io)).toBe(2);
    expect(x.o.err).toContain("--out <dir> is required");
    x = io();
    expect(await runConvert([HF, "--out", DIR, "--type", "q4"], x.io)).toBe(2);
    x = io();
    expect(await runConvert([HF, "--out", DIR, "--quant", "Q9"], x.io)).toBe(2);
    x = io();
    expect(await runConvert([HF, "--out", DIR, "--bogus"], x.io)).toBe(2);
    const llama = await variantDir("cli-bad-llama", (d) => editConfig(d, (c) => Object.assign(c, { architectures: ["LlamaForCausalLM"], model_type: "llama" })));
    x = io();
    expect(await runConvert([llama, "--out", join(DIR, "cli-bad")], x.io)).toBe(1);
    expect(x.o.err).toMatch(/^ERR_MODEL_MISMATCH: .*LlamaForCausalLM/);
    // --out naming an existing file, or a folder under one: one typed line, no stack (issue 31, item 11).
    const file = join(DIR, "cli-out-is-a-file");
    writeFileSync(file, "not a folder");
    for (const out of [file, join(file, "sub")]) {
      x = io();
      expect(await runConvert([HF, "--out", out, "--no-checksum", "--quiet"], x.io)).toBe(1);
      expect(x.o.err).toMatch(/^ERR_INVALID_OPTION: The output folder .* is a file \(or lies under one\), not a folder; give --out/);
      expect(x.o.err.trim().split("\n")).toHaveLength(1);
    }
    expect(readFileSync(file, "utf8")).toBe("not a folder");
    x = io();
    expect(await runConvert(["--help"], x.io)).toBe(0);
    expect(x.o.out).toContain("usage: videoscore2 convert");
  });
});

describe("convert: memory", () => {
  // ASan's allocator (redzones, quarantine) multiplies RSS: the bound means nothing under scripts/sanitize.sh.
  it.skipIf((process.env.LD_PRELOAD ?? "").includes("libasan"))("streams: peak RSS grows by a small fraction of the checkpoint size", async () => {
    // 120k-token vocabulary x 768: two 184 MB bf16 embeddings (369 MB each as float32), 380 MB in all.
    const opts: HfCheckpointOptions = { text: { nEmbd: 768, nHead: 12, nHeadKv: 2, nFf: 1024, ropeSections: [8, 12, 12, 0], vocabSize: 120_000 } };
    const dir = join(DIR, "hf-medium");
    const ck = await writeHfCheckpoint(dir, opts);
    const out = join(DIR, "out-medium");
    const script = `
      const { convertQwen25VL } = await import(${JSON.stringify(new URL("../../src/gguf/convert/qwen25vl.ts", import.meta.url).pathname)});
      globalThis.gc?.();
      const before = process.memoryUsage().rss;
      const t0 = performance.now();
      await convertQwen25VL({ input: ${JSON.stringify(dir)}, outDir: ${JSON.stringify(out)}, name: "medium", type: "f16" });
      const secs = (performance.now() - t0) / 1000;
      console.log(JSON.stringify({ before, peak: process.resourceUsage().maxRSS * 1024, secs }));
    `;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", cwd: new URL("../..", import.meta.url).pathname });
    expect(r.status, r.stderr).toBe(0);
    const m = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { before: number; peak: number; secs: number };
    const growth = m.peak - m.before;
    console.log(
      `convert memory: checkpoint ${(ck.dataBytes / 1e6).toFixed(0)} MB, RSS before ${(m.before / 1e6).toFixed(0)} MB, peak ${(m.peak / 1e6).toFixed(0)} MB (+${(growth / 1e6).toFixed(0)} MB), ${(ck.dataBytes / 1e6 / m.secs).toFixed(0)} MB/s`,
    );
    // Bounded buffers (2 MB read spans, the writer's 8 MB batches) plus chunk copies V8 has not
    // collected yet (it collects array buffers late, later still when the other test files load the
    // cores): 80-194 MB measured, and no more for a full-size 7B checkpoint. What the bound catches:
    // one embedding held whole, as float32, would be 369 MB on top of that.
    expect(growth).toBeLessThan(Math.min(280e6, 0.75 * ck.dataBytes));
    const h = await readGGUF(join(out, "medium-f16.gguf"));
    expect(h.tensors.find((t) => t.name === "token_embd.weight")!.shape).toEqual([768, 120_000]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  });
});
