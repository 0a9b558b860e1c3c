/**
 * bfloat16 for the converter: the ggml type id, its size traits, and bit-exact conversions
 * (ggml_compute_fp32_to_bf16: round to nearest even, NaN kept quiet), plus 65536-entry tables that
 * turn one 16-bit float format into another without going through a float per element.
 */
import { f32BitsToF16, fromF16 } from "../encode.js";
import { GGML_TYPE_TRAITS } from "../types.js";
import type { GGMLType } from "../types.js";

/** `GGML_TYPE_BF16` in ggml.h. */
export const GGML_TYPE_BF16 = 30;

/**
 * Teaches the shared GGUF tables (writer sizes, reader nbytes) that type 30 is a 2-byte float,
 * once. BF16 tensors are always handed to the writer as already-encoded bytes, so the writer's
 * float encoders never see the type.
 */
export function registerBF16(): GGMLType {
  const traits = GGML_TYPE_TRAITS as Record<number, { name: string; blockSize: number; typeSize: number }>;
  const have = traits[GGML_TYPE_BF16];
  if (have === undefined) traits[GGML_TYPE_BF16] = { name: "bf16", blockSize: 1, typeSize: 2 };
  else if (have.blockSize !== 1 || have.typeSize !== 2) throw new Error(`ggml type ${GGML_TYPE_BF16} is registered with unexpected traits`);
  return GGML_TYPE_BF16 as GGMLType;
}

/** float32 bits → bfloat16 bits, as ggml does it. */
export function f32BitsToBF16(bits: number): number {
  const u = bits >>> 0;
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff; // quiet NaN, sign kept
  return ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16) & 0xffff;
}

/** bfloat16 bits → number (exact). */
export function fromBF16(h: number): number {
  const u = new Uint32Array([h << 16]);
  return new Float32Array(u.buffer)[0]!;
}

/** Encodes float32 values as little-endian bfloat16 into `out` (2 bytes each). */
export function encodeBF16(src: Float32Array, out: Uint8Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const dst = new Uint16Array(out.buffer, out.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = f32BitsToBF16(bits[i]!);
}

/** Decodes little-endian bfloat16 bytes to float32 values. */
export function decodeBF16(bytes: Uint8Array): Float32Array {
  const n = bytes.length >>> 1;
  const src = new Uint16Array(Uint8Array.prototype.slice.call(bytes, 0, n * 2).buffer);
  const out = new Float32Array(n);
  const dst = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) dst[i] = src[i]! << 16;
  return out;
}

let bf16ToF16: Uint16Array | undefined;
let f16ToBF16: Uint16Array | undefined;

/** bf16 bits → f16 bits, via float32 exactly as the writer's f16 encoder rounds. */
export function bf16ToF16Table(): Uint16Array {
  if (bf16ToF16 === undefined) {
    bf16ToF16 = new Uint16Array(65536);
    for (let h = 0; h < 65536; h++) bf16ToF16[h] = f32BitsToF16((h << 16) >>> 0);
  }
  return bf16ToF16;
}

/** f16 bits → bf16 bits (f16 → f32 is exact, then ggml's rounding). */
export function f16ToBF16Table(): Uint16Array {
  if (f16ToBF16 === undefined) {
    f16ToBF16 = new Uint16Array(65536);
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (let h = 0; h < 65536; h++) {
      f[0] = fromF16(h);
      // fromF16 returns NaN without payload; keep f16 NaNs as bf16 quiet NaNs with the sign.
      f16ToBF16[h] = Number.isNaN(f[0]) ? (h & 0x8000) | 0x7fc0 : f32BitsToBF16(u[0]!);
    }
  }
  return f16ToBF16;
}

/** Maps 16-bit elements through a table, into `into` when it is large enough (else a fresh array). */
export function mapHalves(bytes: Uint8Array, table: Uint16Array, into?: Uint16Array): Uint8Array {
  const n = bytes.length >>> 1;
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : Uint8Array.prototype.slice.call(bytes);
  const src = new Uint16Array(aligned.buffer, aligned.byteOffset, n);
  const out = into !== undefined && into.length >= n ? into : new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = table[src[i]!]!;
  return new Uint8Array(out.buffer, out.byteOffset, n * 2);
}
