/**
 * Element encoders for GGUF tensor data: IEEE half precision and ggml's Q8_0 blocks.
 * Results are bit-identical to ggml's reference conversions (round to nearest even for f16;
 * Q8_0 scale = amax/127 stored as f16, quants = round-half-away-from-zero of x/scale in float32),
 * so files written here compare byte for byte with files written by llama.cpp's tools.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Bits of a float32 as an unsigned 32-bit integer. */
export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

/** Converts IEEE float32 bits to IEEE float16 bits, rounding to nearest even. */
export function f32BitsToF16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const abs = bits & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00; // NaN: ggml emits a quiet NaN with the sign kept
  // 65520 is the midpoint between the largest half (65504) and 2^16; ties go to the even side, infinity.
  if (abs >= 0x477ff000) return sign | 0x7c00;
  if (abs >= 0x38800000) {
    // Normal half: rebias the exponent by (127 - 15) and drop 13 mantissa bits. A carry out of the
    // mantissa correctly bumps the exponent (and reaches infinity only at the checked limit).
    let h = (abs - 0x38000000) >>> 13;
    const rem = abs & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++;
    return sign | h;
  }
  // Subnormal half: the value in units of 2^-24 is m * 2^(e - 126).
  const e = abs >>> 23;
  const shift = 126 - e;
  if (shift > 24) return sign; // below half of the smallest subnormal
  const m = (abs & 0x7fffff) | (e === 0 ? 0 : 0x800000);
  let h = m >>> shift;
  const rem = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rem > half || (rem === half && (h & 1) === 1)) h++;
  return sign | h;
}

/** Converts a JS number to float16 bits (via float32, as a float tensor would be stored first). */
export function toF16(x: number): number {
  return f32BitsToF16(f32Bits(x));
}

/** Converts float16 bits to a JS number (exact). */
export function fromF16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 0x1f) return man === 0 ? sign * Infinity : NaN;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

/** Encodes float32 values as little-endian float16 into `out` (2 bytes each) starting at `offset`. */
export function encodeF16(src: Float32Array, out: Uint8Array, offset = 0): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  let o = offset;
  for (let i = 0; i < bits.length; i++) {
    const h = f32BitsToF16(bits[i]!);
    out[o++] = h & 0xff;
    out[o++] = h >>> 8;
  }
}

/** Elements per Q8_0 block. */
export const QK8_0 = 32;
/** Bytes per Q8_0 block: an f16 scale followed by 32 signed bytes. */
export const Q8_0_BLOCK_BYTES = 2 + QK8_0;

/** C `roundf`: halves go away from zero (Math.round sends -2.5 to -2). */
function roundHalfAway(v: number): number {
  const t = Math.trunc(v);
  return Math.abs(v - t) >= 0.5 ? t + Math.sign(v) : t;
}

/**
 * Quantizes float32 values to Q8_0 blocks into `out` starting at `offset`.
 * `src.length` must be a multiple of 32 (GGUF requires ne[0] to be, so rows never straddle blocks).
 */
export function encodeQ8_0(src: Float32Array, out: Uint8Array, offset = 0): void {
  if (src.length % QK8_0 !== 0) throw new Error(`Q8_0 needs a multiple of ${QK8_0} values, got ${src.length}`);
  const fround = Math.fround;
  let o = offset;
  for (let b = 0; b < src.length; b += QK8_0) {
    let amax = 0;
    for (let j = 0; j < QK8_0; j++) amax = Math.max(amax, Math.abs(src[b + j]!));
    // Every step rounds to float32 as the C reference does; double then float rounding of a single
    // float32 op is exact, so this matches bit for bit.
    const d = fround(amax / 127);
    const id = d !== 0 ? fround(1 / d) : 0;
    const h = toF16(d);
    out[o++] = h & 0xff;
    out[o++] = h >>> 8;
    for (let j = 0; j < QK8_0; j++) {
      const q = roundHalfAway(fround(src[b + j]! * id));
      out[o++] = q & 0xff;
    }
  }
}

/** Decodes Q8_0 blocks back to float32 values (scale * quant), for tests and checks. */
export function decodeQ8_0(bytes: Uint8Array): Float32Array {
  if (bytes.length % Q8_0_BLOCK_BYTES !== 0) throw new Error("Q8_0 data must be whole blocks");
  const nb = bytes.length / Q8_0_BLOCK_BYTES;
  const out = new Float32Array(nb * QK8_0);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < nb; b++) {
    const base = b * Q8_0_BLOCK_BYTES;
    const d = fromF16(view.getUint16(base, true));
    for (let j = 0; j < QK8_0; j++) out[b * QK8_0 + j] = d * view.getInt8(base + 2 + j);
  }
  return out;
}

/** Decodes little-endian float16 bytes to float32 values. */
export function decodeF16(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = fromF16(view.getUint16(i * 2, true));
  return out;
}
