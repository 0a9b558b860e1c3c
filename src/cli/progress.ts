/**
 * Progress of a batch: on a terminal, one redrawn line with a bar, counts, elapsed time and ETA;
 * elsewhere (pipes, files, CI logs), one plain line per finished item. Labels and log lines are
 * shown escaped (src/cli/display.ts): a file name cannot break the line or drive the terminal.
 */
import { displayText } from "./display.js";

/** "1h02m", "3m05s", "42s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** The ETA from the mean time per finished item. */
export function eta(elapsedMs: number, done: number, total: number): number {
  if (done <= 0) return Number.NaN;
  return (elapsedMs / done) * (total - done);
}

/** The running score's phase as the bar shows it: "sampling", "encoding 3/10", "prefill", "tokens 120/1024". */
export function phaseLabel(p: { phase: string; done: number; total: number }): string {
  switch (p.phase) {
    case "sample":
      return "sampling frames";
    case "encode":
      return `encoding ${p.done}/${p.total} frame pairs`;
    case "prefill":
      return "prefill";
    case "generate":
      return `tokens ${p.done}/${p.total}`;
    default:
      return p.phase;
  }
}

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export class Progress {
  private done = 0;
  private failed = 0;
  private unanswered = 0;
  private readonly t0 = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private current = "";
  private drawn = false;

  constructor(
    private readonly total: number,
    private readonly stream: ProgressStream = process.stderr,
    private readonly enabled = true,
    private readonly tty = Boolean(stream.isTTY),
  ) {
    if (this.enabled && this.tty) {
      this.timer = setInterval(() => this.draw(), 1000);
      this.timer.unref();
      this.draw();
    }
  }

  /** What is being worked on (shown on the terminal line). */
  working(label: string): void {
    this.current = displayText(label);
    if (this.enabled && this.tty) this.draw();
  }

  /** A message above the bar (or a plain line). */
  log(line: string): void {
    if (!this.enabled) return;
    if (this.tty) {
      this.clear();
      this.stream.write(`${displayText(line)}\n`);
      this.draw();
    } else this.stream.write(`${displayText(line)}\n`);
  }

  /** One item finished: scored, scored without an answer, or failed. */
  tick(label: string, status: "ok" | "no-answer" | "failed", detail = ""): void {
    this.done++;
    if (status === "failed") this.failed++;
    if (status === "no-answer") this.unanswered++;
    if (!this.enabled) return;
    const tag = { ok: "ok       ", "no-answer": "NO ANSWER", failed: "FAILED   " }[status];
    const line = displayText(`[${this.done}/${this.total}] ${tag} ${label}${detail ? `  ${detail}` : ""}`);
    if (this.tty) {
      this.clear();
      if (status !== "ok") this.stream.write(`${line}\n`);
      this.draw();
    } else this.stream.write(`${line}\n`);
  }

  private line(): string {
    const elapsed = performance.now() - this.t0;
    const width = 24;
    const frac = this.total > 0 ? this.done / this.total : 1;
    const n = Math.round(frac * width);
    const bar = "█".repeat(n) + "░".repeat(width - n);
    const left = eta(elapsed, this.done, this.total);
    const parts = [
      `${bar} ${this.done}/${this.total}`,
      `${Math.round(frac * 100)}%`,
      `elapsed ${formatDuration(elapsed)}`,
      `ETA ${Number.isNaN(left) ? "…" : formatDuration(left)}`,
    ];
    if (this.unanswered) parts.push(`${this.unanswered} without an answer`);
    if (this.failed) parts.push(`${this.failed} failed`);
    if (this.current && this.done < this.total) parts.push(this.current);
    const s = parts.join("  ");
    const cols = this.stream.columns ?? 120;
    return s.length > cols - 1 ? `${s.slice(0, cols - 2)}…` : s;
  }

  private draw(): void {
    if (!this.enabled || !this.tty) return;
    this.stream.write(`\r\x1b[2K${this.line()}`);
    this.drawn = true;
  }

  private clear(): void {
    if (this.drawn) this.stream.write("\r\x1b[2K");
    this.drawn = false;
  }

  /** Stops the redraw timer and leaves the final line. */
  finish(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.enabled && this.tty) {
      this.current = "";
      this.draw();
      this.stream.write("\n");
      this.drawn = false;
    }
  }
}
