/**
 * What every benchmark layout provides: the videos to score (each once, however many items or
 * pairs name it) and a function from the model's scores to the paper's metrics.
 */
import type { Dimension } from "../../scorer/parse.js";

/** The five benchmarks of the paper, by their `--benchmark` names. */
export type BenchmarkName = "vsb2" | "videogen-rewardbench" | "mjbench-video" | "t2vqa-db" | "videophy2";

/** All benchmark names, in the order the help and messages list them. */
export const BENCHMARK_NAMES: readonly BenchmarkName[] = ["vsb2", "videogen-rewardbench", "mjbench-video", "t2vqa-db", "videophy2"];

/** The names the paper's tables use. */
export const BENCHMARK_LABELS: Record<BenchmarkName, string> = {
  vsb2: "VideoScore-Bench-v2",
  "videogen-rewardbench": "VideoGen-RewardBench",
  "mjbench-video": "MJ-Bench-Video",
  "t2vqa-db": "T2VQA-DB",
  videophy2: "VideoPhy2-test",
};

/** One video to score. */
export interface BenchVideo {
  /** The key scores are stored and matched under (journal, results files, pair files). */
  id: string;
  /** Resolved path of the video file. */
  video: string;
  prompt: string;
}

/** The model's three (float) scores of one video. */
export type ModelScores = Record<Dimension, number>;

/**
 * The model's scores by video id. A video that is absent or null is left out of every metric, as
 * the reference does with `None` scores; items and pairs naming it are counted as skipped.
 */
export type ScoreLookup = ReadonlyMap<string, ModelScores | null>;

/** Options that change how metrics are computed (never what is scored). */
export interface MetricOptions {
  /** Absolute tie threshold on one dimension's score (and on a mean of the three). */
  tieDimension: number;
  /** Absolute tie threshold on the sum of the three scores. */
  tieSum: number;
  /** Point benchmarks: which videos are compared pairwise (prompt: those sharing a prompt). */
  pairs: "prompt" | "all" | "none";
}

/** Pairwise accuracy: correct / total of the pairs that counted. */
export interface PairwiseReport {
  /** correct / total, or null when no pair counted. */
  accuracy: number | null;
  correct: number;
  total: number;
}

/** One dimension's metrics; null where the metric does not apply to the benchmark. */
export interface DimensionReport {
  accuracy: number | null;
  relaxedAccuracy: number | null;
  plcc: number | null;
  srcc: number | null;
  pairwiseWithTies: PairwiseReport | null;
  pairwiseWithoutTies: PairwiseReport | null;
}

/** Metrics of the three dimensions taken together (a sum, a mean, or the benchmark's overall label). */
export interface OverallReport {
  /** MJ-Bench-Video's overall accuracy (against `total_score`); null elsewhere. */
  accuracy: number | null;
  plcc: number | null;
  srcc: number | null;
  pairwiseWithTies: PairwiseReport | null;
  pairwiseWithoutTies: PairwiseReport | null;
}

/** The metrics of one benchmark. Values are fractions; the paper prints them × 100. */
export interface BenchMetrics {
  dimensions: Record<Dimension, DimensionReport>;
  overall: OverallReport;
  /** Share of items whose three (mapped) hard scores all equal the humans'. */
  wholeItemAccuracy: number | null;
  /** Mean over the dimensions where the metric applies (the paper's "Avg"). */
  average: {
    accuracy: number | null;
    relaxedAccuracy: number | null;
    plcc: number | null;
    srcc: number | null;
    pairwiseWithTies: number | null;
    pairwiseWithoutTies: number | null;
  };
}

/** What a benchmark's evaluation returns. */
export interface BenchEvaluation {
  metrics: BenchMetrics;
  /** Items (point benchmarks) or pairs (pairwise ones) in the metrics. */
  measured: number;
  /** Items or pairs left out because a video they name has no scores. */
  skipped: number;
  /** Items or pairs in the file. */
  total: number;
  /** What the counts count: "items" or "pairs". */
  unit: "items" | "pairs";
}

/** A benchmark file, read. */
export interface Benchmark {
  name: BenchmarkName;
  /** The file it was read from. */
  file: string;
  /** Unique videos, in the order the file first names them. */
  videos: BenchVideo[];
  /** Human scores per video id where the layout has them, for the results layout (`--out`). */
  humanScores?: ReadonlyMap<string, Partial<Record<Dimension, number | null>>>;
  evaluate(scores: ScoreLookup, options: MetricOptions): BenchEvaluation;
}
