/** The names of the modular build's libraries and CPU modules in `dir` (scripts/modular-libs.mjs). */
export function modularLibs(dir: string): string[];
