/**
 * Output of `videoscore2 score`: one record per video as JSON, JSON lines, CSV or a table, written
 * in input order as results settle (so an interrupted run leaves valid partial output).
 */
import { AtomicFile, type OutputWriteError } from "./output-files.js";
import { csvLine } from "../eval/csv.js";
import { displayText, firstLine } from "./display.js";
import { workMs } from "../eval/report.js";
import { answerMissing, noAnswerReason, type DimensionScore, type ScoreResult } from "../scorer/result.js";

export { answerMissing, noAnswerReason };

export type OutputFormat = "table" | "json" | "jsonl" | "csv";

/** One settled video. */
export interface Outcome {
  index: number;
  video: string;
  prompt: string;
  result?: ScoreResult;
  error?: { code: string; message: string };
}

const DIM_KEYS = [
  ["visualQuality", "visual_quality", "VQ"],
  ["textAlignment", "text_alignment", "TA"],
  ["physicalConsistency", "physical_consistency", "PC"],
] as const;


/** The JSON record of one outcome (the result without token ids). */
export function toRecord(o: Outcome): Record<string, unknown> {
  if (!o.result) return { video: o.video, prompt: o.prompt, ok: false, error: o.error };
  const { tokens: _tokens, ...rest } = o.result;
  const mode = (o.result as { mode?: string }).mode ?? "think";
  const answered = !answerMissing(o.result);
  return { video: o.video, prompt: o.prompt, ok: true, answered, ...(answered ? {} : { noAnswer: noAnswerReason(o.result) }), ...rest, mode };
}

export const CSV_HEADER = [
  "video",
  "prompt",
  "ok",
  "answered",
  ...DIM_KEYS.flatMap(([, k]) => [k, `${k}_soft`, `${k}_expected`, `${k}_probs`]),
  "mode",
  "stop_reason",
  "frames",
  "width",
  "height",
  "time_ms",
  "generated_tokens",
  "error_code",
  "error",
  "rationale",
];

/** With --samples: the majority score and the mean soft score stand for the samples; else the one score. */
function shown(d: DimensionScore): { score: number | null; soft: number | null } {
  return d.mean === undefined ? { score: d.score, soft: d.soft } : { score: d.majority ?? null, soft: d.mean ?? null };
}

const num = (v: number | null | undefined, digits = 6) => (v === null || v === undefined || !Number.isFinite(v) ? "" : Number(v.toFixed(digits)));

/** The CSV fields of one outcome, in {@link CSV_HEADER} order. */
export function toCSVFields(o: Outcome): unknown[] {
  const r = o.result;
  const dims = DIM_KEYS.flatMap(([key]) => {
    const d = r?.[key];
    return d ? [shown(d).score ?? "", num(shown(d).soft), num(d.expected), d.probs ? d.probs.map((p) => num(p)).join(" ") : ""] : ["", "", "", ""];
  });
  return [
    o.video,
    o.prompt,
    r ? "true" : "false",
    r ? String(!answerMissing(r)) : "",
    ...dims,
    r ? ((r as { mode?: string }).mode ?? "think") : "",
    r?.stopReason ?? "",
    r?.frames.count ?? "",
    r?.frames.width ?? "",
    r?.frames.height ?? "",
    r ? Math.round(workMs(r.timings)) : "",
    r?.timings.generatedTokens ?? "",
    o.error?.code ?? "",
    o.error?.message ?? (r && answerMissing(r) ? noAnswerReason(r) : ""),
    r?.rationale ?? "",
  ];
}

function cell(v: string, w: number, right = false): string {
  const s = v.length > w ? `${v.slice(0, w - 1)}…` : v;
  return right ? s.padStart(w) : s.padEnd(w);
}

/**
 * A plain-text table of the outcomes: hard score and soft score per dimension, time. One row per
 * video whatever its name holds: names and messages are shown escaped (src/cli/display.ts).
 */
export function formatTable(outcomes: readonly Outcome[], note?: string): string {
  const names = outcomes.map((o) => displayText(o.video));
  const nameW = Math.min(48, Math.max(5, ...names.map((n) => n.length)));
  const lines: string[] = [];
  if (note) lines.push(note);
  lines.push(
    [cell("video", nameW), ...DIM_KEYS.map(([, , s]) => cell(`${s}  soft`, 10, true)), cell("avg", 6, true), cell("time", 8, true), "  p(1..5) VQ / TA / PC"].join("  "),
  );
  outcomes.forEach((o, i) => {
    const r = o.result;
    const name = names[i] as string;
    if (!r) {
      lines.push(`${cell(name, nameW)}  ${o.error ? `${displayText(o.error.code)}: ${firstLine(o.error.message, o.video)}` : "failed"}`);
      return;
    }
    if (answerMissing(r)) {
      const tail = displayText(r.text.replace(/\s+/g, " ").trim().slice(-80));
      lines.push(`${cell(name, nameW)}  NO ANSWER: ${noAnswerReason(r)}; it ended with: "${tail}"`);
      return;
    }
    const softs = DIM_KEYS.map(([k]) => shown(r[k]).soft);
    const avg = softs.every((s) => s !== null) ? (softs as number[]).reduce((a, b) => a + b, 0) / 3 : null;
    const probs = DIM_KEYS.map(([k]) => (r[k].probs ? r[k].probs!.map((p) => Math.round(p * 100)).join(",") : "—")).join(" / ");
    lines.push(
      [
        cell(name, nameW),
        ...DIM_KEYS.map(([k]) => {
          const d = shown(r[k]);
          return cell(`${d.score ?? "—"}  ${d.soft === null ? "  —  " : d.soft.toFixed(3)}`, 10, true);
        }),
        cell(avg === null ? "—" : avg.toFixed(3), 6, true),
        cell(`${(workMs(r.timings) / 1000).toFixed(1)} s`, 8, true),
        `  ${probs}`,
      ].join("  "),
    );
  });
  return `${lines.join("\n")}\n`;
}

/**
 * Where output goes: `--out` (written beside it and renamed into place when complete, so a failed
 * write leaves the old file intact) or stdout. Writes are synchronous. The first failed write is
 * kept in {@link failure}, later writes are dropped, and `onFail` is told (the run stops).
 */
export class Sink {
  private file: AtomicFile | null = null;
  failure: OutputWriteError | null = null;

  constructor(
    readonly path?: string,
    private readonly onFail?: (e: OutputWriteError) => void,
  ) {
    if (path) this.file = new AtomicFile("--out", path);
  }

  write(s: string): void {
    if (this.failure) return;
    if (!this.file) {
      process.stdout.write(s);
      return;
    }
    try {
      this.file.write(s);
    } catch (e) {
      this.fail(e as OutputWriteError);
    }
  }

  close(): void {
    if (this.file && !this.failure) {
      try {
        this.file.commit();
      } catch (e) {
        this.fail(e as OutputWriteError);
      }
    }
    this.file = null;
  }

  /** Leaves the old file as it was (nothing ran). */
  discard(): void {
    this.file?.abort();
    this.file = null;
  }

  private fail(e: OutputWriteError): void {
    this.failure = e;
    this.file?.abort();
    this.onFail?.(e);
  }
}

/**
 * Writes outcomes in input order as they settle: an outcome is written once all earlier ones have
 * settled (generation runs in call order, so this rarely waits). JSON lines and CSV rows go out
 * immediately; JSON and the table are written by {@link end}. Skipped indices (interrupted) are
 * passed over by {@link end}.
 */
export class OrderedWriter {
  private next = 0;
  private readonly pending = new Map<number, Outcome>();
  readonly written: Outcome[] = [];

  /** `randomNote`: the model is the generated random-weight one; the table says so and JSON records carry `randomWeights: true`. */
  constructor(
    private readonly sink: Sink,
    private readonly format: OutputFormat,
    private readonly randomNote?: string,
  ) {
    if (format === "csv") sink.write(csvLine(CSV_HEADER));
  }

  put(o: Outcome): void {
    this.pending.set(o.index, o);
    while (this.pending.has(this.next)) {
      this.emit(this.pending.get(this.next) as Outcome);
      this.pending.delete(this.next);
      this.next++;
    }
  }

  private emit(o: Outcome): void {
    this.written.push(o);
    if (this.format === "jsonl") this.sink.write(`${JSON.stringify(this.record(o))}\n`);
    else if (this.format === "csv") this.sink.write(csvLine(toCSVFields(o)));
  }

  /** Flushes what is still held (in order) and writes the JSON array or the table. */
  end(): void {
    for (const i of [...this.pending.keys()].sort((a, b) => a - b)) this.emit(this.pending.get(i) as Outcome);
    this.pending.clear();
    if (this.format === "json") this.sink.write(`${JSON.stringify(this.written.map((o) => this.record(o)), null, 2)}\n`);
    else if (this.format === "table") this.sink.write(formatTable(this.written, this.randomNote));
  }

  private record(o: Outcome): Record<string, unknown> {
    return this.randomNote ? { ...toRecord(o), randomWeights: true } : toRecord(o);
  }
}
