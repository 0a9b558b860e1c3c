// The worker's ceilings over a job's options (src/queue/job-limits.ts): each bound is the lower of
// the two, "none" (deadline 0) included; decoder threads at most the worker's.
import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { applyCeilings, resolveCeilings } from "../../src/queue/job-limits.js";

describe("applyCeilings", () => {
  const worker = resolveCeilings({ limits: { deadlineSeconds: 60, maxPixelsPerFrame: 1000, maxFrames: 50, threads: 2 }, maxTokens: 100, samples: 2 });

  it("a job's limits above the worker's are the worker's; below, the job's", () => {
    expect(applyCeilings({ limits: { deadlineSeconds: 0, maxPixelsPerFrame: 1e30, maxFrames: 1e30, threads: 64 } }, worker).limits).toEqual({ deadlineSeconds: 60, maxPixelsPerFrame: 1000, maxFrames: 50, threads: 2 });
    expect(applyCeilings({ limits: { deadlineSeconds: 5, maxPixelsPerFrame: 10, maxFrames: 4, threads: 1 } }, worker).limits).toEqual({ deadlineSeconds: 5, maxPixelsPerFrame: 10, maxFrames: 4, threads: 1 });
    // 0 threads is "one per core": at most the worker's.
    expect(applyCeilings({ limits: { threads: 0 } }, worker).limits).toMatchObject({ threads: 2 });
    expect(applyCeilings({}, worker).limits).toEqual({ deadlineSeconds: 60, maxPixelsPerFrame: 1000, maxFrames: 50, threads: 2 });
  });

  it("a worker with the default limits: a job asking for no deadline gets the worker's, unset decoder threads stay unset", () => {
    const def = resolveCeilings({});
    expect(applyCeilings({ limits: { deadlineSeconds: 0 } }, def).limits).toEqual({ deadlineSeconds: 120, maxPixelsPerFrame: 2 * 3840 * 2160, maxFrames: 100_000 });
    expect(applyCeilings({ limits: { threads: 64 } }, def).limits).toMatchObject({ threads: Math.min(64, availableParallelism()) });
    // A worker without a deadline lets a job have none.
    expect(applyCeilings({ limits: { deadlineSeconds: 0 } }, resolveCeilings({ limits: { deadlineSeconds: 0 } })).limits).toMatchObject({ deadlineSeconds: 0 });
  });

  it("maxTokens and samples above the ceiling are refused; unset, the lower of the default and the ceiling", () => {
    expect(() => applyCeilings({ maxTokens: 101 }, worker)).toThrow(/maxTokens 101 but this worker allows at most 100 \(its --max-tokens\)/);
    expect(() => applyCeilings({ samples: 3 }, worker)).toThrow(/samples 3 but this worker allows at most 2/);
    expect(applyCeilings({ maxTokens: 100, samples: 2 }, worker)).toMatchObject({ maxTokens: 100, samples: 2 });
    expect(applyCeilings({}, worker)).toMatchObject({ maxTokens: 100 });
    expect(applyCeilings({}, worker).samples).toBeUndefined();
    expect(() => applyCeilings({ limits: { threads: "x" } }, worker)).toThrow(/limits\.threads/);
    expect(() => resolveCeilings({ maxTokens: 0 })).toThrow(/maxTokens/);
  });
});
