/**
 * quantize(): llama.cpp's quantizer, in-process through the addon (what `llama-quantize` does), for
 * the text model. The mmproj stays as converted (F16/Q8_0).
 */
import { loadAddon } from "../addon/loader.js";
import { invalidOption, VideoScoreError } from "../addon/errors.js";

/** Quantization types accepted by {@link quantize}. */
export const QUANT_TYPES = ["Q4_K_M", "Q4_K_S", "Q5_K_M", "Q5_K_S", "Q6_K", "Q8_0", "Q3_K_M", "Q4_0", "Q5_0", "F16", "BF16"] as const;
/** One of {@link QUANT_TYPES}. */
export type QuantType = (typeof QUANT_TYPES)[number];

/** Options of {@link quantize}. */
export interface QuantizeOptions {
  /** Threads (default: one per core). */
  threads?: number;
  /** Called after each tensor: `done` of `total`. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Quantizes a text model GGUF (`qwen2vl`) to `type`, writing `output`.
 * @throws VideoScoreError ERR_INVALID_OPTION (unknown type), ERR_MODEL_LOAD (unreadable input, write failure)
 */
export async function quantize(input: string, output: string, type: QuantType, options: QuantizeOptions = {}): Promise<void> {
  if (typeof input !== "string" || input === "") throw invalidOption("input", "a path", input);
  if (typeof output !== "string" || output === "") throw invalidOption("output", "a path", output);
  if (!QUANT_TYPES.includes(type)) throw invalidOption("type", QUANT_TYPES.join(" | "), type);
  if (input === output) throw new VideoScoreError("ERR_INVALID_OPTION", "Expected output to differ from input");
  const { addon } = loadAddon();
  await addon.quantize({ input, output, type, threads: options.threads ?? 0 }, (e) => {
    if (e.type === "progress") options.onProgress?.(e.done, e.total);
  });
}
