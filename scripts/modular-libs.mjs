// The files of the modular CPU build that sit beside videoscore2.node (docs/backends.md): llama.cpp's
// shared libraries (libvs2-*.so) and the CPU backend modules (libggml-cpu-<level>.so). The build, the
// prebuilds, the npm packages and the tests that lay out a package copy all take the same set.
import { readdirSync } from "node:fs";

const MODULAR_LIB = /^lib(vs2-|ggml-cpu-).*\.so$/;

/** The names of those files in `dir`. */
export function modularLibs(dir) {
  return readdirSync(dir).filter((n) => MODULAR_LIB.test(n));
}
