/**
 * `videoscore2 convert`: a Hugging Face Qwen2.5-VL checkpoint (VideoScore2) → text model GGUF +
 * mmproj GGUF, optionally quantized in-process. No Python, no llama.cpp checkout.
 *
 *   videoscore2 convert <hf-folder> --out <dir> [--type f16|bf16|q8_0|f32] [--quant Q4_K_M|…]
 *                       [--name N] [--threads N] [--keep-unquantized] [--no-checksum] [--quiet]
 *
 * `runConvert(argv)` takes the arguments after the word `convert` and resolves to the exit code.
 */
import { createHash } from "node:crypto";
import { createReadStream, rmSync } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { VideoScoreError } from "../addon/errors.js";
import { convertQwen25VL, defaultModelName } from "../gguf/convert/qwen25vl.js";
import { CONVERT_TYPES } from "../gguf/convert/plan.js";
import type { ConvertType } from "../gguf/convert/plan.js";
import type { ConvertProgress } from "../gguf/convert/tensor-data.js";
import { quantize } from "../gguf/quantize.js";

export const CONVERT_USAGE = `usage: videoscore2 convert <hf-folder> --out <dir> [options]

Converts a Hugging Face Qwen2.5-VL checkpoint (e.g. TIGER-Lab/VideoScore2: config.json,
*.safetensors, tokenizer files) into the two GGUF files videoscore2 loads:
  <out>/<name>-<type|quant>.gguf        text model (arch qwen2vl)
  <out>/mmproj-<name>-<type>.gguf       vision projector (arch clip, qwen2.5vl_merger)

options:
  --out <dir>            output folder (created)
  --type <t>             weight type of both files: f16 (default) | bf16 | q8_0 | f32
  --quant <q>            also quantize the text model in-process: Q4_K_M | Q5_K_M | Q6_K | Q8_0
                         (| Q4_K_S | Q5_K_S | Q3_K_M | Q4_0 | Q5_0); the mmproj stays --type
  --name <n>             file stem and general.name (default: the folder's name)
  --threads <n>          quantization threads (default: one per core)
  --keep-unquantized     with --quant: keep the unquantized text model too
  --no-checksum          skip the sha256 of the outputs
  --quiet                no progress output

exit codes: 0 done, 1 conversion failed (not a Qwen2.5-VL checkpoint, missing/truncated files,
write error), 2 usage error, 130 interrupted`;

const QUANTS = ["Q4_K_M", "Q4_K_S", "Q5_K_M", "Q5_K_S", "Q6_K", "Q8_0", "Q3_K_M", "Q4_0", "Q5_0"] as const;
type Quant = (typeof QUANTS)[number];

/** Where the command writes; tests pass their own. */
export interface ConvertIO {
  stdout?: { write(s: string): unknown };
  stderr?: { write(s: string): unknown; isTTY?: boolean };
  /** Aborts the conversion (exit 130). Without one, SIGINT does it. */
  signal?: AbortSignal;
}

class UsageError extends Error {}

/** "1.23 GB", "456.7 MB", "12.0 kB" (decimal units, as file managers show). */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

/** sha256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** Progress on stderr: one redrawn line on a terminal, a line per ~10% elsewhere. */
class ProgressLine {
  private lastPrinted = -1;
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly out: { write(s: string): unknown; isTTY?: boolean },
    private readonly enabled: boolean,
  ) {}

  private label = "";

  update(label: string, fraction: number, detail: string): void {
    if (!this.enabled) return;
    if (label !== this.label) {
      // A new phase (text → mmproj → quant) starts its own line.
      if (this.drawn) this.out.write("\n");
      this.drawn = false;
      this.lastPrinted = -1;
      this.label = label;
    }
    const pct = Math.floor(fraction * 100);
    if (this.out.isTTY === true) {
      const now = performance.now();
      if (now - this.lastDraw < 100 && fraction < 1) return;
      this.lastDraw = now;
      const n = Math.round(fraction * 20);
      this.out.write(`\r\x1b[2K${label} ${"█".repeat(n)}${"·".repeat(20 - n)} ${String(pct).padStart(3)}% ${detail}`);
      this.drawn = true;
    } else if (pct >= this.lastPrinted + 10 || (fraction >= 1 && this.lastPrinted < 100)) {
      this.lastPrinted = Math.floor(pct / 10) * 10;
      this.out.write(`${label} ${String(pct).padStart(3)}% ${detail}\n`);
    }
  }

  done(line?: string): void {
    if (!this.enabled) return;
    if (this.drawn) this.out.write("\n");
    this.drawn = false;
    this.lastPrinted = -1;
    this.label = "";
    if (line !== undefined) this.out.write(`${line}\n`);
  }
}

function parse(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        out: { type: "string", short: "o" },
        type: { type: "string" },
        quant: { type: "string" },
        name: { type: "string" },
        threads: { type: "string" },
        "keep-unquantized": { type: "boolean" },
        "no-checksum": { type: "boolean" },
        quiet: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { help: true as const };
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "give the Hugging Face checkpoint folder" : `one checkpoint folder expected, got ${positionals.length}`);
  if (values.out === undefined || values.out === "") throw new UsageError("--out <dir> is required");
  const type = (values.type ?? "f16").toLowerCase();
  if (!(CONVERT_TYPES as readonly string[]).includes(type)) throw new UsageError(`--type must be one of ${CONVERT_TYPES.join(", ")}, got "${values.type}"`);
  let quant: Quant | undefined;
  if (values.quant !== undefined) {
    const q = values.quant.toUpperCase();
    if (!(QUANTS as readonly string[]).includes(q)) throw new UsageError(`--quant must be one of ${QUANTS.join(", ")}, got "${values.quant}"`);
    quant = q as Quant;
  }
  let threads: number | undefined;
  if (values.threads !== undefined) {
    threads = Number(values.threads);
    if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`--threads expects a positive integer, got "${values.threads}"`);
  }
  if (values["keep-unquantized"] === true && quant === undefined) throw new UsageError("--keep-unquantized needs --quant");
  const name = values.name;
  if (name !== undefined && (name === "" || name.includes("/") || name.includes("\\"))) throw new UsageError(`--name must be a plain file stem, got "${name}"`);
  return {
    help: false as const,
    input: positionals[0]!,
    out: values.out,
    type: type as ConvertType,
    quant,
    name,
    threads,
    keepUnquantized: values["keep-unquantized"] === true,
    checksum: values["no-checksum"] !== true,
    quiet: values.quiet === true,
  };
}

/** Runs `videoscore2 convert …` (argv: the arguments after `convert`); resolves to the exit code. */
export async function runConvert(argv: string[], io: ConvertIO = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    stderr.write(`videoscore2 convert: ${e.message}\n\n${CONVERT_USAGE}\n`);
    return 2;
  }
  if (args.help) {
    stdout.write(`${CONVERT_USAGE}\n`);
    return 0;
  }

  let signal = io.signal;
  let onSigint: (() => void) | undefined;
  let quantizing: string | undefined; // output path while llama.cpp's quantizer runs
  if (signal === undefined) {
    const ac = new AbortController();
    onSigint = () => {
      // The quantizer cannot be interrupted: drop its partial output and leave now.
      if (quantizing !== undefined) {
        rmSync(quantizing, { force: true });
        stderr.write("\ninterrupted\n");
        process.exit(130);
      }
      ac.abort();
    };
    process.on("SIGINT", onSigint);
    signal = ac.signal;
  }
  const progress = new ProgressLine(stderr, !args.quiet);
  const name = args.name ?? defaultModelName(args.input);
  // With --quant the text model is converted first to a float type: f16, or bf16/f32 when asked
  // (re-quantizing a q8_0 file would lose precision twice).
  const textType: ConvertType = args.quant !== undefined && args.type === "q8_0" ? "f16" : args.type;
  const unquantizedPath = join(args.out, `${name}-${textType}.gguf`);
  const quantPath = args.quant === undefined ? undefined : join(args.out, `${name}-${args.quant.toLowerCase()}.gguf`);
  try {
    const t0 = performance.now();
    const res = await convertQwen25VL({
      input: args.input,
      outDir: args.out,
      name,
      type: textType,
      mmprojType: args.type,
      signal,
      onProgress: (p: ConvertProgress) =>
        progress.update(
          p.file === "model" ? "text  " : "mmproj",
          p.bytesTotal === 0 ? 1 : p.bytesDone / p.bytesTotal,
          `${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}  [${p.index + 1}/${p.count}] ${p.tensor}`,
        ),
    });
    const secs = (performance.now() - t0) / 1000;
    const src = res.checkpoint.sourceBytes;
    progress.done(`converted ${formatBytes(src)} of ${res.checkpoint.dir} in ${secs.toFixed(1)} s (${(src / 1e6 / Math.max(secs, 1e-3)).toFixed(0)} MB/s)`);

    const outputs: Array<{ role: string; path: string }> = [];
    if (args.quant !== undefined && quantPath !== undefined) {
      const q0 = performance.now();
      quantizing = quantPath;
      try {
        await quantize(res.model!.path, quantPath, args.quant, {
          ...(args.threads === undefined ? {} : { threads: args.threads }),
          onProgress: (done, total) => progress.update("quant ", total === 0 ? 1 : done / total, `${done}/${total} tensors → ${args.quant}`),
        });
      } catch (e) {
        await rm(quantPath, { force: true });
        progress.done();
        stderr.write(`quantization failed; the unquantized text model is kept: ${res.model!.path}\n`);
        throw e;
      } finally {
        quantizing = undefined;
      }
      progress.done(`quantized to ${args.quant} in ${((performance.now() - q0) / 1000).toFixed(1)} s`);
      outputs.push({ role: "model", path: quantPath });
      if (args.keepUnquantized) outputs.push({ role: `model (${textType})`, path: res.model!.path });
    } else {
      outputs.push({ role: "model", path: res.model!.path });
    }
    outputs.push({ role: "mmproj", path: res.mmproj!.path });
    if (args.quant !== undefined && !args.keepUnquantized) await rm(unquantizedPath, { force: true });

    const rows: string[] = [];
    for (const o of outputs) {
      const size = (await stat(o.path)).size;
      let sum = "";
      if (args.checksum) {
        if (!args.quiet) stderr.write(`sha256 ${basename(o.path)} …\n`);
        sum = `  sha256 ${await sha256File(o.path)}`;
      }
      rows.push(`${o.role.padEnd(6)}  ${o.path}  ${formatBytes(size)}${sum}`);
    }
    stdout.write(`${rows.join("\n")}\n`);
    return 0;
  } catch (e) {
    progress.done();
    if (e instanceof VideoScoreError) {
      stderr.write(`${e.code}: ${e.message}\n`);
      return e.code === "ERR_ABORTED" ? 130 : 1;
    }
    stderr.write(`convert failed: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  } finally {
    if (onSigint !== undefined) process.removeListener("SIGINT", onSigint);
  }
}
