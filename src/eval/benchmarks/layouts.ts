/**
 * The columns each benchmark layout has, finding the layout of a file from its columns, and the
 * message when none fits (exit 2: it names the missing and unexpected columns and the layouts the
 * file could have been).
 */
import { benchError } from "./fields.js";
import { BENCHMARK_NAMES, type BenchmarkName } from "./types.js";

/** The columns of one layout: each required entry lists the names that may stand for it. */
export interface LayoutSpec {
  name: BenchmarkName;
  required: readonly (readonly string[])[];
  optional: readonly string[];
  /** One line of the layout as its authors publish it, for `eval --help`. */
  example: string;
}

export const LAYOUTS: Record<BenchmarkName, LayoutSpec> = {
  vsb2: {
    name: "vsb2",
    required: [
      ["video_name", "video", "video_path", "path"],
      ["prompt", "t2v_prompt", "text"],
      ["visual_score", "v_score_gt", "visual_quality"],
      ["t2v_score", "t_score_gt", "text_alignment"],
      ["phy_score", "p_score_gt", "physical_consistency"],
    ],
    optional: ["video_url", "name", "id", "file", "v_score_model", "t_score_model", "p_score_model", "output", "error", "scores"],
    example: '[{"video_name": "00012_02", "prompt": "a red fox …", "visual_score": 3, "t2v_score": 4, "phy_score": 2}]',
  },
  "videogen-rewardbench": {
    name: "videogen-rewardbench",
    required: [["path_A"], ["path_B"], ["prompt"], ["VQ"], ["TA"], ["Overall"]],
    optional: ["A_model", "B_model", "MQ", "fps_A", "fps_B", "num_frames_A", "num_frames_B"],
    example: "path_A,path_B,A_model,B_model,prompt,VQ,MQ,TA,Overall\nvideos/a/1.mp4,videos/b/1.mp4,a,b,a red fox …,A,same,B,A",
  },
  "mjbench-video": {
    name: "mjbench-video",
    required: [["caption"], ["video_0_path"], ["video_1_path"], ["overall_preference"], ["video_0_overall_score"], ["video_1_overall_score"], ["video_0_total_score"], ["video_1_total_score"]],
    optional: ["category_preference", "id", "source"],
    example:
      '[{"caption": "a red fox …", "video_0_path": "videos/1.mp4", "video_1_path": "videos/2.mp4", "overall_preference": "Video 1 better",\n' +
      '  "video_0_overall_score": {"Alignment": 2, "Fineness": 1, "Consistency": 2}, "video_0_total_score": 2, … the same for video_1}]',
  },
  "t2vqa-db": {
    name: "t2vqa-db",
    required: [["video"], ["prompt"], ["score"]],
    optional: [],
    example: "0001.mp4|a red fox …|67.25      (one video a line: video|prompt|MOS 0–100; pairs: --pair-file t2vqa_db_pref.json\n" +
      '                           [{"video1": "0001", "video2": "0002", "preference": "1" | "2" | "same"}])\n' +
      'or the authors\' derived pair file alone: [{"prompt": "a red fox …", "video1": "0001", "video2": "0002",\n' +
      '  "video1_quality_score": 67.25, "video2_quality_score": 40.1, "preference": "1"}]',
  },
  videophy2: {
    name: "videophy2",
    required: [["video_url"], ["caption"], ["sa"], ["pc"]],
    optional: ["is_hard", "model_name", "upsampled_caption", "action", "category"],
    example: "video_url,caption,sa,pc,is_hard,model_name\nhttps://…/0001.mp4,a ball rolls …,4,3,0,cosmos",
  },
};

/** The columns of the records (the union of their keys). */
export function columnsOf(records: readonly Record<string, unknown>[]): string[] {
  const seen = new Set<string>();
  for (const r of records) if (r && typeof r === "object") for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

/** Which of a layout's required entries the columns lack (named by their first spelling). */
export function missingColumns(spec: LayoutSpec, columns: readonly string[]): string[] {
  const have = new Set(columns);
  return spec.required.filter((alts) => !alts.some((a) => have.has(a))).map((alts) => alts.join(" / "));
}

/** Columns the layout does not know. */
export function unexpectedColumns(spec: LayoutSpec, columns: readonly string[]): string[] {
  const known = new Set([...spec.required.flat(), ...spec.optional]);
  return columns.filter((c) => !known.has(c));
}

const list = (xs: readonly string[]) => (xs.length ? xs.join(", ") : "none");

/** The layout of records from their columns; a usage error naming what is missing when none fits. */
export function detectLayout(file: string, columns: readonly string[], candidates: readonly BenchmarkName[] = BENCHMARK_NAMES): BenchmarkName {
  const fits = candidates.filter((n) => n !== "t2vqa-db" && missingColumns(LAYOUTS[n], columns).length === 0);
  if (fits.length > 0) return fits[0] as BenchmarkName;
  const ranked = candidates
    .filter((n) => n !== "t2vqa-db")
    .map((n) => ({ n, missing: missingColumns(LAYOUTS[n], columns), unexpected: unexpectedColumns(LAYOUTS[n], columns) }))
    .sort((a, b) => a.missing.length - b.missing.length);
  const lines = ranked.map((r) => `  ${r.n}: missing ${list(r.missing)}; unexpected ${list(r.unexpected)}`);
  return benchError(
    file,
    `its columns (${list(columns)}) match none of the benchmark layouts; it could have been:\n${lines.join("\n")}\n` +
      "  t2vqa-db: a text file of video|prompt|score lines, or its pair file with video1/2_quality_score\n(choose one with --benchmark; eval --help shows each layout)",
  );
}

/** Checks records against the layout named by --benchmark. */
export function checkLayout(file: string, name: BenchmarkName, columns: readonly string[]): void {
  const spec = LAYOUTS[name];
  const missing = missingColumns(spec, columns);
  if (missing.length === 0) return;
  const others = BENCHMARK_NAMES.filter((n) => n !== name && n !== "t2vqa-db" && missingColumns(LAYOUTS[n], columns).length === 0);
  benchError(
    file,
    `not in the ${name} layout: missing ${list(missing)}; unexpected ${list(unexpectedColumns(spec, columns))}` +
      (others.length ? ` (its columns fit ${others.join(", ")})` : ""),
  );
}
