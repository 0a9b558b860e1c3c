/**
 * VideoGen-RewardBench: a CSV of pairs `path_A, path_B, A_model, B_model, prompt, VQ, MQ, TA,
 * Overall, …` labelled `A` / `B` / `same`. Pairwise accuracy only, as `get_pairwise_acc.py`:
 * VQ on the visual score, TA on the alignment score, Overall on the sum of the three; MQ is unused.
 * A video's id is its file name without `.mp4`. Unlike the reference's loader, every data row's
 * videos are scored (it drops the CSV's first data row when listing videos).
 */
import { dirname, resolve } from "node:path";
import type { Preference } from "../metrics.js";
import { emptyMetrics, pairwiseBoth, withAverages, type LabelledPair } from "./compute.js";
import { benchError, field, videoId, videoPath } from "./fields.js";
import type { Benchmark, BenchVideo, ModelScores } from "./types.js";

interface Pair {
  a: string;
  b: string;
  vq: Preference;
  ta: Preference;
  overall: Preference;
}

function label(v: unknown, file: string, where: string, column: string): Preference {
  const s = typeof v === "string" ? v.trim() : v;
  if (s === "A") return 1;
  if (s === "B") return -1;
  if (s === "same") return 0;
  return benchError(file, `${where}: ${column} is ${JSON.stringify(v)}; expected A, B or same`);
}

/** Reads VideoGen-RewardBench rows. */
export function videogenRewardBenchmark(records: readonly Record<string, unknown>[], file: string, videosDir?: string): Benchmark {
  const dir = dirname(resolve(file));
  const videos = new Map<string, BenchVideo>();
  const pairs: Pair[] = records.map((r, i) => {
    const where = `row ${i + 2}`; // the header is row 1
    const pa = field(r, "path_A");
    const pb = field(r, "path_B");
    const prompt = field(r, "prompt");
    if (typeof pa !== "string" || typeof pb !== "string") benchError(file, `${where} lacks path_A or path_B`);
    if (typeof prompt !== "string") benchError(file, `${where} has no prompt`);
    const a = videoId(pa);
    const b = videoId(pb);
    if (!videos.has(a)) videos.set(a, { id: a, video: videoPath(pa, dir, videosDir), prompt });
    if (!videos.has(b)) videos.set(b, { id: b, video: videoPath(pb, dir, videosDir), prompt });
    return { a, b, vq: label(r.VQ, file, where, "VQ"), ta: label(r.TA, file, where, "TA"), overall: label(r.Overall, file, where, "Overall") };
  });
  return {
    name: "videogen-rewardbench",
    file,
    videos: [...videos.values()],
    evaluate(scores, options) {
      const usable: { A: ModelScores; B: ModelScores; p: Pair }[] = [];
      for (const p of pairs) {
        const A = scores.get(p.a);
        const B = scores.get(p.b);
        if (A && B) usable.push({ A, B, p });
      }
      const on = (f: (s: ModelScores) => number, g: (p: Pair) => Preference): LabelledPair[] => usable.map(({ A, B, p }) => ({ a: f(A), b: f(B), human: g(p) }));
      const sum = (s: ModelScores) => s.visualQuality + s.textAlignment + s.physicalConsistency;
      const m = emptyMetrics();
      m.dimensions.visualQuality = { ...m.dimensions.visualQuality, ...pairwiseBoth(on((s) => s.visualQuality, (p) => p.vq), options.tieDimension) };
      m.dimensions.textAlignment = { ...m.dimensions.textAlignment, ...pairwiseBoth(on((s) => s.textAlignment, (p) => p.ta), options.tieDimension) };
      m.overall = { ...m.overall, ...pairwiseBoth(on(sum, (p) => p.overall), options.tieSum) };
      return { metrics: withAverages(m), measured: usable.length, skipped: pairs.length - usable.length, total: pairs.length, unit: "pairs" };
    },
  };
}
