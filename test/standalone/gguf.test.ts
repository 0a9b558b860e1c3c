import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildQwenVocab,
  bytesToUnicode,
  byteLevelEncode,
  decodeF16,
  decodeQ8_0,
  encodeQ8_0,
  fromF16,
  GGML_TYPE,
  kv,
  planGGUF,
  QWEN25VL_CHAT_TEMPLATE,
  QWEN_SPECIAL_TOKENS,
  readGGUF,
  readTensorBytes,
  SEVEN_B,
  TINY,
  textTensors,
  toF16,
  TOKEN_TYPE,
  tokenize,
  visionTensors,
  writeGGUF,
  writeQwen25VLModels,
} from "../../src/gguf/index.js";
import type { GGUFFile, GGUFMetadata, GGUFValue } from "../../src/gguf/index.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "vs2-gguf-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function value(file: GGUFFile, key: string): GGUFValue["value"] | undefined {
  return file.metadata.get(key)?.value;
}

describe("f16 encoding", () => {
  it.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [0.1, 0x2e66],
    [1 / 3, 0x3555],
    [65504, 0x7bff],
    [65519, 0x7bff], // just below the midpoint to 2^16
    [65520, 0x7c00], // midpoint: ties to even, which is infinity
    [1e6, 0x7c00],
    [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // half of it: tie to even (zero)
    [3 * 2 ** -25, 0x0002], // 1.5 units: tie to even (2)
    [1e-8, 0x0000],
    [1 + 2 ** -11, 0x3c00], // tie between 1 and 1+2^-10: even mantissa wins
    [1 + 3 * 2 ** -11, 0x3c02],
    [2049, 0x6800],
    [2051, 0x6802],
  ])("%s -> 0x%s", (x, bits) => {
    expect(toF16(x)).toBe(bits);
  });

  it("keeps NaN a quiet NaN", () => {
    expect(toF16(NaN)).toBe(0x7e00);
  });

  it("decodes what it encodes for every finite half", () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      expect(toF16(fromF16(h))).toBe(h);
    }
  });
});

describe("Q8_0 encoding", () => {
  it("matches hand-computed blocks", () => {
    const src = new Float32Array(96);
    // Block 0: amax 127 -> d = 1, quants are the values rounded half away from zero.
    src.set([127, -63.5, 0.5, -0.5, 1.5, 2.4, -2.6], 0);
    // Block 1: all zero -> d = 0, quants 0.
    // Block 2: amax 254 -> d = 2; 3 -> 1.5 -> 2, -3 -> -2, 1 -> 0.5 -> 1.
    src.set([254, 3, -3, 1, -254], 64);
    const out = new Uint8Array(3 * 34);
    encodeQ8_0(src, out);
    const view = new DataView(out.buffer);
    expect(view.getUint16(0, true)).toBe(0x3c00);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((j) => view.getInt8(2 + j))).toEqual([127, -64, 1, -1, 2, 2, -3, 0]);
    expect(view.getUint16(34, true)).toBe(0);
    expect([...out.subarray(36, 68)].every((b) => b === 0)).toBe(true);
    expect(view.getUint16(68, true)).toBe(0x4000);
    expect([0, 1, 2, 3, 4].map((j) => view.getInt8(70 + j))).toEqual([127, 2, -2, 1, -127]);
    const back = decodeQ8_0(out);
    expect(back[0]).toBe(127);
    expect(back[65]).toBe(4);
  });

  it("rejects partial blocks", () => {
    expect(() => encodeQ8_0(new Float32Array(31), new Uint8Array(34))).toThrow(/multiple of 32/);
  });
});

describe("writer and reader", () => {
  const metadata: GGUFMetadata = [
    ["general.architecture", kv.str("test")],
    ["general.alignment", kv.u32(64)],
    ["t.u8", kv.u8(255)],
    ["t.i8", kv.i8(-128)],
    ["t.u16", kv.u16(65535)],
    ["t.i16", kv.i16(-32768)],
    ["t.u32", kv.u32(4294967295)],
    ["t.i32", kv.i32(-2147483648)],
    ["t.u64", kv.u64(18446744073709551615n)],
    ["t.i64", kv.i64(-9223372036854775808n)],
    ["t.f32", kv.f32(Math.fround(0.1))],
    ["t.f64", kv.f64(0.1)],
    ["t.bool", kv.bool(true)],
    ["t.str", kv.str("héllo ✓ <|im_end|>")],
    ["t.empty", kv.str("")],
    ["t.arr.i32", kv.arr("i32", [16, 24, 24, 0])],
    ["t.arr.f32", kv.arr("f32", [0.5, -1.25])],
    ["t.arr.str", kv.arr("string", ["a", "Ġb", ""])],
    ["t.arr.bool", kv.arr("bool", [true, false])],
    ["t.arr.u64", kv.arr("u64", [1n, 2n ** 40n])],
    ["t.arr.none", kv.arr("u8", [])],
  ];
  const f32 = Float32Array.from({ length: 64 * 3 }, (_, i) => (i - 90) / 7);

  it("round-trips metadata, tensor infos and data with a custom alignment", async () => {
    const path = join(dir, "rt.gguf");
    const layout = await writeGGUF(path, metadata, [
      { name: "a", shape: [64, 3], type: GGML_TYPE.F32, data: () => [f32.subarray(0, 64), f32.subarray(64)] },
      { name: "b", shape: [64, 3], type: GGML_TYPE.F16, data: () => [f32] },
      {
        name: "c",
        shape: [64, 3],
        type: GGML_TYPE.Q8_0,
        async *data() {
          for (let r = 0; r < 3; r++) yield f32.subarray(r * 64, r * 64 + 64);
        },
      },
      { name: "d.bias", shape: [5], type: GGML_TYPE.F32, data: () => [new Float32Array([1, 2, 3, 4, 5])] },
    ]);
    const bytes = await readFile(path);
    expect(bytes.length).toBe(layout.fileSize);
    const file = await readGGUF(path);
    expect(file.version).toBe(3);
    expect(file.alignment).toBe(64);
    expect([...file.metadata.entries()]).toEqual(metadata.map(([k, v]) => [k, v]));
    expect(file.dataOffset % 64).toBe(0);
    expect(file.dataOffset).toBe(layout.dataOffset);
    expect(file.tensors.map((t) => [t.name, t.shape, t.type, t.offset, t.nbytes])).toEqual([
      ["a", [64, 3], 0, 0, 768],
      ["b", [64, 3], 1, 768, 384],
      ["c", [64, 3], 8, 1152, 204],
      ["d.bias", [5], 0, 1408, 20],
    ]);
    expect(new Float32Array(new Uint8Array(await readTensorBytes(file, "a")).buffer)).toEqual(f32);
    const half = decodeF16(await readTensorBytes(file, "b"));
    half.forEach((v, i) => expect(v).toBeCloseTo(f32[i]!, 2));
    const q = decodeQ8_0(await readTensorBytes(file, "c"));
    q.forEach((v, i) => expect(Math.abs(v - f32[i]!)).toBeLessThan(0.1));
    // Padding after the last tensor too, as gguf.cpp writes it.
    expect(layout.fileSize).toBe(file.dataOffset + 1408 + 64);
  });

  it("plans the same layout it writes", async () => {
    const tensors = [{ name: "x", shape: [32, 2], type: GGML_TYPE.Q8_0, data: () => [new Float32Array(64)] }] as const;
    const plan = planGGUF(metadata, tensors);
    const written = await writeGGUF(join(dir, "plan.gguf"), metadata, tensors);
    expect(written).toEqual(plan);
  });

  it("rejects bad input", async () => {
    const p = join(dir, "bad.gguf");
    const meta: GGUFMetadata = [["general.architecture", kv.str("t")]];
    const chunk = () => [new Float32Array(40)];
    await expect(writeGGUF(p, meta, [{ name: "q", shape: [40], type: GGML_TYPE.Q8_0, data: chunk }])).rejects.toThrow(/block size/);
    await expect(writeGGUF(p, meta, [{ name: "s", shape: [41], type: GGML_TYPE.F32, data: chunk }])).rejects.toThrow(/expected 164/);
    await expect(
      writeGGUF(p, meta, [
        { name: "d", shape: [40], type: GGML_TYPE.F32, data: chunk },
        { name: "d", shape: [40], type: GGML_TYPE.F32, data: chunk },
      ]),
    ).rejects.toThrow(/duplicate tensor/);
    await expect(writeGGUF(p, [...meta, ["general.architecture", kv.str("x")]], [])).rejects.toThrow(/duplicate metadata/);
    await expect(writeGGUF(p, [["general.alignment", kv.u32(24)]], [])).rejects.toThrow(/power of 2/);
  });

  it("a metadata value out of its kind's range is refused naming the key, before anything is written", () => {
    // Buffer's writers threw a bare RangeError for these (no key), or truncated the fraction.
    expect(() => planGGUF([["qwen2vl.context_length", kv.u32(2 ** 40)]], [])).toThrow("metadata key 'qwen2vl.context_length': 1099511627776 is not a u32 (an integer 0..4294967295)");
    expect(() => planGGUF([["a.b", kv.i32(1.5)]], [])).toThrow("metadata key 'a.b': 1.5 is not a i32");
    expect(() => planGGUF([["a.sections", kv.arr("i32", [1, 2 ** 31])]], [])).toThrow("metadata key 'a.sections' item 1: 2147483648 is not a i32");
    expect(() => planGGUF([["a.u8", kv.u8(-1)]], [])).toThrow(/'a\.u8': -1 is not a u8/);
    expect(() => planGGUF([["a.big", kv.i64(2n ** 63n)]], [])).toThrow(/'a\.big': 9223372036854775808 is out of the i64 range/);
    expect(planGGUF([["a.max", kv.u32(0xffff_ffff)], ["a.min", kv.i32(-(2 ** 31))], ["a.u64", kv.u64(2n ** 64n - 1n)]], []).dataOffset).toBeGreaterThan(0);
  });
});

describe("tokenizer", () => {
  const vocab = buildQwenVocab();

  it("has the 256 byte tokens first, in GPT-2/Qwen order", () => {
    const table = bytesToUnicode();
    expect(new Set(table).size).toBe(256);
    for (let b = 0; b < 256; b++) expect(vocab.tokens[vocab.byteIds[b]!]).toBe(table[b]);
    expect(vocab.tokens[0]).toBe("!");
    expect(vocab.byteIds[0x20]).toBe(220);
    expect(vocab.tokens[220]).toBe("Ġ");
    expect(vocab.tokens[198]).toBe("Ċ");
    expect(new Set(vocab.byteIds).size).toBe(256);
    expect(Math.max(...vocab.byteIds)).toBe(255);
  });

  it("has merges whose results are all tokens, and no duplicate tokens", () => {
    expect(vocab.merges.length).toBe(400);
    const ids = new Set(vocab.tokens);
    expect(ids.size).toBe(vocab.tokens.length);
    for (const m of vocab.merges) {
      const parts = m.split(" ");
      expect(parts.length).toBe(2);
      expect(ids.has(parts[0]!)).toBe(true);
      expect(ids.has(parts[1]!)).toBe(true);
      expect(ids.has(parts.join(""))).toBe(true);
    }
  });

  it("appends Qwen's added tokens in Qwen order with control type", () => {
    const first = vocab.special["<|endoftext|>"]!;
    QWEN_SPECIAL_TOKENS.forEach((t, i) => {
      expect(vocab.special[t]).toBe(first + i);
      expect(vocab.tokens[first + i]).toBe(t);
      expect(vocab.types[first + i]).toBe(TOKEN_TYPE.CONTROL);
    });
    expect(vocab.types[vocab.special["<tool_call>"]!]).toBe(TOKEN_TYPE.USER_DEFINED);
    expect(vocab.tokens.length).toBe(first + 22);
    for (let i = 0; i < first; i++) expect(vocab.types[i]).toBe(TOKEN_TYPE.NORMAL);
    expect(vocab.eos).toBe(vocab.special["<|im_end|>"]);
    expect(vocab.pad).toBe(vocab.special["<|endoftext|>"]);
    expect(vocab.tokens).not.toContain("<think>");
  });

  it("keeps digits single tokens and compresses English", () => {
    expect(vocab.merges.some((m) => /[0-9]/.test(m))).toBe(false);
    for (let d = 0; d <= 9; d++) expect(tokenize(vocab, String(d))).toEqual([vocab.byteIds[48 + d]]);
    expect(tokenize(vocab, "12345")).toHaveLength(5);
    const text = "the video shows a person walking on the street with good visual quality";
    expect(tokenize(vocab, text).length).toBeLessThan(Buffer.byteLength(text) / 2.5);
  });

  it("tokenizes like llama.cpp did on the tiny model", () => {
    // Ids printed by test/native/load_tiny.cc (llama_tokenize with parse_special) for this vocabulary.
    expect(tokenize(vocab, "<|im_start|>user\nhello 12345<|im_end|>", { parseSpecial: true })).toEqual([
      657, 84, 82, 260, 198, 292, 281, 78, 220, 16, 17, 18, 19, 20, 658,
    ]);
    const plain = tokenize(vocab, "<|im_end|>");
    expect(plain).not.toContain(vocab.eos);
    expect(byteLevelEncode("a b\n")).toBe("aĠbĊ");
  });

  it("pads to a fixed size with unused tokens", () => {
    const big = buildQwenVocab({ padTo: 152064 });
    expect(big.tokens.length).toBe(152064);
    expect(big.tokens[big.tokens.length - 1]).toBe("[PAD152063]");
    expect(big.types[big.tokens.length - 1]).toBe(TOKEN_TYPE.UNUSED);
    expect(big.special).toEqual(vocab.special);
  });

  it("ships the Qwen2.5-VL chat template", () => {
    expect(QWEN25VL_CHAT_TEMPLATE).toContain("You are a helpful assistant.");
    expect(QWEN25VL_CHAT_TEMPLATE).toContain("<|vision_start|><|video_pad|><|vision_end|>");
    expect(QWEN25VL_CHAT_TEMPLATE).toContain("<|im_start|>assistant\\n");
  });
});

describe("tiny Qwen2.5-VL models", () => {
  it.each(["f32", "f16", "q8_0"] as const)("writes every key and tensor the loaders read (%s)", async (type) => {
    const out = await writeQwen25VLModels({ dir: join(dir, type), type, seed: 7 });
    const text = await readGGUF(out.model);
    const h = TINY.text;
    expect(value(text, "general.architecture")).toBe("qwen2vl");
    expect(value(text, "qwen2vl.block_count")).toBe(h.nLayer);
    expect(value(text, "qwen2vl.context_length")).toBe(32768);
    expect(value(text, "qwen2vl.embedding_length")).toBe(64);
    expect(value(text, "qwen2vl.feed_forward_length")).toBe(128);
    expect(value(text, "qwen2vl.attention.head_count")).toBe(4);
    expect(value(text, "qwen2vl.attention.head_count_kv")).toBe(2);
    expect(value(text, "qwen2vl.rope.dimension_sections")).toEqual([2, 3, 3, 0]);
    expect(value(text, "qwen2vl.rope.freq_base")).toBe(1e6);
    expect(value(text, "qwen2vl.attention.layer_norm_rms_epsilon")).toBe(Math.fround(1e-6));
    expect(value(text, "general.file_type")).toBe({ f32: 0, f16: 1, q8_0: 7 }[type]);
    expect(value(text, "tokenizer.ggml.model")).toBe("gpt2");
    expect(value(text, "tokenizer.ggml.pre")).toBe("qwen2");
    expect(value(text, "tokenizer.ggml.tokens")).toEqual(out.vocab.tokens);
    expect(value(text, "tokenizer.ggml.token_type")).toEqual(out.vocab.types);
    expect(value(text, "tokenizer.ggml.merges")).toEqual(out.vocab.merges);
    expect(value(text, "tokenizer.ggml.eos_token_id")).toBe(out.vocab.special["<|im_end|>"]);
    expect(value(text, "tokenizer.ggml.padding_token_id")).toBe(out.vocab.special["<|endoftext|>"]);
    expect(value(text, "tokenizer.ggml.add_bos_token")).toBe(false);
    expect(value(text, "tokenizer.chat_template")).toBe(QWEN25VL_CHAT_TEMPLATE);

    const nv = out.vocab.tokens.length;
    const mat = { f32: GGML_TYPE.F32, f16: GGML_TYPE.F16, q8_0: GGML_TYPE.Q8_0 }[type];
    const want: Array<[string, number[], number]> = [["token_embd.weight", [64, nv], mat]];
    for (let i = 0; i < 2; i++) {
      want.push(
        [`blk.${i}.attn_norm.weight`, [64], GGML_TYPE.F32],
        [`blk.${i}.attn_q.weight`, [64, 64], mat],
        [`blk.${i}.attn_q.bias`, [64], GGML_TYPE.F32],
        [`blk.${i}.attn_k.weight`, [64, 32], mat],
        [`blk.${i}.attn_k.bias`, [32], GGML_TYPE.F32],
        [`blk.${i}.attn_v.weight`, [64, 32], mat],
        [`blk.${i}.attn_v.bias`, [32], GGML_TYPE.F32],
        [`blk.${i}.attn_output.weight`, [64, 64], mat],
        [`blk.${i}.ffn_norm.weight`, [64], GGML_TYPE.F32],
        [`blk.${i}.ffn_gate.weight`, [64, 128], mat],
        [`blk.${i}.ffn_up.weight`, [64, 128], mat],
        [`blk.${i}.ffn_down.weight`, [128, 64], mat],
      );
    }
    want.push(["output_norm.weight", [64], GGML_TYPE.F32], ["output.weight", [64, nv], mat]);
    expect(text.tensors.map((t) => [t.name, t.shape, t.type])).toEqual(want);

    const mm = await readGGUF(out.mmproj);
    const expectKv: Record<string, unknown> = {
      "general.architecture": "clip",
      "general.type": "mmproj",
      "clip.has_vision_encoder": true,
      "clip.projector_type": "qwen2.5vl_merger",
      "clip.use_silu": true,
      "clip.vision.projection_dim": 64,
      "clip.vision.image_size": 560,
      "clip.vision.patch_size": 14,
      "clip.vision.embedding_length": 32,
      "clip.vision.feed_forward_length": 64,
      "clip.vision.block_count": 2,
      "clip.vision.attention.head_count": 2,
      "clip.vision.n_wa_pattern": 2,
      "clip.vision.attention.layer_norm_epsilon": Math.fround(1e-6),
      "clip.vision.image_mean": [0.48145466, 0.4578275, 0.40821073].map(Math.fround),
      "clip.vision.image_std": [0.26862954, 0.26130258, 0.27577711].map(Math.fround),
    };
    for (const [k, v] of Object.entries(expectKv)) expect([k, value(mm, k)]).toEqual([k, v]);
    // The projector output must feed the text model.
    expect(value(mm, "clip.vision.projection_dim")).toBe(value(text, "qwen2vl.embedding_length"));

    const patch = type === "f16" ? GGML_TYPE.F16 : GGML_TYPE.F32;
    const vwant: Array<[string, number[], number]> = [
      ["v.patch_embd.weight", [14, 14, 3, 32], patch],
      ["v.patch_embd.weight.1", [14, 14, 3, 32], patch],
    ];
    for (let i = 0; i < 2; i++) {
      const b = `v.blk.${i}`;
      vwant.push(
        [`${b}.ln1.weight`, [32], GGML_TYPE.F32],
        [`${b}.attn_q.weight`, [32, 32], mat],
        [`${b}.attn_q.bias`, [32], GGML_TYPE.F32],
        [`${b}.attn_k.weight`, [32, 32], mat],
        [`${b}.attn_k.bias`, [32], GGML_TYPE.F32],
        [`${b}.attn_v.weight`, [32, 32], mat],
        [`${b}.attn_v.bias`, [32], GGML_TYPE.F32],
        [`${b}.attn_out.weight`, [32, 32], mat],
        [`${b}.attn_out.bias`, [32], GGML_TYPE.F32],
        [`${b}.ln2.weight`, [32], GGML_TYPE.F32],
        [`${b}.ffn_gate.weight`, [32, 64], mat],
        [`${b}.ffn_gate.bias`, [64], GGML_TYPE.F32],
        [`${b}.ffn_up.weight`, [32, 64], mat],
        [`${b}.ffn_up.bias`, [64], GGML_TYPE.F32],
        [`${b}.ffn_down.weight`, [64, 32], mat],
        [`${b}.ffn_down.bias`, [32], GGML_TYPE.F32],
      );
    }
    vwant.push(
      ["v.post_ln.weight", [32], GGML_TYPE.F32],
      ["mm.0.weight", [128, 128], mat],
      ["mm.0.bias", [128], GGML_TYPE.F32],
      ["mm.2.weight", [128, 64], mat],
      ["mm.2.bias", [64], GGML_TYPE.F32],
    );
    expect(mm.tensors.map((t) => [t.name, t.shape, t.type])).toEqual(vwant);

    // Norms are ones; weights are small noise.
    const norm = new Float32Array(new Uint8Array(await readTensorBytes(text, "output_norm.weight")).buffer);
    expect([...norm].every((x) => x === 1)).toBe(true);
    const bias = new Float32Array(new Uint8Array(await readTensorBytes(text, "blk.0.attn_q.bias")).buffer);
    const std = Math.sqrt(bias.reduce((a, x) => a + x * x, 0) / bias.length);
    expect(std).toBeGreaterThan(0.01);
    expect(std).toBeLessThan(0.04);
  });

  it("is byte-for-byte deterministic in the seed", async () => {
    const a = await writeQwen25VLModels({ dir: join(dir, "det-a"), seed: 3, type: "q8_0" });
    const b = await writeQwen25VLModels({ dir: join(dir, "det-b"), seed: 3, type: "q8_0" });
    const c = await writeQwen25VLModels({ dir: join(dir, "det-c"), seed: 4, type: "q8_0" });
    expect((await readFile(a.model)).equals(await readFile(b.model))).toBe(true);
    expect((await readFile(a.mmproj)).equals(await readFile(b.mmproj))).toBe(true);
    expect((await readFile(a.model)).equals(await readFile(c.model))).toBe(false);
    expect((await readFile(a.mmproj)).length).toBe((await readFile(c.mmproj)).length);
  });

  it("rejects hyperparameters llama.cpp cannot run", async () => {
    await expect(writeQwen25VLModels({ dir, text: { ropeSections: [4, 4, 4, 0] } })).rejects.toThrow(/head_dim\/2/);
    await expect(writeQwen25VLModels({ dir, vision: { nFf: 32 } })).rejects.toThrow(/swap/);
    await expect(writeQwen25VLModels({ dir, vision: { projectionDim: 48 } })).rejects.toThrow(/must equal text n_embd/);
  });

  it("has the 7B shapes in SEVEN_B and streams them", () => {
    const vocab = 152064;
    const text = planGGUF([], textTensors(SEVEN_B.text, vocab, "f16", 1));
    const shapes = new Map(text.tensors.map((t) => [t.name, t]));
    expect(shapes.get("token_embd.weight")!.shape).toEqual([3584, 152064]);
    expect(shapes.get("blk.27.attn_k.weight")!.shape).toEqual([3584, 512]);
    expect(shapes.get("blk.0.ffn_down.weight")!.shape).toEqual([18944, 3584]);
    expect(shapes.has("output.weight")).toBe(true);
    // Qwen2.5-VL-7B in f16 is about 15.2 GB.
    expect(text.fileSize / 1e9).toBeGreaterThan(15.1);
    expect(text.fileSize / 1e9).toBeLessThan(15.3);
    expect(SEVEN_B.text.ropeSections.reduce((a, b) => a + b, 0) * 2).toBe(3584 / 28);

    const vis = planGGUF([], visionTensors(SEVEN_B.vision, 3584, "q8_0", 1));
    const v = new Map(vis.tensors.map((t) => [t.name, t]));
    expect(v.get("v.patch_embd.weight")!.shape).toEqual([14, 14, 3, 1280]);
    expect(v.get("v.patch_embd.weight")!.type).toBe(GGML_TYPE.F32);
    expect(v.get("v.blk.31.ffn_up.weight")!.type).toBe(GGML_TYPE.Q8_0);
    // 3420 is not a multiple of 32: the converter falls back to f16 for these rows.
    expect(v.get("v.blk.31.ffn_down.weight")!.shape).toEqual([3420, 1280]);
    expect(v.get("v.blk.31.ffn_down.weight")!.type).toBe(GGML_TYPE.F16);
    expect(v.get("mm.0.weight")!.shape).toEqual([5120, 5120]);
    expect(v.get("mm.2.weight")!.shape).toEqual([5120, 3584]);

    // Sources produce bounded chunks, never the whole 2 GB embedding at once.
    const spec = textTensors(SEVEN_B.text, vocab, "f16", 1)[0]!;
    const it = (spec.data() as Iterable<Float32Array>)[Symbol.iterator]();
    const first = it.next().value as Float32Array;
    expect(first.length).toBeLessThanOrEqual(1 << 20);
    expect(first.length % 3584).toBe(0);
  });
});
