/**
 * `eval --help`'s description of the five layouts: the columns, a small example, the metrics, and
 * where we deliberately differ from the authors' scripts.
 */
import { LAYOUTS } from "./layouts.js";
import { BENCHMARK_LABELS, BENCHMARK_NAMES } from "./types.js";

const METRICS: Record<(typeof BENCHMARK_NAMES)[number], string> = {
  vsb2: "accuracy, relaxed accuracy (±1) on int(clip(round(x),1,5)), PLCC/SRCC on the raw score, whole-item accuracy; pairwise among videos sharing a prompt (--pairs)",
  "videogen-rewardbench": "pairwise accuracy only: VQ on visual quality, TA on alignment, Overall on the sum of the three (MQ unused)",
  "mjbench-video": "accuracy on 0–2 after mapping the hard score (visual 1,2→0 3,4→1 5→2; others 1→0 2,3→1 4,5→2), overall accuracy on int((v+t+p)/3) against total_score, PLCC/SRCC, pairwise on the mean of the three",
  "t2vqa-db": "no accuracy (a MOS is not 1–5): PLCC/SRCC of each dimension and of the sum against the MOS; pairwise on the mean of the three",
  videophy2: "as vsb2 on alignment (sa) and physics (pc); no human visual score, so visual metrics and whole-item accuracy are null",
};

/** The help section. */
export function evalLayoutsHelp(): string {
  const lines = ["eval layouts (--benchmark, or found from the columns):"];
  for (const n of BENCHMARK_NAMES) {
    lines.push(`  ${n} — ${BENCHMARK_LABELS[n]}`);
    for (const l of LAYOUTS[n].example.split("\n")) lines.push(`      ${l}`);
    lines.push(`      metrics: ${METRICS[n]}`);
  }
  lines.push(
    "  pairwise: with ties, |Δ| ≤ 0.001 is the model's tie (--tie-threshold); without ties, human ties are",
    "  skipped and equal model scores count as wrong. Pairs or items naming a failed video are skipped and counted.",
    "  differences from the authors' scripts, on purpose: every row of VideoGen-RewardBench is scored (their",
    "  loader drops the first data row); metrics that do not apply are null, not 0.0 (VideoPhy2's visual);",
    "  averages are over the dimensions that apply. See docs/eval.md.",
  );
  return lines.join("\n");
}
