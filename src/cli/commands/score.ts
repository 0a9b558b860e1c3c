/**
 * `videoscore2 score` (and `demo`): score videos against their prompts.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { userCacheDir } from "../cache-dir.js";
import { allowOnly, enumOpt, EXIT, UsageError, type CliValues } from "../args.js";
import { expandInputs, readPromptsFile, type PromptTable, type UnnamableFile } from "../inputs.js";
import { answerMissing, OrderedWriter, Sink, type Outcome, type OutputFormat } from "../output.js";
import { Progress } from "../progress.js";
import { displayText } from "../display.js";
import { checkOutputs } from "../output-files.js";
import { openRunner, queueTarget, RANDOM_WARNING, resolveModel, scoreOptionsFrom, writeReport, type BatchItem } from "../scoring.js";

const SCORE_OPTIONS = [
  "prompt", "prompts", "model", "mmproj", "template", "mode", "fps", "nframes", "max-pixels", "seed", "samples", "temperature", "max-tokens",
  "constrain", "max-thinking-tokens", "gpu-layers", "gpu", "gpu-device", "threads", "context-size", "parallel", "format", "out", "report", "quiet", "recursive", "redis", "queue",
] as const;

const UNNAMABLE = "the file name is not valid UTF-8, so it cannot be opened here (paths reach the decoder as UTF-8); rename it to UTF-8, e.g. convmv -f latin1 -t utf-8 --notest <file>";

const SAMPLE_PROMPT = "a colourful test pattern with a moving gradient and a ticking counter";

/** The demo's sample: a 5 s 640x360 clip generated once with the ffmpeg CLI. */
function sampleClip(): string {
  const dir = userCacheDir();
  const out = join(dir, "sample-640x360-5s.mp4");
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.tmp.mp4`;
  execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=24", "-t", "5", "-c:v", "libx264", "-pix_fmt", "yuv420p", tmp]);
  renameSync(tmp, out);
  return out;
}

export interface ScoreContext {
  /** Fires on the first Ctrl-C: the batch stops, what finished is written. */
  signal: AbortSignal;
  /** Progress, warnings and the summary go here (stdout carries only the results). */
  stderr: NodeJS.WriteStream;
}

export async function scoreCommand(cmd: "score" | "demo", values: CliValues, positionals: string[], ctx: ScoreContext): Promise<number> {
  /** One line to stderr; the paths in it are shown escaped (src/cli/display.ts). */
  const say = (s: string) => ctx.stderr.write(`${displayText(s)}\n`);
  allowOnly(values, cmd, SCORE_OPTIONS);
  const format = enumOpt<OutputFormat>(values, "format", ["table", "json", "jsonl", "csv"], "table");
  if (values.prompt !== undefined && values.prompts !== undefined) throw new UsageError("give --prompt or --prompts, not both");

  let prompts: PromptTable | undefined;
  if (values.prompts !== undefined) prompts = readPromptsFile(values.prompts);
  let inputs = positionals;
  if (inputs.length === 0 && prompts) inputs = prompts.videos();
  let prompt = values.prompt;
  if (cmd === "demo" && inputs.length === 0) {
    inputs = [sampleClip()];
    prompt ??= SAMPLE_PROMPT;
  }
  if (inputs.length === 0) throw new UsageError("no videos: give files, folders or globs (or --prompts with a list of videos)");
  if (prompt === undefined && !prompts) throw new UsageError('no prompt: give --prompt "…" (the same for every video) or --prompts file.json|csv');

  const warnings: string[] = [];
  const unnamable: UnnamableFile[] = [];
  const videos = expandInputs(inputs, { recursive: values.recursive, warnings, unnamable });
  for (const w of warnings) say(`warning: ${w}`);
  for (const d of unnamable.filter((u) => u.dir)) say(`warning: ${d.shown}: the folder name is not valid UTF-8, so its files cannot be opened; rename it`);
  // A name that is not UTF-8 has no JS string that opens the file: each is a failed row that says so.
  const badFiles = unnamable.filter((u) => !u.dir).map((u) => u.shown);
  if (videos.length === 0)
    throw new UsageError(badFiles.length ? `no video files that can be opened: ${badFiles.length} found with a name that is not valid UTF-8 (${badFiles[0]}${badFiles.length > 1 ? ", …" : ""}); rename them (convmv -f latin1 -t utf-8 --notest)` : "no video files found in the inputs");
  const total = videos.length + badFiles.length;

  checkOutputs(
    [["--out", values.out], ["--report", values.report]],
    [["--prompts", values.prompts], ...videos.map((v) => ["video", v] as [string, string])],
  );
  if (cmd === "demo" && values.redis !== undefined) throw new UsageError("demo scores here; use score --redis to score on a queue");
  const queued = queueTarget(values);
  // With --redis the model is the workers': nothing is loaded here.
  const m = queued ? { model: "", mmproj: "", random: false } : await resolveModel(values, cmd === "demo");
  const base = scoreOptionsFrom(values, { random: m.random, defaultTemplate: "inference" });

  const items: BatchItem[] = [];
  const missing: Outcome[] = badFiles.map((v, index) => ({ index, video: v, prompt: "", error: { code: "ERR_INPUT_UNREADABLE", message: `${v}: ${UNNAMABLE}` } }));
  videos.forEach((v) => {
    const p = prompt ?? prompts?.lookup(v);
    if (p === undefined) missing.push({ index: items.length + missing.length, video: v, prompt: "", error: { code: "ERR_NO_PROMPT", message: `no prompt for ${v} in ${values.prompts}` } });
    else items.push({ video: v, prompt: p });
  });

  if (!values.quiet) {
    if (m.random) say(`${RANDOM_WARNING}`);
    say(queued ? `scoring on queue "${queued.queue}" at ${queued.url} …` : `loading ${m.model} + ${m.mmproj} …`);
  }
  // A failed write to --out stops the run: nothing more could be kept.
  const stop = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stop.signal]);
  const sink = new Sink(values.out, () => stop.abort());
  const runner = await openRunner(values, queued ?? m).catch((e: unknown) => {
    sink.discard();
    throw e;
  });
  const writer = new OrderedWriter(sink, format, m.random ? `[${RANDOM_WARNING}]` : undefined);
  const progress = new Progress(total, ctx.stderr, !values.quiet);
  // Videos without a prompt fail first, in their own order; the scored ones follow in input order.
  const all: Outcome[] = [];
  let offset = 0;
  for (const o of missing) {
    progress.tick(o.video, "failed", `${o.error!.code}: ${o.error!.message}`);
    const placed = { ...o, index: offset++ };
    all.push(placed);
    writer.put(placed);
  }
  let outcomes: (Outcome | undefined)[] = [];
  try {
    outcomes = await runner.run(items, base, {
      signal,
      progress,
      onOutcome: (o) => writer.put({ ...o, index: o.index + offset }),
      log: (line) => progress.log(line),
    });
  } finally {
    progress.finish();
    await runner.close();
  }
  writer.end();
  sink.close();
  const done = [...all, ...outcomes.filter((o): o is Outcome => o !== undefined)];
  if (sink.failure) {
    say(`videoscore2: ${sink.failure.message}; ${done.length} of ${total} videos were scored, ${total - done.length} left unscored, none written`);
    return EXIT.fatal;
  }
  if (values.report) {
    await writeReport(values.report, done, base, {
      title: cmd === "demo" ? "VideoScore2 demo" : "VideoScore2 report",
      meta: { model: runner.label, template: String(base.template ?? "inference"), mode: String((base as { mode?: string }).mode ?? "think") },
      warning: m.random ? RANDOM_WARNING : undefined,
    });
    if (!values.quiet) say(`report: ${values.report}`);
  }
  const failed = done.filter((o) => !o.result).length;
  const unanswered = done.filter((o) => o.result && answerMissing(o.result)).length;
  const interrupted = ctx.signal.aborted && done.length < total;
  if (!values.quiet || interrupted)
    say(
      `${done.length - failed - unanswered} scored, ${unanswered ? `${unanswered} without an answer, ` : ""}${failed} failed${interrupted ? `, ${total - done.length} not scored (interrupted)` : ""}${values.out ? ` → ${values.out}` : ""}`,
    );
  if (interrupted) return EXIT.interrupted;
  // A clip without an answer has no scores: the run did not do all that was asked.
  return failed + unanswered > 0 ? EXIT.someFailed : EXIT.ok;
}
