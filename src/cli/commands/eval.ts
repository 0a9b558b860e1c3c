/**
 * `videoscore2 eval <bench>`: score a benchmark in any of the paper's five layouts (or read a
 * journal / results file) and print the paper's metrics. Each video is scored once, and each
 * score is appended to a results journal at once, so a rerun of an interrupted command resumes.
 */
import { checkOutputs, writeOutput } from "../output-files.js";
import { dirname, resolve } from "node:path";
import { loadBenchmark, BENCHMARK_LABELS, BENCHMARK_NAMES, type Benchmark, type BenchmarkName, type BenchEvaluation, type ModelScores } from "../../eval/benchmarks/index.js";
import type { BenchItem } from "../../eval/bench-file.js";
import { referenceResult } from "../../eval/bench-file.js";
import { conflictWarning, Journal, JournalWriteError, type JournalEntry } from "../../eval/journal.js";
import { METRIC_DIMENSIONS, REFERENCE_TIE_THRESHOLD, resolveTieThreshold, SCORE_RANGE, type TieThreshold } from "../../eval/metrics.js";
import { benchmarkFromResults, entryScores, readResultScores, type ScoreKind } from "../../eval/results.js";
import { allowOnly, enumOpt, EXIT, intOpt, UsageError, type CliValues } from "../args.js";
import type { Outcome } from "../output.js";
import { Progress } from "../progress.js";
import { displayText } from "../display.js";
import { openRunner, queueTarget, resolveModel, scoreOptionsFrom, writeReport } from "../scoring.js";

const EVAL_OPTIONS = [
  "videos", "model", "mmproj", "template", "mode", "fps", "nframes", "max-pixels", "seed", "samples", "temperature", "max-tokens", "constrain",
  "max-thinking-tokens", "gpu-layers", "gpu", "gpu-device", "threads", "context-size", "parallel", "format", "out", "report", "quiet", "score", "tie-threshold",
  "pairs", "from-results", "limit", "benchmark", "journal", "pair-file", "redis", "queue",
] as const;

/** Options that only matter when scoring. */
const SCORING_ONLY = ["model", "mmproj", "template", "mode", "fps", "nframes", "max-pixels", "seed", "samples", "temperature", "max-tokens", "constrain", "max-thinking-tokens", "gpu-layers", "gpu", "gpu-device", "threads", "context-size", "parallel", "out", "report", "journal", "limit"] as const;

/** "0.001" → 0.001; "5%" → 5 % of the range. */
export function parseTieThreshold(s: string | undefined): TieThreshold {
  if (s === undefined) return REFERENCE_TIE_THRESHOLD;
  const m = /^\s*([0-9]*\.?[0-9]+)\s*%\s*$/.exec(s);
  if (m) return { fractionOfRange: Number(m[1]) / 100 };
  const n = Number(s);
  if (s.trim() === "" || !Number.isFinite(n) || n < 0) throw new UsageError(`--tie-threshold expects a number >= 0 or a percentage like 5%, got "${s}"`);
  return n;
}

/** The default journal of a benchmark file: next to it. */
export const defaultJournal = (benchFile: string) => `${benchFile}.journal.jsonl`;

/** What one `eval` measured, as `--format json` prints it. */
export interface EvalReport {
  benchmark: BenchmarkName;
  label: string;
  file: string;
  /** Whether the layout was found from the columns (false: named by --benchmark). */
  detected: boolean;
  score: ScoreKind;
  metrics: BenchEvaluation["metrics"];
  counts: {
    /** Videos with all three scores. */
    scored: number;
    /** Videos that settled without all three scores (an error, or no answer). */
    failed: number;
    /** Items or pairs left out because a video they name has no scores. */
    skipped: number;
    /** Videos not scored yet (interrupted, --limit, or absent from the results). */
    pending: number;
    /** Items or pairs measured, of total. */
    measured: number;
    total: number;
    unit: "items" | "pairs";
    /** Videos read back from the journal instead of being scored again. */
    fromJournal: number;
  };
  tieThreshold: { dimension: number; sum: number };
  journal: string | null;
  seconds: number;
}

const pct = (v: number | null | undefined) => (v === null || v === undefined ? "—" : (v * 100).toFixed(2));

/** The metric the paper's table prints for the benchmark, and its value. */
export function headline(r: Pick<EvalReport, "benchmark" | "metrics">): { name: string; value: number | null } {
  const m = r.metrics;
  switch (r.benchmark) {
    case "vsb2":
      return { name: "accuracy, mean of the three dimensions", value: m.average.accuracy };
    case "videophy2":
      return { name: "accuracy, mean of alignment and physics", value: m.average.accuracy };
    case "videogen-rewardbench":
      return { name: "Overall pairwise accuracy (w/ ties)", value: m.overall.pairwiseWithTies?.accuracy ?? null };
    case "mjbench-video":
      return { name: "overall pairwise accuracy (w/ ties)", value: m.overall.pairwiseWithTies?.accuracy ?? null };
    case "t2vqa-db":
      return m.overall.pairwiseWithTies
        ? { name: "pairwise accuracy on the mean (w/ ties)", value: m.overall.pairwiseWithTies.accuracy }
        : { name: "SRCC of the sum against the MOS", value: m.overall.srcc };
  }
}

/** The report as the paper's table: one row per metric, columns visual/align/phys/avg/overall. */
export function formatReport(r: EvalReport): string {
  const m = r.metrics;
  const d = m.dimensions;
  const row = (label: string, vals: string[]) => `${label.padEnd(22)}${vals.map((v) => v.padStart(9)).join("")}`;
  const dims = (f: (x: (typeof d)["visualQuality"]) => number | null) => METRIC_DIMENSIONS.map((k) => pct(f(d[k])));
  const c = r.counts;
  const lines = [
    `${displayText(r.file)}: ${r.label} (${r.benchmark}, ${r.detected ? "layout found from its columns" : "--benchmark"}) · model score: ${r.score}`,
    `videos: ${c.scored} scored, ${c.failed} failed${c.pending ? `, ${c.pending} not scored` : ""}${c.fromJournal ? ` (${c.fromJournal} from the journal)` : ""} · ` +
      `${c.unit}: ${c.measured} measured of ${c.total}, ${c.skipped} skipped · ${r.seconds.toFixed(1)} s`,
    row("", ["visual", "align", "phys", "avg", "overall"]),
    row("accuracy", [...dims((x) => x.accuracy), pct(m.average.accuracy), pct(m.overall.accuracy)]),
    row("relaxed accuracy", [...dims((x) => x.relaxedAccuracy), pct(m.average.relaxedAccuracy), "—"]),
    row("PLCC", [...dims((x) => x.plcc), pct(m.average.plcc), pct(m.overall.plcc)]),
    row("SRCC", [...dims((x) => x.srcc), pct(m.average.srcc), pct(m.overall.srcc)]),
    row("pairwise (w/ ties)", [...dims((x) => x.pairwiseWithTies?.accuracy ?? null), pct(m.average.pairwiseWithTies), pct(m.overall.pairwiseWithTies?.accuracy)]),
    row("pairwise (w/o ties)", [...dims((x) => x.pairwiseWithoutTies?.accuracy ?? null), pct(m.average.pairwiseWithoutTies), pct(m.overall.pairwiseWithoutTies?.accuracy)]),
    `whole-item accuracy: ${pct(m.wholeItemAccuracy)}`,
  ];
  const counted = [...METRIC_DIMENSIONS.map((k) => d[k].pairwiseWithTies), m.overall.pairwiseWithTies];
  if (counted.some((p) => p))
    lines.push(
      `pairs counted (visual/align/phys/overall): w/ ties ${counted.map((p) => (p ? p.total : "—")).join("/")}, ` +
        `w/o ties ${[...METRIC_DIMENSIONS.map((k) => d[k].pairwiseWithoutTies), m.overall.pairwiseWithoutTies].map((p) => (p ? p.total : "—")).join("/")}; ` +
        `tie when |Δ| ≤ ${+r.tieThreshold.dimension.toFixed(6)} (sum: ${+r.tieThreshold.sum.toFixed(6)})`,
    );
  const h = headline(r);
  lines.push(`paper's column: ${r.label} ${h.name} = ${pct(h.value)}`, "values × 100; — : does not apply or no data");
  return `${lines.join("\n")}\n`;
}

function journalEntry(o: Outcome, id: string): JournalEntry {
  const base = { id, video: o.video, prompt: o.prompt };
  if (!o.result) return { ...base, ok: false, error: o.error ?? { code: "ERR_INTERNAL", message: "no result" } };
  const r = o.result;
  return {
    ...base,
    ok: true,
    scores: Object.fromEntries(METRIC_DIMENSIONS.map((d) => [d, { score: r[d].score, soft: r[d].soft, expected: r[d].expected }])) as JournalEntry["scores"],
    output: r.text,
  };
}

/** The results layout of the reference (`get_acc_corr.py` / `get_pairwise_acc.py` read it). */
function resultsLayout(bench: Benchmark, entries: ReadonlyMap<string, JournalEntry>, kind: ScoreKind): Record<string, unknown>[] {
  const items = (bench as Benchmark & { items?: BenchItem[] }).items;
  const rows: Record<string, unknown>[] = [];
  for (const v of bench.videos) {
    const e = entries.get(v.id);
    if (!e) continue;
    const s = entryScores(e, kind);
    const model = s ?? (e.scores ? (Object.fromEntries(METRIC_DIMENSIONS.map((d) => [d, kind === "hard" ? e.scores![d].score : e.scores![d][kind]])) as Record<string, number | null>) : null);
    const extra = e.ok ? {} : { error: e.error };
    const item = items?.find((it) => it.id === v.id);
    if (item) {
      rows.push(referenceResult(item, model as never, e.output ?? null, extra));
      continue;
    }
    const h = bench.humanScores?.get(v.id);
    rows.push({
      video_name: v.id,
      prompt: v.prompt,
      ...(h ? { v_score_gt: h.visualQuality ?? null, t_score_gt: h.textAlignment ?? null, p_score_gt: h.physicalConsistency ?? null } : {}),
      v_score_model: model?.visualQuality ?? null,
      t_score_model: model?.textAlignment ?? null,
      p_score_model: model?.physicalConsistency ?? null,
      output: e.output ?? null,
      ...extra,
    });
  }
  return rows;
}

function clean(v: unknown): unknown {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (Array.isArray(v)) return v.map(clean);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clean(x)]));
  return v;
}

export async function evalCommand(values: CliValues, positionals: string[], ctx: { signal: AbortSignal; stderr: NodeJS.WriteStream }): Promise<number> {
  const t0 = performance.now();
  /** One line to stderr; the paths in it are shown escaped (src/cli/display.ts). */
  const say = (s: string) => ctx.stderr.write(`${displayText(s)}\n`);
  allowOnly(values, "eval", EVAL_OPTIONS);
  const fromResults = values["from-results"];
  if (positionals.length > 1 || (positionals.length === 0 && fromResults === undefined))
    throw new UsageError("eval takes one benchmark file: videoscore2 eval <bench file> [options] (or eval [<bench file>] --from-results <file>)");
  const file = positionals[0];
  const format = enumOpt(values, "format", ["table", "json"] as const, "table");
  const kind = enumOpt<ScoreKind>(values, "score", ["soft", "expected", "hard"], "soft");
  const pairs = enumOpt(values, "pairs", ["prompt", "all", "none"] as const, "prompt");
  const asked = values.benchmark === undefined ? undefined : enumOpt(values, "benchmark", BENCHMARK_NAMES, "vsb2");
  const tie = parseTieThreshold(values["tie-threshold"]);
  const range = SCORE_RANGE.max - SCORE_RANGE.min;
  const options = { tieDimension: resolveTieThreshold(tie, range), tieSum: resolveTieThreshold(tie, 3 * range), pairs };
  const limit = intOpt(values, "limit", 1);
  if (fromResults !== undefined)
    for (const k of SCORING_ONLY) if (values[k] !== undefined) throw new UsageError(`--${k} does not apply to --from-results (nothing is scored)`);

  const usage = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  };
  const usageAsync = async <T>(f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      throw e instanceof UsageError ? e : new UsageError((e as Error).message);
    }
  };

  let bench: Benchmark;
  let detected = false;
  let scores: Map<string, ModelScores | null>;
  let settled: Set<string>;
  let fromJournal = 0;
  let interrupted = false;
  let journalPath: string | null = null;

  if (fromResults !== undefined) {
    const res = usage(() => readResultScores(fromResults, kind));
    for (const w of res.warnings) say(`warning: ${w}`);
    if (file !== undefined) {
      const loaded = await usageAsync(() => loadBenchmark(file, { benchmark: asked, videosDir: values.videos, pairFile: values["pair-file"] }));
      bench = loaded.benchmark;
      detected = loaded.detected;
    } else {
      if (!res.records) throw new UsageError(`${fromResults} is a journal, which holds no labels: give the benchmark file too, eval <bench file> --from-results ${fromResults}`);
      const records = res.records;
      bench = usage(() => benchmarkFromResults(records, fromResults, asked));
      detected = asked === undefined;
    }
    scores = res.scores;
    settled = new Set(res.scores.keys());
  } else {
    const benchFile = file as string;
    const loaded = await usageAsync(() => loadBenchmark(benchFile, { benchmark: asked, videosDir: values.videos, pairFile: values["pair-file"] }));
    bench = loaded.benchmark;
    detected = loaded.detected;
    const queued = queueTarget(values);
    const m = queued ?? (await resolveModel(values, false));
    const base = scoreOptionsFrom(values, { random: false, defaultTemplate: "benchmark" });
    journalPath = values.journal ?? defaultJournal(benchFile);
    const jp = journalPath;
    // The journal is appended to and may be resumed from, so it may exist; it must not be an input.
    checkOutputs(
      [["--journal", jp], ["--out", values.out], ["--report", values.report]],
      [["the benchmark file", benchFile], ["--pair-file", values["pair-file"]], ...bench.videos.map((v) => ["video", v.video] as [string, string])],
    );
    let journal: Journal;
    try {
      journal = Journal.open(jp, { benchmark: bench.name, options: { ...("url" in m ? { queue: `${m.url}/${m.queue}` } : { model: resolve(m.model), mmproj: resolve(m.mmproj) }), ...base } });
    } catch (e) {
      if (e instanceof JournalWriteError) {
        say(`videoscore2: ${e.message}; nothing was scored or kept`);
        return EXIT.fatal;
      }
      throw e instanceof UsageError ? e : new UsageError((e as Error).message);
    }
    for (const c of journal.conflicts) say(`warning: ${conflictWarning(jp, c)}`);
    const videos = limit !== undefined ? bench.videos.slice(0, limit) : bench.videos;
    const todo = videos.filter((v) => !journal.entries.has(v.id));
    fromJournal = videos.length - todo.length;
    if (!values.quiet) {
      say(`${benchFile}: ${BENCHMARK_LABELS[bench.name]} (${bench.name}${detected ? ", found from its columns" : ""}), ${bench.videos.length} videos`);
      if (journal.repaired) say(`${jp}: its last line was cut (a crash?); that video is scored again`);
      say(`journal ${jp}: ${fromJournal} videos already scored, ${todo.length} to score`);
    }
    const outcomes: Outcome[] = [];
    // A journal that cannot be written stops the run: nothing more scored could be kept.
    const stop = new AbortController();
    let journalFailure: JournalWriteError | null = null;
    let notKept = 0;
    try {
      if (todo.length > 0) {
        if (!values.quiet) say("url" in m ? `scoring on queue "${m.queue}" at ${m.url} …` : `loading ${m.model} + ${m.mmproj} …`);
        const runner = await openRunner(values, m);
        const progress = new Progress(todo.length, ctx.stderr, !values.quiet);
        try {
          const all = await runner.run(todo.map((v) => ({ video: v.video, prompt: v.prompt })), base, {
            signal: AbortSignal.any([ctx.signal, stop.signal]),
            progress,
            log: (line) => progress.log(line),
            onOutcome: (o) => {
              outcomes.push(o);
              if (journalFailure) {
                notKept++;
                return;
              }
              try {
                journal.append(journalEntry(o, todo[o.index]!.id));
              } catch (e) {
                if (!(e instanceof JournalWriteError)) throw e;
                journalFailure = e;
                notKept++;
                stop.abort();
              }
            },
          });
          interrupted = ctx.signal.aborted && all.some((o) => o === undefined);
        } finally {
          progress.finish();
          await runner.close();
        }
      }
    } finally {
      journal.close();
    }
    if (journalFailure) {
      const f: JournalWriteError = journalFailure;
      say(
        `videoscore2: ${f.message}; it keeps ${f.kept} of the ${videos.length} videos (${fromJournal} from before this run, ${f.kept - fromJournal} scored now), ` +
          `${notKept} scored in this run could not be kept, ${videos.length - f.kept} left to score: free some space and rerun the command to resume`,
      );
      return EXIT.fatal;
    }
    const entries = journal.entries;
    scores = new Map(videos.filter((v) => entries.has(v.id)).map((v) => [v.id, entryScores(entries.get(v.id)!, kind)]));
    settled = new Set(scores.keys());
    if (values.out) {
      writeOutput("--out", values.out, `${JSON.stringify(resultsLayout(bench, entries, kind), null, 2)}\n`);
    }
    if (values.report)
      await writeReport(values.report, outcomes, base, { title: `VideoScore2 eval: ${benchFile}`, meta: { model: "url" in m ? `queue "${m.queue}" at ${m.url}` : m.model, template: String(base.template), score: kind } });
  }

  const ev = bench.evaluate(scores, options);
  const ids = bench.videos.map((v) => v.id);
  const scored = ids.filter((id) => scores.get(id)).length;
  const failed = ids.filter((id) => settled.has(id) && !scores.get(id)).length;
  const report: EvalReport = {
    benchmark: bench.name,
    label: BENCHMARK_LABELS[bench.name],
    file: file ?? (fromResults as string),
    detected,
    score: kind,
    metrics: ev.metrics,
    counts: { scored, failed, skipped: ev.skipped, pending: ids.length - scored - failed, measured: ev.measured, total: ev.total, unit: ev.unit, fromJournal },
    tieThreshold: { dimension: options.tieDimension, sum: options.tieSum },
    journal: journalPath,
    seconds: (performance.now() - t0) / 1000,
  };
  if (format === "json") process.stdout.write(`${JSON.stringify(clean(report), null, 2)}\n`);
  else process.stdout.write(formatReport(report));
  if (interrupted) return EXIT.interrupted;
  return fromResults === undefined && failed > 0 ? EXIT.someFailed : EXIT.ok;
}
