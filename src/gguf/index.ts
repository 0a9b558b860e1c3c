/**
 * GGUF tooling: a streaming writer, a header reader, and generators for random-weight
 * Qwen2.5-VL model pairs that llama.cpp loads like a converted VideoScore2.
 */
export * from "./types.js";
export * from "./encode.js";
export * from "./writer.js";
export * from "./reader.js";
export * from "./tokenizer.js";
export * from "./qwen25vl-metadata.js";
export * from "./tiny-model.js";
