/**
 * A minimal PNG encoder for 8-bit RGB (what the sampler returns) and an area-average downscaler for
 * thumbnails. node:zlib does the deflate; nothing else is needed.
 */
import { deflateSync } from "node:zlib";
import { invalidOption } from "../addon/errors.js";

/** An RGB24 image: `width × height × 3` bytes, rows top to bottom. */
export interface RGBImage {
  width: number;
  height: number;
  rgb: Uint8Array;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309, as PNG chunks use). */
export function crc32(...parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const p of parts) for (let i = 0; i < p.length; i++) c = (CRC_TABLE[(c ^ (p[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "ascii");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(head.subarray(4), data), 0);
  return Buffer.concat([head, data, crc]);
}

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function checkImage(img: RGBImage): void {
  if (!Number.isInteger(img.width) || img.width < 1 || !Number.isInteger(img.height) || img.height < 1)
    throw invalidOption("image", "an image with integer width and height >= 1", `${img.width}x${img.height}`);
  if (img.rgb.length !== img.width * img.height * 3)
    throw invalidOption("image.rgb", `${img.width * img.height * 3} bytes (width × height × 3)`, img.rgb.length);
}

/**
 * Encodes RGB24 as a PNG (color type 2, bit depth 8). Each row gets the filter (None, Sub, Up,
 * Average, Paeth) with the smallest sum of absolute differences — the usual heuristic.
 */
export function encodePNG(img: RGBImage, level = 6): Buffer {
  checkImage(img);
  const { width, height, rgb } = img;
  const stride = width * 3;
  const out = Buffer.alloc((stride + 1) * height);
  const cand = [0, 1, 2, 3, 4].map(() => Buffer.alloc(stride));
  for (let y = 0; y < height; y++) {
    const row = rgb.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? rgb.subarray((y - 1) * stride, y * stride) : null;
    let best = 0;
    let bestSum = Infinity;
    for (let f = 0; f < 5; f++) {
      const c = cand[f] as Buffer;
      let sum = 0;
      for (let i = 0; i < stride; i++) {
        const x = row[i] as number;
        const a = i >= 3 ? (row[i - 3] as number) : 0;
        const b = prev ? (prev[i] as number) : 0;
        const cc = prev && i >= 3 ? (prev[i - 3] as number) : 0;
        let v: number;
        if (f === 0) v = x;
        else if (f === 1) v = x - a;
        else if (f === 2) v = x - b;
        else if (f === 3) v = x - ((a + b) >> 1);
        else {
          const p = a + b - cc;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - cc);
          v = x - (pa <= pb && pa <= pc ? a : pb <= pc ? b : cc);
        }
        v &= 0xff;
        c[i] = v;
        sum += v < 128 ? v : 256 - v;
      }
      if (sum < bestSum) {
        bestSum = sum;
        best = f;
      }
    }
    out[y * (stride + 1)] = best;
    (cand[best] as Buffer).copy(out, y * (stride + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // color type: truecolor
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering
  ihdr[12] = 0; // no interlace
  return Buffer.concat([PNG_SIGNATURE, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(out, { level })), chunk("IEND", new Uint8Array(0))]);
}

/** Width and height from a PNG's IHDR, or null when `buf` is not a PNG. */
export function pngSize(buf: Uint8Array): { width: number; height: number } | null {
  if (buf.length < 24 || !PNG_SIGNATURE.equals(Buffer.from(buf.subarray(0, 8)))) return null;
  if (Buffer.from(buf.subarray(12, 16)).toString("ascii") !== "IHDR") return null;
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/**
 * Downscales by area averaging (each output pixel is the mean of the source area it covers, with
 * fractional edge weights) so that the result fits in `maxWidth × maxHeight`, keeping the aspect
 * ratio. Never upscales.
 */
export function downscale(img: RGBImage, maxWidth: number, maxHeight = maxWidth): RGBImage {
  checkImage(img);
  const scale = Math.min(1, maxWidth / img.width, maxHeight / img.height);
  if (scale >= 1) return img;
  const w = Math.max(1, Math.round(img.width * scale));
  const h = Math.max(1, Math.round(img.height * scale));
  const sx = img.width / w;
  const sy = img.height / h;
  const out = new Uint8Array(w * h * 3);
  for (let oy = 0; oy < h; oy++) {
    const y0 = oy * sy;
    const y1 = y0 + sy;
    for (let ox = 0; ox < w; ox++) {
      const x0 = ox * sx;
      const x1 = x0 + sx;
      let r = 0;
      let g = 0;
      let b = 0;
      let wsum = 0;
      for (let y = Math.floor(y0); y < Math.min(img.height, Math.ceil(y1)); y++) {
        const wy = Math.min(y + 1, y1) - Math.max(y, y0);
        for (let x = Math.floor(x0); x < Math.min(img.width, Math.ceil(x1)); x++) {
          const wgt = wy * (Math.min(x + 1, x1) - Math.max(x, x0));
          const i = (y * img.width + x) * 3;
          r += wgt * (img.rgb[i] as number);
          g += wgt * (img.rgb[i + 1] as number);
          b += wgt * (img.rgb[i + 2] as number);
          wsum += wgt;
        }
      }
      const o = (oy * w + ox) * 3;
      out[o] = Math.round(r / wsum);
      out[o + 1] = Math.round(g / wsum);
      out[o + 2] = Math.round(b / wsum);
    }
  }
  return { width: w, height: h, rgb: out };
}
