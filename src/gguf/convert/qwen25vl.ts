/**
 * Hugging Face Qwen2.5-VL checkpoint (VideoScore2 is one) → the GGUF pair llama.cpp/mtmd load, in
 * pure TypeScript: the checkpoint is read (checkpoint.ts), both files are planned before anything
 * is written (plan.ts), then each is written with its tensors streamed from the shards
 * (tensor-data.ts) under a temporary name, renamed once complete.
 */
import { mkdir } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { VideoScoreError } from "../../addon/errors.js";
import type { GGUFMetadata } from "../types.js";
import { writeGGUFAtomically } from "../writer.js";
import type { GGUFLayout, GGUFTensorSpec } from "../writer.js";
import { inspectQwen25VL } from "./checkpoint.js";
import type { Qwen25VLCheckpoint } from "./checkpoint.js";
import { CONVERT_TYPES, planMmproj, planTextModel } from "./plan.js";
import type { ConvertType } from "./plan.js";
import { tensorSpecs } from "./tensor-data.js";
import type { ConvertProgress } from "./tensor-data.js";

/** Options of {@link convertQwen25VL}. */
export interface ConvertOptions {
  /** The Hugging Face checkpoint folder. */
  input: string;
  /** Output folder (created). */
  outDir: string;
  /** File stem and `general.name` (default: the folder's name). */
  name?: string;
  /** Weight storage type of both files (default "f16"). */
  type?: ConvertType;
  /** Weight storage type of the mmproj (default: `type`). */
  mmprojType?: ConvertType;
  /** Output file names (default `<name>-<type>.gguf`, `mmproj-<name>-<mmprojType>.gguf`). */
  modelFile?: string;
  mmprojFile?: string;
  /** Skip one of the files. */
  only?: "model" | "mmproj";
  onProgress?: (p: ConvertProgress) => void;
  signal?: AbortSignal;
}

/** What {@link convertQwen25VL} wrote. */
export interface ConvertResult {
  model?: { path: string; layout: GGUFLayout };
  mmproj?: { path: string; layout: GGUFLayout };
  checkpoint: Qwen25VLCheckpoint;
}

/** Writes one file atomically; file-system failures (no space, permissions) are the caller's to fix, anything else is ours. */
async function writeFile(path: string, metadata: GGUFMetadata, specs: GGUFTensorSpec[]): Promise<GGUFLayout> {
  try {
    return await writeGGUFAtomically(path, metadata, specs);
  } catch (e) {
    if (e instanceof VideoScoreError) throw e;
    // Only a system call's failure is the file system's; Node's own codes (ERR_OUT_OF_RANGE) are ours.
    if (typeof (e as NodeJS.ErrnoException).syscall === "string") throw new VideoScoreError("ERR_MODEL_LOAD", `cannot write ${path}: ${(e as Error).message}`, { path, cause: e });
    throw new VideoScoreError("ERR_INTERNAL", `writing ${path} failed: ${(e as Error).message}`, { path, cause: e });
  }
}

/** The default file stem: the checkpoint folder's name. */
export function defaultModelName(dir: string): string {
  return basename(resolve(dir));
}

/** Creates the output folder, or says in one line why it cannot be one (a file there, no permission). */
async function makeOutDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "EEXIST" || code === "ENOTDIR"
        ? "is a file (or lies under one), not a folder"
        : code === "EACCES" || code === "EPERM" || code === "EROFS"
          ? "cannot be created here (no permission, or a read-only file system)"
          : `cannot be created (${code ?? String(e)})`;
    throw new VideoScoreError("ERR_INVALID_OPTION", `The output folder ${JSON.stringify(dir)} ${why}; give --out (outDir) a folder that exists or can be created`, { cause: e });
  }
}

/**
 * Converts a Hugging Face Qwen2.5-VL checkpoint into `<name>-<type>.gguf` (text) and
 * `mmproj-<name>-<type>.gguf` (vision) in `outDir`.
 * @throws VideoScoreError ERR_MODEL_MISMATCH (not Qwen2.5-VL, unexpected shapes/tensors),
 *   ERR_MODEL_LOAD (missing/truncated/corrupt files), ERR_ABORTED, ERR_INTERNAL (write failure)
 */
export async function convertQwen25VL(options: ConvertOptions): Promise<ConvertResult> {
  const type = options.type ?? "f16";
  const mmprojType = options.mmprojType ?? type;
  for (const t of [type, mmprojType]) {
    if (!CONVERT_TYPES.includes(t)) throw new VideoScoreError("ERR_INVALID_OPTION", `Expected type to be ${CONVERT_TYPES.join(" | ")} but received ${JSON.stringify(t)}`);
  }
  const ckpt = await inspectQwen25VL(options.input);
  const name = options.name ?? defaultModelName(ckpt.dir);
  // Plan both before writing anything: a mapping problem is reported before hours of I/O.
  const textPlan = options.only === "mmproj" ? undefined : planTextModel(ckpt, type, name);
  const visionPlan = options.only === "model" ? undefined : planMmproj(ckpt, mmprojType, name);
  await makeOutDir(options.outDir);
  const result: ConvertResult = { checkpoint: ckpt };
  if (textPlan !== undefined) {
    const path = join(options.outDir, options.modelFile ?? `${name}-${type}.gguf`);
    result.model = { path, layout: await writeFile(path, textPlan.metadata, tensorSpecs(textPlan.tensors, "model", options)) };
  }
  if (visionPlan !== undefined) {
    const path = join(options.outDir, options.mmprojFile ?? `mmproj-${name}-${mmprojType}.gguf`);
    result.mmproj = { path, layout: await writeFile(path, visionPlan.metadata, tensorSpecs(visionPlan.tensors, "mmproj", options)) };
  }
  return result;
}

