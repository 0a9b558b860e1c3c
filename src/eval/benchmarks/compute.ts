/**
 * Small building blocks the benchmark layouts share: shares of exact and near hits, PLCC/SRCC,
 * pairwise accuracy against labelled pairs, and the empty metrics object with its averages.
 */
import { pairwiseAccuracy, pearson, preference, spearman, type Preference } from "../metrics.js";
import { METRIC_DIMENSIONS } from "../metrics.js";
import type { BenchMetrics, DimensionReport, PairwiseReport } from "./types.js";

/** NaN (no usable data) and undefined become null, the JSON output's "does not apply". */
export const orNull = (v: number | null | undefined): number | null => (v === null || v === undefined || Number.isNaN(v) ? null : v);

/** Share of positions where `pred[i] === truth[i]`; null for empty input. */
export function exactShare(pred: readonly number[], truth: readonly number[]): number | null {
  if (pred.length === 0) return null;
  let hit = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === truth[i]) hit++;
  return hit / pred.length;
}

/** Share of positions where `|pred[i] − truth[i]| ≤ tolerance`; null for empty input. */
export function withinShare(pred: readonly number[], truth: readonly number[], tolerance = 1): number | null {
  if (pred.length === 0) return null;
  let hit = 0;
  for (let i = 0; i < pred.length; i++) if (Math.abs((pred[i] as number) - (truth[i] as number)) <= tolerance) hit++;
  return hit / pred.length;
}

/** PLCC and SRCC, null where scipy would give nan (fewer than 2 values, or a constant side). */
export function correlations(pred: readonly number[], truth: readonly number[]): { plcc: number | null; srcc: number | null } {
  return { plcc: orNull(pearson(pred, truth)), srcc: orNull(spearman(pred, truth)) };
}

/** One labelled pair with the model's values of both sides. */
export interface LabelledPair {
  a: number;
  b: number;
  /** The humans' preference: 1 first, −1 second, 0 tie. */
  human: Preference;
}

/**
 * Pairwise accuracy as `get_pairwise_acc.py` scores it: with ties, |Δ| ≤ threshold is the model's
 * tie; without ties, human ties are skipped and equal model values count as wrong.
 */
export function pairwise(pairs: readonly LabelledPair[], withTies: boolean, threshold: number): PairwiseReport {
  const r = pairwiseAccuracy(
    pairs.map((p) => ({ modelA: p.a, modelB: p.b, human: p.human })),
    { withTies, threshold },
  );
  return { accuracy: orNull(r.accuracy), correct: r.correct, total: r.total };
}

/** Both pairwise variants. */
export function pairwiseBoth(pairs: readonly LabelledPair[], threshold: number): { pairwiseWithTies: PairwiseReport; pairwiseWithoutTies: PairwiseReport } {
  return { pairwiseWithTies: pairwise(pairs, true, threshold), pairwiseWithoutTies: pairwise(pairs, false, threshold) };
}

/** The humans' preference from two scores (a tie when |Δ| ≤ threshold). */
export const humanPreference = (a: number, b: number, threshold = 0): Preference => preference(a, b, threshold);

const emptyDimension = (): DimensionReport => ({ accuracy: null, relaxedAccuracy: null, plcc: null, srcc: null, pairwiseWithTies: null, pairwiseWithoutTies: null });

/** Metrics with every value null; layouts fill in what applies, then {@link withAverages}. */
export function emptyMetrics(): BenchMetrics {
  return {
    dimensions: { visualQuality: emptyDimension(), textAlignment: emptyDimension(), physicalConsistency: emptyDimension() },
    overall: { accuracy: null, plcc: null, srcc: null, pairwiseWithTies: null, pairwiseWithoutTies: null },
    wholeItemAccuracy: null,
    average: { accuracy: null, relaxedAccuracy: null, plcc: null, srcc: null, pairwiseWithTies: null, pairwiseWithoutTies: null },
  };
}

function meanOf(values: readonly (number | null)[]): number | null {
  const xs = values.filter((v): v is number => v !== null);
  return xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/**
 * Fills `average` with the mean over the dimensions where each metric applies (VideoPhy2 averages
 * alignment and physics; the reference averages a printed 0.0 for visual quality in).
 */
export function withAverages(m: BenchMetrics): BenchMetrics {
  const d = METRIC_DIMENSIONS.map((k) => m.dimensions[k]);
  m.average = {
    accuracy: meanOf(d.map((x) => x.accuracy)),
    relaxedAccuracy: meanOf(d.map((x) => x.relaxedAccuracy)),
    plcc: meanOf(d.map((x) => x.plcc)),
    srcc: meanOf(d.map((x) => x.srcc)),
    pairwiseWithTies: meanOf(d.map((x) => x.pairwiseWithTies?.accuracy ?? null)),
    pairwiseWithoutTies: meanOf(d.map((x) => x.pairwiseWithoutTies?.accuracy ?? null)),
  };
  return m;
}
