/**
 * `videoscore2 eval <bench>`: score a benchmark in the VideoScore-Bench-v2 layout (or read a
 * results file) and print the paper's metrics.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { readBenchFile, referenceResult, type BenchItem } from "../../eval/bench-file.js";
import { evaluate, METRIC_DIMENSIONS, REFERENCE_TIE_THRESHOLD, type EvalItem, type EvalMetrics, type TieThreshold } from "../../eval/metrics.js";
import type { Dimension } from "../../scorer/parse.js";
import type { ScoreResult } from "../../scorer/result.js";
import { allowOnly, enumOpt, EXIT, intOpt, UsageError, type CliValues } from "../args.js";
import type { Outcome } from "../output.js";
import { Progress } from "../progress.js";
import { openRunner, queueTarget, resolveModel, scoreOptionsFrom, writeReport } from "../scoring.js";

const EVAL_OPTIONS = [
  "videos", "model", "mmproj", "template", "mode", "fps", "nframes", "max-pixels", "seed", "temperature", "max-tokens", "constrain",
  "max-thinking-tokens", "gpu-layers", "gpu", "threads", "context-size", "format", "out", "report", "quiet", "score", "tie-threshold",
  "pairs", "from-results", "limit", "redis", "queue",
] as const;

type ScoreKind = "soft" | "expected" | "hard";

/** "0.001" → 0.001; "5%" → 5 % of the range. */
export function parseTieThreshold(s: string | undefined): TieThreshold {
  if (s === undefined) return REFERENCE_TIE_THRESHOLD;
  const m = /^\s*([0-9]*\.?[0-9]+)\s*%\s*$/.exec(s);
  if (m) return { fractionOfRange: Number(m[1]) / 100 };
  const n = Number(s);
  if (s.trim() === "" || !Number.isFinite(n) || n < 0) throw new UsageError(`--tie-threshold expects a number >= 0 or a percentage like 5%, got "${s}"`);
  return n;
}

function modelScore(r: ScoreResult, dim: Dimension, kind: ScoreKind): number | null {
  const d = r[dim];
  return kind === "soft" ? d.soft : kind === "expected" ? d.expected : d.score;
}

const pct = (v: number) => (Number.isFinite(v) ? (v * 100).toFixed(2) : "—");

/** The metrics as the paper's table (× 100), plus pair counts. */
export function formatMetrics(m: EvalMetrics, total: number, header: string): string {
  const d = m.dimensions;
  const cols = ["visual", "align", "phys", "avg", "sum"];
  const row = (label: string, vals: (string | undefined)[]) => `${label.padEnd(22)}${vals.map((v) => (v ?? "").padStart(9)).join("")}`;
  const dimVals = (f: (x: (typeof d)["visualQuality"]) => number) => METRIC_DIMENSIONS.map((k) => pct(f(d[k])));
  const lines = [
    header,
    `items: ${m.n} scored of ${total}${m.dropped.length ? ` (${m.dropped.length} without scores left out: ${m.dropped.slice(0, 5).join(", ")}${m.dropped.length > 5 ? ", …" : ""})` : ""}`,
    row("", cols),
    row("accuracy", [...dimVals((x) => x.accuracy), pct(m.average.accuracy)]),
    row("relaxed accuracy", [...dimVals((x) => x.relaxedAccuracy), pct(m.average.relaxedAccuracy)]),
    row("PLCC", [...dimVals((x) => x.plcc), pct(m.average.plcc), pct(m.overall.plcc)]),
    row("SRCC", [...dimVals((x) => x.srcc), pct(m.average.srcc), pct(m.overall.srcc)]),
  ];
  if (m.pairs !== "none") {
    lines.push(
      row("pairwise (w/ ties)", [...dimVals((x) => x.pairwiseWithTies.accuracy), pct(m.average.pairwiseWithTies), pct(m.overall.pairwiseWithTies.accuracy)]),
      row("pairwise (w/o ties)", [...dimVals((x) => x.pairwiseWithoutTies.accuracy), pct(m.average.pairwiseWithoutTies), pct(m.overall.pairwiseWithoutTies.accuracy)]),
      `pairs (${m.pairs === "prompt" ? "videos sharing a prompt" : "all videos"}): w/ ties ${METRIC_DIMENSIONS.map((k) => d[k].pairwiseWithTies.total).join("/")}/${m.overall.pairwiseWithTies.total}, ` +
        `w/o human ties ${METRIC_DIMENSIONS.map((k) => d[k].pairwiseWithoutTies.total).join("/")}/${m.overall.pairwiseWithoutTies.total} (visual/align/phys/sum); ` +
        `tie when |Δ| ≤ ${+m.tieThreshold.dimension.toFixed(6)} (sum: ${+m.tieThreshold.overall.toFixed(6)})`,
    );
  }
  lines.push("accuracy uses int(clip(round(x), 1, 5)) (round half to even); PLCC/SRCC/pairwise use the model score as is; values × 100");
  return `${lines.join("\n")}\n`;
}

function metricsJSON(m: EvalMetrics, total: number, extra: Record<string, unknown>): string {
  const clean = (v: unknown): unknown =>
    typeof v === "number" ? (Number.isFinite(v) ? v : null) : Array.isArray(v) ? v.map(clean) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clean(x)])) : v;
  return `${JSON.stringify(clean({ ...extra, total, ...m }), null, 2)}\n`;
}

export async function evalCommand(values: CliValues, positionals: string[], ctx: { signal: AbortSignal; stderr: NodeJS.WriteStream }): Promise<number> {
  allowOnly(values, "eval", EVAL_OPTIONS);
  if (positionals.length !== 1) throw new UsageError("eval takes one benchmark file: videoscore2 eval <bench.json> [options]");
  const file = positionals[0] as string;
  const format = enumOpt(values, "format", ["table", "json"] as const, "table");
  const kind = enumOpt<ScoreKind>(values, "score", ["soft", "expected", "hard"], "soft");
  const pairs = enumOpt(values, "pairs", ["prompt", "all", "none"] as const, "prompt");
  const tieThreshold = parseTieThreshold(values["tie-threshold"]);
  const limit = intOpt(values, "limit", 1);
  const fromResults = values["from-results"] ?? false;
  if (fromResults) {
    const scoring = EVAL_OPTIONS.filter((k) => !["format", "score", "tie-threshold", "pairs", "from-results", "limit", "quiet", "videos"].includes(k));
    for (const k of scoring) if (values[k] !== undefined) throw new UsageError(`--${k} does not apply to --from-results (nothing is scored)`);
  }

  let bench: BenchItem[];
  try {
    bench = await readBenchFile(file, { videosDir: values.videos, withModelScores: fromResults });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (limit !== undefined) bench = bench.slice(0, limit);
  if (bench.length === 0) throw new UsageError(`${file}: no items`);

  let evalItems: EvalItem[];
  let failed = 0;
  let interrupted = false;
  const header = `${file}: ${fromResults ? "scores from the file" : `model score: ${kind}`}`;
  if (fromResults) {
    evalItems = bench.map((b) => ({ id: b.id, prompt: b.prompt, human: b.human, model: b.model ?? null }));
  } else {
    const queued = queueTarget(values);
    const m = queued ?? (await resolveModel(values, false));
    const base = scoreOptionsFrom(values, { random: false, defaultTemplate: "benchmark" });
    if (!values.quiet) ctx.stderr.write("url" in m ? `scoring on queue "${m.queue}" at ${m.url} …\n` : `loading ${m.model} + ${m.mmproj} …\n`);
    const runner = await openRunner(values, m);
    const progress = new Progress(bench.length, ctx.stderr, !values.quiet);
    let outcomes: (Outcome | undefined)[];
    try {
      outcomes = await runner.run(
        bench.map((b) => ({ video: b.video, prompt: b.prompt })),
        base,
        { signal: ctx.signal, progress, log: (line) => progress.log(line) },
      );
    } finally {
      progress.finish();
      await runner.close();
    }
    interrupted = ctx.signal.aborted && outcomes.some((o) => o === undefined);
    // Interrupted runs measure what finished; items never run are not counted at all.
    const ran = bench.map((b, i) => ({ b, o: outcomes[i] })).filter((x): x is { b: BenchItem; o: Outcome } => x.o !== undefined);
    failed = ran.filter((x) => !x.o.result).length;
    evalItems = ran.map(({ b, o }) => ({
      id: b.id,
      prompt: b.prompt,
      human: b.human,
      model: o.result ? (Object.fromEntries(METRIC_DIMENSIONS.map((d) => [d, modelScore(o.result!, d, kind)])) as Record<Dimension, number | null>) : null,
    }));
    if (values.out) {
      const rows = ran.map(({ b, o }, i) =>
        referenceResult(b, evalItems[i]!.model, o.result?.text ?? null, {
          ...(o.result
            ? { scores: Object.fromEntries(METRIC_DIMENSIONS.map((d) => [d, { score: o.result![d].score, soft: o.result![d].soft, expected: o.result![d].expected, probs: o.result![d].probs }])) }
            : { error: o.error }),
        }),
      );
      mkdirSync(dirname(values.out), { recursive: true });
      writeFileSync(values.out, `${JSON.stringify(rows, null, 2)}\n`);
    }
    if (values.report)
      await writeReport(values.report, ran.map((x) => x.o), base, { title: `VideoScore2 eval: ${file}`, meta: { model: runner.label, template: String(base.template), score: kind } });
  }
  const metrics = evaluate(evalItems, { tieThreshold, pairs });
  if (format === "json") process.stdout.write(metricsJSON(metrics, bench.length, { file, score: fromResults ? "file" : kind }));
  else process.stdout.write(formatMetrics(metrics, bench.length, header));
  if (interrupted) return EXIT.interrupted;
  return failed > 0 ? EXIT.someFailed : EXIT.ok;
}
