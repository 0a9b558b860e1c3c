import { defineConfig } from "tsup";

export default defineConfig({
  entry: { index: "src/index.ts", "cli/main": "src/cli/main.ts" },
  format: ["esm", "cjs"],
  // Our types name Buffer and AsyncDisposable: an app whose tsconfig lists no "types" (TypeScript 6+
  // includes none by default) still gets Node's.
  dts: { entry: { index: "src/index.ts" }, banner: '/// <reference types="node" />' },
  shims: true,
  target: "node20",
  clean: true,
  sourcemap: true,
  splitting: false,
});
