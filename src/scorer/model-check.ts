/**
 * Checks a text model + mmproj pair from their GGUF headers before llama.cpp sees them, so that the
 * common mistakes (missing file, not a GGUF, truncated download, files swapped, projector of another
 * model) get a precise error instead of a loader log line.
 */
import { stat } from "node:fs/promises";
import { VideoScoreError } from "../addon/errors.js";
import { guardProjector, guardTextModel, LoadGuardError } from "../gguf/load-guards.js";
import { getMetadata, readGGUF, type GGUFFile } from "../gguf/reader.js";

async function readHeader(path: string, role: string): Promise<GGUFFile> {
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new VideoScoreError("ERR_MODEL_LOAD", `The ${role} ${path} is not a regular file`, { path });
    size = s.size;
  } catch (e) {
    if (e instanceof VideoScoreError) throw e;
    throw new VideoScoreError("ERR_MODEL_LOAD", `The ${role} ${path} does not exist; check the path`, { path, cause: e });
  }
  let file: GGUFFile;
  try {
    file = await readGGUF(path);
  } catch (e) {
    throw new VideoScoreError(
      "ERR_MODEL_LOAD",
      `The ${role} ${path} is not a readable GGUF file (${(e as Error).message}); convert the checkpoint with llama.cpp's convert_hf_to_gguf.py or videoscore2 convert`,
      { path, cause: e },
    );
  }
  let end = file.dataOffset;
  for (const t of file.tensors) if (t.nbytes !== undefined) end = Math.max(end, t.fileOffset + t.nbytes);
  if (end > size)
    throw new VideoScoreError("ERR_MODEL_LOAD", `The ${role} ${path} is truncated: ${size} bytes, its tensors need ${end}; download or convert it again`, { path });
  return file;
}

/** Throws ERR_MODEL_LOAD or ERR_MODEL_MISMATCH unless `model` is a qwen2vl text model and `mmproj` its Qwen2.5-VL projector. */
export async function checkModelPair(model: string, mmproj: string): Promise<void> {
  const [text, vision] = await Promise.all([readHeader(model, "text model"), readHeader(mmproj, "mmproj")]);
  const textArch = String(getMetadata(text, "general.architecture") ?? "unknown");
  const visionArch = String(getMetadata(vision, "general.architecture") ?? "unknown");
  if (textArch === "clip" && visionArch !== "clip")
    throw new VideoScoreError("ERR_MODEL_MISMATCH", `model and mmproj are swapped: ${model} is a vision projector and ${mmproj} a '${visionArch}' model`, { path: model });
  if (textArch !== "qwen2vl")
    throw new VideoScoreError("ERR_MODEL_MISMATCH", `${model} is a '${textArch}' model; VideoScore2 needs its Qwen2.5-VL text model (architecture 'qwen2vl')`, { path: model });
  if (visionArch !== "clip")
    throw new VideoScoreError("ERR_MODEL_MISMATCH", `${mmproj} is a '${visionArch}' model, not a vision projector (architecture 'clip'); pass the mmproj file`, { path: mmproj });
  const projector = String(getMetadata(vision, "clip.projector_type") ?? "unknown");
  if (projector !== "qwen2.5vl_merger")
    throw new VideoScoreError("ERR_MODEL_MISMATCH", `${mmproj} is a '${projector}' projector; VideoScore2 needs 'qwen2.5vl_merger' (Qwen2.5-VL)`, { path: mmproj });
  const nEmbd = Number(getMetadata(text, "qwen2vl.embedding_length"));
  const projDim = Number(getMetadata(vision, "clip.vision.projection_dim"));
  if (nEmbd !== projDim)
    throw new VideoScoreError(
      "ERR_MODEL_MISMATCH",
      `${mmproj} projects to ${projDim} dimensions but ${model} has ${nEmbd}; the two files come from different checkpoints`,
      { path: mmproj },
    );
  // What llama.cpp and mtmd would abort the process on (src/gguf/load-guards.ts).
  for (const [path, guard] of [
    [model, () => guardTextModel(text)],
    [mmproj, () => guardProjector(vision, nEmbd)],
  ] as const) {
    try {
      guard();
    } catch (e) {
      if (!(e instanceof LoadGuardError)) throw e;
      throw new VideoScoreError(
        "ERR_MODEL_LOAD",
        `${path} cannot be loaded: ${e.message.includes(e.key) ? e.message : `${e.key}: ${e.message}`}. The file is damaged or was not converted from a Qwen2.5-VL checkpoint; convert it again (videoscore2 convert)`,
        { path, cause: e },
      );
    }
  }
}
