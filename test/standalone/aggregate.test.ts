// The per-dimension aggregates of samples: k (src/scorer/result.ts aggregateDimension).
import { describe, expect, it } from "vitest";
import { aggregateDimension } from "../../src/scorer/result.js";

const s = (score: number | null, soft: number | null = score) => ({ score, soft });

describe("aggregateDimension", () => {
  it("mean and population std of the soft scores, majority and agreement over all samples", () => {
    const a = aggregateDimension([s(3, 2.5), s(3, 2.7), s(4, 3.2), s(null, null)]);
    expect(a.mean).toBeCloseTo((2.5 + 2.7 + 3.2) / 3, 12);
    const m = (2.5 + 2.7 + 3.2) / 3;
    expect(a.std).toBeCloseTo(Math.sqrt(((2.5 - m) ** 2 + (2.7 - m) ** 2 + (3.2 - m) ** 2) / 3), 12);
    expect(a.majority).toBe(3);
    // The unanswered sample counts against agreement.
    expect(a.agreement).toBe(2 / 4);
    expect(a.answered).toBe(3);
  });

  it("a tie goes to the score nearest the mean soft score, then the lower", () => {
    expect(aggregateDimension([s(2, 1.8), s(4, 3.9), s(4, 3.9), s(2, 1.8), s(5, 4.9)]).majority).toBe(4);
    expect(aggregateDimension([s(2), s(4)]).majority).toBe(2);
  });

  it("no answers: nulls and zero agreement", () => {
    expect(aggregateDimension([s(null, null), s(null, null)])).toEqual({ mean: null, std: null, majority: null, agreement: 0, answered: 0 });
  });
});
