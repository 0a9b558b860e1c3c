/**
 * The data of a planned tensor, streamed: bounded spans of its safetensors source are read,
 * converted to the planned storage type and handed to the GGUF writer one chunk at a time, so
 * memory stays flat whatever the checkpoint's size.
 */
import { abortError } from "../../addon/errors.js";
import { GGML_TYPE } from "../types.js";
import type { GGUFTensorSpec, TensorChunks } from "../writer.js";
import { bf16ToF16Table, encodeBF16, f16ToBF16Table, GGML_TYPE_BF16, mapHalves } from "./bf16.js";
import type { PlannedTensor } from "./plan.js";
import { decodeToF32, TensorByteReader } from "./safetensors.js";

/** Progress of convertQwen25VL: after each chunk of source data is consumed. */
export interface ConvertProgress {
  file: "model" | "mmproj";
  /** Tensor being written, its index and the file's tensor count. */
  tensor: string;
  index: number;
  count: number;
  /** Source bytes consumed so far in this file, of its total. */
  bytesDone: number;
  bytesTotal: number;
}

/** Elements read per span: 1M (2 MB of bf16); whole rows, so Q8_0 chunks hold whole blocks. */
const CHUNK_ELEMENTS = 1 << 20;

/** Streams one planned tensor: reads bounded spans of its source, yields encoded chunks. */
async function* tensorChunks(
  t: PlannedTensor,
  signal: AbortSignal | undefined,
  onBytes: (n: number) => void,
): AsyncGenerator<Float32Array | Uint8Array> {
  const reader = new TensorByteReader(t.source);
  const dtype = t.source.dtype;
  const eb = reader.elementBytes;
  const rowLen = t.shape[0]!;
  // Output buffers are reused from chunk to chunk: the writer copies each chunk before it asks
  // for the next one.
  let f32 = new Float32Array(0);
  let halves = new Uint16Array(0);
  const mapped = (raw: Uint8Array, table: Uint16Array): Uint8Array => {
    if (halves.length < raw.length >>> 1) halves = new Uint16Array(raw.length >>> 1);
    return mapHalves(raw, table, halves);
  };
  const encode = (raw: Uint8Array, n: number): Float32Array | Uint8Array => {
    const outType = t.type as number;
    if (outType === GGML_TYPE.F16 && dtype === "BF16") return mapped(raw, bf16ToF16Table());
    if (outType === GGML_TYPE.F16 && dtype === "F16") return raw;
    if (outType === GGML_TYPE_BF16 && dtype === "BF16") return raw;
    if (outType === GGML_TYPE_BF16 && dtype === "F16") return mapped(raw, f16ToBF16Table());
    if (f32.length < n) f32 = new Float32Array(n);
    const vals = f32.subarray(0, n);
    decodeToF32(dtype, raw, vals);
    if (outType === GGML_TYPE_BF16) {
      const out = new Uint8Array(n * 2);
      encodeBF16(vals, out);
      return out;
    }
    return vals; // F32, F16 (the writer encodes), Q8_0 (whole rows: whole blocks)
  };
  try {
    const ex = t.extract;
    if (ex.kind === "range") {
      const rowsPerChunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / rowLen));
      const step = rowsPerChunk * rowLen;
      for (let done = 0; done < ex.count; done += step) {
        if (signal?.aborted) throw abortError(signal);
        const n = Math.min(step, ex.count - done);
        const raw = await reader.read({ start: ex.start + done, count: n });
        onBytes(n * eb);
        yield encode(raw, n);
      }
    } else {
      const groupsPerChunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / (ex.inner * ex.kt)));
      let picked = new Uint8Array(0);
      for (let o = 0; o < ex.outer; o += groupsPerChunk) {
        if (signal?.aborted) throw abortError(signal);
        const g = Math.min(groupsPerChunk, ex.outer - o);
        const raw = await reader.read({ start: o * ex.kt * ex.inner, count: g * ex.kt * ex.inner });
        onBytes(raw.length);
        const innerBytes = ex.inner * eb;
        if (picked.length < g * innerBytes) picked = new Uint8Array(g * innerBytes);
        for (let i = 0; i < g; i++) {
          const from = (i * ex.kt + ex.t) * innerBytes;
          picked.set(raw.subarray(from, from + innerBytes), i * innerBytes);
        }
        yield encode(picked.subarray(0, g * innerBytes), g * ex.inner);
      }
    }
  } finally {
    await reader.close();
  }
}

/** The writer's view of a plan: each tensor's data streams from its source when its turn comes. */
export function tensorSpecs(tensors: PlannedTensor[], file: "model" | "mmproj", opts: { onProgress?: (p: ConvertProgress) => void; signal?: AbortSignal } = {}): GGUFTensorSpec[] {
  let bytesDone = 0;
  const bytesTotal = tensors.reduce((a, t) => a + t.sourceBytes, 0);
  return tensors.map((t, index) => ({
    name: t.name,
    shape: t.shape,
    type: t.type,
    data: (): TensorChunks =>
      tensorChunks(t, opts.signal, (n) => {
        bytesDone += n;
        opts.onProgress?.({ file, tensor: t.name, index, count: tensors.length, bytesDone, bytesTotal });
      }),
  }));
}
