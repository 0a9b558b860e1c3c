/**
 * Benchmark files in the VideoScore-Bench-v2 layout, as the reference eval reads them
 * (TIGER-AI-Lab/VideoScore2 `eval/eval_rm.py`, `eval/benchmark.py`):
 *
 * ```json
 * [{ "video_name": "00012_02", "prompt": "a red fox …", "visual_score": 3, "t2v_score": 4, "phy_score": 2,
 *    "video_url": "https://…" }, …]
 * ```
 * with the videos at `<folder of the bench file>/videos/<video_name>.mp4`.
 *
 * Also accepted: JSONL (one such object a line), CSV with a header row, `{ "data": [...] }`, an
 * explicit `video` / `video_path` / `path` per item (relative to the bench file), the results
 * layout of the reference (`v_score_gt`, `t_score_gt`, `p_score_gt`, and — for `--from-results` —
 * `v_score_model`, `t_score_model`, `p_score_model`), and readable names (`visual_quality`,
 * `text_alignment`, `physical_consistency`).
 */
import { basename, dirname, extname, isAbsolute, join, resolve } from "node:path";
import { CSVSyntaxError, parseCSVRecords } from "./csv.js";
import { readRegularTextAsync } from "./input-file.js";
import { VideoScoreError } from "../addon/errors.js";
import type { Dimension } from "../scorer/parse.js";

/** One benchmark item. */
export interface BenchItem {
  /** `video_name` (or the file's base name). */
  id: string;
  /** Resolved path of the video file. */
  video: string;
  prompt: string;
  /** Human scores. */
  human: Record<Dimension, number>;
  /** The model's scores when the file already has them (the reference's results layout). */
  model?: Record<Dimension, number | null>;
  /** The item as read, kept for writing results back in the same layout. */
  raw: Record<string, unknown>;
}

const HUMAN_KEYS: Record<Dimension, string[]> = {
  visualQuality: ["visual_score", "v_score_gt", "visual_quality", "vq"],
  textAlignment: ["t2v_score", "t_score_gt", "text_alignment", "ta"],
  physicalConsistency: ["phy_score", "p_score_gt", "physical_consistency", "pc"],
};
const MODEL_KEYS: Record<Dimension, string> = {
  visualQuality: "v_score_model",
  textAlignment: "t_score_model",
  physicalConsistency: "p_score_model",
};

/** File extensions treated as videos when a folder or glob is expanded. */
export const VIDEO_EXTENSIONS = new Set([
  ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts", ".flv", ".wmv", ".3gp", ".ogv",
]);

function fail(file: string, msg: string): never {
  throw new VideoScoreError("ERR_INVALID_OPTION", `${file}: ${msg}`, { path: file });
}

function pick(o: Record<string, unknown>, keys: readonly string[]): unknown {
  for (const k of keys) if (o[k] !== undefined && o[k] !== "") return o[k];
  return undefined;
}

function asNumber(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" && v.trim() !== "" && v.trim().toLowerCase() !== "none" && v.trim().toLowerCase() !== "null") {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

function csvRecords(text: string, file: string): Record<string, string>[] {
  try {
    return parseCSVRecords(text);
  } catch (e) {
    if (e instanceof CSVSyntaxError) fail(file, e.message);
    throw e;
  }
}

/** The records of a JSON, JSONL or CSV file (by extension, else by content). */
export function parseRecords(text: string, file: string): Record<string, unknown>[] {
  const ext = extname(file).toLowerCase();
  const trimmed = text.replace(/^\uFEFF/, "").trim();
  if (ext === ".csv") return csvRecords(text, file);
  if (ext === ".jsonl" || ext === ".ndjson" || (ext !== ".json" && trimmed.startsWith("{") && trimmed.includes("\n{"))) {
    return trimmed
      .split(/\r?\n/)
      .filter((l) => l.trim() !== "")
      .map((l, i) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch (e) {
          return fail(file, `line ${i + 1} is not JSON (${(e as Error).message})`);
        }
      });
  }
  let data: unknown;
  try {
    data = JSON.parse(trimmed);
  } catch (e) {
    if (ext === ".json") fail(file, `not valid JSON (${(e as Error).message})`);
    return csvRecords(text, file);
  }
  if (data && typeof data === "object" && !Array.isArray(data)) {
    const o = data as Record<string, unknown>;
    data = o.data ?? o.items ?? o.videos;
  }
  if (!Array.isArray(data)) fail(file, "expected a JSON array of items (or { data: [...] })");
  return data as Record<string, unknown>[];
}

/** Options of {@link readBenchFile}. */
export interface ReadBenchOptions {
  /** Folder of the videos (default `<folder of the bench file>/videos`). */
  videosDir?: string;
  /** Also read the model scores (`v_score_model`, …); items lacking them get null. */
  withModelScores?: boolean;
}

/**
 * A benchmark or results file's text; a missing or unreadable file is ERR_INPUT_NOT_FOUND /
 * ERR_INPUT_UNREADABLE, and so is anything but a regular file (a FIFO would block the read).
 */
export async function readInputText(file: string, what = "the benchmark file"): Promise<string> {
  return readRegularTextAsync(file, what);
}

/** Reads a benchmark file; every item must have a prompt and three human scores. */
export async function readBenchFile(file: string, options: ReadBenchOptions = {}): Promise<BenchItem[]> {
  return benchItemsFromRecords(parseRecords(await readInputText(file), file), file, options);
}

/** The items of records already read from `file` (see {@link readBenchFile}). */
export function benchItemsFromRecords(records: readonly Record<string, unknown>[], file: string, options: ReadBenchOptions = {}): BenchItem[] {
  const base = dirname(resolve(file));
  const videosDir = options.videosDir ? resolve(options.videosDir) : join(base, "videos");
  return records.map((r, i) => {
    const where = `item ${i + 1}`;
    if (!r || typeof r !== "object") fail(file, `${where} is not an object`);
    const explicit = pick(r, ["video_path", "video", "path", "file"]);
    const name = pick(r, ["video_name", "name", "id"]);
    if (explicit === undefined && name === undefined) fail(file, `${where} has neither video_name nor video/path`);
    let video: string;
    if (typeof explicit === "string") video = isAbsolute(explicit) ? explicit : options.videosDir ? join(videosDir, basename(explicit)) : resolve(base, explicit);
    else {
      const n = String(name);
      video = join(videosDir, VIDEO_EXTENSIONS.has(extname(n).toLowerCase()) ? n : `${n}.mp4`);
    }
    const id = name !== undefined ? String(name) : basename(String(explicit));
    const prompt = pick(r, ["prompt", "t2v_prompt", "text"]);
    if (typeof prompt !== "string") fail(file, `${where} (${id}) has no prompt`);
    const human = {} as Record<Dimension, number>;
    for (const [dim, keys] of Object.entries(HUMAN_KEYS) as [Dimension, string[]][]) {
      const v = asNumber(pick(r, keys));
      if (v === null) fail(file, `${where} (${id}) has no human score for ${dim} (${keys.join(" / ")})`);
      human[dim] = v;
    }
    const item: BenchItem = { id, video, prompt, human, raw: r };
    if (options.withModelScores) {
      const model = {} as Record<Dimension, number | null>;
      for (const [dim, key] of Object.entries(MODEL_KEYS) as [Dimension, string][]) model[dim] = asNumber(r[key]);
      item.model = model;
    }
    return item;
  });
}

/**
 * One item in the reference's results layout (`eval_rm.py` writes it, `get_acc_corr.py` reads it):
 * the item's own fields, `v/t/p_score_gt`, `v/t/p_score_model` (null when scoring failed) and
 * `output` (the generated text).
 */
export function referenceResult(
  item: BenchItem,
  model: Record<Dimension, number | null> | null,
  output: string | null,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    ...item.raw,
    video_name: item.raw.video_name ?? item.id,
    prompt: item.prompt,
    v_score_gt: item.human.visualQuality,
    t_score_gt: item.human.textAlignment,
    p_score_gt: item.human.physicalConsistency,
    v_score_model: model?.visualQuality ?? null,
    t_score_model: model?.textAlignment ?? null,
    p_score_model: model?.physicalConsistency ?? null,
    output,
    ...extra,
  };
}
