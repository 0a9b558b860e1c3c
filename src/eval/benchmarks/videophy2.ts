/**
 * VideoPhy2-test: `video_url, caption, sa, pc, is_hard, model_name`, with semantic adherence (`sa`)
 * as text alignment and physical commonsense (`pc`) as physical consistency, both 1–5. There is no
 * human visual score: visual metrics and whole-item accuracy are null (the reference prints 0.0
 * there, an artefact of its zero placeholders), the rest is as VideoScore-Bench-v2.
 */
import type { Dimension } from "../../scorer/parse.js";
import { withAverages } from "./compute.js";
import { asNumber, benchError, field, videoId, videoPath } from "./fields.js";
import { keptItems, pointMetrics, type PointItem } from "./point.js";
import type { Benchmark, BenchVideo } from "./types.js";
import { dirname, resolve } from "node:path";

const DIMS: readonly Dimension[] = ["textAlignment", "physicalConsistency"];

/**
 * Reads VideoPhy2 records: the published CSV, or the reference's results layout (`video_name`,
 * `prompt`, `t_score_gt`, `p_score_gt`).
 */
export function videophy2Benchmark(records: readonly Record<string, unknown>[], file: string, videosDir?: string): Benchmark {
  const dir = dirname(resolve(file));
  const videos = new Map<string, BenchVideo>();
  const items: PointItem[] = records.map((r, i) => {
    const where = `row ${i + 1}`;
    const url = field(r, "video_url", "video_name", "video", "path");
    if (typeof url !== "string") benchError(file, `${where} has no video_url`);
    const prompt = field(r, "caption", "prompt");
    if (typeof prompt !== "string") benchError(file, `${where} has no caption`);
    const sa = asNumber(field(r, "sa", "t_score_gt"));
    const pc = asNumber(field(r, "pc", "p_score_gt"));
    if (sa === null || pc === null) benchError(file, `${where} (${url}) needs numbers in sa and pc`);
    const id = videoId(url);
    if (!videos.has(id)) videos.set(id, { id, video: videoPath(url, dir, videosDir), prompt });
    return { id, prompt, human: { textAlignment: sa, physicalConsistency: pc } };
  });
  return {
    name: "videophy2",
    file,
    videos: [...videos.values()],
    humanScores: new Map(items.map((it) => [it.id, { visualQuality: null, ...it.human }])),
    evaluate(scores, options) {
      const { kept, skipped } = keptItems(items, scores);
      const metrics = pointMetrics(kept, { dims: DIMS, pairs: options.pairs }, options);
      return { metrics: withAverages(metrics), measured: kept.length, skipped, total: items.length, unit: "items" };
    },
  };
}
