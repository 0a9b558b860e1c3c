// Model files crafted to reach an assert in llama.cpp or mtmd (issue 21): each is refused with
// ERR_MODEL_LOAD naming the key or tensor, the process lives, and the next load and score work.
// Without the guards, a few of them are shown to abort a process (a child) — why the guards exist.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { VideoScoreError, VideoScorer } from "../../src/index.js";
import { CRAFTS, craftedPair } from "../fixtures/crafted-models.js";
import { FIXTURE_DIR, tinyModels } from "../fixtures/models.js";
import { makeVideoFixtures } from "../fixtures/videos.js";

const dir = join(FIXTURE_DIR, "crafted-models");
let models: { model: string; mmproj: string };

beforeAll(async () => {
  models = await tinyModels();
});

describe("crafted model files are refused before llama.cpp or mtmd sees them", () => {
  for (const [name, craft] of Object.entries(CRAFTS))
    it(`${name}: ERR_MODEL_LOAD naming ${craft.names}`, async () => {
      const pair = await craftedPair(dir, name.replace(/[^a-z0-9]+/gi, "-"), craft, models);
      const e = await VideoScorer.load({ ...pair, contextSize: 1024 }).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(VideoScoreError);
      const err = e as VideoScoreError;
      expect(err.code, err.message).toBe("ERR_MODEL_LOAD");
      expect(err.message).toContain(craft.names);
      expect(err.path).toBe(craft.file === "text" ? pair.model : pair.mmproj);
    });

  it("after all of them, the real pair loads and scores", async () => {
    const clip = (await makeVideoFixtures()).h264Gop30!;
    const s = await VideoScorer.load({ ...models, contextSize: 4096 });
    try {
      expect((await s.score(clip, { prompt: "x", maxTokens: 4 })).timings.promptTokens).toBeGreaterThan(0);
    } finally {
      await s.dispose();
    }
  });
});

describe("what the guards stand for", () => {
  // The addon's loadModel() without the TypeScript checks in front of it, in a child process.
  const rawLoad = (pair: { model: string; mmproj: string }) => {
    const script = join(dir, "raw-load.mjs");
    writeFileSync(
      script,
      `const addon = (await import("node:module")).createRequire(import.meta.url)(process.argv[3]);
addon.loadBackends({ dir: (await import("node:path")).dirname(process.argv[3]), gpuModules: [] });
await addon.loadModel({ model: process.argv[2], mmproj: process.argv[4], gpuLayers: 0, threads: 1, contextSize: 512, batchSize: 512, flashAttention: false, flashAttentionVision: false, parallel: 1, samplesPerCall: 1, device: "" }).then(() => console.log("loaded"), (e) => console.log("rejected", e.code));
`,
    );
    const binary = new URL("../../build/cpu/videoscore2.node", import.meta.url).pathname;
    return spawnSync(process.execPath, [script, pair.model, binary, pair.mmproj], { encoding: "utf8", timeout: 60_000 });
  };

  it.each(["block_count 0", "a duplicated token"])("%s aborts a process that loads it unguarded", async (name) => {
    const pair = await craftedPair(dir, name.replace(/[^a-z0-9]+/gi, "-"), CRAFTS[name]!, models);
    const r = rawLoad(pair);
    expect(r.signal, r.stdout + r.stderr).toBe("SIGABRT");
    expect(r.stderr).toMatch(/GGML_ASSERT/);
  });
});
