// The paper's metrics against hand-computed values (the arithmetic is written out in the comments).
import { describe, expect, it } from "vitest";
import { VideoScoreError } from "../../src/addon/errors.js";
import {
  accuracy,
  averageRanks,
  evaluate,
  pairIndices,
  pairwiseAccuracy,
  pearson,
  preference,
  relaxedAccuracy,
  resolveTieThreshold,
  spearman,
  type EvalItem,
} from "../../src/eval/metrics.js";

describe("accuracy and relaxed accuracy", () => {
  // hard = int(clip(round(x), 1, 5)), round half to even:
  // 2.5 → 2 (truth 3: miss, |Δ| 1), 3.5 → 4 (hit), 1.5 → 2 (hit), 4.51 → 5 (truth 4: miss, |Δ| 1),
  // 3 → 3 (truth 1: miss, |Δ| 2)  ⇒ accuracy 2/5, relaxed 4/5.
  const pred = [2.5, 3.5, 1.5, 4.51, 3];
  const truth = [3, 4, 2, 4, 1];

  it("rounds half to even and compares with the human score", () => {
    expect(accuracy(pred, truth)).toBeCloseTo(0.4, 12);
    expect(relaxedAccuracy(pred, truth)).toBeCloseTo(0.8, 12);
  });

  it("clips to 1..5 before comparing", () => {
    expect(accuracy([0.2, 7.9, 5.6], [1, 5, 5])).toBe(1);
    expect(relaxedAccuracy([0.2], [2])).toBe(1); // 0.2 → 1, |1 − 2| = 1
  });

  it("drops pairs with a missing score; NaN when none is left", () => {
    expect(accuracy([3, null, 2], [3, 4, 5])).toBe(0.5);
    expect(accuracy([null], [3])).toBeNaN();
    expect(relaxedAccuracy([], [])).toBeNaN();
  });

  it("refuses arrays of different lengths", () => {
    expect(() => accuracy([1, 2], [1])).toThrow(VideoScoreError);
  });
});

describe("PLCC and SRCC", () => {
  // x = 1..5, y = 2,4,5,4,5: dx = -2..2, dy = -2,0,1,0,1; Σdxdy = 6, Σdx² = 10, Σdy² = 6
  // ⇒ r = 6/√60.
  it("Pearson", () => {
    expect(pearson([1, 2, 3, 4, 5], [2, 4, 5, 4, 5])).toBeCloseTo(6 / Math.sqrt(60), 12);
    expect(pearson([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 12);
  });

  it("average ranks share the mean of the ranks they span", () => {
    expect(averageRanks([3, 1, 3, 2])).toEqual([3.5, 1, 3.5, 2]);
    expect(averageRanks([2, 4, 5, 4, 5])).toEqual([1, 2.5, 4.5, 2.5, 4.5]);
  });

  // ranks of y = 1, 2.5, 4.5, 2.5, 4.5 (mean 3): d = -2, -.5, 1.5, -.5, 1.5; Σdxdy = 4 + .5 + 0 − .5 + 3 = 7,
  // Σdx² = 10, Σdy² = 4 + .25 + 2.25 + .25 + 2.25 = 9 ⇒ ρ = 7/√90.
  it("Spearman with ties (scipy's average ranks)", () => {
    expect(spearman([1, 2, 3, 4, 5], [2, 4, 5, 4, 5])).toBeCloseTo(7 / Math.sqrt(90), 12);
    expect(spearman([10, 20, 30], [1, 8, 27])).toBeCloseTo(1, 12);
  });

  it("NaN for constant input or fewer than two pairs", () => {
    expect(pearson([1, 2, 3], [2, 2, 2])).toBeNaN();
    expect(spearman([1], [1])).toBeNaN();
    expect(pearson([1, null, 3], [1, 2, null])).toBeNaN();
  });
});

describe("pairwise accuracy with ties", () => {
  it("preference is the reference's judge_equal_for_diverse", () => {
    expect(preference(3.2, 3.1, 0.001)).toBe(1);
    expect(preference(3.1, 3.2, 0.001)).toBe(-1);
    expect(preference(2.0005, 2, 0.001)).toBe(0);
    expect(preference(2.001, 2, 0.001)).toBe(0); // |Δ| ≤ threshold is a tie ("> 0.001" is strict)
    expect(preference(2, 2)).toBe(0);
  });

  const pairs = [
    { modelA: 3.2, modelB: 3.1, human: 1 }, // Δ .1: 1 ✓ (thr .001); 0 ✗ (thr .2)
    { modelA: 2.0005, modelB: 2.0, human: 0 }, // tie ✓ either way; skipped w/o ties
    { modelA: 2.0, modelB: 2.0, human: 1 }, // tie ✗; w/o ties: equal ⇒ 0 ✗
    { modelA: 1.5, modelB: 4.0, human: -1 }, // ✓
    { modelA: 3.0, modelB: 3.15, human: 0 }, // Δ −.15: −1 ✗ (thr .001); 0 ✓ (thr .2); skipped w/o ties
  ] as const;

  it("with ties: a tie is predicted within the threshold and matches only a human tie", () => {
    expect(pairwiseAccuracy(pairs, { withTies: true, threshold: 0.001 })).toEqual({ accuracy: 3 / 5, correct: 3, total: 5 });
    // 5 % of the 1..5 range = 0.2: pairs 2, 4, 5 are right.
    expect(pairwiseAccuracy(pairs, { withTies: true, threshold: 0.2 })).toEqual({ accuracy: 3 / 5, correct: 3, total: 5 });
    expect(pairwiseAccuracy(pairs.slice(0, 1), { withTies: true, threshold: 0.2 }).correct).toBe(0);
  });

  it("without ties: human ties are skipped and equal model scores are wrong", () => {
    expect(pairwiseAccuracy(pairs, { withTies: false })).toEqual({ accuracy: 2 / 3, correct: 2, total: 3 });
  });

  it("tie thresholds: absolute (reference 0.001) or a fraction of the range (paper 5 %)", () => {
    expect(resolveTieThreshold(0.001, 4)).toBe(0.001);
    expect(resolveTieThreshold({ fractionOfRange: 0.05 }, 4)).toBeCloseTo(0.2, 12);
    expect(resolveTieThreshold({ fractionOfRange: 0.05 }, 12)).toBeCloseTo(0.6, 12);
    expect(() => resolveTieThreshold(-1, 4)).toThrow(VideoScoreError);
  });

  it("pairs of videos that share a prompt, or all pairs", () => {
    const items = [{ prompt: "a" }, { prompt: "b" }, { prompt: "a" }, { prompt: "a" }];
    expect(pairIndices(items, "prompt")).toEqual([
      [0, 2],
      [0, 3],
      [2, 3],
    ]);
    expect(pairIndices(items, "all")).toHaveLength(6);
    expect(pairIndices(items, "none")).toEqual([]);
  });
});

describe("evaluate(): every metric per dimension, averaged, and for the sum", () => {
  const s = (v: number, t: number, p: number) => ({ visualQuality: v, textAlignment: t, physicalConsistency: p });
  const items: EvalItem[] = [
    { id: "A", prompt: "p1", human: s(3, 4, 2), model: s(2.9, 4.2, 2.6) },
    { id: "B", prompt: "p1", human: s(2, 4, 3), model: s(1.6, 3.4, 3.0) },
    { id: "C", prompt: "p2", human: s(5, 3, 3), model: s(4.55, 3.0, 3.6) },
    { id: "D", prompt: "p2", human: s(4, 2, 3), model: null }, // failed: left out everywhere
  ];
  const m = evaluate(items);

  it("leaves out items without scores", () => {
    expect(m.n).toBe(3);
    expect(m.dropped).toEqual(["D"]);
  });

  it("accuracy: hard [3,2,5] vs [3,2,5], [4,3,3] vs [4,4,3], [3,3,4] vs [2,3,3]", () => {
    expect(m.dimensions.visualQuality.accuracy).toBe(1);
    expect(m.dimensions.textAlignment.accuracy).toBeCloseTo(2 / 3, 12);
    expect(m.dimensions.physicalConsistency.accuracy).toBeCloseTo(1 / 3, 12);
    expect(m.average.accuracy).toBeCloseTo(2 / 3, 12);
    expect(m.average.relaxedAccuracy).toBe(1);
  });

  it("PLCC/SRCC of text alignment: pred 4.2, 3.4, 3.0 vs 4, 4, 3", () => {
    // dp = 2/3, −2/15, −8/15; dt = 1/3, 1/3, −2/3: Σ = 8/15, Σdp² = 56/75, Σdt² = 2/3 ⇒ r = (8/15)/√(112/225)
    expect(m.dimensions.textAlignment.plcc).toBeCloseTo(8 / 15 / Math.sqrt(112 / 225), 12);
    // ranks [3,2,1] vs [2.5,2.5,1]: Σ = 2.5, Σ² = 2 and 25/6 ⇒ ρ = 2.5/√(25/3) = √3/2
    expect(m.dimensions.textAlignment.srcc).toBeCloseTo(Math.sqrt(3) / 2, 12);
    expect(m.dimensions.visualQuality.srcc).toBeCloseTo(1, 12);
  });

  it("pairwise within prompt p1 only (A vs B); the humans tie on alignment and on the sum", () => {
    expect(m.dimensions.visualQuality.pairwiseWithTies).toEqual({ accuracy: 1, correct: 1, total: 1 });
    expect(m.dimensions.textAlignment.pairwiseWithTies).toEqual({ accuracy: 0, correct: 0, total: 1 });
    expect(m.dimensions.textAlignment.pairwiseWithoutTies.total).toBe(0);
    expect(m.dimensions.physicalConsistency.pairwiseWithTies.correct).toBe(1);
    expect(m.overall.pairwiseWithTies).toEqual({ accuracy: 0, correct: 0, total: 1 }); // 9 vs 9 human; 9.7 vs 8.0 model
    expect(m.tieThreshold).toEqual({ dimension: 0.001, overall: 0.001 });
  });

  it("the paper's 5 % of range: 0.2 per dimension, 0.6 for the sum", () => {
    const r = evaluate(items, { tieThreshold: { fractionOfRange: 0.05 }, pairs: "all" });
    expect(r.tieThreshold.dimension).toBeCloseTo(0.2, 12);
    expect(r.tieThreshold.overall).toBeCloseTo(0.6, 12);
    expect(r.dimensions.visualQuality.pairwiseWithTies.total).toBe(3);
  });

  it("refuses items without human scores", () => {
    expect(() => evaluate([{ id: "x", human: s(3, Number.NaN, 3), model: s(3, 3, 3) }])).toThrow(VideoScoreError);
  });
});
