/**
 * Reading the three scores out of a VideoScore2 generation.
 *
 * The model writes `<think>…</think>` and then the answer
 * `(1) visual quality: 3\n(2) text-to-video alignment: 4\n(3) physical/common-sense consistency: 3`.
 * The thinking often repeats scores ("Visual Quality: 3/5"), so we read the final answer after the
 * last `</think>`. The reference instead takes the first label match anywhere, which can land
 * inside the thinking; {@link referenceFirstMatch} reproduces that rule so callers can see where
 * the two differ (docs/reference.md §1, docs/reference.md §1).
 */
import { invalidOption } from "../addon/errors.js";

/** The three scored dimensions. */
export type Dimension = "visualQuality" | "textAlignment" | "physicalConsistency";

/** The dimensions in the order the model answers them. */
export const DIMENSIONS: readonly Dimension[] = ["visualQuality", "textAlignment", "physicalConsistency"];

/** One located score digit. */
export interface ScoreLocation {
  /** The digit's value. */
  score: number;
  /** Offset (UTF-16 code units) of the digit in the full generated text. */
  charIndex: number;
}

/** A generation split into thinking and answer, with the located score digits. */
export interface ParsedAnswer {
  /** Text inside `<think>…</think>` (up to the last `</think>`), or null when there is no `</think>`. */
  thinking: string | null;
  /** Text after the last `</think>`, or the whole text when there is none. */
  answer: string;
  /** Offset of {@link answer} in the full text. */
  answerOffset: number;
  /** The score of each dimension (1–5) and where its digit is, or null when the answer lacks it. */
  scores: Record<Dimension, ScoreLocation | null>;
}

const THINK_OPEN = "<think>";
const THINK_CLOSE = "</think>";

// Labels tolerate spacing and hyphen variants, since they are what a sampled model is least
// consistent about; the words themselves are fixed by the prompt.
const LABELS: Record<Dimension, string> = {
  visualQuality: String.raw`visual[ \t]+quality`,
  textAlignment: String.raw`text[ \t]*-?[ \t]*to[ \t]*-?[ \t]*video[ \t]+alignment`,
  physicalConsistency: String.raw`physical[ \t]*\/[ \t]*common[ \t]*-?[ \t]*sense[ \t]+consistency`,
};

/**
 * A score line: label, an optional description after a dash ("visual quality – clarity,
 * smoothness, artifacts: 3", as third-party users report), optional markdown bold around the label
 * or the digit, a colon, then one digit 1–5 that is not the start of a longer number.
 * Only spaces/tabs may separate the colon and the digit: "Visual Quality:\n- The video…" in the
 * thinking must not pick up a digit from a later line.
 */
function scorePattern(dim: Dimension): RegExp {
  const label = LABELS[dim];
  const suffix = String.raw`(?:[ \t]*[\u2013\u2014-][ \t]*[^:\n]{0,80}?)?`;
  const source =
    label +
    suffix +
    String.raw`[ \t]*(?:\*\*)?[ \t]*:[ \t]*(?:\*\*)?[ \t]*([1-5])(?![0-9]|\.[0-9])`;
  return new RegExp(source, "giu");
}

const PATTERNS: Record<Dimension, RegExp> = {
  visualQuality: scorePattern("visualQuality"),
  textAlignment: scorePattern("textAlignment"),
  physicalConsistency: scorePattern("physicalConsistency"),
};

function findScore(text: string, offset: number, dim: Dimension, which: "first" | "last"): ScoreLocation | null {
  const re = PATTERNS[dim];
  re.lastIndex = 0;
  let found: ScoreLocation | null = null;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const digit = m[1] as string;
    // The digit is the last character of the match.
    found = { score: Number(digit), charIndex: offset + m.index + m[0].length - 1 };
    if (which === "first") break;
  }
  re.lastIndex = 0;
  return found;
}

/**
 * Splits a generation at its last `</think>` and reads the three scores from the final answer.
 *
 * With a `</think>`, only the text after it counts: a dimension missing there is null even if the
 * thinking mentions a score for it, because the model never committed to that answer. Within the
 * answer the first match of each label is taken. Without a `</think>` (a model run without
 * thinking, or a custom prompt), the whole text is searched and the last match of each label is
 * taken, since an answer normally follows any discussion.
 */
export function parseAnswer(text: string): ParsedAnswer {
  if (typeof text !== "string") throw invalidOption("text", "a string", text);
  const close = text.lastIndexOf(THINK_CLOSE);
  let thinking: string | null = null;
  let answerOffset = 0;
  if (close >= 0) {
    answerOffset = close + THINK_CLOSE.length;
    const open = text.indexOf(THINK_OPEN);
    // The chat template may have put `<think>` in the prompt, so a missing opener means the
    // thinking starts at the beginning of the generation.
    const start = open >= 0 && open < close ? open + THINK_OPEN.length : 0;
    thinking = text.slice(start, close);
  }
  const answer = text.slice(answerOffset);
  const which = close >= 0 ? "first" : "last";
  const scores = {} as Record<Dimension, ScoreLocation | null>;
  for (const dim of DIMENSIONS) scores[dim] = findScore(answer, answerOffset, dim, which);
  return { thinking, answer, answerOffset, scores };
}

/**
 * Which generated token covers a character offset, given the decoded text piece of each token in
 * order. Returns -1 when the offset lies outside the concatenated pieces.
 *
 * The offsets must come from the text that is the concatenation of these same pieces (decode
 * token by token and join); a byte-level token that ends inside a multi-byte character decodes
 * differently alone than in context, so offsets from a whole-text decode can drift after such a
 * token. Digits are single tokens in the Qwen2 vocabulary, so the score digit itself is never split.
 */
export function tokenIndexAt(pieces: readonly string[], charIndex: number): number {
  if (!Array.isArray(pieces)) throw invalidOption("pieces", "an array of strings", pieces);
  if (!Number.isInteger(charIndex) || charIndex < 0) return -1;
  let pos = 0;
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i];
    if (typeof piece !== "string") throw invalidOption(`pieces[${i}]`, "a string", piece);
    const next = pos + piece.length;
    if (charIndex < next) return i;
    pos = next;
  }
  return -1;
}

const REFERENCE_LABELS: Record<Dimension, string> = {
  visualQuality: "visual quality:",
  textAlignment: "text-to-video alignment:",
  physicalConsistency: "physical/common-sense consistency:",
};

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/**
 * The reference's locator (`find_score_token_index_by_prompt` in `vs2_inference.py`): the FIRST
 * case-insensitive match of `(?:\(\d+\)\s*|\n\s*)?` + label-with-colon anywhere in the text, then
 * the first digit after it, whatever it is and however far. This is where the reference read its
 * soft scores from; it can fall inside `<think>` or on the "1" of "(1)" / "Dim-1". Use it only to
 * compare with {@link parseAnswer}.
 *
 * Digits are ASCII here; Python's `\d` also matches other Unicode decimal digits, which the model
 * does not emit in these positions.
 */
export function referenceFirstMatch(text: string): Record<Dimension, ScoreLocation | null> {
  if (typeof text !== "string") throw invalidOption("text", "a string", text);
  const out = {} as Record<Dimension, ScoreLocation | null>;
  for (const dim of DIMENSIONS) {
    // `u` makes `i` fold like Python's Unicode IGNORECASE (e.g. "ſ" matches "s").
    const re = new RegExp(String.raw`(?:\([0-9]+\)\s*|\n\s*)?` + escapeRegExp(REFERENCE_LABELS[dim]), "iu");
    const m = re.exec(text);
    if (!m) {
      out[dim] = null;
      continue;
    }
    const after = m.index + m[0].length;
    const rel = text.slice(after).search(/[0-9]/);
    out[dim] = rel < 0 ? null : { score: Number(text[after + rel]), charIndex: after + rel };
  }
  return out;
}
