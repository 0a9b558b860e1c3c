/**
 * Minimal GGUF v3 reader: header, metadata and tensor infos, read incrementally so that only
 * the header of a multi-gigabyte file is touched. Tensor data is not loaded; {@link readTensorBytes}
 * fetches one tensor's bytes on demand (for tests and spot checks).
 */
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import {
  alignUp,
  GGML_TYPE_TRAITS,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPE,
  tensorElements,
} from "./types.js";
import type { GGMLType, GGUFScalarType, GGUFValue } from "./types.js";

/** One tensor info from the header. */
export interface GGUFTensorInfo {
  name: string;
  /** ggml order: ne[0] (row length) first. */
  shape: number[];
  /** `ggml_type` id; may be a type this module cannot encode (reported, not rejected). */
  type: number;
  /** Offset from the start of the data section. */
  offset: number;
  /** Absolute file offset of the data. */
  fileOffset: number;
  /** Size in bytes, or undefined for element types this module does not know. */
  nbytes: number | undefined;
}

/** A parsed GGUF header. */
export interface GGUFFile {
  path: string;
  version: number;
  alignment: number;
  /** Metadata in file order. */
  metadata: Map<string, GGUFValue>;
  tensors: GGUFTensorInfo[];
  /** Absolute offset of the data section. */
  dataOffset: number;
}

const TYPE_BY_ID = new Map<number, GGUFScalarType | "array">(
  Object.entries(GGUF_VALUE_TYPE).map(([k, v]) => [v, k as GGUFScalarType | "array"]),
);

/** Pulls bytes from a file handle through a sliding window, refilling as the parser advances. */
class FileCursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0; // file offset of buf[0]
  pos = 0; // absolute file offset of the next byte to parse

  constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
  ) {}

  private async ensure(n: number): Promise<void> {
    const rel = this.pos - this.bufStart;
    if (rel + n <= this.buf.length) return;
    if (this.pos + n > this.size) throw new Error(`unexpected end of file at offset ${this.pos} (need ${n} bytes)`);
    const want = Math.min(Math.max(n, 1 << 20), this.size - this.pos);
    const next = Buffer.alloc(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await this.fh.read(next, got, want - got, this.pos + got);
      if (bytesRead === 0) throw new Error(`short read at offset ${this.pos + got}`);
      got += bytesRead;
    }
    this.buf = next;
    this.bufStart = this.pos;
  }

  private async take(n: number): Promise<number> {
    await this.ensure(n);
    const at = this.pos - this.bufStart;
    this.pos += n;
    return at;
  }

  async u8(): Promise<number> {
    const at = await this.take(1);
    return this.buf.readUInt8(at);
  }
  async i8(): Promise<number> {
    const at = await this.take(1);
    return this.buf.readInt8(at);
  }
  async u16(): Promise<number> {
    const at = await this.take(2);
    return this.buf.readUInt16LE(at);
  }
  async i16(): Promise<number> {
    const at = await this.take(2);
    return this.buf.readInt16LE(at);
  }
  async u32(): Promise<number> {
    const at = await this.take(4);
    return this.buf.readUInt32LE(at);
  }
  async i32(): Promise<number> {
    const at = await this.take(4);
    return this.buf.readInt32LE(at);
  }
  async u64(): Promise<bigint> {
    const at = await this.take(8);
    return this.buf.readBigUInt64LE(at);
  }
  async i64(): Promise<bigint> {
    const at = await this.take(8);
    return this.buf.readBigInt64LE(at);
  }
  async f32(): Promise<number> {
    const at = await this.take(4);
    return this.buf.readFloatLE(at);
  }
  async f64(): Promise<number> {
    const at = await this.take(8);
    return this.buf.readDoubleLE(at);
  }
  /** A u64 that must fit a JS number (lengths, counts, offsets). */
  async size64(what: string): Promise<number> {
    const v = await this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what} too large: ${v}`);
    return Number(v);
  }
  async str(): Promise<string> {
    const n = await this.size64("string length");
    if (n > this.size - this.pos) throw new Error(`string length ${n} runs past end of file`);
    const at = await this.take(n);
    return this.buf.toString("utf8", at, at + n);
  }
}

async function readScalar(c: FileCursor, type: GGUFScalarType): Promise<number | bigint | boolean | string> {
  switch (type) {
    case "u8":
      return c.u8();
    case "i8":
      return c.i8();
    case "u16":
      return c.u16();
    case "i16":
      return c.i16();
    case "u32":
      return c.u32();
    case "i32":
      return c.i32();
    case "f32":
      return c.f32();
    case "f64":
      return c.f64();
    case "u64":
      return c.u64();
    case "i64":
      return c.i64();
    case "bool": {
      const b = await c.i8();
      if (b !== 0 && b !== 1) throw new Error(`invalid bool byte ${b}`);
      return b === 1;
    }
    case "string":
      return c.str();
  }
}

async function readValue(c: FileCursor, key: string): Promise<GGUFValue> {
  const typeId = await c.i32();
  const type = TYPE_BY_ID.get(typeId);
  if (type === undefined) throw new Error(`key '${key}': unknown value type ${typeId}`);
  if (type !== "array") return { type, value: await readScalar(c, type) } as GGUFValue;
  const itemId = await c.i32();
  const itemType = TYPE_BY_ID.get(itemId);
  if (itemType === undefined || itemType === "array") {
    throw new Error(`key '${key}': unsupported array item type ${itemId}`);
  }
  const n = await c.size64(`array length of '${key}'`);
  const value: Array<number | bigint | boolean | string> = new Array(n);
  for (let i = 0; i < n; i++) value[i] = await readScalar(c, itemType);
  return { type: "array", itemType, value } as GGUFValue;
}

/** Parses the header of a GGUF v2/v3 file (v1 used 32-bit counts and is not supported). */
export async function readGGUF(path: string): Promise<GGUFFile> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    const c = new FileCursor(fh, size);
    const magic = await c.u32();
    if (magic !== GGUF_MAGIC) throw new Error(`${path}: not a GGUF file (magic 0x${magic.toString(16)})`);
    const version = await c.u32();
    if (version !== 2 && version !== 3) throw new Error(`${path}: unsupported GGUF version ${version}`);
    const nTensors = Number(await c.i64());
    const nKv = Number(await c.i64());
    if (nTensors < 0 || nKv < 0) throw new Error(`${path}: negative counts`);
    const metadata = new Map<string, GGUFValue>();
    for (let i = 0; i < nKv; i++) {
      const key = await c.str();
      if (metadata.has(key)) throw new Error(`${path}: duplicate key '${key}'`);
      metadata.set(key, await readValue(c, key));
    }
    let alignment = GGUF_DEFAULT_ALIGNMENT;
    const al = metadata.get("general.alignment");
    if (al !== undefined) {
      if (al.type !== "u32") throw new Error(`${path}: general.alignment must be u32`);
      alignment = al.value;
    }
    const raw: Array<Omit<GGUFTensorInfo, "fileOffset">> = [];
    for (let i = 0; i < nTensors; i++) {
      const name = await c.str();
      const nDims = await c.u32();
      if (nDims < 1 || nDims > 4) throw new Error(`${path}: tensor '${name}' has ${nDims} dims`);
      const shape: number[] = [];
      for (let d = 0; d < nDims; d++) shape.push(Number(await c.i64()));
      const type = await c.i32();
      const offset = await c.size64(`offset of '${name}'`);
      const traits = GGML_TYPE_TRAITS[type as GGMLType];
      const nbytes = traits === undefined ? undefined : (tensorElements(shape) / traits.blockSize) * traits.typeSize;
      raw.push({ name, shape, type, offset, nbytes });
    }
    const dataOffset = nTensors > 0 ? alignUp(c.pos, alignment) : c.pos;
    return {
      path,
      version,
      alignment,
      metadata,
      tensors: raw.map((t) => ({ ...t, fileOffset: dataOffset + t.offset })),
      dataOffset,
    };
  } finally {
    await fh.close();
  }
}

/** Value of a metadata key, or undefined (arrays come back as JS arrays). */
export function getMetadata(file: GGUFFile, key: string): GGUFValue["value"] | undefined {
  return file.metadata.get(key)?.value;
}

/** Reads one tensor's raw bytes (as stored: f16 halves, Q8_0 blocks, ...). */
export async function readTensorBytes(file: GGUFFile, name: string): Promise<Buffer> {
  const t = file.tensors.find((x) => x.name === name);
  if (t === undefined) throw new Error(`${file.path}: no tensor '${name}'`);
  if (t.nbytes === undefined) throw new Error(`${file.path}: tensor '${name}' has unsupported type ${t.type}`);
  const fh = await open(file.path, "r");
  try {
    const out = Buffer.alloc(t.nbytes);
    let got = 0;
    while (got < out.length) {
      const { bytesRead } = await fh.read(out, got, out.length - got, t.fileOffset + got);
      if (bytesRead === 0) throw new Error(`${file.path}: tensor '${name}' runs past end of file`);
      got += bytesRead;
    }
    return out;
  } finally {
    await fh.close();
  }
}
