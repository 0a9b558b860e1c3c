/**
 * Usage text, exit codes and option parsing helpers of the `videoscore2` command.
 */
import { parseArgs } from "node:util";
import { evalLayoutsHelp } from "../eval/benchmarks/help.js";
import { GPU_PREFERENCES, gpuPreferenceFromEnv, type GpuPreference } from "../addon/loader.js";

/** Exit codes scripts can rely on. */
export const EXIT = {
  /** Everything asked for was done. */
  ok: 0,
  /** A fatal error: the model or the addon did not load, a file could not be read or written. */
  fatal: 1,
  /** Bad command line (unknown command or option, missing argument, bad value). */
  usage: 2,
  /** The run completed but one or more inputs failed (each is reported; the others are written). */
  someFailed: 3,
  /** Interrupted (SIGINT / Ctrl-C): what had finished was written. */
  interrupted: 130,
} as const;

export const USAGE = `videoscore2 — score AI-generated videos the way VideoScore2 does (in-process llama.cpp + libav)

usage:
  videoscore2 score <video|dir|glob>... (--prompt "…" | --prompts file.json|csv) [options]
  videoscore2 eval <bench file> [--benchmark name] [--videos dir] [--journal file] [options]
  videoscore2 eval [<bench file>] --from-results <journal|results.json>
  videoscore2 sample <video> --out <dir> [--fps 2] [--nframes N] [--max-pixels N]
  videoscore2 info [--model m.gguf] [--mmproj mm.gguf] [--format json] [--all]
  videoscore2 convert <hf-folder> --out <dir> [--type f16] [--quant Q4_K_M]   HF checkpoint → GGUF (convert --help)
  videoscore2 worker --redis redis://host:port [--queue name] --model m.gguf --mmproj mm.gguf [--allow-root dir]...
                                               score jobs from a queue until SIGTERM/SIGINT (docs/queue.md)
  videoscore2 demo [video] [--prompt "…"]      tiny random-weight model unless a model is given
  videoscore2 help

inputs (score):
  a file is scored as given; a folder gives its video files (--recursive: also in subfolders);
  a quoted glob with * ? ** [abc] is expanded here (e.g. 'runs/**/*.mp4').
  --prompt "…"            the prompt every video was generated from
  --prompts <file>        per-video prompts: JSON {"clip.mp4": "prompt"} or [{"video": …, "prompt": …}],
                          or CSV with columns video,prompt; matched by path, file name or name without
                          extension. With no <video> arguments the videos listed there are scored.

model and scoring:
  --model <gguf>          text model (or VIDEOSCORE2_MODEL)
  --mmproj <gguf>         vision projector (or VIDEOSCORE2_MMPROJ)
  --template <name>       inference (default; eval: benchmark) | inference-indented | benchmark
  --mode think|direct     think (default): chain of thought, then the answer, as the reference;
                          direct: no chain of thought, p(1..5) read at forced answer positions (fast)
  --fps <n>               frames per second to sample (default 2)
  --seed <n>              sampling seed (default 0)
  --temperature <t>       sampling temperature (default 0.7; 0 = greedy)
  --max-tokens <n>        most tokens to generate (default 1024)
  --samples <k>           k chains of thought from one encode and prefill (default 1); each score is
                          their mean, with std, majority and agreement (think mode only)
  --constrain             force the answer format with a grammar (thinking free, then the 3 lines)
  --max-thinking-tokens <n>  with --constrain: most tokens of thinking
  --gpu-layers <n>        layers to offload to the GPU (default -1 = all; 0 = none)
  --gpu auto|cuda|vulkan|cpu  backend (default auto: CUDA, then a hardware Vulkan device, then the CPU)
  --gpu-device <i|name>   which GPU: a Vulkan index or a name as \`videoscore2 info\` lists them
                          (a software device such as llvmpipe is used only when named)
  --threads <n>           CPU threads (default: one per core)
  --context-size <n>      KV cache tokens (default 16384)
  --parallel <n>          videos in the model at once, their generation decoded together (default 1;
                          they share --context-size; docs/parallel.md)

output:
  --format <f>            table (default) | json | jsonl | csv   (eval: table | json)
  --out <file>            write the output there instead of stdout (eval: per-item results in the
                          reference's results layout, JSON)
  --report <file.html>    also write a self-contained HTML report (frames, scores, p(1..5), rationale)
  --quiet                 no progress output

queue (score, eval: enqueue on Redis and collect what workers score; docs/queue.md):
  --redis <url>           redis://host:port[/db]: score on the workers of this queue instead of here;
                          the model and load options (--model, --threads, …) are the workers'
  --queue <name>          queue name (default videoscore2)

worker:
  --allow-root <dir>      a folder whose files jobs may name (repeatable; default: the current folder);
                          anything else, also through ../ or a symlink, fails with ERR_INPUT_NOT_ALLOWED
  --concurrency <n>       jobs held at once (default 1; more than --parallel only samples ahead: the
                          model generates --parallel clips at a time)
  --lock-duration <ms>    a job of a worker that stops answering is taken again after about this
                          long (default 30000)
  --max-tokens <n>        the most tokens a job may ask for (default 1024); --samples <k>: the most
                          chains of thought (default 1). A job may lower a worker's bounds, never raise them

eval:
  --benchmark <name>      vsb2 | videogen-rewardbench | mjbench-video | t2vqa-db | videophy2
                          (default: found from the file's columns; the output names it)
  --videos <dir>          folder of the videos (default: paths as the file gives them, relative to
                          it; bare names and URLs under <bench folder>/videos/)
  --journal <file>        results journal, one JSON line per video (default <bench file>.journal.jsonl);
                          rerunning the same command resumes from it, other options are refused
  --pair-file <json>      t2vqa-db: the pairs (default t2vqa_db_pref.json next to the list)
  --score soft|expected|hard  model score the metrics use (default soft, the paper's s*·p(s*)/Σp)
  --tie-threshold <x>     pairwise tie threshold: a number (default 0.001, the reference's for float
                          scores; it used 0.5 for integer scores) or a percentage of the score range
                          ("5%" = the paper's: 0.2 per dimension, 0.6 for the sum of the three)
  --pairs prompt|all|none videos compared pairwise: those sharing a prompt (default), all, none
  --from-results <file>   metrics only, from a journal or the reference's results layout (JSON with
                          v/t/p_score_model); for vsb2 and videophy2 results the bench file may be left out
  --limit <n>             only the first n videos of the benchmark

exit codes:
  0   all done          1   fatal error (model/addon/file)      2   usage error
  3   some inputs failed (reported on stderr and in the output; the rest is written)
  130 interrupted by Ctrl-C (SIGINT): the results that had finished are written

environment: VIDEOSCORE2_MODEL, VIDEOSCORE2_MMPROJ, VIDEOSCORE2_GPU (auto|cuda|cpu)`;

/** The usage of one command: its line and the option groups that apply to it. */
export function commandUsage(cmd: string): string | undefined {
  const line = USAGE.split("\n").find((l) => l.startsWith(`  videoscore2 ${cmd}`));
  if (!line) return undefined;
  const groups: Record<string, string[]> = {
    score: ["inputs (score):", "model and scoring:", "output:", "queue"],
    worker: ["queue", "worker:", "model and scoring:"],
    demo: ["model and scoring:", "output:"],
    eval: ["model and scoring:", "output:", "queue", "eval:"],
    sample: [],
    info: [],
  };
  const sections = USAGE.split("\n\n");
  const body = (groups[cmd] ?? []).map((g) => sections.find((sec) => sec.startsWith(g))).filter(Boolean);
  if (cmd === "eval") body.push(evalLayoutsHelp());
  const tail = sections.filter((sec) => sec.startsWith("exit codes:") || sec.startsWith("environment:"));
  return [`usage:\n${line}`, ...body, ...tail].join("\n\n");
}

/** A command-line mistake: printed with a pointer to `videoscore2 help`, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const OPTIONS = {
  prompt: { type: "string" },
  prompts: { type: "string" },
  model: { type: "string" },
  mmproj: { type: "string" },
  template: { type: "string" },
  mode: { type: "string" },
  fps: { type: "string" },
  nframes: { type: "string" },
  "max-pixels": { type: "string" },
  seed: { type: "string" },
  samples: { type: "string" },
  parallel: { type: "string" },
  temperature: { type: "string" },
  "max-tokens": { type: "string" },
  constrain: { type: "boolean" },
  "max-thinking-tokens": { type: "string" },
  "gpu-layers": { type: "string" },
  gpu: { type: "string" },
  "gpu-device": { type: "string" },
  threads: { type: "string" },
  "context-size": { type: "string" },
  format: { type: "string" },
  out: { type: "string" },
  report: { type: "string" },
  quiet: { type: "boolean" },
  recursive: { type: "boolean" },
  videos: { type: "string" },
  score: { type: "string" },
  "tie-threshold": { type: "string" },
  pairs: { type: "string" },
  "from-results": { type: "string" },
  benchmark: { type: "string" },
  journal: { type: "string" },
  "pair-file": { type: "string" },
  limit: { type: "string" },
  all: { type: "boolean" },
  redis: { type: "string" },
  queue: { type: "string" },
  "allow-root": { type: "string", multiple: true },
  concurrency: { type: "string" },
  "lock-duration": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export type CliValues = {
  [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true } ? string[] : (typeof OPTIONS)[K]["type"] extends "boolean" ? boolean : string;
};

/** Parses the arguments after the command; unknown options are usage errors. */
export function parseCommandLine(args: string[]): { values: CliValues; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: OPTIONS });
    return { values: values as CliValues, positionals };
  } catch (e) {
    const message = (e as Error).message;
    // parseArgs says "Unknown option '--fsp'. To specify a positional argument starting with a '-', …".
    const unknown = /Unknown option '(-{1,2}[^']+)'/.exec(message);
    if (unknown) {
      const near = closest(unknown[1]!.replace(/^-+/, ""), Object.keys(OPTIONS));
      throw new UsageError(`unknown option ${unknown[1]}${near ? `; did you mean --${near}?` : ""}`);
    }
    throw new UsageError(message);
  }
}

/** The candidate nearest to `word` by edit distance, if it is near enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

/** Edits (insert, delete, substitute, swap two neighbours) from a to b: "fsp" is one from "fps". */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  return d[a.length]![b.length]!;
}

/** An integer option, or undefined when absent. */
export function intOpt(values: CliValues, name: keyof CliValues, min = -Infinity): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isInteger(n) || n < min)
    throw new UsageError(`--${name} expects an integer${min > -Infinity ? ` >= ${min}` : ""}, got "${String(v)}"`);
  return n;
}

/** A number option, or undefined when absent. */
export function numOpt(values: CliValues, name: keyof CliValues, min = -Infinity): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n) || n < min)
    throw new UsageError(`--${name} expects a number${min > -Infinity ? ` >= ${min}` : ""}, got "${String(v)}"`);
  return n;
}

/** One of a set of words, or the default. */
export function enumOpt<T extends string>(values: CliValues, name: keyof CliValues, allowed: readonly T[], def: T): T {
  const v = values[name];
  if (v === undefined) return def;
  if (typeof v !== "string" || !(allowed as readonly string[]).includes(v))
    throw new UsageError(`--${name} must be one of ${allowed.join(", ")}, got "${String(v)}"`);
  return v as T;
}

/** Options that make no sense for a command are refused rather than silently ignored. */
export function allowOnly(values: CliValues, command: string, allowed: readonly (keyof CliValues)[]): void {
  for (const k of Object.keys(values) as (keyof CliValues)[])
    if (values[k] !== undefined && k !== "help" && !allowed.includes(k)) {
      const near = closest(k, allowed);
      throw new UsageError(`--${k} is not an option of "${command}"${near ? `; did you mean --${near}?` : ""} (videoscore2 ${command} --help)`);
    }
}

/** --gpu, defaulting to VIDEOSCORE2_GPU, else "auto". */
export function gpuOpt(values: CliValues): GpuPreference {
  return enumOpt(values, "gpu", GPU_PREFERENCES, gpuPreferenceFromEnv());
}

/** --gpu-device: a Vulkan index when it is all digits, else a name. */
export function gpuDeviceOpt(values: CliValues): number | string | undefined {
  const v = values["gpu-device"];
  if (v === undefined) return undefined;
  if (typeof v !== "string" || v.trim() === "") throw new UsageError(`--gpu-device expects a Vulkan device index or a device name (see videoscore2 info)`);
  return /^\d+$/.test(v.trim()) ? Number(v.trim()) : v.trim();
}
