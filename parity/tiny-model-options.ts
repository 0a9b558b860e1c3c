/**
 * The tiny model the parity goldens are computed on: our random-weight Qwen2.5-VL (src/gguf/tiny-model.ts,
 * TINY shapes, f32) with a 4-block vision tower instead of 2 — llama.cpp's convert_hf_to_gguf.py maps
 * `visual.merger.mlp.{bid}` only for bid < depth, so the merger's `mlp.2` needs depth >= 3 — and full
 * attention every 2nd block (fullatt_block_indexes [1, 3]), so windowed and full blocks alternate.
 * Same options, same bytes: test/addon/parity.test.ts regenerates it in CI; parity/make_tiny_hf.py loads
 * the same weights into transformers.
 */
import type { WriteModelsOptions } from "../src/gguf/tiny-model.js";

export const PARITY_MODEL_OPTIONS: Omit<WriteModelsOptions, "dir"> = {
  name: "parity-tiny",
  seed: 1,
  type: "f32",
  vision: { nLayer: 4, nWaPattern: 2 },
};
