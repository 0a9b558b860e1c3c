/**
 * Random-weight Qwen2.5-VL model pairs (text GGUF + mmproj GGUF) laid out exactly as
 * convert_hf_to_gguf writes them, so llama.cpp/mtmd load them through the same code paths as a
 * converted VideoScore2. Shapes: src/gguf/tiny-hparams.ts (TINY for tests, SEVEN_B for the real
 * sizes); tensors: src/gguf/tiny-tensors.ts; metadata keys: src/gguf/qwen25vl-metadata.ts, shared
 * with the converter. The data streams, so memory stays flat even for SEVEN_B.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { clipMetadata, fileHeader, qwen2vlMetadata } from "./qwen25vl-metadata.js";
import { checkText, checkVision, TINY } from "./tiny-hparams.js";
import type { ModelFileType, TextHparams, VisionHparams } from "./tiny-hparams.js";
import { textTensors, visionTensors } from "./tiny-tensors.js";
import { buildQwenVocab, vocabMetadata } from "./tokenizer.js";
import type { QwenVocab } from "./tokenizer.js";
import { kv } from "./types.js";
import type { GGUFMetadata } from "./types.js";
import { writeGGUFAtomically } from "./writer.js";
import type { GGUFLayout } from "./writer.js";

export { SEVEN_B, TINY } from "./tiny-hparams.js";
export type { ModelFileType, TextHparams, VisionHparams } from "./tiny-hparams.js";
export { textTensors, visionTensors } from "./tiny-tensors.js";

/** Metadata of the text GGUF, in the converter's order. */
export function textMetadata(h: TextHparams, vocab: QwenVocab, fileType: ModelFileType, name: string): GGUFMetadata {
  return [
    ...fileHeader("qwen2vl"),
    ["general.name", kv.str(name)],
    ...qwen2vlMetadata({ ...h, ropeTheta: h.ropeFreqBase }, fileType),
    ...vocabMetadata(vocab),
  ];
}

/** Metadata of the mmproj GGUF, in the converter's order. */
export function visionMetadata(v: VisionHparams, projectionDim: number, fileType: ModelFileType, name: string): GGUFMetadata {
  return [...fileHeader("clip"), ["general.name", kv.str(name)], ...clipMetadata(v, projectionDim, fileType)];
}

/** Options of {@link writeQwen25VLModels}. */
export interface WriteModelsOptions {
  dir: string;
  /** File stem; files are `<name>.gguf` and `mmproj-<name>.gguf` (default "tiny-qwen2.5-vl"). */
  name?: string;
  seed?: number;
  /** Overrides on top of {@link TINY}.text (pass `SEVEN_B.text` for the full-size model). */
  text?: Partial<TextHparams>;
  /** Overrides on top of {@link TINY}.vision. */
  vision?: Partial<VisionHparams>;
  /** The BPE vocabulary's merges (default 400; 0 spells every text a byte per token). */
  merges?: number;
  /** Storage type of weight matrices (default "f32"); norms and biases are always F32. */
  type?: ModelFileType;
  /** Progress hook, called after each tensor is written. */
  onTensor?: (file: "model" | "mmproj", index: number, count: number, name: string) => void;
}

/** Paths and layouts of the written pair. */
export interface WrittenModels {
  model: string;
  mmproj: string;
  textHparams: TextHparams;
  visionHparams: VisionHparams;
  vocab: QwenVocab;
  layouts: { model: GGUFLayout; mmproj: GGUFLayout };
}

/**
 * Writes a random-weight Qwen2.5-VL text model (arch `qwen2vl`) and its mmproj (arch `clip`,
 * projector `qwen2.5vl_merger`) into `dir`. Same options, same bytes.
 */
export async function writeQwen25VLModels(opts: WriteModelsOptions): Promise<WrittenModels> {
  const name = opts.name ?? "tiny-qwen2.5-vl";
  const seed = opts.seed ?? 1;
  const fileType = opts.type ?? "f32";
  const text: TextHparams = { ...TINY.text, ...opts.text };
  const vision: VisionHparams = { ...TINY.vision, ...opts.vision };
  checkText(text);
  const projectionDim = vision.projectionDim ?? text.nEmbd;
  checkVision(vision, projectionDim);
  if (projectionDim !== text.nEmbd) {
    throw new Error(`vision projection dim ${projectionDim} must equal text n_embd ${text.nEmbd}`);
  }
  const vocab = buildQwenVocab({
    ...(text.vocabSize === undefined ? {} : { padTo: text.vocabSize }),
    ...(opts.merges === undefined ? {} : { merges: opts.merges }),
  });

  await mkdir(opts.dir, { recursive: true });
  const model = join(opts.dir, `${name}.gguf`);
  const mmproj = join(opts.dir, `mmproj-${name}.gguf`);
  const textSpecs = textTensors(text, vocab.tokens.length, fileType, seed);
  const visionSpecs = visionTensors(vision, projectionDim, fileType, seed ^ 0x5bd1e995);
  const modelLayout = await writeGGUFAtomically(model, textMetadata(text, vocab, fileType, name), textSpecs, {
    onTensor: (i, t) => opts.onTensor?.("model", i, textSpecs.length, t.name),
  });
  const mmprojLayout = await writeGGUFAtomically(mmproj, visionMetadata(vision, projectionDim, fileType, name), visionSpecs, {
    onTensor: (i, t) => opts.onTensor?.("mmproj", i, visionSpecs.length, t.name),
  });
  return {
    model,
    mmproj,
    textHparams: text,
    visionHparams: { ...vision, projectionDim },
    vocab,
    layouts: { model: modelLayout, mmproj: mmprojLayout },
  };
}
