// The `videoscore2` command end to end: spawned as a process (node --import tsx src/cli/main.ts) on
// the generated tiny model, two small clips made by the ffmpeg CLI and one file that is not a video.
// Generation is kept short (a few tokens, or a forced answer with no thinking) to stay light on CI.
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { CSV_HEADER } from "../../src/cli/output.js";
import { parseCSV } from "../../src/eval/csv.js";
import { evaluate, type EvalItem } from "../../src/eval/metrics.js";
import { pngSize, PNG_SIGNATURE } from "../../src/video/png.js";
import { FIXTURE_DIR, tinyModels } from "../fixtures/models.js";
import { startCli } from "../fixtures/cli.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = join(FIXTURE_DIR, "cli");
let models: { model: string; mmproj: string };
let clipA: string; // 2 s, 10 fps, 224x224 → 4 frames at 336x336
let clipB: string; // 30 frames, 15 fps, 200x400 → 4 frames at 224x448
let bad: string; // not a video

const start = startCli;

const run = (args: string[], env?: Record<string, string>) => start(args, env).done;
const modelArgs = () => ["--model", models.model, "--mmproj", models.mmproj, "--threads", "2", "--context-size", "4096"];

async function clip(name: string, args: string[]): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const out = join(dir, name);
  if (existsSync(out)) return out;
  const tmp = `${out}.tmp.mp4`;
  const r = spawn("ffmpeg", ["-loglevel", "error", "-y", ...args, "-c:v", "libx264", "-pix_fmt", "yuv420p", tmp], { stdio: "ignore" });
  const code = await new Promise<number | null>((resolve) => r.on("close", resolve));
  if (code !== 0) throw new Error(`ffmpeg failed for ${name}`);
  copyFileSync(tmp, out);
  rmSync(tmp);
  return out;
}

beforeAll(async () => {
  models = await tinyModels();
  clipA = await clip("a.mp4", ["-f", "lavfi", "-i", "testsrc2=size=224x224:rate=10", "-frames:v", "20"]);
  clipB = await clip("b.mp4", ["-f", "lavfi", "-i", "testsrc2=size=200x400:rate=15", "-frames:v", "30"]);
  bad = join(dir, "c-bad.mp4");
  writeFileSync(bad, "this is not a video\n");
});

/** A fresh folder holding the given files (copies). */
function folder(name: string, files: Record<string, string>): string {
  const d = join(dir, name);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
  for (const [to, from] of Object.entries(files)) {
    mkdirSync(join(d, to, ".."), { recursive: true });
    copyFileSync(from, join(d, to));
  }
  return d;
}

describe("usage and exit codes", () => {
  it("no command, unknown command, unknown option: 2", async () => {
    expect((await run([])).code).toBe(2);
    const u = await run(["frobnicate"]);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain('unknown command "frobnicate"');
    expect((await run(["score", "--bogus"])).code).toBe(2);
    const h = await run(["help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("exit codes:");
  });

  it("--version prints the version; <command> --help prints that command's usage; a typo gets a suggestion", async () => {
    const v = await run(["--version"]);
    expect(v.code).toBe(0);
    expect(v.stdout).toBe(`videoscore2-native ${JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version}\n`);
    const h = await run(["score", "--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("videoscore2 score <video");
    expect(h.stdout).toContain("inputs (score):");
    expect(h.stdout).not.toContain("eval:\n");
    expect((await run(["sample", "--help"])).stdout).not.toContain("model and scoring:");
    const typo = await run(["score", clipA, "--prompt", "x", "--fsp", "2"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("unknown option --fsp; did you mean --fps?");
    const wrongCommand = await run(["sample", clipA, "--prompt", "x"]);
    expect(wrongCommand.code).toBe(2);
    expect(wrongCommand.stderr).toMatch(/--prompt is not an option of "sample"/);
    expect((await run(["scroe"])).stderr).toContain('did you mean "score"?');
  });

  it("a clip without an answer is named, shown and counted apart from failures (exit 3)", async () => {
    const env = { VIDEOSCORE2_MODEL: models.model, VIDEOSCORE2_MMPROJ: models.mmproj };
    const table = await run(["score", clipA, "--prompt", "x", "--max-tokens", "2", "--threads", "2"], env);
    expect(table.code).toBe(3);
    expect(table.stdout).toMatch(/NO ANSWER: generation stopped at max_tokens \(2 tokens\) before the answer/);
    expect(table.stderr).toContain("0 scored, 1 without an answer, 0 failed");
    const json = await run(["score", clipA, "--prompt", "x", "--max-tokens", "2", "--threads", "2", "--format", "json", "--quiet"], env);
    const [rec] = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(rec).toMatchObject({ ok: true, answered: false, stopReason: "max_tokens" });
    expect(rec!.noAnswer).toMatch(/raise maxTokens/);
  });

  it("--samples k scores each clip by k chains (the mean and the majority shown), --parallel n batches clips", async () => {
    const env = { VIDEOSCORE2_MODEL: models.model, VIDEOSCORE2_MMPROJ: models.mmproj };
    const args = ["score", clipA, clipB, "--prompt", "x", "--constrain", "--max-thinking-tokens", "100", "--max-tokens", "200", "--threads", "2", "--context-size", "8192"];
    const json = await run([...args, "--samples", "3", "--parallel", "2", "--format", "json", "--quiet"], env);
    expect(json.code).toBe(0);
    const recs = JSON.parse(json.stdout) as { visualQuality: { mean: number; majority: number }; samples: unknown[]; timings: { sharedSteps: number } }[];
    expect(recs).toHaveLength(2);
    for (const r of recs) {
      expect(r.samples).toHaveLength(3);
      expect(r.visualQuality.mean).toBeGreaterThan(0);
    }
    // Both clips were in the model together.
    expect(recs.some((r) => r.timings.sharedSteps > 0)).toBe(true);
    const csv = await run([...args, "--samples", "3", "--format", "csv", "--quiet"], env);
    const row = csv.stdout.trim().split("\n")[1]!.split(",");
    const header = csv.stdout.split("\n")[0]!.split(",");
    expect(Number(row[header.indexOf("visual_quality_soft")])).toBeCloseTo(recs[0]!.visualQuality.mean, 5);
    const bad = await run(["score", clipA, "--prompt", "x", "--samples", "2", "--mode", "direct"], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--samples does not apply to --mode direct/);
  });

  it("score refuses to run without a model (the random one is only for demo)", async () => {
    const r = await run(["score", clipA, "--prompt", "x"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no model: pass --model/);
    const half = await run(["score", clipA, "--prompt", "x", "--model", models.model]);
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/both the text model and the vision projector/);
  });

  it("demo (the README's main job) scores the sample clip with the generated model and says the weights are random", async () => {
    const table = await run(["demo", "--threads", "2"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain("RANDOM WEIGHTS");
    const json = await run(["demo", "--threads", "2", "--format", "json", "--quiet"]);
    expect(json.code, json.stderr).toBe(0);
    const [rec] = JSON.parse(json.stdout) as Record<string, unknown>[];
    // machine-readable output carries the label too, even with --quiet
    expect(rec).toMatchObject({ ok: true, randomWeights: true, frames: { count: 10, width: 644, height: 364 } });
    // the bundled sample (the table shortens long paths, so the name is checked here)
    expect(rec!.video).toMatch(/sample-640x360-5s\.mp4$/);
    for (const dim of ["visualQuality", "textAlignment", "physicalConsistency"]) {
      const d = rec![dim] as { score: number; probs: number[] };
      expect([1, 2, 3, 4, 5]).toContain(d.score);
      expect(d.probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    }
    // with a real model configured (here: the test model through the environment) nothing is labelled random
    const real = await run(["demo", "--threads", "2", "--format", "json", "--mode", "direct"], { VIDEOSCORE2_MODEL: models.model, VIDEOSCORE2_MMPROJ: models.mmproj });
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout).not.toContain("randomWeights");
    expect(real.stderr).not.toContain("RANDOM WEIGHTS");
  });

  it("bad values are usage errors", async () => {
    for (const args of [
      ["score", clipA, ...modelArgs()], // no prompt
      ["score", clipA, "--prompt", "x", "--prompts", "p.json", ...modelArgs()],
      ["score", clipA, "--prompt", "x", "--format", "xml", ...modelArgs()],
      ["score", clipA, "--prompt", "x", "--max-tokens", "ten", ...modelArgs()],
      ["score", clipA, "--prompt", "x", "--mode", "fast", ...modelArgs()],
      ["score", clipA, "--prompt", "x", "--mode", "direct", "--constrain", ...modelArgs()],
      ["score", join(dir, "no-such-folder", "*.mp4"), "--prompt", "x", ...modelArgs()],
      ["sample", clipA], // no --out
      ["eval", "bench.json", "--tie-threshold", "lots", ...modelArgs()],
    ]) {
      const r = await run(args);
      expect(r.code, `${args.join(" ")}\n${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/^videoscore2: /m);
    }
  });
});

describe("sample", () => {
  it("writes the frames the model sees as PNGs", async () => {
    for (const [video, w, h] of [
      [clipA, 336, 336],
      [clipB, 224, 448],
    ] as const) {
      const out = join(dir, `frames-${w}x${h}`);
      rmSync(out, { recursive: true, force: true });
      const r = await run(["sample", video, "--out", out]);
      expect(r.code, r.stderr).toBe(0);
      const pngs = readdirSync(out).filter((f) => f.endsWith(".png")).sort();
      expect(pngs).toHaveLength(4);
      const meta = JSON.parse(readFileSync(join(out, "frames.json"), "utf8"));
      expect([meta.width, meta.height]).toEqual([w, h]);
      expect(meta.frames.map((f: { file: string }) => f.file)).toEqual(pngs);
      for (const f of pngs) {
        const buf = readFileSync(join(out, f));
        expect(buf.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
        expect(buf.subarray(12, 16).toString("ascii")).toBe("IHDR");
        expect(pngSize(buf)).toEqual({ width: w, height: h });
        expect(buf[24]).toBe(8); // bit depth
        expect(buf[25]).toBe(2); // RGB
      }
    }
  });

  it("a file that is not a video: exit 1 with the error code", async () => {
    const r = await run(["sample", bad, "--out", join(dir, "frames-bad")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("ERR_DECODE");
  });
});

describe("score", () => {
  it("a folder to JSONL with a report; the bad file is reported, not fatal (exit 3)", async () => {
    const d = folder("batch", { "a.mp4": clipA, "b.mp4": clipB, "c-bad.mp4": bad });
    writeFileSync(join(d, "notes.txt"), "not a video and not picked from a folder\n");
    const out = join(dir, "out", "batch.jsonl");
    const report = join(dir, "out", "batch.html");
    rmSync(join(dir, "out"), { recursive: true, force: true });
    const r = await run(["score", d, "--prompt", "a colourful test pattern", ...modelArgs(), "--max-tokens", "8", "--format", "jsonl", "--out", out, "--report", report]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe("");
    const lines = readFileSync(out, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.video)).toEqual([join(d, "a.mp4"), join(d, "b.mp4"), join(d, "c-bad.mp4")]);
    expect(lines.map((l) => l.ok)).toEqual([true, true, false]);
    expect(lines[2].error.code).toBe("ERR_DECODE");
    expect(lines[0].prompt).toBe("a colourful test pattern");
    expect(lines[0].timings.generatedTokens).toBeLessThanOrEqual(8);
    expect(lines[0].frames).toMatchObject({ count: 4, width: 336, height: 336 });
    expect(lines[0]).not.toHaveProperty("tokens");
    expect(r.stderr).toMatch(/FAILED .*c-bad\.mp4 {2}ERR_DECODE/);
    expect(r.stderr).toContain("0 scored, 2 without an answer, 1 failed");
    const html = readFileSync(report, "utf8");
    expect(html.match(/<article class="clip/g)).toHaveLength(3);
    expect(html.match(/src="data:image\/png;base64,/g)).toHaveLength(8);
    expect(html).toContain("ERR_DECODE");
  });

  it("files to CSV on stdout, prompts from a CSV file (exit 0)", async () => {
    const prompts = join(dir, "prompts.csv");
    writeFileSync(prompts, 'video,prompt\r\na.mp4,"a prompt, with a comma"\r\nb,"the ""second"" one"\r\n');
    const r = await run(["score", clipA, clipB, "--prompts", prompts, ...modelArgs(), "--mode", "direct", "--format", "csv"]);
    expect(r.code, r.stderr).toBe(0);
    const rows = parseCSV(r.stdout);
    expect(rows[0]).toEqual(CSV_HEADER);
    expect(rows).toHaveLength(3);
    const col = (name: string) => CSV_HEADER.indexOf(name);
    expect(rows.slice(1).map((x) => x[col("prompt")])).toEqual(["a prompt, with a comma", 'the "second" one']);
    expect(rows.slice(1).map((x) => x[col("ok")])).toEqual(["true", "true"]);
    expect(rows[1]![col("frames")]).toBe("4");
    expect(rows[2]![col("height")]).toBe("448");
  });

  it("--mode direct is passed through as mode", async () => {
    const r = await run(["score", clipA, "--prompt", "x", ...modelArgs(), "--mode", "direct", "--format", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const [o] = JSON.parse(r.stdout);
    expect(o.mode).toBe("direct");
    expect(o.text).not.toMatch(/<think>\S/); // no chain of thought
    for (const d of ["visualQuality", "textAlignment", "physicalConsistency"]) expect(o[d].probs).toHaveLength(5);
  });

  it("every input failing is still exit 3", async () => {
    const r = await run(["score", bad, "--prompt", "x", ...modelArgs(), "--format", "json"]);
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout);
    expect(out).toEqual([{ video: bad, prompt: "x", ok: false, error: expect.objectContaining({ code: "ERR_DECODE" }) }]);
  });

  it("a folder holding a video whose name is not valid UTF-8: that one is a failed row naming it, the others are scored (exit 3)", async () => {
    const d = folder("latin1-names", { "ok.mp4": clipA });
    copyFileSync(clipA, Buffer.concat([Buffer.from(`${d}/`), Buffer.from("caf\u00e9.mp4", "latin1")]));
    const r = await run(["score", d, "--prompt", "x", ...modelArgs(), "--mode", "direct", "--format", "json"]);
    expect(r.code, r.stderr).toBe(3);
    const out = JSON.parse(r.stdout);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({ video: join(d, "caf\\xe9.mp4"), ok: false, error: { code: "ERR_INPUT_UNREADABLE" } });
    expect(out[0].error.message).toMatch(/caf\\xe9\.mp4: the file name is not valid UTF-8.*rename it/);
    expect(out[1]).toMatchObject({ video: join(d, "ok.mp4"), ok: true });
    expect(r.stderr).toMatch(/FAILED +.*caf\\xe9\.mp4 +ERR_INPUT_UNREADABLE/);
    expect(r.stderr).not.toMatch(/No such file|ENOENT/);
  });

  it("Ctrl-C (SIGINT) stops the batch and leaves valid partial output (exit 130)", async () => {
    // Ten 5 s 640x360 clips (10 frames at 644x364 each): several seconds of work after the first
    // result even on a fast machine, so the interrupt lands mid-batch.
    const wide = await clip("wide.mp4", ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=24", "-frames:v", "121"]);
    const d = folder("sigint", Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`${i}.mp4`, wide])));
    const out = join(dir, "out-sigint", "r.jsonl");
    rmSync(join(dir, "out-sigint"), { recursive: true, force: true });
    const { child, done } = start(["score", d, "--prompt", "x", ...modelArgs(), "--max-tokens", "100", "--format", "jsonl", "--out", out]);
    // Wait for the first finished line (in the temporary file beside --out, renamed into place at the end), then interrupt.
    const t0 = Date.now();
    const written = () => {
      const d = join(dir, "out-sigint");
      return existsSync(d) && readdirSync(d).some((f) => readFileSync(join(d, f), "utf8").includes("\n"));
    };
    while (!written()) {
      if (Date.now() - t0 > 200_000) throw new Error("no result within 200 s");
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill("SIGINT");
    const r = await done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain("SIGINT: stopping");
    expect(r.stderr).toMatch(/not scored \(interrupted\)/);
    const lines = readFileSync(out, "utf8").split("\n");
    expect(lines.pop()).toBe(""); // ends with a newline: no half-written line
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.length).toBeLessThan(10);
    // Finished videos, in input order (generation order follows sampling, so there may be gaps).
    const numbers = lines.map((l) => {
      const o = JSON.parse(l);
      expect(o.ok).toBe(true);
      return Number(/(\d)\.mp4$/.exec(o.video)![1]);
    });
    expect(numbers).toEqual([...numbers].sort());
    expect(new Set(numbers).size).toBe(numbers.length);
  }, 300_000);
});

describe("eval", () => {
  it("scores a small benchmark in the VideoScore-Bench-v2 layout and prints the metrics", async () => {
    const d = folder("bench", { "videos/clip_a.mp4": clipA, "videos/clip_b.mp4": clipB });
    const bench = join(d, "bench.json");
    writeFileSync(
      bench,
      JSON.stringify([
        { video_name: "clip_a", prompt: "a test pattern", visual_score: 3, t2v_score: 4, phy_score: 2 },
        { video_name: "clip_b", prompt: "a test pattern", visual_score: 2, t2v_score: 4, phy_score: 3 },
        { video_name: "missing", prompt: "a test pattern", visual_score: 5, t2v_score: 5, phy_score: 5 },
      ]),
    );
    const results = join(d, "results.json");
    const r = await run([
      "eval", bench, ...modelArgs(), "--template", "inference", "--seed", "1", "--out", results,
      // All three scores are needed for an item to count: direct mode forces the answer in a few
      // decodes (hard scores: with random weights the digits can all fall outside top-k, leaving
      // no soft score).
      "--mode", "direct", "--score", "hard",
    ]);
    expect(r.code, r.stderr).toBe(3); // the missing video failed; the others were measured
    expect(r.stdout).toMatch(/videos: 2 scored, 1 failed · items: 2 measured of 3, 1 skipped/);
    expect(r.stdout).toMatch(/VideoScore-Bench-v2 \(vsb2, layout found from its columns\)/);
    for (const row of ["accuracy", "relaxed accuracy", "PLCC", "SRCC", "pairwise \\(w/ ties\\)", "pairwise \\(w/o ties\\)"])
      expect(r.stdout).toMatch(new RegExp(`^${row} +`, "m"));
    expect(r.stdout).toMatch(/tie when \|Δ\| ≤ 0\.001/);

    // The results file is in the reference's layout (get_acc_corr.py reads it as is).
    const rows = JSON.parse(readFileSync(results, "utf8"));
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject({ video_name: "clip_a", prompt: "a test pattern", v_score_gt: 3, t_score_gt: 4, p_score_gt: 2 });
    for (const k of ["v_score_model", "t_score_model", "p_score_model"]) expect(typeof rows[0][k]).toBe("number");
    expect(rows[0].output).toMatch(/\(3\) physical\/common-sense consistency: [1-5]/);
    expect(rows[2]).toMatchObject({ video_name: "missing", v_score_model: null, error: { code: "ERR_INPUT_NOT_FOUND" } });

    // Metrics only, from that file: the same numbers evaluate() gives.
    const m = await run(["eval", "--from-results", results, "--format", "json", "--pairs", "all", "--tie-threshold", "5%"]);
    expect(m.code, m.stderr).toBe(0);
    const got = JSON.parse(m.stdout);
    const items: EvalItem[] = rows.map((x: Record<string, number | null | string>) => ({
      id: x.video_name,
      prompt: x.prompt,
      human: { visualQuality: x.v_score_gt, textAlignment: x.t_score_gt, physicalConsistency: x.p_score_gt },
      model: x.v_score_model === null ? null : { visualQuality: x.v_score_model, textAlignment: x.t_score_model, physicalConsistency: x.p_score_model },
    }));
    const want = evaluate(items, { pairs: "all", tieThreshold: { fractionOfRange: 0.05 } });
    expect(got.counts).toMatchObject({ scored: 2, failed: 1, measured: 2, total: 3, skipped: 1 });
    expect(got.metrics.dimensions.visualQuality.accuracy).toBe(want.dimensions.visualQuality.accuracy);
    expect(got.metrics.average.relaxedAccuracy).toBe(want.average.relaxedAccuracy);
    expect(got.tieThreshold.dimension).toBeCloseTo(0.2, 12);
    expect(got.metrics.dimensions.visualQuality.pairwiseWithTies.total).toBe(1);
  }, 300_000);

  it("eval needs a model unless --from-results", async () => {
    const r = await run(["eval", join(dir, "bench", "bench.json")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no model/);
  });
});

describe("info", () => {
  it("prints versions, CUDA availability and the model's metadata", async () => {
    const r = await run(["info", "--model", models.model, "--mmproj", models.mmproj, "--format", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o.package).toMatch(/^videoscore2-native /);
    expect(o.addon.llamaCpp).toBeTruthy();
    expect(o.addon.cuda).toMatch(/^(yes|no)/);
    expect(o.model.metadata["general.architecture"]).toBe("qwen2vl");
    expect(o.model.tensors).toBeGreaterThan(0);
    expect(o.mmproj.metadata["clip.projector_type"]).toBe("qwen2.5vl_merger");
    const t = await run(["info"]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/^addon:\n {2}binary: /m);
  });
});

describe("pure helpers of the command", () => {
  it("PNG: the encoded rows decode back to the same pixels (all five filters)", async () => {
    const { inflateSync } = await import("node:zlib");
    const { encodePNG, downscale } = await import("../../src/video/png.js");
    const w = 37;
    const h = 23;
    const rgb = new Uint8Array(w * h * 3);
    for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 7 + ((i / 111) | 0) * 13) & 0xff; // mixed content picks several filters
    const png = encodePNG({ width: w, height: h, rgb });
    expect(pngSize(png)).toEqual({ width: w, height: h });
    // Concatenate IDAT chunks, inflate, unfilter.
    let off = 8;
    const idat: Buffer[] = [];
    while (off < png.length) {
      const len = png.readUInt32BE(off);
      const type = png.subarray(off + 4, off + 8).toString("ascii");
      if (type === "IDAT") idat.push(png.subarray(off + 8, off + 8 + len));
      off += 12 + len;
    }
    const raw = inflateSync(Buffer.concat(idat));
    const stride = w * 3;
    const out = new Uint8Array(w * h * 3);
    const filters = new Set<number>();
    for (let y = 0; y < h; y++) {
      const f = raw[y * (stride + 1)]!;
      filters.add(f);
      for (let i = 0; i < stride; i++) {
        const x = raw[y * (stride + 1) + 1 + i]!;
        const a = i >= 3 ? out[y * stride + i - 3]! : 0;
        const b = y > 0 ? out[(y - 1) * stride + i]! : 0;
        const c = y > 0 && i >= 3 ? out[(y - 1) * stride + i - 3]! : 0;
        const p = a + b - c;
        const pr = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
        out[y * stride + i] = (x + [0, a, b, (a + b) >> 1, pr][f]!) & 0xff;
      }
    }
    expect(Buffer.from(out).equals(Buffer.from(rgb))).toBe(true);
    expect(filters.size).toBeGreaterThan(1);
    // Area averaging: a 4x2 image of two 2x2 blocks (0 and 200) becomes 2x1 pixels 0 and 200.
    const block = new Uint8Array(4 * 2 * 3);
    for (let y = 0; y < 2; y++) for (let x = 2; x < 4; x++) block.fill(200, (y * 4 + x) * 3, (y * 4 + x) * 3 + 3);
    expect(Array.from(downscale({ width: 4, height: 2, rgb: block }, 2).rgb)).toEqual([0, 0, 0, 200, 200, 200]);
  });

  it("globs with *, ?, [..] and **; folders give their videos", async () => {
    const { expandGlob, expandInputs, segmentRegExp } = await import("../../src/cli/inputs.js");
    const d = join(dir, "globtree");
    rmSync(d, { recursive: true, force: true });
    for (const f of ["a1.mp4", "a2.mov", "b.txt", "sub/c3.mp4", "sub/deep/d4.webm", ".hidden/e.mp4"]) {
      mkdirSync(join(d, f, ".."), { recursive: true });
      writeFileSync(join(d, f), "");
    }
    expect(expandGlob(`${d}/a?.*`)).toEqual([`${d}/a1.mp4`, `${d}/a2.mov`]);
    expect(expandGlob(`${d}/**/*.mp4`)).toEqual([`${d}/a1.mp4`, `${d}/sub/c3.mp4`]);
    expect(expandGlob(`${d}/**/[cd]*`)).toEqual([`${d}/sub/c3.mp4`, `${d}/sub/deep/d4.webm`]);
    expect(expandInputs([`${d}/*`])).toEqual([`${d}/a1.mp4`, `${d}/a2.mov`]); // "*" alone: videos only
    expect(expandInputs([d])).toEqual([join(d, "a1.mp4"), join(d, "a2.mov")]);
    expect(expandInputs([d], { recursive: true })).toEqual([join(d, "a1.mp4"), join(d, "a2.mov"), join(d, "sub/c3.mp4"), join(d, "sub/deep/d4.webm")]);
    expect(expandInputs([join(d, "b.txt"), join(d, "b.txt"), "missing.mp4"])).toEqual([join(d, "b.txt"), "missing.mp4"]); // as given, once
    expect(segmentRegExp("[!a]x.mp4").test("bx.mp4")).toBe(true);
    expect(segmentRegExp("[!a]x.mp4").test("ax.mp4")).toBe(false);
  });

  it("prompt files: JSON map, JSON array, CSV; matched by path, name or stem", async () => {
    const { readPromptsFile } = await import("../../src/cli/inputs.js");
    const d = join(dir, "prompts");
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "map.json"), JSON.stringify({ "clips/a.mp4": "first", b: "second" }));
    const map = readPromptsFile(join(d, "map.json"));
    expect(map.lookup(join(d, "clips", "a.mp4"))).toBe("first");
    expect(map.lookup("/elsewhere/a.mp4")).toBe("first");
    expect(map.lookup("/x/b.webm")).toBe("second");
    expect(map.lookup("/x/c.mp4")).toBeUndefined();
    expect(map.videos()).toEqual([join(d, "clips/a.mp4"), join(d, "b")]);
    writeFileSync(join(d, "list.json"), JSON.stringify([{ video_name: "x1", prompt: "p1" }]));
    expect(readPromptsFile(join(d, "list.json")).lookup("v/x1.mp4")).toBe("p1");
    writeFileSync(join(d, "bad.csv"), "video,caption_missing\nx.mp4,1\n");
    expect(() => readPromptsFile(join(d, "bad.csv"))).toThrow(/no prompt/);
  });

  it("CSV round trip and tie-threshold parsing", async () => {
    const { csvLine } = await import("../../src/eval/csv.js");
    const { parseTieThreshold } = await import("../../src/cli/commands/eval.js");
    const fields = ["plain", "with, comma", 'with "quotes"', "multi\nline", " padded", ""];
    expect(parseCSV(`\uFEFF${csvLine(fields)}${csvLine([1, null, Number.NaN])}`)).toEqual([fields, ["1", "", ""]]);
    expect(parseTieThreshold(undefined)).toBe(0.001);
    expect(parseTieThreshold("0.5")).toBe(0.5);
    expect(parseTieThreshold("5%")).toEqual({ fractionOfRange: 0.05 });
    expect(() => parseTieThreshold("-1")).toThrow(/tie-threshold/);
  });
});

describe("outputs never destroy inputs, and a failed write is one line (issue 21)", () => {
  const fast = () => [...modelArgs(), "--mode", "direct", "--quiet"];
  const noStack = (s: string) => expect(s).not.toMatch(/\n\s+at /);

  it("--out naming an input video, the prompts file, or the same file as --report: exit 2, nothing touched", async () => {
    const d = folder("collide", { "v.mp4": clipA });
    const video = join(d, "v.mp4");
    const before = readFileSync(video);
    const prompts = join(d, "p.json");
    writeFileSync(prompts, JSON.stringify({ "v.mp4": "a prompt" }));
    for (const [args, name] of [
      [["--out", video], "input video"],
      [["--prompts", prompts, "--out", prompts], "--prompts"],
      [["--out", join(d, "r.json"), "--report", join(d, "r.json")], "--out"],
      [["--out", join(d, "..", "collide", "v.mp4")], "input video"],
    ] as const) {
      const r = await run(["score", video, ...(args.includes("--prompts") ? [] : ["--prompt", "x"]), ...args, ...fast()]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(name);
      noStack(r.stderr);
    }
    expect(readFileSync(video).equals(before)).toBe(true);
    expect(JSON.parse(readFileSync(prompts, "utf8"))).toEqual({ "v.mp4": "a prompt" });
  });

  it("--out on a full device or under a file: exit 1, one line naming --out and what was left unscored", async () => {
    const notDir = join(dir, "c-bad.mp4");
    for (const out of ["/dev/full", join(notDir, "r.jsonl")]) {
      const r = await run(["score", clipA, clipB, "--prompt", "x", "--format", "jsonl", "--out", out, ...fast()]);
      expect(r.code, r.stderr).toBe(1);
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`--out ${out}`);
      noStack(r.stderr);
      if (out === "/dev/full") expect(lines[0]).toMatch(/ENOSPC.*left unscored/);
    }
    const r = await run(["score", clipA, "--prompt", "x", "--out", join(dir, "ok.json"), "--format", "json", "--report", "/dev/full", ...fast()]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain("--report /dev/full");
    noStack(r.stderr);
  });

  it.skipIf(process.getuid?.() !== 0)("on a full filesystem the old --out stays as it was", async () => {
    // A 64 KiB tmpfs of our own (a private mount namespace, as root): the results do not fit.
    const d = join(dir, "full-fs");
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true });
    const tsx = join(ROOT, "node_modules", "tsx", "dist", "loader.mjs");
    const script = [
      `mount -t tmpfs -o size=64k none ${d}`,
      `printf 'OLD\\n' > ${d}/r.jsonl`,
      `head -c 60000 /dev/zero > ${d}/filler || true`,
      `${process.execPath} --import ${tsx} src/cli/main.ts score ${clipA} ${clipB} --prompt x --format jsonl --out ${d}/r.jsonl --max-tokens 600 ${fast().join(" ")}; echo "rc=$?"`,
      `cat ${d}/r.jsonl; ls -A ${d}`,
    ].join("; ");
    const r = spawn("unshare", ["-m", "sh", "-c", script], { cwd: ROOT, env: { ...process.env, VIDEOSCORE2_QUIET: "1" } });
    let out = "";
    r.stdout.on("data", (x) => (out += x));
    r.stderr.on("data", (x) => (out += x));
    await new Promise((res) => r.on("close", res));
    expect(out).toContain("rc=1");
    expect(out).toMatch(/--out .*r\.jsonl: cannot write it \(ENOSPC/);
    expect(out).toMatch(/\nOLD\n/);
    expect(out).not.toMatch(/\.tmp/); // the temporary file is gone
  });

  it("a prompts CSV with a quote that never closes: exit 2 naming the line", async () => {
    const prompts = join(dir, "open-quote.csv");
    writeFileSync(prompts, 'video,prompt\nclip00,"a cat\nclip01,a dog\nclip02,a bird\n');
    const r = await run(["score", clipA, "--prompts", prompts, ...fast()]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/open-quote\.csv: line 2: a quoted field opens there and never closes/);
  });
});
