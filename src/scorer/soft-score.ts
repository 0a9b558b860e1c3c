/**
 * Soft scores from the probabilities of the digit tokens "1".."5" at the position where the
 * model wrote a score (docs/reference.md §1, paper Eq. 2).
 *
 * All functions take the five probabilities in score order (index 0 is p("1")). They need not
 * sum to 1: the reference takes them from a softmax over the whole vocabulary, and every formula
 * here divides by their sum, so any common scale factor cancels.
 */
import { invalidOption } from "../addon/errors.js";

/** The probabilities of the digit tokens "1".."5" at one score position. */
export interface DigitProbs {
  /** p("1")..p("5"), each ≥ 0; not necessarily summing to 1. */
  probs: [number, number, number, number, number];
}

function checkProbs(p: readonly number[], name: string): void {
  if (!Array.isArray(p) || p.length !== 5) {
    throw invalidOption(name, "an array of 5 probabilities for the digits 1..5", p);
  }
  for (let i = 0; i < 5; i++) {
    const v = p[i];
    // NaN slips through `< 0`, so it is tested on its own.
    if (typeof v !== "number" || Number.isNaN(v) || v < 0) {
      throw invalidOption(`${name}[${i}]`, "a number ≥ 0", v);
    }
  }
}

function sum5(p: readonly number[]): number {
  return (p[0] ?? 0) + (p[1] ?? 0) + (p[2] ?? 0) + (p[3] ?? 0) + (p[4] ?? 0);
}

/**
 * The reference's "normalized float score": `s* · p(s*) / Σ_{j=1..5} p(j)` with
 * `s* = argmax_j p(j)` (the first maximum on ties, as Python's `list.index(max(...))` picks).
 *
 * Returns `NaN` when all five probabilities are 0 or their sum is not finite. The reference script
 * returns 0 in the all-zero case, a value outside 1..5 that averages silently into results; NaN
 * cannot be mistaken for a score. (With a sampled digit token at least one p is > 0, so this only
 * happens with hand-made inputs.)
 *
 * @throws VideoScoreError `ERR_INVALID_OPTION` when `p` is not 5 numbers ≥ 0.
 */
export function normalizedSoft(p: readonly number[]): number {
  checkProbs(p, "p");
  const total = sum5(p);
  if (!(total > 0) || !Number.isFinite(total)) return Number.NaN;
  let best = 0;
  for (let i = 1; i < 5; i++) if ((p[i] as number) > (p[best] as number)) best = i;
  return ((best + 1) * (p[best] as number)) / total;
}

/**
 * The expectation `Σ s·p(s) / Σ p` (the `vs2_float_weighted.py` variant in the reference's eval
 * scripts). Always within [1, 5] for valid input.
 *
 * Returns `NaN` when all five probabilities are 0 or their sum is not finite (same reason as
 * {@link normalizedSoft}).
 *
 * @throws VideoScoreError `ERR_INVALID_OPTION` when `p` is not 5 numbers ≥ 0.
 */
export function expectedScore(p: readonly number[]): number {
  checkProbs(p, "p");
  const total = sum5(p);
  if (!(total > 0) || !Number.isFinite(total)) return Number.NaN;
  let acc = 0;
  for (let i = 0; i < 5; i++) acc += (i + 1) * (p[i] as number);
  return acc / total;
}

/**
 * Softmax over the five logits of "1".."5" only.
 *
 * This differs from the reference's full-vocabulary softmax by one common factor, which both
 * {@link normalizedSoft} and {@link expectedScore} divide out, so the soft scores are identical.
 * `-Infinity` (a token removed by top-k/top-p filtering) gets probability 0. When one or more
 * logits are `+Infinity` they share all the mass equally. When all five are `-Infinity` no digit
 * was possible and every entry is `NaN`.
 *
 * @throws VideoScoreError `ERR_INVALID_OPTION` when `logits` is not 5 numbers (NaN included).
 */
export function softmax5FromLogits(logits: readonly number[]): number[] {
  if (!Array.isArray(logits) || logits.length !== 5) {
    throw invalidOption("logits", "an array of 5 logits for the digits 1..5", logits);
  }
  for (let i = 0; i < 5; i++) {
    const v = logits[i];
    if (typeof v !== "number" || Number.isNaN(v)) throw invalidOption(`logits[${i}]`, "a number", v);
  }
  const xs = logits as readonly number[];
  const max = Math.max(...xs);
  if (max === Number.POSITIVE_INFINITY) {
    const n = xs.filter((x) => x === max).length;
    return xs.map((x) => (x === max ? 1 / n : 0));
  }
  if (max === Number.NEGATIVE_INFINITY) return xs.map(() => Number.NaN);
  // Subtracting the max keeps exp() from overflowing for large logits.
  const exps = xs.map((x) => Math.exp(x - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

/**
 * Python's `round()` for a double: ties go to the even neighbour. `Math.round` sends them up,
 * which would turn 2.5 into 3 where the reference gets 2.
 */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x);
  // Exact for all doubles, so a true tie is seen as exactly 0.5.
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * The hard score the reference's accuracy metric compares: `int(clip(round(x), 1, 5))` with
 * Python's half-to-even `round` (2.5 → 2, 3.5 → 4).
 *
 * Returns `NaN` for `NaN` (Python would raise); `±Infinity` clip to 5 and 1.
 */
export function hardRounded(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  return Math.min(5, Math.max(1, roundHalfEven(x)));
}
