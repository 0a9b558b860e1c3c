/**
 * videoscore2-native: score AI-generated videos the way VideoScore2 does, in-process.
 * @packageDocumentation
 */
import { loadAddon, loaderNotes, type GpuPreference } from "./addon/loader.js";
import type { NativeVersions } from "./addon/interface.js";

export { VideoScorer, EncodedVideo } from "./scorer/scorer.js";
export type { EncodeOptions, PreparedInput, ScoreManyItem, ScoreManyResult } from "./scorer/scorer.js";
export { answerGrammar } from "./scorer/options.js";
export type { LoadOptions, ScoreOptions, ScoreProgress } from "./scorer/options.js";
export type { ScoreResult, DimensionScore, SampleScore, ScoredFrames, ScoreTimings } from "./scorer/result.js";
export { sampleFrames } from "./video/sample.js";
export type { SampleOptions, SampledVideo, SampledFrame, VideoLimits } from "./video/sample.js";
export { planFrames, smartResize } from "./video/frame-plan.js";
export type { FramePlan, FrameSamplingOptions, VideoProbe } from "./video/frame-plan.js";
export { parseAnswer, referenceFirstMatch, DIMENSIONS } from "./scorer/parse.js";
export type { Dimension, ParsedAnswer, ScoreLocation } from "./scorer/parse.js";
export { normalizedSoft, expectedScore, hardRounded } from "./scorer/soft-score.js";
export { renderUserPrompt, chatLayout, chatText, PROMPT_TEMPLATES } from "./scorer/prompt.js";
export type { PromptTemplate } from "./scorer/prompt.js";
export {
  evaluate,
  accuracy,
  relaxedAccuracy,
  pearson,
  spearman,
  pairwiseAccuracy,
  preference,
  resolveTieThreshold,
  REFERENCE_TIE_THRESHOLD,
  PAPER_TIE_THRESHOLD,
} from "./eval/metrics.js";
export type { EvalItem, EvaluateOptions, EvalMetrics, DimensionMetrics, TieThreshold, ScoredPair, PairwiseResult } from "./eval/metrics.js";
export { renderReport } from "./eval/report.js";
export type { ReportClip, ReportOptions, ReportResult, ReportDimension } from "./eval/report.js";
export { readBenchFile } from "./eval/bench-file.js";
export type { BenchItem, ReadBenchOptions } from "./eval/bench-file.js";
export { encodePNG } from "./video/png.js";
export { quantize, QUANT_TYPES } from "./gguf/quantize.js";
export { convertQwen25VL, inspectQwen25VL } from "./gguf/convert/index.js";
export type { ConvertOptions, ConvertResult } from "./gguf/convert/index.js";
export type { QuantType, QuantizeOptions } from "./gguf/quantize.js";
export { VideoScoreError, ERROR_CODES } from "./addon/errors.js";
export type { VideoScoreErrorCode } from "./addon/errors.js";
export type { GpuPreference } from "./addon/loader.js";
export type { GpuDeviceSelector } from "./addon/devices.js";
export type { NativeGpuDevice as GpuDevice } from "./addon/interface.js";

/** Versions of what is compiled into the loaded addon, and which binary serves this thread. */
export interface Versions extends NativeVersions {
  /** Path of the loaded videoscore2.node. */
  binary: string;
  /** The x86 level of the CPU backend chosen for this CPU ("sse42", "haswell", "icelake", ...; "built-in" in the CUDA build). */
  cpuVariant: string;
  /** Every CPU module found and its score here (0: this CPU cannot run it, or the AMX level without VIDEOSCORE2_CPU_AMX=1). */
  cpuScores: { variant: string; score: number }[];
  /** The Node-API version of this Node.js. */
  runtimeNapiVersion: number;
  /** Notes from the loader (e.g. why CUDA was not used). */
  loaderNotes: readonly string[];
}

/** Loads the addon (if needed) and reports versions: llama.cpp commit, ggml, libav*, CUDA, Node-API. */
export function versions(gpu?: GpuPreference): Versions {
  const { addon, path, cpuVariant, cpuScores } = loadAddon(gpu);
  return { ...addon.versions(), binary: path, cpuVariant, cpuScores, runtimeNapiVersion: Number(process.versions.napi), loaderNotes: loaderNotes() };
}
// Scoring on a BullMQ queue (bullmq + ioredis are optional peers, imported only when used): docs/queue.md.
export { createScoringWorker } from "./queue/worker.js";
export type { ScoringWorker, ScoringWorkerOptions, ScoringWorkerEvent } from "./queue/worker.js";
export { enqueueScores, collectScores } from "./queue/producer.js";
export type { CollectedScore, CollectOptions, EnqueuedScores, EnqueueOptions, QueueClientOptions, ScoreJobInput } from "./queue/producer.js";
export { scoreJobId, DEFAULT_QUEUE, DEFAULT_KEEP_SECONDS, JOB_FORMAT } from "./queue/job.js";
export type { ScoreJobData, ScoreJobProgress, ScoreJobResult, QueueScoreOptions } from "./queue/job.js";
export type { QueueConnection, RedisClientLike } from "./queue/connection.js";
