/**
 * Streaming GGUF v3 writer.
 *
 * The header (metadata and tensor infos) is small and built in memory; tensor data is pulled
 * from each tensor's source one chunk at a time and written through a file handle, so a
 * multi-gigabyte model never has to fit in memory. Offsets are computed up front from the
 * shapes, which is what lets the header be written before any data exists.
 */
import { open, rename, rm } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { encodeF16, encodeQ8_0, QK8_0 } from "./encode.js";
import {
  alignUp,
  GGML_TYPE,
  GGML_TYPE_TRAITS,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPE,
  GGUF_VERSION,
  tensorBytes,
} from "./types.js";
import type { GGMLType, GGUFMetadata, GGUFScalarType, GGUFValue } from "./types.js";
import { metadataProblem } from "./value-ranges.js";

/**
 * Tensor data, produced lazily in element order (ne[0] fastest).
 * A `Float32Array` chunk is encoded to the tensor's type; a `Uint8Array` chunk is taken as
 * already-encoded bytes. For Q8_0, float chunks must hold whole 32-element blocks.
 */
export type TensorChunks = Iterable<Float32Array | Uint8Array> | AsyncIterable<Float32Array | Uint8Array>;

/** One tensor to write. `shape` is in ggml order (ne[0] first, the row length). */
export interface GGUFTensorSpec {
  name: string;
  shape: readonly number[];
  type: GGMLType;
  /** Called once, when this tensor's turn comes, so sources can be generators. */
  data: () => TensorChunks;
}

/** Placement of one tensor as written to the file. */
export interface GGUFTensorPlacement {
  name: string;
  shape: number[];
  type: GGMLType;
  /** Offset from the start of the data section. */
  offset: number;
  /** Unpadded size in bytes. */
  nbytes: number;
}

/** What {@link planGGUF} and {@link writeGGUF} report. */
export interface GGUFLayout {
  /** Header bytes including metadata, tensor infos and the padding up to the data section. */
  dataOffset: number;
  alignment: number;
  tensors: GGUFTensorPlacement[];
  /** Total file size in bytes. */
  fileSize: number;
}

/** Optional progress hook of {@link writeGGUF}. */
export interface WriteGGUFOptions {
  onTensor?: (index: number, tensor: GGUFTensorPlacement) => void;
}

/** Growable little-endian byte buffer for the header. */
class ByteSink {
  private buf = Buffer.alloc(1 << 16);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u8(v: number): void {
    this.reserve(1);
    this.buf.writeUInt8(v, this.length);
    this.length += 1;
  }
  i8(v: number): void {
    this.reserve(1);
    this.buf.writeInt8(v, this.length);
    this.length += 1;
  }
  u16(v: number): void {
    this.reserve(2);
    this.buf.writeUInt16LE(v, this.length);
    this.length += 2;
  }
  i16(v: number): void {
    this.reserve(2);
    this.buf.writeInt16LE(v, this.length);
    this.length += 2;
  }
  u32(v: number): void {
    this.reserve(4);
    this.buf.writeUInt32LE(v, this.length);
    this.length += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.buf.writeInt32LE(v, this.length);
    this.length += 4;
  }
  u64(v: bigint | number): void {
    this.reserve(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.length);
    this.length += 8;
  }
  i64(v: bigint | number): void {
    this.reserve(8);
    this.buf.writeBigInt64LE(BigInt(v), this.length);
    this.length += 8;
  }
  f32(v: number): void {
    this.reserve(4);
    this.buf.writeFloatLE(v, this.length);
    this.length += 4;
  }
  f64(v: number): void {
    this.reserve(8);
    this.buf.writeDoubleLE(v, this.length);
    this.length += 8;
  }
  str(s: string): void {
    const bytes = Buffer.from(s, "utf8");
    this.u64(bytes.length);
    this.reserve(bytes.length);
    bytes.copy(this.buf, this.length);
    this.length += bytes.length;
  }
  zeros(n: number): void {
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function writeScalar(sink: ByteSink, type: GGUFScalarType, v: unknown): void {
  switch (type) {
    case "u8":
      return sink.u8(v as number);
    case "i8":
      return sink.i8(v as number);
    case "u16":
      return sink.u16(v as number);
    case "i16":
      return sink.i16(v as number);
    case "u32":
      return sink.u32(v as number);
    case "i32":
      return sink.i32(v as number);
    case "f32":
      return sink.f32(v as number);
    case "f64":
      return sink.f64(v as number);
    case "u64":
      return sink.u64(v as bigint);
    case "i64":
      return sink.i64(v as bigint);
    case "bool":
      return sink.u8((v as boolean) ? 1 : 0);
    case "string":
      return sink.str(v as string);
  }
}

function writeValue(sink: ByteSink, value: GGUFValue): void {
  sink.i32(GGUF_VALUE_TYPE[value.type]);
  if (value.type === "array") {
    sink.i32(GGUF_VALUE_TYPE[value.itemType]);
    sink.u64(value.value.length);
    for (const item of value.value) writeScalar(sink, value.itemType, item);
  } else {
    writeScalar(sink, value.type, value.value);
  }
}

/** The alignment a reader will use: `general.alignment` when present (must be a u32 power of two). */
function alignmentOf(metadata: GGUFMetadata): number {
  const entry = metadata.find(([k]) => k === "general.alignment");
  if (entry === undefined) return GGUF_DEFAULT_ALIGNMENT;
  const v = entry[1];
  if (v.type !== "u32") throw new Error("general.alignment must be a u32");
  if (v.value <= 0 || (v.value & (v.value - 1)) !== 0) throw new Error(`general.alignment ${v.value} is not a power of 2`);
  return v.value;
}

function validate(metadata: GGUFMetadata, tensors: readonly GGUFTensorSpec[]): void {
  const keys = new Set<string>();
  for (const [k] of metadata) {
    if (k.length === 0) throw new Error("empty metadata key");
    if (keys.has(k)) throw new Error(`duplicate metadata key '${k}'`);
    keys.add(k);
  }
  const problem = metadataProblem(metadata);
  if (problem !== undefined) throw new Error(problem);
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`duplicate tensor name '${t.name}'`);
    names.add(t.name);
    // ggml stores names in a 64-byte field including the terminator.
    if (Buffer.byteLength(t.name, "utf8") >= 64) throw new Error(`tensor name too long: '${t.name}'`);
    if (t.shape.length < 1 || t.shape.length > 4) throw new Error(`tensor '${t.name}' must have 1..4 dims`);
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw new Error(`tensor '${t.name}' has bad dim ${d}`);
    }
    tensorBytes(t.shape, t.type);
  }
}

function buildHeader(
  metadata: GGUFMetadata,
  tensors: readonly GGUFTensorSpec[],
): { header: Buffer; layout: GGUFLayout } {
  validate(metadata, tensors);
  const alignment = alignmentOf(metadata);
  const sink = new ByteSink();
  sink.u32(GGUF_MAGIC);
  sink.u32(GGUF_VERSION);
  sink.i64(tensors.length);
  sink.i64(metadata.length);
  for (const [key, value] of metadata) {
    sink.str(key);
    writeValue(sink, value);
  }
  const placements: GGUFTensorPlacement[] = [];
  let offset = 0;
  for (const t of tensors) {
    const nbytes = tensorBytes(t.shape, t.type);
    sink.str(t.name);
    sink.u32(t.shape.length);
    for (const d of t.shape) sink.i64(d);
    sink.i32(t.type);
    sink.u64(offset);
    placements.push({ name: t.name, shape: [...t.shape], type: t.type, offset, nbytes });
    // The reader requires each offset to equal the padded running total, so pad after every tensor.
    offset += alignUp(nbytes, alignment);
  }
  if (tensors.length > 0) sink.zeros(alignUp(sink.length, alignment) - sink.length);
  const dataOffset = sink.length;
  return { header: sink.bytes(), layout: { dataOffset, alignment, tensors: placements, fileSize: dataOffset + offset } };
}

/** Computes where everything will go without writing anything (for size checks and tests). */
export function planGGUF(metadata: GGUFMetadata, tensors: readonly GGUFTensorSpec[]): GGUFLayout {
  return buildHeader(metadata, tensors).layout;
}

/** Encodes one float chunk to the tensor's element type. */
function encodeChunk(chunk: Float32Array, type: GGMLType): Uint8Array {
  switch (type) {
    case GGML_TYPE.F32:
      return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    case GGML_TYPE.F16: {
      const out = new Uint8Array(chunk.length * 2);
      encodeF16(chunk, out);
      return out;
    }
    case GGML_TYPE.Q8_0: {
      const out = new Uint8Array((chunk.length / QK8_0) * GGML_TYPE_TRAITS[GGML_TYPE.Q8_0].typeSize);
      encodeQ8_0(chunk, out);
      return out;
    }
  }
}

/** Batches small writes: per-row chunks of a tiny model would otherwise be thousands of syscalls. */
class FileSink {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  position = 0;
  constructor(
    private readonly fh: FileHandle,
    private readonly flushAt = 8 << 20,
  ) {}

  async write(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return;
    // Copy: a float chunk viewed as bytes may be a buffer the producer reuses for its next chunk.
    this.pending.push(Uint8Array.prototype.slice.call(bytes));
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= this.flushAt) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    let done = 0;
    while (done < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, done, buf.length - done, this.position + done);
      done += bytesWritten;
    }
    this.position += buf.length;
    this.pending = [];
    this.pendingBytes = 0;
  }
}

/**
 * Writes a GGUF v3 file: header first, then every tensor's data in order, each padded to the
 * alignment (`general.alignment` if given in `metadata`, else 32). Each tensor source must
 * produce exactly the tensor's byte size; a mismatch aborts the write with an error.
 * The file is written to `path` directly; {@link writeGGUFAtomically} never leaves a partial file.
 */
export async function writeGGUF(
  path: string,
  metadata: GGUFMetadata,
  tensors: readonly GGUFTensorSpec[],
  options: WriteGGUFOptions = {},
): Promise<GGUFLayout> {
  const { header, layout } = buildHeader(metadata, tensors);
  const fh = await open(path, "w");
  try {
    const sink = new FileSink(fh);
    await sink.write(header);
    for (let i = 0; i < tensors.length; i++) {
      const spec = tensors[i]!;
      const placement = layout.tensors[i]!;
      let written = 0;
      for await (const chunk of spec.data()) {
        if (chunk instanceof Float32Array) {
          if (spec.type === GGML_TYPE.Q8_0 && chunk.length % QK8_0 !== 0) {
            throw new Error(`tensor '${spec.name}': Q8_0 float chunks must hold whole blocks of ${QK8_0}`);
          }
          const bytes = encodeChunk(chunk, spec.type);
          written += bytes.length;
          if (written > placement.nbytes) break;
          await sink.write(bytes);
        } else {
          written += chunk.length;
          if (written > placement.nbytes) break;
          await sink.write(chunk);
        }
      }
      if (written !== placement.nbytes) {
        throw new Error(`tensor '${spec.name}': source produced ${written} bytes, expected ${placement.nbytes}`);
      }
      const pad = alignUp(placement.nbytes, layout.alignment) - placement.nbytes;
      if (pad > 0) await sink.write(new Uint8Array(pad));
      options.onTensor?.(i, placement);
    }
    await sink.flush();
    if (sink.position !== layout.fileSize) {
      throw new Error(`internal: wrote ${sink.position} bytes, planned ${layout.fileSize}`);
    }
  } finally {
    await fh.close();
  }
  return layout;
}

/**
 * {@link writeGGUF} to a temporary name beside `path`, renamed into place once complete: a crash,
 * a failure or an abort never leaves a truncated file under the real name.
 */
export async function writeGGUFAtomically(
  path: string,
  metadata: GGUFMetadata,
  tensors: readonly GGUFTensorSpec[],
  options: WriteGGUFOptions = {},
): Promise<GGUFLayout> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const layout = await writeGGUF(tmp, metadata, tensors, options);
    await rename(tmp, path);
    return layout;
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
