/**
 * MJ-Bench-Video: JSON pairs (`caption`, `video_0_path`, `video_1_path`, `overall_preference` ∈
 * `Video 1 better` / `Video 2 better` / `Same`) with, per video, `video_N_overall_score`
 * {Alignment, Fineness, Consistency, …} and `video_N_total_score`, all on 0–2.
 *
 * As `get_acc_corr.py` has it: human visual = Fineness, alignment = Alignment, physical =
 * Consistency; the model's hard score `int(clip(round(x), 1, 5))` is mapped onto 0–2 (visual:
 * 1,2→0 3,4→1 5→2; alignment and physical: 1→0 2,3→1 4,5→2); the overall hard score is
 * `int((v+t+p)/3)` of the three hard scores (truncated), then 1→0 2,3→1 else 2, against
 * `total_score`. PLCC/SRCC use the raw scores (overall: v+t+p against `total_score`). Pairwise
 * accuracy compares the mean of the three, as the reference's earlier `get_pairwise_acc.py`.
 */
import { dirname, resolve } from "node:path";
import type { Dimension } from "../../scorer/parse.js";
import { hardRounded } from "../../scorer/soft-score.js";
import { METRIC_DIMENSIONS, type Preference } from "../metrics.js";
import { correlations, exactShare, pairwiseBoth, withAverages } from "./compute.js";
import { asNumber, benchError, field, videoId, videoPath } from "./fields.js";
import { keptItems, pointMetrics, type PointItem } from "./point.js";
import type { Benchmark, BenchVideo } from "./types.js";

/** A model score on MJ-Bench-Video's 0–2 scale. */
export function mjHard(x: number, d: Dimension): number {
  const h = hardRounded(x);
  if (d === "visualQuality") return h <= 2 ? 0 : h <= 4 ? 1 : 2;
  return h <= 1 ? 0 : h <= 3 ? 1 : 2;
}

/** The overall hard score on 0–2 from the three hard scores. */
export function mjOverallHard(s: Record<Dimension, number>): number {
  const o = Math.trunc((hardRounded(s.visualQuality) + hardRounded(s.textAlignment) + hardRounded(s.physicalConsistency)) / 3);
  return o <= 1 ? 0 : o <= 3 ? 1 : 2;
}

interface MJItem extends PointItem {
  total: number;
}

function preferenceOf(v: unknown, file: string, where: string): Preference {
  if (v === "Video 1 better") return 1;
  if (v === "Video 2 better") return -1;
  if (v === "Same") return 0;
  return benchError(file, `${where}: overall_preference is ${JSON.stringify(v)}; expected "Video 1 better", "Video 2 better" or "Same"`);
}

function scoresOf(r: Record<string, unknown>, n: 0 | 1, file: string, where: string): { v: number; t: number; p: number; total: number } {
  let o = r[`video_${n}_overall_score`];
  if (typeof o === "string") {
    try {
      o = JSON.parse(o);
    } catch {
      /* reported below */
    }
  }
  if (!o || typeof o !== "object") benchError(file, `${where}: video_${n}_overall_score is not an object of scores`);
  const s = o as Record<string, unknown>;
  const consistency = Object.keys(s).find((k) => /consistency/i.test(k));
  const v = asNumber(field(s, "Fineness"));
  const t = asNumber(field(s, "Alignment"));
  const p = consistency === undefined ? null : asNumber(s[consistency]);
  const total = asNumber(r[`video_${n}_total_score`]);
  if (v === null || t === null || p === null) benchError(file, `${where}: video_${n}_overall_score needs numbers in Fineness, Alignment and Consistency`);
  if (total === null) benchError(file, `${where}: video_${n}_total_score is not a number`);
  return { v, t, p, total };
}

/** Reads MJ-Bench-Video pairs. */
export function mjBenchmark(records: readonly Record<string, unknown>[], file: string, videosDir?: string): Benchmark {
  const dir = dirname(resolve(file));
  const videos = new Map<string, BenchVideo>();
  const items = new Map<string, MJItem>();
  const pairs = records.map((r, i) => {
    const where = `pair ${i + 1}`;
    const prompt = field(r, "caption");
    if (typeof prompt !== "string") benchError(file, `${where} has no caption`);
    const ids = ([0, 1] as const).map((n) => {
      const path = r[`video_${n}_path`];
      if (typeof path !== "string") benchError(file, `${where} has no video_${n}_path`);
      const id = videoId(path);
      if (!videos.has(id)) {
        const s = scoresOf(r, n, file, where);
        videos.set(id, { id, video: videoPath(path, dir, videosDir), prompt });
        items.set(id, { id, prompt, human: { visualQuality: s.v, textAlignment: s.t, physicalConsistency: s.p }, total: s.total });
      }
      return id;
    });
    return { a: ids[0] as string, b: ids[1] as string, human: preferenceOf(r.overall_preference, file, where) };
  });
  const list = [...items.values()];
  return {
    name: "mjbench-video",
    file,
    videos: [...videos.values()],
    humanScores: new Map(list.map((it) => [it.id, it.human])),
    evaluate(scores, options) {
      const { kept } = keptItems(list, scores);
      const m = pointMetrics(kept, { dims: METRIC_DIMENSIONS, hard: mjHard, pairs: "none" }, options);
      const mean = (id: string) => {
        const s = scores.get(id)!;
        return (s.visualQuality + s.textAlignment + s.physicalConsistency) / 3;
      };
      const usable = pairs.filter((p) => scores.get(p.a) && scores.get(p.b));
      m.overall = {
        accuracy: exactShare(kept.map((it) => mjOverallHard(it.model)), kept.map((it) => it.total)),
        ...correlations(kept.map((it) => it.model.visualQuality + it.model.textAlignment + it.model.physicalConsistency), kept.map((it) => it.total)),
        ...pairwiseBoth(usable.map((p) => ({ a: mean(p.a), b: mean(p.b), human: p.human })), options.tieDimension),
      };
      return { metrics: withAverages(m), measured: usable.length, skipped: pairs.length - usable.length, total: pairs.length, unit: "pairs" };
    },
  };
}
