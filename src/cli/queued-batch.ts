/**
 * `score --redis` / `eval --redis`: the batch goes onto the queue as jobs and the results come back
 * as the same outcomes a local run gives, with the same progress bar.
 */
import { basename } from "node:path";
import { collectScores, enqueueScores } from "../queue/producer.js";
import type { ScoreOptions } from "../scorer/options.js";
import type { Outcome } from "./output.js";
import { phaseLabel, type Progress } from "./progress.js";
import { tickOutcome, type BatchItem, type QueueTarget } from "./scoring.js";

export async function runQueuedBatch(
  target: QueueTarget,
  items: readonly BatchItem[],
  base: Omit<ScoreOptions, "prompt">,
  opts: { signal: AbortSignal; progress?: Progress; onOutcome?: (o: Outcome) => void; log?: (s: string) => void },
): Promise<(Outcome | undefined)[]> {
  const out: (Outcome | undefined)[] = new Array(items.length).fill(undefined);
  if (items.length === 0) return out;
  opts.progress?.working(`enqueueing on ${target.queue}`);
  const connection = target.url;
  const enq = await enqueueScores(
    items.map((it) => ({ video: it.video, prompt: it.prompt, options: base })),
    { connection, queue: target.queue },
  );
  opts.log?.(`queue "${target.queue}": ${enq.added} jobs added${enq.existing ? `, ${enq.existing} already there (collected, not scored again)` : ""}`);
  opts.progress?.working(`waiting for workers on ${target.queue}`);
  await collectScores(enq, {
    connection,
    queue: target.queue,
    signal: opts.signal,
    onProgress: (p, i) => opts.progress?.working(`${basename(items[i]!.video)}: ${phaseLabel(p)}`),
    onResult: (r) => {
      // The path as the user gave it, not the absolute one the job carries: the same output as a local run.
      const it = items[r.index]!;
      const o: Outcome = r.ok ? { index: r.index, video: it.video, prompt: it.prompt, result: r.result } : { index: r.index, video: it.video, prompt: it.prompt, error: r.error };
      out[r.index] = o;
      tickOutcome(opts.progress, o);
      opts.onOutcome?.(o);
    },
  });
  const left = out.filter((o) => o === undefined).length;
  if (left) opts.log?.(`${left} jobs stay on queue "${target.queue}" and the workers go on with them: run the same command again to collect them`);
  return out;
}
