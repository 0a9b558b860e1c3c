/**
 * `npm run bench [-- name…]`: runs benchmarks one after the other (never in parallel: they time
 * the machine). Default: sampler and score. Names: sampler, score, hostile, leak.
 * GPU benchmarks live in bench/gpu/ (bash bench/gpu/run.sh on a machine with an NVIDIA GPU).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const BENCHES: Record<string, string> = {
  sampler: "sampler.bench.ts",
  score: "score.bench.ts",
  hostile: "hostile.bench.ts",
  leak: "leak.bench.ts",
};
const names = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const chosen = names.length ? names : ["sampler", "score"];
for (const n of chosen) {
  const file = BENCHES[n];
  if (!file) {
    console.error(`bench: unknown benchmark "${n}"; choose from ${Object.keys(BENCHES).join(", ")}`);
    process.exit(2);
  }
  console.log(`\n## ${n}\n`);
  const r = spawnSync(process.execPath, ["--import", "tsx", join(import.meta.dirname, file)], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
