import { describe, expect, it } from "vitest";
import { expectedScore, hardRounded, normalizedSoft, roundHalfEven, softmax5FromLogits } from "../../src/scorer/soft-score.js";
import { codeOf } from "../fixtures/errors.js";


describe("normalizedSoft (paper Eq. 2)", () => {
  it("is s*·p(s*)/Σp", () => {
    expect(normalizedSoft([0.1, 0.2, 0.6, 0.05, 0.05])).toBeCloseTo(1.8, 12); // 3 · 0.6 / 1
    expect(normalizedSoft([0, 0, 0, 1, 0])).toBe(4);
    expect(normalizedSoft([0, 0, 0, 0, 1])).toBe(5);
  });

  it("does not need probabilities that sum to 1", () => {
    // Same shape scaled by 0.1 (a full-vocabulary softmax leaves mass on other tokens).
    expect(normalizedSoft([0.01, 0.02, 0.06, 0.005, 0.005])).toBeCloseTo(1.8, 12);
  });

  it("uses the argmax, not the sampled digit, so it can exceed a hard 3", () => {
    expect(normalizedSoft([0, 0, 0.2, 0.8, 0])).toBeCloseTo(3.2, 12);
  });

  it("takes the first maximum on ties", () => {
    expect(normalizedSoft([0.4, 0.4, 0.2, 0, 0])).toBeCloseTo(0.4, 12); // s* = 1
    expect(normalizedSoft([0, 0, 0.5, 0.5, 0])).toBeCloseTo(1.5, 12); // s* = 3
  });

  it("returns NaN when nothing has mass", () => {
    expect(normalizedSoft([0, 0, 0, 0, 0])).toBeNaN();
    expect(normalizedSoft([Number.POSITIVE_INFINITY, 0, 0, 0, 0])).toBeNaN();
  });

  it("rejects malformed input", () => {
    expect(codeOf(() => normalizedSoft([0.5, 0.5]))).toBe("ERR_INVALID_OPTION");
    expect(codeOf(() => normalizedSoft([0.5, -0.1, 0, 0, 0]))).toBe("ERR_INVALID_OPTION");
    expect(codeOf(() => normalizedSoft([0.5, Number.NaN, 0, 0, 0]))).toBe("ERR_INVALID_OPTION");
  });
});

describe("expectedScore", () => {
  it("is Σ s·p(s)/Σp", () => {
    // 0.1 + 0.4 + 1.8 + 0.2 + 0.25
    expect(expectedScore([0.1, 0.2, 0.6, 0.05, 0.05])).toBeCloseTo(2.75, 12);
    expect(expectedScore([0.02, 0.04, 0.12, 0.01, 0.01])).toBeCloseTo(2.75, 12);
    expect(expectedScore([0, 0, 1, 0, 0])).toBe(3);
    expect(expectedScore([1, 1, 1, 1, 1])).toBe(3);
  });

  it("returns NaN when nothing has mass", () => {
    expect(expectedScore([0, 0, 0, 0, 0])).toBeNaN();
  });
});

describe("softmax5FromLogits", () => {
  it("normalizes over the five digits", () => {
    expect(softmax5FromLogits([0, 0, 0, 0, 0])).toEqual([0.2, 0.2, 0.2, 0.2, 0.2]);
    const p = softmax5FromLogits([Math.log(1), Math.log(2), Math.log(3), Math.log(4), Math.log(10)]);
    [0.05, 0.1, 0.15, 0.2, 0.5].forEach((want, i) => expect(p[i]).toBeCloseTo(want, 12));
  });

  it("gives the same soft scores as a full-vocabulary softmax", () => {
    const digits = [1.5, -0.5, 3, 2.2, 0.1];
    const others = [4, 2, -1]; // non-digit tokens
    const z = [...digits, ...others].reduce((a, x) => a + Math.exp(x), 0);
    const full = digits.map((x) => Math.exp(x) / z);
    const five = softmax5FromLogits(digits);
    expect(normalizedSoft(five)).toBeCloseTo(normalizedSoft(full), 12);
    expect(expectedScore(five)).toBeCloseTo(expectedScore(full), 12);
  });

  it("handles filtered (-Infinity) and huge logits without overflow", () => {
    expect(softmax5FromLogits([1000, 1000, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY])).toEqual([
      0.5, 0.5, 0, 0, 0,
    ]);
    expect(softmax5FromLogits([Number.POSITIVE_INFINITY, 0, Number.POSITIVE_INFINITY, 0, 0])).toEqual([0.5, 0, 0.5, 0, 0]);
    const none = softmax5FromLogits(Array(5).fill(Number.NEGATIVE_INFINITY));
    expect(none.every(Number.isNaN)).toBe(true);
    expect(normalizedSoft([0, 0, 0, 0, 0])).toBeNaN();
  });

  it("rejects malformed input", () => {
    expect(codeOf(() => softmax5FromLogits([1, 2, 3]))).toBe("ERR_INVALID_OPTION");
    expect(codeOf(() => softmax5FromLogits([1, 2, 3, 4, Number.NaN]))).toBe("ERR_INVALID_OPTION");
  });
});

describe("hardRounded", () => {
  it("is int(clip(round(x), 1, 5)) with ties to even", () => {
    expect(hardRounded(2.5)).toBe(2);
    expect(hardRounded(3.5)).toBe(4);
    expect(hardRounded(4.5)).toBe(4);
    expect(hardRounded(1.5)).toBe(2);
    expect(hardRounded(2.5000001)).toBe(3);
    expect(hardRounded(3.29)).toBe(3);
    expect(hardRounded(0.99999999999998)).toBe(1);
    expect(hardRounded(0.4)).toBe(1);
    expect(hardRounded(0)).toBe(1);
    expect(hardRounded(5.6)).toBe(5);
    expect(hardRounded(Number.NEGATIVE_INFINITY)).toBe(1);
    expect(hardRounded(Number.POSITIVE_INFINITY)).toBe(5);
    expect(hardRounded(Number.NaN)).toBeNaN();
  });

  it("roundHalfEven matches Python round()", () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999999999999996, 7].map(roundHalfEven)).toEqual([0, 2, 2, 0, -2, -2, 2, 7]);
  });
});
