/**
 * Metrics of point-score benchmarks (a human score per video and dimension): VideoScore-Bench-v2,
 * VideoPhy2 and the point half of MJ-Bench-Video share this, each with its own hard-score mapping.
 */
import { hardRounded } from "../../scorer/soft-score.js";
import type { Dimension } from "../../scorer/parse.js";
import { METRIC_DIMENSIONS, pairIndices } from "../metrics.js";
import { correlations, emptyMetrics, exactShare, humanPreference, pairwiseBoth, withinShare, type LabelledPair } from "./compute.js";
import type { BenchMetrics, ModelScores, ScoreLookup, MetricOptions } from "./types.js";

/** One scored item of a point benchmark. */
export interface PointItem {
  id: string;
  prompt: string;
  /** Human scores of the dimensions the benchmark has. */
  human: Partial<Record<Dimension, number>>;
}

/** How a benchmark turns a model score into a hard score comparable with its human scores. */
export interface PointRules {
  /** The dimensions with human scores. */
  dims: readonly Dimension[];
  /** Model score → the human scale (default `int(clip(round(x), 1, 5))`, half to even). */
  hard?: (x: number, d: Dimension) => number;
  /** Compare videos pairwise (per dimension, and on the sum when all three dimensions apply). */
  pairs: MetricOptions["pairs"];
}

/** The items whose videos have scores, with those scores, and how many were left out. */
export function keptItems<T extends PointItem>(items: readonly T[], scores: ScoreLookup): { kept: (T & { model: ModelScores })[]; skipped: number } {
  const kept: (T & { model: ModelScores })[] = [];
  let skipped = 0;
  for (const it of items) {
    const m = scores.get(it.id);
    if (m) kept.push({ ...it, model: m });
    else skipped++;
  }
  return { kept, skipped };
}

/**
 * Accuracy and relaxed accuracy on the hard scores, PLCC/SRCC on the raw model scores, pairwise
 * accuracy among the chosen pairs, and whole-item accuracy when every dimension applies.
 */
export function pointMetrics(kept: readonly (PointItem & { model: ModelScores })[], rules: PointRules, options: MetricOptions): BenchMetrics {
  const m = emptyMetrics();
  const hard = rules.hard ?? ((x: number) => hardRounded(x));
  const pairs = pairIndices(kept, rules.pairs);
  for (const d of rules.dims) {
    const raw = kept.map((it) => it.model[d]);
    const truth = kept.map((it) => it.human[d] as number);
    const h = raw.map((x) => hard(x, d));
    const scored: LabelledPair[] = pairs.map(([i, j]) => ({ a: raw[i] as number, b: raw[j] as number, human: humanPreference(truth[i] as number, truth[j] as number) }));
    m.dimensions[d] = {
      accuracy: exactShare(h, truth),
      relaxedAccuracy: withinShare(h, truth, 1),
      ...correlations(raw, truth),
      ...(rules.pairs === "none" ? { pairwiseWithTies: null, pairwiseWithoutTies: null } : pairwiseBoth(scored, options.tieDimension)),
    };
  }
  if (rules.dims.length === METRIC_DIMENSIONS.length) {
    const n = kept.length;
    const whole = kept.filter((it) => METRIC_DIMENSIONS.every((d) => hard(it.model[d], d) === it.human[d])).length;
    m.wholeItemAccuracy = n > 0 ? whole / n : null;
  }
  return m;
}

/** The sum of the three scores against the sum of the human scores (VideoScore-Bench-v2's "overall"). */
export function sumOverall(m: BenchMetrics, kept: readonly (PointItem & { model: ModelScores })[], rules: PointRules, options: MetricOptions): void {
  const sum = (s: Partial<Record<Dimension, number>>) => METRIC_DIMENSIONS.reduce((a, d) => a + (s[d] as number), 0);
  const pred = kept.map((it) => sum(it.model));
  const truth = kept.map((it) => sum(it.human));
  const pairs = pairIndices(kept, rules.pairs).map(([i, j]) => ({ a: pred[i] as number, b: pred[j] as number, human: humanPreference(truth[i] as number, truth[j] as number) }));
  m.overall = {
    accuracy: null,
    ...correlations(pred, truth),
    ...(rules.pairs === "none" ? { pairwiseWithTies: null, pairwiseWithoutTies: null } : pairwiseBoth(pairs, options.tieSum)),
  };
}
