/**
 * Reading a benchmark file in any of the paper's five layouts, named with `--benchmark` or found
 * from the file's columns.
 */
import { parseRecords, readInputText } from "../bench-file.js";
import { benchError } from "./fields.js";
import { checkLayout, columnsOf, detectLayout } from "./layouts.js";
import { mjBenchmark } from "./mjbench-video.js";
import { isT2VQAList, isT2VQAPairFile, T2VQA_PAIR_COLUMNS, t2vqaBenchmark, t2vqaPairFileBenchmark } from "./t2vqa-db.js";
import { BENCHMARK_NAMES, type Benchmark, type BenchmarkName } from "./types.js";
import { videogenRewardBenchmark } from "./videogen-rewardbench.js";
import { videophy2Benchmark } from "./videophy2.js";
import { vsb2Benchmark } from "./vsb2.js";

export * from "./types.js";
export { LAYOUTS } from "./layouts.js";

/** Options of {@link loadBenchmark}. */
export interface LoadBenchmarkOptions {
  /** The layout; found from the columns when omitted. */
  benchmark?: BenchmarkName;
  /** Folder of the videos (default: paths as the file gives them, names under `<bench folder>/videos`). */
  videosDir?: string;
  /** T2VQA-DB's pair file (default `t2vqa_db_pref.json` next to the list, when it exists). */
  pairFile?: string;
}

/** A read benchmark and whether its layout was found from the columns. */
export interface LoadedBenchmark {
  benchmark: Benchmark;
  detected: boolean;
}

/** Records for --benchmark t2vqa-db when the text is not the list: JSON, or nothing of use. */
function t2vqaRecords(text: string, file: string): Record<string, unknown>[] {
  try {
    return parseRecords(text, file);
  } catch {
    return benchError(file, `not in the t2vqa-db layout: expected video|prompt|score lines, or the pair file [{${T2VQA_PAIR_COLUMNS.join(", ")}, preference}]`);
  }
}

/** Reads the records and builds the benchmark of the given layout. */
export function benchmarkFromText(text: string, file: string, options: LoadBenchmarkOptions = {}): LoadedBenchmark {
  const asked = options.benchmark;
  if (asked !== undefined && !BENCHMARK_NAMES.includes(asked)) benchError(file, `unknown benchmark ${asked}; one of ${BENCHMARK_NAMES.join(", ")}`);
  if (isT2VQAList(text) && (asked === "t2vqa-db" || asked === undefined))
    return { benchmark: t2vqaBenchmark(text, file, options.videosDir, options.pairFile), detected: asked === undefined };
  const records = asked === "t2vqa-db" ? t2vqaRecords(text, file) : parseRecords(text, file);
  if (records.length === 0) benchError(file, "no items");
  if ((asked === "t2vqa-db" || asked === undefined) && isT2VQAPairFile(records)) {
    if (options.pairFile !== undefined) benchError(file, `this is T2VQA-DB's pair file itself (with each video's prompt and MOS); --pair-file ${options.pairFile} does not apply`);
    return { benchmark: t2vqaPairFileBenchmark(records, file, options.videosDir), detected: asked === undefined };
  }
  if (asked === "t2vqa-db")
    benchError(file, `not in the t2vqa-db layout: expected video|prompt|score lines, or the pair file [{${T2VQA_PAIR_COLUMNS.join(", ")}, preference}]`);
  const columns = columnsOf(records);
  let name: BenchmarkName;
  if (asked) {
    checkLayout(file, asked, columns);
    name = asked;
  } else name = detectLayout(file, columns);
  const make = { vsb2: vsb2Benchmark, "videogen-rewardbench": videogenRewardBenchmark, "mjbench-video": mjBenchmark, videophy2: videophy2Benchmark }[name as Exclude<BenchmarkName, "t2vqa-db">];
  return { benchmark: make(records, file, options.videosDir), detected: asked === undefined };
}

/** Reads a benchmark file. */
export async function loadBenchmark(file: string, options: LoadBenchmarkOptions = {}): Promise<LoadedBenchmark> {
  return benchmarkFromText(await readInputText(file), file, options);
}
