/**
 * The paper's evaluation metrics, as the reference eval scripts compute them
 * (TIGER-AI-Lab/VideoScore2 `eval/get_acc_corr.py` and `eval/get_pairwise_acc.py`):
 *
 * - **accuracy**: the model score is turned into a hard score with `int(clip(round(x), 1, 5))`
 *   (Python's round, half to even) and compared for equality with the human score;
 * - **relaxed accuracy**: the same hard score within ±1 of the human score;
 * - **PLCC**: Pearson's r between the *float* model score and the human score;
 * - **SRCC**: Spearman's ρ (Pearson's r of the average ranks, ties sharing the mean rank, as
 *   `scipy.stats.spearmanr`);
 * - **pairwise accuracy**: for pairs of videos, whether the model prefers the same one as the
 *   humans; with ties, a pair is predicted "tie" when the model scores differ by at most a
 *   threshold, and a tie counts as correct only when the humans tied too.
 *
 * Values are fractions (accuracy in [0, 1], correlations in [-1, 1]); the paper prints them × 100.
 * Everything here is pure and synchronous.
 */
import { invalidOption } from "../addon/errors.js";
import { DIMENSIONS, type Dimension } from "../scorer/parse.js";
import { hardRounded } from "../scorer/soft-score.js";

/** The three dimensions in answer order. */
export const METRIC_DIMENSIONS: readonly Dimension[] = DIMENSIONS;

/** Lowest and highest score of one dimension. */
export const SCORE_RANGE = { min: 1, max: 5 } as const;

function checkPair(pred: readonly unknown[], truth: readonly unknown[]): void {
  if (!Array.isArray(pred)) throw invalidOption("pred", "an array of numbers", pred);
  if (!Array.isArray(truth)) throw invalidOption("truth", "an array of numbers", truth);
  if (pred.length !== truth.length) throw invalidOption("truth", `an array as long as pred (${pred.length})`, truth.length);
}

const usable = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** Pairs where both values are finite numbers (the reference drops `None`s the same way). */
function finitePairs(x: readonly (number | null)[], y: readonly (number | null)[]): [number[], number[]] {
  checkPair(x, y);
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const u = x[i];
    const v = y[i];
    if (usable(u) && usable(v)) {
      a.push(u);
      b.push(v);
    }
  }
  return [a, b];
}

/**
 * Exact-match accuracy: `hardRounded(pred) === truth` over the pairs where both are numbers.
 * `pred` may be float (soft) scores; `truth` is the human score. Returns NaN when no pair is usable.
 */
export function accuracy(pred: readonly (number | null)[], truth: readonly (number | null)[]): number {
  const [p, t] = finitePairs(pred, truth);
  if (p.length === 0) return Number.NaN;
  let hit = 0;
  for (let i = 0; i < p.length; i++) if (hardRounded(p[i] as number) === t[i]) hit++;
  return hit / p.length;
}

/**
 * Relaxed accuracy: `|hardRounded(pred) − truth| ≤ tolerance` (1 in the paper). Returns NaN when no
 * pair is usable.
 */
export function relaxedAccuracy(pred: readonly (number | null)[], truth: readonly (number | null)[], tolerance = 1): number {
  if (!usable(tolerance) || tolerance < 0) throw invalidOption("tolerance", "a number >= 0", tolerance);
  const [p, t] = finitePairs(pred, truth);
  if (p.length === 0) return Number.NaN;
  let hit = 0;
  for (let i = 0; i < p.length; i++) if (Math.abs(hardRounded(p[i] as number) - (t[i] as number)) <= tolerance) hit++;
  return hit / p.length;
}

/**
 * Pearson's linear correlation coefficient (PLCC). NaN with fewer than 2 usable pairs or when
 * either side is constant (scipy returns nan there too).
 */
export function pearson(x: readonly (number | null)[], y: readonly (number | null)[]): number {
  const [a, b] = finitePairs(x, y);
  const n = a.length;
  if (n < 2) return Number.NaN;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] as number;
    mb += b[i] as number;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = (a[i] as number) - ma;
    const db = (b[i] as number) - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  if (saa === 0 || sbb === 0) return Number.NaN;
  const r = sab / Math.sqrt(saa * sbb);
  // Rounding can push |r| a hair past 1.
  return Math.max(-1, Math.min(1, r));
}

/** 1-based ranks; tied values share the mean of the ranks they span (scipy's "average"). */
export function averageRanks(xs: readonly number[]): number[] {
  const order = xs.map((v, i) => [v, i] as const).sort((p, q) => p[0] - q[0]);
  const ranks = new Array<number>(xs.length);
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (j + 1 < order.length && (order[j + 1] as readonly [number, number])[0] === (order[i] as readonly [number, number])[0]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[(order[k] as readonly [number, number])[1]] = rank;
    i = j + 1;
  }
  return ranks;
}

/** Spearman's rank correlation coefficient (SRCC): Pearson's r of the average ranks. */
export function spearman(x: readonly (number | null)[], y: readonly (number | null)[]): number {
  const [a, b] = finitePairs(x, y);
  if (a.length < 2) return Number.NaN;
  return pearson(averageRanks(a), averageRanks(b));
}

/** 1: the first is preferred, -1: the second, 0: tie. */
export type Preference = 1 | 0 | -1;

/**
 * The reference's `judge_equal_for_diverse`: 1 when `a − b > threshold`, −1 when
 * `a − b < −threshold`, otherwise 0 (a tie). With threshold 0 only equal scores tie.
 */
export function preference(a: number, b: number, threshold = 0): Preference {
  const d = a - b;
  if (d > threshold) return 1;
  if (d < -threshold) return -1;
  return 0;
}

/**
 * How close two model scores must be to count as a tie:
 * - a number: an absolute threshold on the score difference (the reference uses 0.001 for the
 *   float scores, `vs2_float`, and 0.5 for integer scores, `vs2`);
 * - `{ fractionOfRange }`: that fraction of the compared quantity's range (the paper's "5 % of
 *   range" is `{ fractionOfRange: 0.05 }`: 0.2 for one dimension, whose range 1..5 spans 4, and
 *   0.6 for the sum of the three, which spans 12).
 */
export type TieThreshold = number | { fractionOfRange: number };

/** The reference's threshold for float (soft) scores. */
export const REFERENCE_TIE_THRESHOLD = 0.001;
/** The paper's relative threshold. */
export const PAPER_TIE_THRESHOLD: TieThreshold = { fractionOfRange: 0.05 };

/** The absolute threshold for a quantity spanning `range` (4 for one dimension, 12 for the sum). */
export function resolveTieThreshold(t: TieThreshold, range: number): number {
  if (typeof t === "number") {
    if (!Number.isFinite(t) || t < 0) throw invalidOption("tieThreshold", "a number >= 0", t);
    return t;
  }
  if (typeof t !== "object" || t === null || !usable(t.fractionOfRange) || t.fractionOfRange < 0)
    throw invalidOption("tieThreshold", "a number >= 0 or { fractionOfRange: number >= 0 }", t);
  return t.fractionOfRange * range;
}

/** One compared pair: the model's scores of both videos and the humans' preference. */
export interface ScoredPair {
  modelA: number;
  modelB: number;
  human: Preference;
}

/** Result of {@link pairwiseAccuracy}. */
export interface PairwiseResult {
  /** correct / total, or NaN when no pair counts. */
  accuracy: number;
  correct: number;
  total: number;
}

/**
 * Pairwise accuracy as `get_pairwise_acc.py` computes it.
 * - `withTies: true`: every pair counts; the model's preference uses `threshold` (|Δ| ≤ threshold
 *   is a predicted tie); correct when it equals the human preference (a tie only matches a tie).
 * - `withTies: false`: pairs the humans tied are skipped; the model's preference is the plain
 *   comparison (threshold ignored, as the reference does), so equal model scores count as wrong.
 * Pairs with a non-finite model score are skipped.
 */
export function pairwiseAccuracy(pairs: readonly ScoredPair[], options: { withTies: boolean; threshold?: number }): PairwiseResult {
  if (!Array.isArray(pairs)) throw invalidOption("pairs", "an array of { modelA, modelB, human }", pairs);
  const threshold = options.threshold ?? 0;
  if (!usable(threshold) || threshold < 0) throw invalidOption("threshold", "a number >= 0", threshold);
  let correct = 0;
  let total = 0;
  for (const p of pairs) {
    if (!usable(p.modelA) || !usable(p.modelB)) continue;
    if (!options.withTies && p.human === 0) continue;
    total++;
    if (preference(p.modelA, p.modelB, options.withTies ? threshold : 0) === p.human) correct++;
  }
  return { accuracy: total > 0 ? correct / total : Number.NaN, correct, total };
}

type Scores = Record<Dimension, number | null>;

/** One benchmark item: human scores and the model's scores (null where it gave none). */
export interface EvalItem {
  /** Video name or path, for messages. */
  id: string;
  /** Pairs are formed among items with the same prompt (see {@link EvaluateOptions.pairs}). */
  prompt?: string;
  human: Record<Dimension, number>;
  /** The model's (float) scores; null when scoring failed. */
  model: Scores | null;
}

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Tie threshold for pairwise accuracy with ties (default {@link REFERENCE_TIE_THRESHOLD}). */
  tieThreshold?: TieThreshold;
  /**
   * Which pairs to compare on a point-score benchmark: "prompt" (default) pairs the videos that
   * share a prompt, "all" pairs every two videos, "none" skips pairwise accuracy.
   */
  pairs?: "prompt" | "all" | "none";
  /** Relaxed-accuracy tolerance (default 1). */
  relaxedTolerance?: number;
}

/** Metrics of one dimension. */
export interface DimensionMetrics {
  n: number;
  accuracy: number;
  relaxedAccuracy: number;
  plcc: number;
  srcc: number;
  pairwiseWithTies: PairwiseResult;
  pairwiseWithoutTies: PairwiseResult;
}

/** What {@link evaluate} returns. */
export interface EvalMetrics {
  /** Items with all three model scores (the ones measured). */
  n: number;
  /** Items left out because the model gave no score for at least one dimension (or failed). */
  dropped: string[];
  dimensions: Record<Dimension, DimensionMetrics>;
  /** The mean of the three dimensions' values (the paper's "Avg" column). */
  average: {
    accuracy: number;
    relaxedAccuracy: number;
    plcc: number;
    srcc: number;
    pairwiseWithTies: number;
    pairwiseWithoutTies: number;
  };
  /** The sum of the three scores compared with the sum of the human scores. */
  overall: { plcc: number; srcc: number; pairwiseWithTies: PairwiseResult; pairwiseWithoutTies: PairwiseResult };
  /** The thresholds used: per dimension and for the sum. */
  tieThreshold: { dimension: number; overall: number };
  pairs: "prompt" | "all" | "none";
}

/** Index pairs (i < j) by the grouping rule. */
export function pairIndices(items: readonly { prompt?: string }[], rule: "prompt" | "all" | "none"): [number, number][] {
  const out: [number, number][] = [];
  if (rule === "none") return out;
  if (rule === "all") {
    for (let i = 0; i < items.length; i++) for (let j = i + 1; j < items.length; j++) out.push([i, j]);
    return out;
  }
  const groups = new Map<string, number[]>();
  items.forEach((it, i) => {
    const key = it.prompt ?? "";
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(i);
  });
  for (const g of groups.values())
    for (let a = 0; a < g.length; a++) for (let b = a + 1; b < g.length; b++) out.push([g[a] as number, g[b] as number]);
  return out;
}

const mean3 = (xs: number[]): number => (xs.some((x) => Number.isNaN(x)) ? Number.NaN : (xs[0]! + xs[1]! + xs[2]!) / 3);

/**
 * All of the paper's metrics for a point-score benchmark. Items lacking any model score are left
 * out of every metric (the reference's `_remove_null_scores`) and listed in `dropped`.
 */
export function evaluate(items: readonly EvalItem[], options: EvaluateOptions = {}): EvalMetrics {
  if (!Array.isArray(items)) throw invalidOption("items", "an array", items);
  const rule = options.pairs ?? "prompt";
  if (rule !== "prompt" && rule !== "all" && rule !== "none") throw invalidOption("pairs", '"prompt", "all" or "none"', rule);
  const tie = options.tieThreshold ?? REFERENCE_TIE_THRESHOLD;
  const dimRange = SCORE_RANGE.max - SCORE_RANGE.min;
  const tDim = resolveTieThreshold(tie, dimRange);
  const tSum = resolveTieThreshold(tie, 3 * dimRange);
  const tolerance = options.relaxedTolerance ?? 1;

  const kept: (EvalItem & { model: Record<Dimension, number> })[] = [];
  const dropped: string[] = [];
  for (const it of items) {
    for (const d of METRIC_DIMENSIONS)
      if (!usable(it.human?.[d])) throw invalidOption(`human score ${d} of ${it.id}`, "a number", it.human?.[d]);
    if (it.model && METRIC_DIMENSIONS.every((d) => usable(it.model?.[d]))) kept.push(it as EvalItem & { model: Record<Dimension, number> });
    else dropped.push(it.id);
  }
  const pairs = pairIndices(kept, rule);

  const dims = {} as Record<Dimension, DimensionMetrics>;
  for (const d of METRIC_DIMENSIONS) {
    const pred = kept.map((it) => it.model[d]);
    const truth = kept.map((it) => it.human[d]);
    const scored = pairs.map(([i, j]) => ({ modelA: pred[i] as number, modelB: pred[j] as number, human: preference(truth[i] as number, truth[j] as number) }));
    dims[d] = {
      n: kept.length,
      accuracy: accuracy(pred, truth),
      relaxedAccuracy: relaxedAccuracy(pred, truth, tolerance),
      plcc: pearson(pred, truth),
      srcc: spearman(pred, truth),
      pairwiseWithTies: pairwiseAccuracy(scored, { withTies: true, threshold: tDim }),
      pairwiseWithoutTies: pairwiseAccuracy(scored, { withTies: false }),
    };
  }
  const sum = (s: Record<Dimension, number>) => s.visualQuality + s.textAlignment + s.physicalConsistency;
  const predSum = kept.map((it) => sum(it.model));
  const truthSum = kept.map((it) => sum(it.human));
  const scoredSum = pairs.map(([i, j]) => ({ modelA: predSum[i] as number, modelB: predSum[j] as number, human: preference(truthSum[i] as number, truthSum[j] as number) }));
  const per = (f: (m: DimensionMetrics) => number) => mean3(METRIC_DIMENSIONS.map((d) => f(dims[d])));
  return {
    n: kept.length,
    dropped,
    dimensions: dims,
    average: {
      accuracy: per((m) => m.accuracy),
      relaxedAccuracy: per((m) => m.relaxedAccuracy),
      plcc: per((m) => m.plcc),
      srcc: per((m) => m.srcc),
      pairwiseWithTies: per((m) => m.pairwiseWithTies.accuracy),
      pairwiseWithoutTies: per((m) => m.pairwiseWithoutTies.accuracy),
    },
    overall: {
      plcc: pearson(predSum, truthSum),
      srcc: spearman(predSum, truthSum),
      pairwiseWithTies: pairwiseAccuracy(scoredSum, { withTies: true, threshold: tSum }),
      pairwiseWithoutTies: pairwiseAccuracy(scoredSum, { withTies: false }),
    },
    tieThreshold: { dimension: tDim, overall: tSum },
    pairs: rule,
  };
}
