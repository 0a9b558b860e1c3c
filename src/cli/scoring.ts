/**
 * What `score`, `eval` and `demo` share: finding the model, turning flags into ScoreOptions,
 * running a batch through VideoScorer.scoreMany with progress and interruption, and the report.
 */
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import { VideoScoreError } from "../addon/errors.js";
import { writeQwen25VLModels } from "../gguf/tiny-model.js";
import { writeOutput } from "./output-files.js";
import { renderReport, workMs, type ReportClip } from "../eval/report.js";
import type { LoadOptions, ScoreOptions, ScoreProgress } from "../scorer/options.js";
import { BUILTIN_TEMPLATES } from "../scorer/prompt.js";
import { VideoScorer, type ScoreManyItem, type ScoreManyResult } from "../scorer/scorer.js";
import { sampleFrames } from "../video/sample.js";
import { enumOpt, gpuDeviceOpt, gpuOpt, intOpt, numOpt, UsageError, type CliValues } from "./args.js";
import { answerMissing, noAnswerReason, type Outcome } from "./output.js";
import { userCacheDir } from "./cache-dir.js";
import { phaseLabel, type Progress } from "./progress.js";
import { firstLine } from "./display.js";
import { runQueuedBatch } from "./queued-batch.js";
import { DEFAULT_QUEUE } from "../queue/job.js";
import { redisUnreachable } from "../queue/connection.js";

export interface ModelFiles {
  model: string;
  mmproj: string;
  /** The generated tiny random-weight model (demo only). */
  random: boolean;
}

/**
 * --model/--mmproj, else VIDEOSCORE2_MODEL/VIDEOSCORE2_MMPROJ. Without either, `score` and `eval`
 * refuse; only `demo` falls back to a generated tiny random-weight model.
 */
export async function resolveModel(values: CliValues, allowRandom: boolean): Promise<ModelFiles> {
  const model = values.model ?? process.env.VIDEOSCORE2_MODEL;
  const mmproj = values.mmproj ?? process.env.VIDEOSCORE2_MMPROJ;
  if (model && mmproj) return { model, mmproj, random: false };
  if (model || mmproj)
    throw new UsageError("give both the text model and the vision projector: --model m.gguf --mmproj mm.gguf (or VIDEOSCORE2_MODEL and VIDEOSCORE2_MMPROJ)");
  if (!allowRandom)
    throw new UsageError(
      "no model: pass --model vs2.gguf --mmproj mmproj-vs2.gguf (or set VIDEOSCORE2_MODEL and VIDEOSCORE2_MMPROJ); " +
        "see the README for converting TIGER-Lab/VideoScore2. (`videoscore2 demo` runs a tiny random-weight model.)",
    );
  const dir = join(userCacheDir(), "tiny-model");
  const m = join(dir, "tiny-qwen2.5-vl.gguf");
  const mm = join(dir, "mmproj-tiny-qwen2.5-vl.gguf");
  if (!existsSync(m) || !existsSync(mm)) await writeQwen25VLModels({ dir, seed: 1 });
  return { model: m, mmproj: mm, random: true };
}

export const RANDOM_WARNING = "RANDOM WEIGHTS: a tiny generated model (real architecture, random weights) — the scores are meaningless";


/** The score options shared by every item (no prompt), from the flags. */
export function scoreOptionsFrom(values: CliValues, opts: { random: boolean; defaultTemplate: (typeof BUILTIN_TEMPLATES)[number] }): Omit<ScoreOptions, "prompt"> {
  const mode = enumOpt(values, "mode", ["think", "direct"] as const, "think");
  if (mode === "direct" && values.constrain) throw new UsageError("--constrain does not apply to --mode direct (the answer is already forced)");
  const maxThinking = intOpt(values, "max-thinking-tokens", 0);
  if (maxThinking !== undefined && !values.constrain) throw new UsageError("--max-thinking-tokens needs --constrain");
  const fps = numOpt(values, "fps");
  if (fps !== undefined && !(fps > 0)) throw new UsageError(`--fps expects a number > 0, got "${values.fps}"`);
  const o: Record<string, unknown> = {
    template: enumOpt(values, "template", BUILTIN_TEMPLATES, opts.defaultTemplate),
    fps,
    nframes: intOpt(values, "nframes", 2),
    maxPixels: intOpt(values, "max-pixels", 1),
    seed: intOpt(values, "seed", 0),
    samples: intOpt(values, "samples", 1),
    temperature: numOpt(values, "temperature", 0),
    maxTokens: intOpt(values, "max-tokens", 1) ?? (opts.random ? 256 : undefined),
  };
  if (o.fps !== undefined && o.nframes !== undefined) throw new UsageError("give --fps or --nframes, not both");
  if (mode === "direct" && (o.samples as number | undefined ?? 1) > 1)
    throw new UsageError("--samples does not apply to --mode direct (nothing is drawn there: every sample would be the same)");
  if (values.constrain) o.constrain = maxThinking !== undefined ? { maxThinkingTokens: maxThinking } : true;
  else if (opts.random && mode === "think") o.constrain = { maxThinkingTokens: 120 }; // random weights rarely write an answer unaided
  if (mode === "direct") o.mode = "direct";
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o as Omit<ScoreOptions, "prompt">;
}

/** The load options from the flags (score, eval and worker load the same way: same scores). */
export function loadOptionsFrom(values: CliValues): Omit<LoadOptions, "model" | "mmproj"> {
  return {
    gpuLayers: intOpt(values, "gpu-layers", -1),
    threads: intOpt(values, "threads", 0),
    contextSize: intOpt(values, "context-size", 256),
    parallel: intOpt(values, "parallel", 1),
    // Batched, each call's chains take KV streams of their own: as many per call as --samples.
    samplesPerCall: intOpt(values, "samples", 1),
    gpu: gpuOpt(values),
    gpuDevice: gpuDeviceOpt(values),
  };
}

/** Loads the scorer from the flags. */
export async function loadScorer(values: CliValues, m: ModelFiles): Promise<VideoScorer> {
  return VideoScorer.load({ ...loadOptionsFrom(values), model: m.model, mmproj: m.mmproj });
}

/** One video to score with its prompt. */
export interface BatchItem {
  video: string;
  prompt: string;
}

/** Items scored per scoreMany call: bounds how many sampled videos are held in memory at once. */
export const CHUNK = 4;

function errorOf(e: unknown): { code: string; message: string } {
  if (e instanceof VideoScoreError) return { code: e.code, message: e.message };
  return { code: "ERR_INTERNAL", message: e instanceof Error ? e.message : String(e) };
}

function isAbort(r: ScoreManyResult): boolean {
  return !r.ok && (r.error.code === "ERR_ABORTED" || r.error.code === "ERR_DISPOSED");
}

/** One settled item on the progress bar: its scores, why it has no answer, or its error. */
export function tickOutcome(progress: Progress | undefined, o: Outcome): void {
  if (o.result) {
    const d = o.result;
    const s = (x: { score: number | null; soft: number | null }) => `${x.score ?? "—"}${x.soft !== null ? ` (${x.soft.toFixed(2)})` : ""}`;
    if (answerMissing(d)) progress?.tick(o.video, "no-answer", noAnswerReason(d));
    else progress?.tick(o.video, "ok", `VQ ${s(d.visualQuality)} TA ${s(d.textAlignment)} PC ${s(d.physicalConsistency)}  ${(workMs(d.timings) / 1000).toFixed(1)} s`);
  } else progress?.tick(o.video, "failed", `${o.error!.code}: ${firstLine(o.error!.message, o.video)}`);
}

/**
 * Scores the items through `scorer.scoreMany`, a chunk at a time. Each settled item goes to
 * `onOutcome` (items cut by the signal are not reported). Returns the outcomes in input order;
 * entries are undefined for items that never ran or were interrupted.
 */
export async function runBatch(
  scorer: VideoScorer,
  items: readonly BatchItem[],
  base: Omit<ScoreOptions, "prompt">,
  opts: { signal: AbortSignal; progress?: Progress; onOutcome?: (o: Outcome) => void },
): Promise<(Outcome | undefined)[]> {
  const out: (Outcome | undefined)[] = new Array(items.length).fill(undefined);
  for (let start = 0; start < items.length; start += CHUNK) {
    if (opts.signal.aborted) break;
    const chunk = items.slice(start, start + CHUNK);
    opts.progress?.working(basename(chunk[0]!.video));
    // The bar shows the phase of the score that is running (one generates at a time).
    const many: ScoreManyItem[] = chunk.map(
      (it) => ({ ...base, video: it.video, prompt: it.prompt, onProgress: (p: ScoreProgress) => p.phase !== "sample" && opts.progress?.working(`${basename(it.video)}: ${phaseLabel(p)}`) }) as ScoreManyItem,
    );
    const onResult = (r: ScoreManyResult, i: number) => {
      if (isAbort(r) && opts.signal.aborted) return;
      const index = start + i;
      const it = items[index]!;
      const o: Outcome = r.ok ? { index, video: it.video, prompt: it.prompt, result: r.result } : { index, video: it.video, prompt: it.prompt, error: errorOf(r.error) };
      out[index] = o;
      let k = start;
      while (k < Math.min(items.length, start + chunk.length) && out[k] !== undefined) k++;
      const next = k < start + chunk.length ? items[k] : items[start + chunk.length];
      if (next) opts.progress?.working(basename(next.video));
      tickOutcome(opts.progress, o);
      opts.onOutcome?.(o);
    };
    // scoreMany's default concurrency keeps the model's `parallel` calls busy and samples one ahead.
    await scorer.scoreMany(many, { signal: opts.signal, onResult });
  }
  return out;
}

/**
 * Writes the HTML report. The frames are sampled again with the same frame options (the scorer
 * does not hand its frames back), so the thumbnails are exactly what the model saw.
 */
export async function writeReport(
  path: string,
  outcomes: readonly Outcome[],
  base: Omit<ScoreOptions, "prompt">,
  meta: { title?: string; meta?: Record<string, string>; warning?: string },
): Promise<void> {
  const clips: ReportClip[] = [];
  const frameOpts = { fps: base.fps, nframes: base.nframes, maxPixels: base.maxPixels };
  for (const k of Object.keys(frameOpts) as (keyof typeof frameOpts)[]) if (frameOpts[k] === undefined) delete frameOpts[k];
  for (const o of outcomes) {
    const clip: ReportClip = { video: o.video, prompt: o.prompt };
    if (o.result) {
      clip.result = o.result;
      try {
        const s = await sampleFrames(o.video, frameOpts);
        clip.frames = s.frames.map((f) => ({ width: s.width, height: s.height, rgb: f.rgb, index: f.index, timeSeconds: f.timeSeconds }));
      } catch {
        /* the report still shows the scores */
      }
    } else clip.error = o.error ?? { code: "ERR_INTERNAL", message: "no result" };
    clips.push(clip);
  }
  writeOutput("--report", path, renderReport(clips, meta));
}

/** Where `score --redis` / `eval --redis` send their jobs. */
export interface QueueTarget {
  url: string;
  queue: string;
}

/** Flags that load a model: with --redis they are the workers' (`videoscore2 worker`), not the producer's. */
const WORKER_SIDE = ["model", "mmproj", "gpu-layers", "gpu", "gpu-device", "threads", "context-size", "parallel"] as const;

/** --redis [--queue] when given (and then no load flags); --queue alone is a mistake. */
export function queueTarget(values: CliValues): QueueTarget | undefined {
  if (values.redis === undefined) {
    if (values.queue !== undefined) throw new UsageError("--queue needs --redis redis://host:port");
    return undefined;
  }
  if (!/^rediss?:\/\/./.test(values.redis)) throw new UsageError(`--redis expects a URL like redis://host:6379, got "${values.redis}"`);
  for (const k of WORKER_SIDE)
    if (values[k] !== undefined) throw new UsageError(`--${k} is a worker's option with --redis: the workers load the model (videoscore2 worker --help)`);
  if (values.queue !== undefined && !/^[A-Za-z0-9._-]+$/.test(values.queue)) throw new UsageError(`--queue expects a name of letters, digits, ".", "_" or "-", got "${values.queue}"`);
  return { url: values.redis, queue: values.queue ?? DEFAULT_QUEUE };
}

/** What scores a batch: a model loaded here, or the workers of a queue. Same outcomes either way. */
export interface Runner {
  /** Named in messages and reports: the model file, or the queue. */
  readonly label: string;
  run(items: readonly BatchItem[], base: Omit<ScoreOptions, "prompt">, opts: { signal: AbortSignal; progress?: Progress; onOutcome?: (o: Outcome) => void; log?: (s: string) => void }): Promise<(Outcome | undefined)[]>;
  close(): Promise<void>;
}

/** Loads the model (local) or prepares the queue client (`target` from {@link queueTarget}). */
export async function openRunner(values: CliValues, target: ModelFiles | QueueTarget): Promise<Runner> {
  if ("url" in target) {
    const why = await redisUnreachable(target.url, 10_000);
    if (why) throw new UsageError(`no Redis answers at ${target.url} (${why})`);
    return { label: `queue "${target.queue}" at ${target.url}`, run: (items, base, opts) => runQueuedBatch(target, items, base, opts), close: async () => undefined };
  }
  const scorer = await loadScorer(values, target);
  return { label: target.model, run: (items, base, opts) => runBatch(scorer, items, base, opts), close: () => scorer.dispose() };
}
