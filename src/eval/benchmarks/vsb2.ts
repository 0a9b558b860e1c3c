/**
 * VideoScore-Bench-v2: point scores 1–5 per video and dimension (`video_name`, `prompt`,
 * `visual_score`, `t2v_score`, `phy_score`; also the reference's results layout with `v/t/p_score_gt`).
 * Rules of `get_acc_corr.py` for float scores: accuracy and relaxed accuracy (±1) on
 * `int(clip(round(x), 1, 5))`, PLCC/SRCC on the raw score, whole-item accuracy (all three exact).
 */
import { benchItemsFromRecords, type BenchItem } from "../bench-file.js";
import { METRIC_DIMENSIONS } from "../metrics.js";
import { withAverages } from "./compute.js";
import { keptItems, pointMetrics, sumOverall, type PointItem, type PointRules } from "./point.js";
import type { Benchmark, BenchVideo } from "./types.js";

/** Reads VideoScore-Bench-v2 records. */
export function vsb2Benchmark(records: readonly Record<string, unknown>[], file: string, videosDir?: string): Benchmark & { items: BenchItem[] } {
  const items = benchItemsFromRecords(records, file, { videosDir });
  const videos = new Map<string, BenchVideo>();
  for (const it of items) if (!videos.has(it.id)) videos.set(it.id, { id: it.id, video: it.video, prompt: it.prompt });
  const point: PointItem[] = items.map((it) => ({ id: it.id, prompt: it.prompt, human: it.human }));
  return {
    name: "vsb2",
    file,
    items,
    videos: [...videos.values()],
    humanScores: new Map(items.map((it) => [it.id, it.human])),
    evaluate(scores, options) {
      const { kept, skipped } = keptItems(point, scores);
      const rules: PointRules = { dims: METRIC_DIMENSIONS, pairs: options.pairs };
      const metrics = pointMetrics(kept, rules, options);
      sumOverall(metrics, kept, rules, options);
      return { metrics: withAverages(metrics), measured: kept.length, skipped, total: point.length, unit: "items" };
    },
  };
}
