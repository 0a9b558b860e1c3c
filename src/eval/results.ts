/**
 * Model scores for `eval --from-results`: from our journal, or from the reference's results layout
 * (a JSON array with `video_name` and `v/t/p_score_model`, as `eval_rm.py` writes it). Where that
 * layout also carries the human scores (VideoScore-Bench-v2, VideoPhy2), it is the benchmark too.
 */
import type { Dimension } from "../scorer/parse.js";
import { parseRecords } from "./bench-file.js";
import { asNumber, benchError, field, videoId } from "./benchmarks/fields.js";
import type { Benchmark, BenchmarkName, ModelScores } from "./benchmarks/types.js";
import { videophy2Benchmark } from "./benchmarks/videophy2.js";
import { vsb2Benchmark } from "./benchmarks/vsb2.js";
import { readRegularText } from "./input-file.js";
import { conflictWarning, looksLikeJournal, parseJournal, type JournalEntry } from "./journal-read.js";
import { METRIC_DIMENSIONS } from "./metrics.js";

/** Which of a result's scores the metrics use. */
export type ScoreKind = "soft" | "expected" | "hard";

const MODEL_KEYS: Record<Dimension, string> = { visualQuality: "v_score_model", textAlignment: "t_score_model", physicalConsistency: "p_score_model" };

/** The chosen kind of score of a journal entry; null unless all three are there. */
export function entryScores(e: JournalEntry, kind: ScoreKind): ModelScores | null {
  if (!e.ok || !e.scores) return null;
  const out = {} as ModelScores;
  for (const d of METRIC_DIMENSIONS) {
    const s = e.scores[d];
    const v = s ? (kind === "hard" ? s.score : s[kind]) : null;
    if (typeof v !== "number" || !Number.isFinite(v)) return null;
    out[d] = v;
  }
  return out;
}

/** Scores read from a results file. */
export interface ResultScores {
  scores: Map<string, ModelScores | null>;
  /** "journal" or "reference" (the authors' results layout). */
  source: "journal" | "reference";
  /** The records of the reference layout (to use as the benchmark when no file is given). */
  records: Record<string, unknown>[] | null;
  /** What the command should warn of (a journal's entries that disagree). */
  warnings: string[];
}

/** Reads the scores of a journal or a reference results file. */
export function readResultScores(path: string, kind: ScoreKind): ResultScores {
  const text = readRegularText(path, "the results file");
  if (looksLikeJournal(text)) {
    const j = parseJournal(text, path);
    return { scores: new Map([...j.entries.values()].map((e) => [e.id, entryScores(e, kind)])), source: "journal", records: null, warnings: j.conflicts.map((c) => conflictWarning(path, c)) };
  }
  const records = parseRecords(text, path);
  const scores = new Map<string, ModelScores | null>();
  records.forEach((r, i) => {
    if (!METRIC_DIMENSIONS.every((d) => MODEL_KEYS[d] in r))
      benchError(path, `item ${i + 1} lacks ${METRIC_DIMENSIONS.map((d) => MODEL_KEYS[d]).filter((k) => !(k in r)).join(", ")}: not a results file (a journal, or the reference's layout with v/t/p_score_model)`);
    const name = field(r, "video_name", "video", "video_path", "path", "video_url");
    if (name === undefined) benchError(path, `item ${i + 1} has no video_name`);
    const s = {} as ModelScores;
    let ok = true;
    for (const d of METRIC_DIMENSIONS) {
      const v = asNumber(r[MODEL_KEYS[d]]);
      if (v === null) ok = false;
      else s[d] = v;
    }
    scores.set(videoId(String(name)), ok ? s : null);
  });
  return { scores, source: "reference", records, warnings: [] };
}

/**
 * The benchmark a reference results file carries: VideoScore-Bench-v2 (`v/t/p_score_gt`) or,
 * when no item has a visual human score, VideoPhy2.
 */
export function benchmarkFromResults(records: Record<string, unknown>[], path: string, asked?: BenchmarkName): Benchmark {
  const hasGt = (k: string) => records.every((r) => asNumber(r[k]) !== null);
  const noVisual = records.every((r) => asNumber(r.v_score_gt) === null);
  const name: BenchmarkName | null = asked ?? (hasGt("t_score_gt") && hasGt("p_score_gt") ? (noVisual ? "videophy2" : "vsb2") : null);
  if (name === "vsb2") return vsb2Benchmark(records, path);
  if (name === "videophy2") return videophy2Benchmark(records, path);
  return benchError(
    path,
    name === null
      ? "the results carry no human scores (t_score_gt, p_score_gt): give the benchmark file too, eval <bench file> --from-results <results>"
      : `${name} results need the benchmark file for the labels: eval <bench file> --from-results ${path}`,
  );
}
