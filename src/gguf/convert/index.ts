/**
 * Hugging Face checkpoint → GGUF conversion (pure TypeScript, streaming).
 */
export * from "./safetensors.js";
export * from "./bf16.js";
export * from "./hf-vocab.js";
export * from "./qwen25vl.js";
