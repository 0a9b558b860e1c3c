// `videoscore2 eval` end to end on the generated tiny model, one small made-up file per benchmark
// layout (clips made by the ffmpeg CLI), and resuming: SIGKILL midway then rerun, a journal with a
// cut last line, a journal from other options. Direct mode and hard scores keep it to ~0.5 s a clip.
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { loadBenchmark } from "../../src/eval/benchmarks/index.js";
import { readResultScores } from "../../src/eval/results.js";
import { FIXTURE_DIR, tinyModels } from "../fixtures/models.js";
import { startCli } from "../fixtures/cli.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = join(FIXTURE_DIR, "eval-cli");
let models: { model: string; mmproj: string };
const SOURCES = ["testsrc2=size=64x64:rate=4", "smptebars=size=64x48:rate=4", "rgbtestsrc=size=48x64:rate=4", "mandelbrot=size=64x64:rate=4"];
let clips: string[] = [];

const start = startCli;
const run = (args: string[]) => start(args).done;
const scoring = () => ["--model", models.model, "--mmproj", models.mmproj, "--threads", "2", "--context-size", "4096", "--mode", "direct", "--score", "hard", "--template", "inference", "--format", "json"];
/** Videos scored by a run: the progress prints one line per settled video. */
const settledLines = (stderr: string) => stderr.split("\n").filter((l) => /^\[\d+\/\d+\] (ok|failed|no answer|no-answer)/.test(l)).length;

async function clip(name: string, source: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const out = join(dir, name);
  if (existsSync(out)) return out;
  const tmp = `${out}.tmp.mp4`;
  const r = spawn("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", source, "-frames:v", "4", "-c:v", "libx264", "-pix_fmt", "yuv420p", tmp], { stdio: "ignore" });
  const code = await new Promise<number | null>((resolve) => r.on("close", resolve));
  if (code !== 0) throw new Error(`ffmpeg failed for ${name}`);
  copyFileSync(tmp, out);
  rmSync(tmp);
  return out;
}

/** A fresh folder with `videos/<name>.mp4` copies of the clips (round robin). */
function folder(name: string, videos: string[]): string {
  const d = join(dir, name);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(join(d, "videos"), { recursive: true });
  videos.forEach((v, i) => copyFileSync(clips[i % clips.length]!, join(d, "videos", `${v}.mp4`)));
  return d;
}

beforeAll(async () => {
  models = await tinyModels();
  clips = [];
  for (const [i, s] of SOURCES.entries()) clips.push(await clip(`src${i}.mp4`, s));
}, 120_000);

/** The metrics the benchmark computes from the journal's scores (what the command must print). */
async function expected(bench: string, journal: string, extra: { pairFile?: string } = {}) {
  const { benchmark } = await loadBenchmark(bench, extra);
  const { scores } = readResultScores(journal, "hard");
  return JSON.parse(JSON.stringify(benchmark.evaluate(scores, { tieDimension: 0.001, tieSum: 0.001, pairs: "prompt" }).metrics));
}

describe("eval: every layout end to end", () => {
  it("VideoGen-RewardBench (a missing video: its pairs skipped and counted, exit 3)", async () => {
    const d = folder("vgrb", ["a", "b", "c"]);
    const bench = join(d, "videogen-rewardbench.csv");
    writeFileSync(
      bench,
      "path_A,path_B,A_model,B_model,prompt,VQ,MQ,TA,Overall\n" +
        "videos/a.mp4,videos/b.mp4,m1,m2,a pattern,A,A,B,same\n" +
        "videos/b.mp4,videos/c.mp4,m2,m3,a pattern,B,same,A,A\n" +
        "videos/c.mp4,videos/gone.mp4,m3,m4,a pattern,A,A,A,A\n",
    );
    const r = await run(["eval", bench, ...scoring()]);
    expect(r.code, r.stderr).toBe(3);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ benchmark: "videogen-rewardbench", detected: true, counts: { scored: 3, failed: 1, skipped: 1, measured: 2, total: 3, unit: "pairs" } });
    expect(typeof out.seconds).toBe("number");
    expect(out.metrics).toEqual(await expected(bench, `${bench}.journal.jsonl`));
    expect(out.metrics.dimensions.visualQuality.pairwiseWithTies.total).toBe(2);
    expect(out.metrics.dimensions.visualQuality.accuracy).toBeNull();
  }, 120_000);

  it("MJ-Bench-Video, chosen with --benchmark", async () => {
    const d = folder("mj", ["x", "y", "z"]);
    const bench = join(d, "mj_bench_video.json");
    const sc = (f: number, a: number, c: number) => ({ Alignment: a, Fineness: f, Consistency: c });
    const pair = (a: string, b: string, pref: string) => ({
      caption: "a pattern", video_0_path: `videos/${a}.mp4`, video_1_path: `videos/${b}.mp4`, overall_preference: pref,
      video_0_overall_score: sc(1, 2, 1), video_1_overall_score: sc(2, 1, 0), video_0_total_score: 1, video_1_total_score: 2,
    });
    writeFileSync(bench, JSON.stringify([pair("x", "y", "Video 1 better"), pair("y", "z", "Same"), pair("z", "x", "Video 2 better")]));
    const r = await run(["eval", bench, "--benchmark", "mjbench-video", ...scoring()]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ benchmark: "mjbench-video", detected: false, counts: { scored: 3, failed: 0, skipped: 0, measured: 3 } });
    expect(out.metrics).toEqual(await expected(bench, `${bench}.journal.jsonl`));
    expect(out.metrics.overall.pairwiseWithTies.total).toBe(3);
    expect(typeof out.metrics.overall.accuracy).toBe("number");
  }, 120_000);

  it("T2VQA-DB with its pair file", async () => {
    const d = folder("t2vqa", ["v1", "v2", "v3"]);
    const bench = join(d, "t2vqa_db.txt");
    writeFileSync(bench, "v1.mp4|a pattern|10\nv2.mp4|a pattern|60\nv3.mp4|a pattern|60.5\n");
    writeFileSync(join(d, "t2vqa_db_pref.json"), JSON.stringify([{ video1: "v1", video2: "v2", preference: "2" }, { video1: "v2", video2: "v3", preference: "same" }]));
    const r = await run(["eval", bench, ...scoring()]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ benchmark: "t2vqa-db", counts: { scored: 3, measured: 2, unit: "pairs" } });
    expect(out.metrics).toEqual(await expected(bench, `${bench}.journal.jsonl`));
    expect(out.metrics.dimensions.textAlignment.accuracy).toBeNull();
  }, 120_000);

  it("VideoPhy2 (table output names the layout and the paper's column)", async () => {
    const d = folder("videophy2", ["p1", "p2", "p3"]);
    const bench = join(d, "videophy2_test.csv");
    writeFileSync(bench, "video_url,caption,sa,pc,is_hard,model_name\nhttps://x.org/p1.mp4,a pattern,4,3,0,m\nhttps://x.org/p2.mp4,a pattern,2,5,1,m\nhttps://x.org/p3.mp4,bars,5,5,0,m\n");
    const r = await run(["eval", bench, ...scoring().slice(0, -2)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/VideoPhy2-test \(videophy2, layout found from its columns\)/);
    expect(r.stdout).toMatch(/^accuracy +— +[0-9.]+ +[0-9.]+/m); // no visual human score
    expect(r.stdout).toMatch(/paper's column: VideoPhy2-test accuracy, mean of alignment and physics = [0-9.]+/);
    const j = await run(["eval", bench, "--from-results", `${bench}.journal.jsonl`, "--score", "hard", "--format", "json"]);
    expect(j.code, j.stderr).toBe(0);
    expect(JSON.parse(j.stdout).metrics).toEqual(await expected(bench, `${bench}.journal.jsonl`));
  }, 120_000);

  it("VideoScore-Bench-v2 with --out in the reference's results layout, which --from-results reads alone", async () => {
    const d = folder("vsb2", ["i1", "i2"]);
    const bench = join(d, "vsb2.json");
    writeFileSync(bench, JSON.stringify([
      { video_name: "i1", prompt: "a pattern", visual_score: 3, t2v_score: 4, phy_score: 2 },
      { video_name: "i2", prompt: "a pattern", visual_score: 4, t2v_score: 4, phy_score: 4 },
    ]));
    const results = join(d, "results.json");
    const r = await run(["eval", bench, ...scoring(), "--out", results]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(typeof out.metrics.wholeItemAccuracy).toBe("number");
    const alone = await run(["eval", "--from-results", results, "--format", "json"]);
    expect(alone.code, alone.stderr).toBe(0);
    // The results layout holds the hard scores here (--score hard), so soft-score metrics from it equal the run's.
    expect(JSON.parse(alone.stdout)).toMatchObject({ benchmark: "vsb2", metrics: out.metrics });
  }, 120_000);

  it("a file in no layout: exit 2 naming the missing columns and the layouts", async () => {
    const d = folder("odd", []);
    const bench = join(d, "odd.csv");
    writeFileSync(bench, "path_A,prompt,VQ\na.mp4,p,A\n");
    const r = await run(["eval", bench, ...scoring()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/videogen-rewardbench: missing path_B, TA, Overall/);
    expect(r.stderr).toMatch(/vsb2: missing/);
  });
});

describe("eval: resume", () => {
  const N = 10;
  const ids = Array.from({ length: N }, (_, i) => `v${i}`);
  const csv = () =>
    "path_A,path_B,A_model,B_model,prompt,VQ,MQ,TA,Overall\n" +
    ids.map((id, i) => `videos/${id}.mp4,videos/${ids[(i + 1) % N]}.mp4,m,n,a pattern,${["A", "B", "same"][i % 3]},A,${["B", "same", "A"][i % 3]},${["same", "A", "B"][i % 3]}`).join("\n") +
    "\n";
  const entryLines = (path: string) => readFileSync(path, "utf8").split("\n").filter((l) => l !== "").slice(1);

  it("SIGKILL midway, rerun: the same metrics and journal as an uninterrupted run, no video scored twice", async () => {
    const d = folder("resume", ids);
    const bench = join(d, "vgrb.csv");
    writeFileSync(bench, csv());
    const killed = join(d, "killed.jsonl");
    const { child, done } = start(["eval", bench, ...scoring(), "--journal", killed]);
    // Kill once a few videos are in the journal.
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (existsSync(killed) && entryLines(killed).length >= 3) {
          clearInterval(t);
          child.kill("SIGKILL");
          resolve();
        }
      }, 25);
      done.then(() => {
        clearInterval(t);
        reject(new Error("the run ended before it could be killed"));
      });
    });
    const k = await done;
    expect(k.signal).toBe("SIGKILL");
    const before = new Set(entryLines(killed).filter((l) => l.endsWith("}")).map((l) => JSON.parse(l).id)).size;
    expect(before).toBeLessThan(N);

    const again = await run(["eval", bench, ...scoring(), "--journal", killed]);
    expect(again.code, again.stderr).toBe(0);
    expect(settledLines(again.stderr)).toBe(N - before); // only what was missing
    const lines = entryLines(killed);
    expect(lines).toHaveLength(N);
    expect(new Set(lines.map((l) => JSON.parse(l).id)).size).toBe(N);

    const whole = join(d, "whole.jsonl");
    const w = await run(["eval", bench, ...scoring(), "--journal", whole]);
    expect(w.code, w.stderr).toBe(0);
    expect(settledLines(w.stderr)).toBe(N);
    expect(JSON.parse(again.stdout).metrics).toEqual(JSON.parse(w.stdout).metrics);
    expect([...entryLines(killed)].sort()).toEqual([...entryLines(whole)].sort());
    expect(JSON.parse(again.stdout).counts).toMatchObject({ scored: N, failed: 0, fromJournal: before });

    // Nothing left: a third run scores nothing and loads no model.
    const third = await run(["eval", bench, ...scoring(), "--journal", killed]);
    expect(settledLines(third.stderr)).toBe(0);
    expect(third.stderr).not.toMatch(/loading/);
  }, 300_000);

  it("a cut last line is redone; a journal from other options is refused naming the option", async () => {
    const d = join(dir, "resume");
    const bench = join(d, "vgrb.csv");
    const whole = join(d, "whole.jsonl");
    const cut = join(d, "cut.jsonl");
    const text = readFileSync(whole, "utf8");
    writeFileSync(cut, text.slice(0, text.length - 40)); // the last entry loses its end
    const r = await run(["eval", bench, ...scoring(), "--journal", cut]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/its last line was cut/);
    expect(settledLines(r.stderr)).toBe(1);
    expect(entryLines(cut)).toHaveLength(N);
    expect([...entryLines(cut)].sort()).toEqual([...entryLines(whole)].sort());

    const other = await run(["eval", bench, ...scoring(), "--journal", cut, "--seed", "7"]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/made with --seed \(default\); this run has --seed 7/);
  }, 300_000);

  it("Ctrl-C (SIGINT): exit 130 with what finished in the journal; the rerun scores the rest", async () => {
    const d = join(dir, "resume");
    const bench = join(d, "vgrb.csv");
    const j = join(d, "sigint.jsonl");
    rmSync(j, { force: true });
    const { child, done } = start(["eval", bench, ...scoring(), "--journal", j]);
    const t = setInterval(() => {
      if (existsSync(j) && entryLines(j).length >= 2) {
        clearInterval(t);
        child.kill("SIGINT");
      }
    }, 25);
    const r = await done;
    clearInterval(t);
    expect(r.code, r.stderr).toBe(130);
    const before = entryLines(j).length;
    expect(before).toBeLessThan(N);
    const again = await run(["eval", bench, ...scoring(), "--journal", j]);
    expect(again.code, again.stderr).toBe(0);
    expect(settledLines(again.stderr)).toBe(N - before);
    expect([...entryLines(j)].sort()).toEqual([...entryLines(join(d, "whole.jsonl"))].sort());
  }, 300_000);

  it.skipIf(process.getuid?.() !== 0)("a full disk with room for a few entries: exit 1, one line saying what the journal keeps, no torn line; the rerun resumes", async () => {
    // A 64 KiB tmpfs of our own (a private mount namespace, as root) with one 4 KiB page left: the
    // header and about 7 of the 10 entries fit.
    const d = join(dir, "resume");
    const bench = join(d, "vgrb.csv");
    const mnt = join(d, "full-fs");
    rmSync(mnt, { recursive: true, force: true });
    mkdirSync(mnt, { recursive: true });
    const tsx = join(ROOT, "node_modules", "tsx", "dist", "loader.mjs");
    const cli = `${process.execPath} --import ${tsx} src/cli/main.ts eval ${bench} ${scoring().join(" ")} --quiet --journal ${mnt}/j.jsonl`;
    const script = [
      `mount -t tmpfs -o size=64k none ${mnt}`,
      `head -c 61440 /dev/zero > ${mnt}/filler`,
      `${cli} > /dev/null 2> ${d}/full.stderr; echo "rc=$?"`,
      `cp ${mnt}/j.jsonl ${d}/full-kept.jsonl`,
      `rm ${mnt}/filler`,
      `${cli} > /dev/null 2> ${d}/again.stderr; echo "rc2=$?"`,
      `cp ${mnt}/j.jsonl ${d}/full-again.jsonl`,
    ].join("; ");
    const r = spawn("unshare", ["-m", "sh", "-c", script], { cwd: ROOT, env: { ...process.env, VIDEOSCORE2_QUIET: "1", VIDEOSCORE2_MODEL: "", VIDEOSCORE2_MMPROJ: "" } });
    let out = "";
    r.stdout.on("data", (x) => (out += x));
    r.stderr.on("data", (x) => (out += x));
    await new Promise((res) => r.on("close", res));
    expect(out, out).toContain("rc=1");
    const lines = readFileSync(join(d, "full.stderr"), "utf8").trim().split("\n");
    expect(lines).toHaveLength(1);
    const m = /^videoscore2: --journal .*j\.jsonl: cannot write it \(ENOSPC: [^)]*\); it keeps (\d+) of the 10 videos \(0 from before this run, (\d+) scored now\), (\d+) scored in this run could not be kept, (\d+) left to score/.exec(lines[0]!);
    expect(m, lines[0]).not.toBeNull();
    const kept = Number(m![1]);
    expect(kept).toBeGreaterThan(2);
    expect(kept).toBeLessThan(N);
    expect(Number(m![2])).toBe(kept);
    expect(Number(m![3])).toBeGreaterThanOrEqual(1);
    expect(Number(m![4])).toBe(N - kept);
    const text = readFileSync(join(d, "full-kept.jsonl"), "utf8");
    expect(text.endsWith("\n")).toBe(true); // no torn line
    expect(entryLines(join(d, "full-kept.jsonl")).map((l) => JSON.parse(l).id)).toHaveLength(kept);
    expect(out).toContain("rc2=0");
    expect([...entryLines(join(d, "full-again.jsonl"))].sort()).toEqual([...entryLines(join(d, "whole.jsonl"))].sort());
  }, 300_000);
});
