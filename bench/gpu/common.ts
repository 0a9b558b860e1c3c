/**
 * Helpers shared by the GPU check scripts (bench/gpu/README.md): where files go, the benchmark clip,
 * and a VRAM monitor. Nothing here needs a GPU: on a machine without nvidia-smi the monitor reports
 * null and everything else works the same.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureFile, ffmpeg } from "../../test/fixtures/videos.js";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** Models, clips and results of the GPU checks (git-ignored: bench/.out/). */
export const DEFAULT_WORK = join(ROOT, "bench", ".out", "gpu");

/**
 * The t2v prompt every benchmark scores against. Its length is what matters: both engines see the
 * same token ids (bench/gpu/dump-input.ts hands ours to the reference).
 */
export const BENCH_PROMPT =
  "A red fox trots across a snowy clearing at dawn, stops to sniff the air, then leaps over a fallen birch log; " +
  "soft golden light, shallow depth of field, slow camera pan from left to right.";

interface ClipRecipe {
  name: string;
  file: string;
  rule: string;
  input: string[];
  output: string[];
}

/**
 * Creates (once) one of the parity clips of test/parity/goldens/clips.json with the ffmpeg CLI. The
 * benchmark clip is "fps-720p": 121 frames at 24 fps (5 s) of 1280x720, which the qwen-vl-utils plan
 * turns into 10 frames of 1008x560, i.e. 3600 video tokens. Reusing the parity recipes keeps one
 * definition of every clip the project measures.
 */
export async function ensureClip(name: string, work: string): Promise<string> {
  const spec = JSON.parse(readFileSync(join(ROOT, "test", "parity", "goldens", "clips.json"), "utf8")) as { clips: ClipRecipe[] };
  const c = spec.clips.find((x) => x.name === name);
  if (!c) throw new Error(`unknown clip "${name}"; one of: ${spec.clips.map((x) => x.name).join(", ")}`);
  return ensureFile(join(work, "clips", c.file), (tmp) => ffmpeg([...c.input, ...c.output, tmp]));
}

/** Peak and starting GPU memory as nvidia-smi reports it (MiB, whole device: context and allocator slack included). */
export interface VramReading {
  baselineMiB: number;
  peakMiB: number;
  /** peak − baseline: what this process added. */
  deltaMiB: number;
  samples: number;
  intervalMs: number;
}

/**
 * Polls nvidia-smi in the background. The device-wide figure is the one comparable with the
 * reference's, whose own allocator statistics miss the CUDA context and cuBLAS workspaces; the
 * baseline is taken before the model loads, so another process on the GPU shows up as baseline.
 */
export class VramMonitor {
  private peak = 0;
  private first: number | null = null;
  private samples = 0;
  private failed = false;
  private readonly child;

  constructor(private readonly intervalMs = 100) {
    this.child = spawn("nvidia-smi", ["--query-gpu=memory.used", "--format=csv,noheader,nounits", `-lms`, String(intervalMs)], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    this.child.on("error", () => {
      this.failed = true; // no nvidia-smi: a CPU machine
    });
    let buf = "";
    this.child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split("\n");
      buf = lines.pop() ?? "";
      for (const line of lines) {
        const v = Number(line.trim());
        if (!Number.isFinite(v) || line.trim() === "") continue;
        if (this.first === null) this.first = v;
        this.peak = Math.max(this.peak, v);
        this.samples++;
      }
    });
  }

  /** Waits until the first sample arrived (or nvidia-smi is known missing), so the baseline is real. */
  async ready(timeoutMs = 5000): Promise<void> {
    const t0 = Date.now();
    while (this.first === null && !this.failed && Date.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 20));
  }

  /** Stops polling; null when nvidia-smi is missing or never answered. */
  async stop(): Promise<VramReading | null> {
    // One more interval so a peak at the very end is caught.
    await new Promise((r) => setTimeout(r, this.intervalMs * 2));
    if (!this.failed) this.child.kill();
    if (this.failed || this.first === null) return null;
    return { baselineMiB: this.first, peakMiB: this.peak, deltaMiB: this.peak - this.first, samples: this.samples, intervalMs: this.intervalMs };
  }
}

export function writeJson(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(value, null, 1) + "\n");
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
}

/** Parses an integer option, naming it in the error (parseArgs gives strings). */
export function intArg(name: string, v: string | undefined, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`--${name}: expected an integer, got "${v}"`);
  return n;
}
