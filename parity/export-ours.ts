/**
 * Writes our tiny random-weight Qwen2.5-VL pair for the parity goldens (see tiny-model-options.ts) into
 * the folder given, for make_tiny_hf.py to load into transformers.
 * Usage: npx tsx parity/export-ours.ts parity/.out/ours
 */
import { writeQwen25VLModels } from "../src/gguf/tiny-model.js";
import { PARITY_MODEL_OPTIONS } from "./tiny-model-options.js";

const dir = process.argv[2];
if (!dir) throw new Error("usage: export-ours.ts <dir>");
const w = await writeQwen25VLModels({ ...PARITY_MODEL_OPTIONS, dir });
console.log(JSON.stringify({ model: w.model, mmproj: w.mmproj, vocab: w.vocab.tokens.length, merges: w.vocab.merges.length }));
