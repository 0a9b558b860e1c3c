/**
 * Hugging Face checkpoint → GGUF conversion (pure TypeScript, streaming).
 */
export * from "./safetensors.js";
export * from "./bf16.js";
export * from "./hf-vocab.js";
export * from "./checkpoint.js";
export * from "./plan.js";
export * from "./tensor-data.js";
export * from "./qwen25vl.js";
