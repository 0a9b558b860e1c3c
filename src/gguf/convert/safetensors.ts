/**
 * Streaming safetensors reader: the JSON header of each file is parsed up front (names, dtypes,
 * shapes, byte ranges), tensor data is read on demand through a file handle, a bounded span at a
 * time, so a multi-gigabyte checkpoint never has to fit in memory.
 *
 * Format (huggingface/safetensors): u64 little-endian header size N, N bytes of UTF-8 JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {…} }`, then the data;
 * offsets are relative to the first byte after the header. A sharded checkpoint lists its files in
 * `model.safetensors.index.json` (`weight_map`: tensor name → file name).
 */
import { openCheckpointFile, readCheckpointText } from "./regular-file.js";
import type { FileHandle } from "node:fs/promises";
import { basename, join } from "node:path";
import { VideoScoreError } from "../../addon/errors.js";
import { fromF16 } from "../encode.js";

/** Element types this reader converts to float32. */
export type SafetensorsDType = "BF16" | "F16" | "F32";

/** Bytes per element of every dtype the format defines (only the float ones are readable). */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

/** One tensor of a checkpoint. */
export interface SafetensorsTensor {
  name: string;
  dtype: string;
  /** Row-major (PyTorch) order: the last dimension varies fastest. */
  shape: number[];
  /** File that holds it. */
  file: string;
  /** Absolute byte offset of the data in `file`. */
  offset: number;
  nbytes: number;
}

/** Largest header accepted (the format's own limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

function loadError(path: string, what: string, cause?: unknown): VideoScoreError {
  return new VideoScoreError("ERR_MODEL_LOAD", `${path}: ${what}`, { path, ...(cause === undefined ? {} : { cause }) });
}

async function readExactly(fh: FileHandle, buf: Uint8Array, position: number, path: string): Promise<void> {
  let got = 0;
  while (got < buf.length) {
    const { bytesRead } = await fh.read(buf, got, buf.length - got, position + got);
    if (bytesRead === 0) throw loadError(path, `unexpected end of file at byte ${position + got} (truncated download?)`);
    got += bytesRead;
  }
}

/**
 * The format requires the tensors' byte ranges, in offset order, to cover the data section
 * exactly: no overlap (two tensors sharing bytes), no gap, nothing after the last. The reference
 * loader refuses anything else, so such a file is corrupt or crafted, never a checkpoint to convert.
 */
function checkTiling(path: string, tensors: readonly SafetensorsTensor[], dataStart: number, dataBytes: number): void {
  // An empty tensor owns no bytes, so wherever it points (inside the file: checked above) it is harmless.
  const sorted = tensors.filter((t) => t.nbytes > 0).sort((a, b) => a.offset - b.offset);
  const offsets = (t: SafetensorsTensor) => `[${t.offset - dataStart}, ${t.offset - dataStart + t.nbytes}]`;
  const again = "; the file is corrupt or forged, download it again";
  let end = 0;
  let prev: SafetensorsTensor | undefined;
  for (const t of sorted) {
    const begin = t.offset - dataStart;
    if (begin < end) throw loadError(path, `tensors '${prev!.name}' and '${t.name}' overlap (data_offsets ${offsets(prev!)} and ${offsets(t)})${again}`);
    if (begin > end) {
      const after = prev === undefined ? "before the first tensor" : `after '${prev.name}' ${offsets(prev)}`;
      throw loadError(path, `data bytes ${end}..${begin} belong to no tensor (${after}, before '${t.name}' ${offsets(t)})${again}`);
    }
    end = begin + t.nbytes;
    prev = t;
  }
  if (end !== dataBytes) {
    const last = prev === undefined ? "the header" : `the last tensor '${prev.name}' ${offsets(prev)}`;
    throw loadError(path, `${dataBytes - end} data bytes after ${last} belong to no tensor${again}`);
  }
}

/**
 * Parses the header of one safetensors file and checks every tensor's byte range against its
 * dtype, shape and the file size (a truncated file is refused here, before anything is written).
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsTensor[]> {
  let fh: FileHandle;
  try {
    fh = await openCheckpointFile(path);
  } catch (e) {
    if (e instanceof VideoScoreError) throw e;
    throw loadError(path, `cannot open (${(e as Error).message})`, e);
  }
  try {
    const { size } = await fh.stat();
    if (size < 8) throw loadError(path, `not a safetensors file (${size} bytes)`);
    const lenBuf = Buffer.alloc(8);
    await readExactly(fh, lenBuf, 0, path);
    const n = lenBuf.readBigUInt64LE(0);
    if (n < 2n || n > BigInt(MAX_HEADER_BYTES) || Number(n) > size - 8) {
      throw loadError(path, `not a safetensors file or truncated (header size ${n}, file size ${size})`);
    }
    const headerBuf = Buffer.alloc(Number(n));
    await readExactly(fh, headerBuf, 8, path);
    let header: unknown;
    try {
      header = JSON.parse(headerBuf.toString("utf8"));
    } catch (e) {
      throw loadError(path, `corrupt safetensors header (${(e as Error).message})`, e);
    }
    if (typeof header !== "object" || header === null || Array.isArray(header)) throw loadError(path, "safetensors header is not a JSON object");
    const dataStart = 8 + Number(n);
    const dataBytes = size - dataStart;
    const out: SafetensorsTensor[] = [];
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === "__metadata__") continue;
      const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof e !== "object" || e === null || typeof e.dtype !== "string" || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets) || e.data_offsets.length !== 2) {
        throw loadError(path, `tensor '${name}': malformed header entry`);
      }
      const shape = e.shape as unknown[];
      if (!shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) throw loadError(path, `tensor '${name}': bad shape ${JSON.stringify(shape)}`);
      const [begin, end] = e.data_offsets as unknown[];
      if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || (begin as number) < 0 || (end as number) < (begin as number)) {
        throw loadError(path, `tensor '${name}': bad data_offsets ${JSON.stringify(e.data_offsets)}`);
      }
      const elemBytes = DTYPE_BYTES[e.dtype];
      if (elemBytes === undefined) throw loadError(path, `tensor '${name}': unknown dtype '${e.dtype}'`);
      const numel = (shape as number[]).reduce((a, b) => a * b, 1);
      const nbytes = (end as number) - (begin as number);
      if (nbytes !== numel * elemBytes) {
        throw loadError(path, `tensor '${name}': ${nbytes} bytes for ${e.dtype} ${JSON.stringify(shape)} (expected ${numel * elemBytes})`);
      }
      if ((end as number) > dataBytes) {
        throw loadError(path, `truncated: tensor '${name}' ends at byte ${dataStart + (end as number)} but the file has ${size} bytes; download it again`);
      }
      out.push({ name, dtype: e.dtype, shape: shape as number[], file: path, offset: dataStart + (begin as number), nbytes });
    }
    checkTiling(path, out, dataStart, dataBytes);
    return out;
  } finally {
    await fh.close();
  }
}

/**
 * The tensors of a checkpoint folder: `model.safetensors.index.json` when present (every file it
 * names must exist and hold exactly the tensors it lists), else every `*.safetensors` file.
 */
export async function openCheckpointTensors(dir: string, files: readonly string[]): Promise<Map<string, SafetensorsTensor>> {
  const indexPath = join(dir, "model.safetensors.index.json");
  let shardNames: string[];
  let weightMap: Record<string, string> | undefined;
  if (files.includes("model.safetensors.index.json")) {
    let index: { weight_map?: unknown };
    try {
      index = JSON.parse(await readCheckpointText(indexPath)) as { weight_map?: unknown };
    } catch (e) {
      if (e instanceof VideoScoreError) throw e;
      throw loadError(indexPath, `unreadable index (${(e as Error).message})`, e);
    }
    if (typeof index.weight_map !== "object" || index.weight_map === null) throw loadError(indexPath, "no weight_map");
    weightMap = index.weight_map as Record<string, string>;
    shardNames = [...new Set(Object.values(weightMap))].sort();
    for (const s of shardNames) {
      if (typeof s !== "string" || s.includes("/") || s.includes("\\")) throw loadError(indexPath, `bad shard name ${JSON.stringify(s)}`);
      if (!files.includes(s)) throw loadError(join(dir, s), `missing: ${basename(indexPath)} lists it; download it`);
    }
  } else {
    shardNames = files.filter((f) => f.endsWith(".safetensors")).sort();
  }
  if (shardNames.length === 0) {
    throw new VideoScoreError("ERR_MODEL_LOAD", `${dir} has no *.safetensors weights (only safetensors checkpoints are supported)`, { path: dir });
  }
  const tensors = new Map<string, SafetensorsTensor>();
  for (const shard of shardNames) {
    const path = join(dir, shard);
    for (const t of await readSafetensorsHeader(path)) {
      if (tensors.has(t.name)) throw loadError(path, `tensor '${t.name}' is also in ${basename(tensors.get(t.name)!.file)}`);
      if (weightMap !== undefined && weightMap[t.name] !== shard) {
        throw loadError(path, `tensor '${t.name}' is not listed for this file in model.safetensors.index.json`);
      }
      tensors.set(t.name, t);
    }
  }
  if (weightMap !== undefined) {
    const missing = Object.keys(weightMap).filter((n) => !tensors.has(n));
    if (missing.length > 0) {
      throw loadError(indexPath, `${missing.length} tensor(s) listed in the index are missing from their files (first: '${missing[0]}' in ${weightMap[missing[0]!]})`);
    }
  }
  return tensors;
}

let f16Table: Float32Array | undefined;
/** float16 bits → float32, all 65536 of them. */
function halfTable(): Float32Array {
  if (f16Table === undefined) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = fromF16(h);
  }
  return f16Table;
}

/** Decodes raw little-endian elements of `dtype` into `out` (same count). */
export function decodeToF32(dtype: string, input: Uint8Array, out: Float32Array): void {
  const n = out.length;
  // Typed-array views need element alignment; copy the rare misaligned span.
  const bytes = input.byteOffset % 4 === 0 ? input : Uint8Array.prototype.slice.call(input);
  switch (dtype) {
    case "BF16": {
      const src = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
      const dst = new Uint32Array(out.buffer, out.byteOffset, n);
      for (let i = 0; i < n; i++) dst[i] = src[i]! << 16;
      return;
    }
    case "F16": {
      const table = halfTable();
      const src = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
      for (let i = 0; i < n; i++) out[i] = table[src[i]!]!;
      return;
    }
    case "F32":
      new Uint8Array(out.buffer, out.byteOffset, n * 4).set(bytes.subarray(0, n * 4));
      return;
    default:
      throw new Error(`cannot decode dtype ${dtype}`);
  }
}

/** A bounded view of a tensor's data: `count` elements starting at element `start`. */
export interface ElementSpan {
  start: number;
  count: number;
}

/**
 * Reads spans of raw tensor bytes one after another through a single file handle. The buffer is
 * reused between spans: consume each before asking for the next.
 */
export class TensorByteReader {
  private fh: FileHandle | undefined;
  private buf = new Uint8Array(0);

  constructor(readonly tensor: SafetensorsTensor) {}

  get elementBytes(): number {
    return DTYPE_BYTES[this.tensor.dtype]!;
  }

  /** Raw bytes of `count` elements from element `start` (valid until the next call). */
  async read(span: ElementSpan): Promise<Uint8Array> {
    const eb = this.elementBytes;
    const nbytes = span.count * eb;
    if (span.start < 0 || (span.start + span.count) * eb > this.tensor.nbytes) {
      throw new Error(`span ${span.start}+${span.count} outside tensor '${this.tensor.name}'`);
    }
    if (this.fh === undefined) {
      try {
        this.fh = await openCheckpointFile(this.tensor.file);
      } catch (e) {
        if (e instanceof VideoScoreError) throw e;
        throw loadError(this.tensor.file, `cannot open (${(e as Error).message})`, e);
      }
    }
    if (this.buf.length < nbytes) this.buf = new Uint8Array(nbytes);
    const out = this.buf.subarray(0, nbytes);
    await readExactly(this.fh, out, this.tensor.offset + span.start * eb, this.tensor.file);
    return out;
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }
}
