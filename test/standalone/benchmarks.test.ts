// The five benchmark layouts on small made-up files, against metrics worked out by hand (the
// arithmetic is in the comments), plus layout detection, its errors, and the results journal.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { benchmarkFromText, type ModelScores } from "../../src/eval/benchmarks/index.js";
import { mjHard, mjOverallHard } from "../../src/eval/benchmarks/mjbench-video.js";
import { Journal, readJournal } from "../../src/eval/journal.js";
import { evaluate } from "../../src/eval/metrics.js";
import { benchmarkFromResults, readResultScores } from "../../src/eval/results.js";

const dir = mkdtempSync(join(tmpdir(), "vs2-bench-"));
const opts = { tieDimension: 0.001, tieSum: 0.001, pairs: "prompt" as const };
const s = (v: number, t: number, p: number): ModelScores => ({ visualQuality: v, textAlignment: t, physicalConsistency: p });
const csv = (rows: (string | number)[][]) => rows.map((r) => r.join(",")).join("\n") + "\n";

describe("VideoGen-RewardBench", () => {
  const text = csv([
    ["path_A", "path_B", "A_model", "B_model", "prompt", "VQ", "MQ", "TA", "Overall"],
    ["videos/m1/a1.mp4", "videos/m2/b1.mp4", "m1", "m2", "p1", "A", "B", "same", "B"],
    ["videos/m1/a2.mp4", "videos/m2/b2.mp4", "m1", "m2", "p2", "same", "A", "B", "A"],
    ["videos/m1/a1.mp4", "videos/m1/a2.mp4", "m1", "m1", "p1", "B", "A", "A", "same"],
    ["videos/m2/b2.mp4", "videos/m1/a2.mp4", "m2", "m1", "p2", "A", "A", "A", "B"],
    ["videos/m1/a1.mp4", "videos/m3/c.mp4", "m1", "m3", "p1", "A", "A", "A", "A"],
  ]);
  const { benchmark: b, detected } = benchmarkFromText(text, join(dir, "vgrb.csv"));
  // sums: a1 9, b1 9.5005, a2 6.2, b2 10.2; c failed.
  const scores = new Map<string, ModelScores | null>([
    ["a1", s(3, 4, 2)],
    ["b1", s(2, 4.0005, 3.5)],
    ["a2", s(4.2, 1, 1)],
    ["b2", s(4.2, 3, 3)],
    ["c", null],
  ]);

  it("is found from its columns; each video once, ids without .mp4, the first data row included", () => {
    expect(detected).toBe(true);
    expect(b.name).toBe("videogen-rewardbench");
    expect(b.videos.map((v) => v.id)).toEqual(["a1", "b1", "a2", "b2", "c"]);
    expect(b.videos[0]!.video).toBe(join(dir, "videos/m1/a1.mp4"));
  });

  it("pairwise accuracy per label, with and without ties; the failed video's pair is skipped", () => {
    const { metrics: m, measured, skipped } = benchmarkFromText(text, join(dir, "vgrb.csv")).benchmark.evaluate(scores, opts);
    expect([measured, skipped]).toEqual([4, 1]);
    // VQ: 3>2 A ✓ · 4.2=4.2 tie vs same ✓ (w/o: skipped) · 3<4.2 B ✓ · 4.2=4.2 vs A ✗ (w/o: equal is wrong)
    expect(m.dimensions.visualQuality.pairwiseWithTies).toEqual({ accuracy: 3 / 4, correct: 3, total: 4 });
    expect(m.dimensions.visualQuality.pairwiseWithoutTies).toEqual({ accuracy: 2 / 3, correct: 2, total: 3 });
    // TA: |4 − 4.0005| ≤ 0.001 tie vs same ✓ · 1<3 B ✓ · 4>1 A ✓ · 3>1 A ✓
    expect(m.dimensions.textAlignment.pairwiseWithTies).toEqual({ accuracy: 1, correct: 4, total: 4 });
    expect(m.dimensions.textAlignment.pairwiseWithoutTies).toEqual({ accuracy: 1, correct: 3, total: 3 });
    // Overall on the sum: 9<9.5005 B ✓ · 6.2<10.2 vs A ✗ · 9>6.2 vs same ✗ (w/o: skipped) · 10.2>6.2 vs B ✗
    expect(m.overall.pairwiseWithTies).toEqual({ accuracy: 1 / 4, correct: 1, total: 4 });
    expect(m.overall.pairwiseWithoutTies).toEqual({ accuracy: 1 / 3, correct: 1, total: 3 });
    expect(m.dimensions.physicalConsistency.pairwiseWithTies).toBeNull();
    expect(m.average.pairwiseWithTies).toBeCloseTo((0.75 + 1) / 2, 12);
    expect(m.dimensions.visualQuality.accuracy).toBeNull();
    expect(m.wholeItemAccuracy).toBeNull();
  });

  it("labels other than A / B / same are an error naming the row", () => {
    expect(() => benchmarkFromText(text.replace("p2,same", "p2,C"), join(dir, "vgrb.csv"))).toThrow(/row 3: VQ is "C"; expected A, B or same/);
  });
});

describe("MJ-Bench-Video", () => {
  const v = (fineness: number, alignment: number, consistency: number, key = "Consistency") => ({ Alignment: alignment, Fineness: fineness, [key]: consistency });
  const pair = (a: string, b: string, pref: string, ha: object, ta: number, hb: object, tb: number) => ({
    caption: `cap ${a}`,
    video_0_path: `videos/${a}.mp4`,
    video_1_path: `videos/${b}.mp4`,
    overall_preference: pref,
    video_0_overall_score: ha,
    video_1_overall_score: hb,
    video_0_total_score: ta,
    video_1_total_score: tb,
  });
  const X = v(0, 2, 1);
  const Y = v(2, 1, 2, "Coherence & Consistency");
  const Z = v(1, 0, 1);
  const W = v(1, 1, 1);
  const file = JSON.stringify([
    pair("x", "y", "Video 1 better", X, 1, Y, 2),
    pair("y", "z", "Same", Y, 2, Z, 0),
    pair("z", "x", "Video 2 better", Z, 0, X, 1),
    pair("x", "w", "Video 1 better", X, 1, W, 1),
    pair("y", "y", "Video 2 better", Y, 2, Y, 2),
  ]);
  const { benchmark: b } = benchmarkFromText(file, join(dir, "mj.json"));
  const scores = new Map<string, ModelScores | null>([
    ["x", s(2.5, 4.5, 3.4)],
    ["y", s(5.2, 1.5, 3.5)],
    ["z", s(3.5, 2.49, 1.0)],
    ["w", null],
  ]);

  it("maps hard scores onto 0–2 as get_acc_corr.py does", () => {
    expect([1, 2, 3, 4, 5].map((h) => mjHard(h, "visualQuality"))).toEqual([0, 0, 1, 1, 2]);
    expect([1, 2, 3, 4, 5].map((h) => mjHard(h, "textAlignment"))).toEqual([0, 1, 1, 2, 2]);
    expect(mjHard(2.5, "visualQuality")).toBe(0); // round half to even: 2
    // int((v+t+p)/3) truncates: (2+2+3)/3 = 2.33 → 2 → 1; (1+1+2)/3 = 1.33 → 1 → 0; (5+4+5)/3 = 4.67 → 4 → 2
    expect(mjOverallHard(s(2, 2, 3))).toBe(1);
    expect(mjOverallHard(s(1, 1, 2))).toBe(0);
    expect(mjOverallHard(s(5, 4, 5))).toBe(2);
  });

  it("point metrics per video, overall accuracy against total_score, pairwise on the mean", () => {
    expect(b.name).toBe("mjbench-video");
    expect(b.videos.map((x) => x.id)).toEqual(["x", "y", "z", "w"]);
    const { metrics: m, measured, skipped } = b.evaluate(scores, opts);
    // hard: x (2,4,3) → (0,2,1) = human ✓✓✓; y (5,2,4) → (2,1,2) ✓✓✓; z (4,2,1) → (1,1,0) vs (1,0,1): ✓✗✗
    expect(m.dimensions.visualQuality.accuracy).toBe(1);
    expect(m.dimensions.textAlignment.accuracy).toBeCloseTo(2 / 3, 12);
    expect(m.dimensions.physicalConsistency.accuracy).toBeCloseTo(2 / 3, 12);
    expect(m.dimensions.textAlignment.relaxedAccuracy).toBe(1);
    expect(m.wholeItemAccuracy).toBeCloseTo(2 / 3, 12);
    // overall: x int(9/3)=3 → 1 = 1 ✓; y int(11/3)=3 → 1 ≠ 2 ✗; z int(7/3)=2 → 1 ≠ 0 ✗
    expect(m.overall.accuracy).toBeCloseTo(1 / 3, 12);
    // visual PLCC: (2.5, 5.2, 3.5) vs (0, 2, 1): Σab 2.7 / √(3.72667 · 2) = 0.98898; SRCC: same order = 1
    expect(m.dimensions.visualQuality.plcc).toBeCloseTo(0.98898, 4);
    expect(m.dimensions.visualQuality.srcc).toBeCloseTo(1, 12);
    // overall SRCC: sums (10.4, 10.2, 6.99) ranks (3,2,1) vs totals (1,2,0) ranks (2,3,1) → 0.5
    expect(m.overall.srcc).toBeCloseTo(0.5, 12);
    // means x 3.467, y 3.4, z 2.33: x>y ✓ · y>z vs Same ✗ (w/o: skipped) · z<x ✓ · y=y vs Video 2 ✗
    expect(m.overall.pairwiseWithTies).toEqual({ accuracy: 0.5, correct: 2, total: 4 });
    expect(m.overall.pairwiseWithoutTies).toEqual({ accuracy: 2 / 3, correct: 2, total: 3 });
    expect([measured, skipped]).toEqual([4, 1]);
    expect(m.dimensions.visualQuality.pairwiseWithTies).toBeNull();
  });
});

describe("T2VQA-DB", () => {
  const list = ["video|prompt|score", "v1.mp4|a cat|10", "v2.mp4|a dog | with a pipe|50", "v3.mp4|x|50.5", "v4.mp4|y|90", "v5.mp4|z|20", ""].join("\n");
  const pairFile = join(dir, "t2vqa_db_pref.json");
  writeFileSync(
    pairFile,
    JSON.stringify([
      { video1: "v1", video2: "v2", preference: "2" },
      { video1: "v2", video2: "v3", preference: "same" },
      { video1: "v4", video2: "v3" }, // from the MOS: 90 vs 50.5 → 1
      { video1: "v3", video2: "v2" }, // |50.5 − 50| ≤ 1 → same
      { video1: "v5", video2: "v1", preference: "1" },
    ]),
  );
  const scores = new Map<string, ModelScores | null>([
    ["v1", s(1, 1, 1)],
    ["v2", s(3, 3, 3)],
    ["v3", s(3, 3, 3.0003)],
    ["v4", s(5, 4, 3)],
    ["v5", null],
  ]);

  it("reads the video|prompt|score list (header skipped, a | inside the prompt kept) and the pair file next to it", () => {
    const { benchmark: b, detected } = benchmarkFromText(list, join(dir, "t2vqa.txt"));
    expect(detected).toBe(true);
    expect(b.name).toBe("t2vqa-db");
    expect(b.videos.map((v) => v.id)).toEqual(["v1", "v2", "v3", "v4", "v5"]);
    expect(b.videos[1]!.prompt).toBe("a dog | with a pipe");
    expect(b.videos[0]!.video).toBe(join(dir, "videos", "v1.mp4"));
  });

  it("no accuracy; correlations against the MOS; pairwise on the mean", () => {
    const { metrics: m, measured, skipped } = benchmarkFromText(list, join(dir, "t2vqa.txt")).benchmark.evaluate(scores, opts);
    expect(m.dimensions.visualQuality.accuracy).toBeNull();
    expect(m.overall.accuracy).toBeNull();
    // visual (1,3,3,5) ranks (1,2.5,2.5,4) vs MOS ranks (1,2,3,4): 4.5 / √(4.5·5) = 0.948683
    expect(m.dimensions.visualQuality.srcc).toBeCloseTo(0.948683, 6);
    // means 1, 3, 3.0001, 4: 1<3 "2" ✓ · tie "same" ✓ · 4>3.0001 "1" ✓ · tie "same" ✓
    expect(m.overall.pairwiseWithTies).toEqual({ accuracy: 1, correct: 4, total: 4 });
    expect(m.overall.pairwiseWithoutTies).toEqual({ accuracy: 1, correct: 2, total: 2 });
    expect([measured, skipped]).toEqual([4, 1]);
  });

  it("the authors' derived pair file alone (prompt and MOS in each pair) is the same benchmark as the list with its pairs", () => {
    const prompts: Record<string, string> = { v1: "a cat", v2: "a dog | with a pipe", v3: "x", v4: "y", v5: "z" };
    const mos: Record<string, number> = { v1: 10, v2: 50, v3: 50.5, v4: 90, v5: 20 };
    const derived = (JSON.parse(readFileSync(pairFile, "utf8")) as Record<string, string>[]).map((p) => ({
      prompt: prompts[p.video1!],
      video1: `${p.video1}.mp4`,
      video2: p.video2,
      video1_quality_score: mos[p.video1!],
      video2_quality_score: String(mos[p.video2!]),
      ...(p.preference ? { preference: Number(p.preference) || p.preference } : {}),
    }));
    const pref = join(dir, "pref-alone.json");
    writeFileSync(pref, JSON.stringify(derived));
    for (const asked of ["t2vqa-db", undefined] as const) {
      const { benchmark: b, detected } = benchmarkFromText(readFileSync(pref, "utf8"), pref, { benchmark: asked });
      expect(b.name).toBe("t2vqa-db");
      expect(detected).toBe(asked === undefined);
      expect(b.videos.map((v) => v.id).sort()).toEqual(["v1", "v2", "v3", "v4", "v5"]);
      expect(b.videos.find((v) => v.id === "v1")).toEqual({ id: "v1", video: join(dir, "videos", "v1.mp4"), prompt: "a cat" });
      expect(b.evaluate(scores, opts)).toEqual(benchmarkFromText(list, join(dir, "t2vqa.txt")).benchmark.evaluate(scores, opts));
    }
    expect(() => benchmarkFromText(readFileSync(pref, "utf8"), pref, { pairFile })).toThrow(/pair file itself .* --pair-file .* does not apply/);
    const clash = [...derived, { ...derived[0]!, video2_quality_score: 99 }];
    expect(() => benchmarkFromText(JSON.stringify(clash), pref)).toThrow(/pair 6 gives v2 the quality score 99, pair 1 gave it 50: one video has one MOS/);
    expect(() => benchmarkFromText('[{"a": 1}]', pref, { benchmark: "t2vqa-db" })).toThrow(/or the pair file \[\{prompt, video1, video2, video1_quality_score, video2_quality_score, preference\}\]/);
  });

  it("a pair naming a video the list lacks is an error", () => {
    const pf = join(dir, "bad-pairs.json");
    writeFileSync(pf, JSON.stringify([{ video1: "v1", video2: "nope", preference: "1" }]));
    expect(() => benchmarkFromText(list, join(dir, "t2vqa.txt"), { pairFile: pf })).toThrow(/names nope, which .* does not list/);
  });
});

describe("VideoPhy2", () => {
  const text = csv([
    ["video_url", "caption", "sa", "pc", "is_hard", "model_name"],
    ["https://x.org/v/a.mp4", "cap1", 4, 3, 0, "m1"],
    ["https://x.org/v/b.mp4", "cap1", 2, 5, 1, "m2"],
    ["https://x.org/v/c.mp4", "cap2", 5, 5, 0, "m1"],
    ["https://x.org/v/d.mp4", "cap2", 1, 1, 0, "m2"],
  ]);
  const scores = new Map<string, ModelScores | null>([
    ["a", s(9, 3.5, 2.5)],
    ["b", s(1, 2.5, 4.5)],
    ["c", s(1, 5.5, 3.2)],
    ["d", null],
  ]);

  it("sa is alignment, pc physics; visual and whole-item are null; averages over the two", () => {
    const { benchmark: b } = benchmarkFromText(text, join(dir, "videophy2.csv"));
    expect(b.name).toBe("videophy2");
    expect(b.videos[0]!.video).toBe(join(dir, "videos", "a.mp4"));
    const { metrics: m, skipped } = b.evaluate(scores, opts);
    // alignment hard 4, 2, 5 (5.5 clipped) = human ✓✓✓; physics hard 2 (2.5 half to even), 4, 3 vs 3, 5, 5: none, relaxed 2/3
    expect(m.dimensions.textAlignment.accuracy).toBe(1);
    expect(m.dimensions.physicalConsistency.accuracy).toBe(0);
    expect(m.dimensions.physicalConsistency.relaxedAccuracy).toBeCloseTo(2 / 3, 12);
    expect(m.average.accuracy).toBe(0.5);
    expect(m.average.relaxedAccuracy).toBeCloseTo((1 + 2 / 3) / 2, 12);
    expect(m.dimensions.visualQuality).toEqual({ accuracy: null, relaxedAccuracy: null, plcc: null, srcc: null, pairwiseWithTies: null, pairwiseWithoutTies: null });
    expect(m.wholeItemAccuracy).toBeNull();
    expect(m.overall.plcc).toBeNull();
    // cap1 pair (a, b): TA 3.5>2.5, humans 4>2 ✓; PC 2.5<4.5, humans 3<5 ✓; the cap2 pair names d (failed)
    expect(m.dimensions.textAlignment.pairwiseWithTies).toEqual({ accuracy: 1, correct: 1, total: 1 });
    expect(skipped).toBe(1);
  });
});

describe("VideoScore-Bench-v2", () => {
  const items = [
    { video_name: "i1", prompt: "p", visual_score: 3, t2v_score: 4, phy_score: 2 },
    { video_name: "i2", prompt: "p", visual_score: 2, t2v_score: 4, phy_score: 3 },
    { video_name: "i3", prompt: "q", visual_score: 5, t2v_score: 1, phy_score: 1 },
    { video_name: "i4", prompt: "q", visual_score: 1, t2v_score: 1, phy_score: 1 },
  ];
  const scores = new Map<string, ModelScores | null>([
    ["i1", s(2.5, 4.49, 2.0)], // hard (2,4,2): visual ✗
    ["i2", s(2.4, 3.5, 3.4)], // hard (2,4,3): all three ✓
    ["i3", s(4.6, 0.2, 1.5)], // hard (5,1,2): physics ✗
  ]);

  it("whole-item accuracy, and every other metric as evaluate() (checked before against the reference)", () => {
    const { benchmark: b } = benchmarkFromText(JSON.stringify(items), join(dir, "vsb2.json"));
    expect(b.name).toBe("vsb2");
    const { metrics: m, skipped } = b.evaluate(scores, opts);
    expect(m.wholeItemAccuracy).toBeCloseTo(1 / 3, 12);
    expect(m.dimensions.visualQuality.accuracy).toBeCloseTo(2 / 3, 12);
    expect(skipped).toBe(1);
    const want = evaluate(
      items.map((it) => ({
        id: it.video_name,
        prompt: it.prompt,
        human: { visualQuality: it.visual_score, textAlignment: it.t2v_score, physicalConsistency: it.phy_score },
        model: scores.get(it.video_name) ?? null,
      })),
    );
    for (const d of ["visualQuality", "textAlignment", "physicalConsistency"] as const) {
      const g = m.dimensions[d];
      const w = want.dimensions[d];
      expect([g.accuracy, g.relaxedAccuracy, g.plcc, g.srcc]).toEqual([w.accuracy, w.relaxedAccuracy, w.plcc, w.srcc]);
      // evaluate() says NaN where no pair counts; the report says null.
      expect(g.pairwiseWithTies).toEqual(w.pairwiseWithTies);
      expect(g.pairwiseWithoutTies).toEqual({ ...w.pairwiseWithoutTies, accuracy: Number.isNaN(w.pairwiseWithoutTies.accuracy) ? null : w.pairwiseWithoutTies.accuracy });
    }
    expect([m.overall.plcc, m.overall.srcc]).toEqual([want.overall.plcc, want.overall.srcc]);
    expect(m.overall.pairwiseWithTies).toEqual(want.overall.pairwiseWithTies);
  });

  it("the reference's results layout is a benchmark by itself (vsb2, or videophy2 without visual labels)", () => {
    const results = items.map((it) => ({
      video_name: it.video_name, prompt: it.prompt, v_score_gt: it.visual_score, t_score_gt: it.t2v_score, p_score_gt: it.phy_score,
      v_score_model: scores.get(it.video_name)?.visualQuality ?? null, t_score_model: scores.get(it.video_name)?.textAlignment ?? null,
      p_score_model: scores.get(it.video_name)?.physicalConsistency ?? null, output: "",
    }));
    const path = join(dir, "results.json");
    writeFileSync(path, JSON.stringify(results));
    const r = readResultScores(path, "soft");
    expect(r.source).toBe("reference");
    expect(r.scores.get("i4")).toBeNull();
    expect(benchmarkFromResults(r.records!, path).evaluate(r.scores, opts).metrics.wholeItemAccuracy).toBeCloseTo(1 / 3, 12);
    const phy = results.map((x) => ({ ...x, v_score_gt: null }));
    expect(benchmarkFromResults(phy, path).name).toBe("videophy2");
    const noLabels = results.map(({ video_name, v_score_model, t_score_model, p_score_model }) => ({ video_name, v_score_model, t_score_model, p_score_model }));
    expect(() => benchmarkFromResults(noLabels, path)).toThrow(/give the benchmark file too/);
  });
});

describe("layout detection errors", () => {
  it("a file matching no layout names the missing and unexpected columns and the layouts it could have been", () => {
    const text = csv([["path_A", "prompt", "VQ", "colour"], ["a.mp4", "p", "A", "red"]]);
    let msg = "";
    try {
      benchmarkFromText(text, join(dir, "odd.csv"));
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/match none of the benchmark layouts/);
    expect(msg).toMatch(/videogen-rewardbench: missing path_B, TA, Overall; unexpected colour/);
    for (const n of ["vsb2", "mjbench-video", "videophy2", "t2vqa-db"]) expect(msg).toContain(n);
  });

  it("--benchmark with the wrong layout names what is missing and what the columns do fit", () => {
    const text = csv([["video_url", "caption", "sa", "pc"], ["a.mp4", "c", 1, 2]]);
    expect(() => benchmarkFromText(text, join(dir, "p.csv"), { benchmark: "videogen-rewardbench" })).toThrow(
      /not in the videogen-rewardbench layout: missing path_A, path_B, prompt, VQ, TA, Overall; unexpected video_url, caption, sa, pc \(its columns fit videophy2\)/,
    );
    expect(() => benchmarkFromText(text, join(dir, "p.csv"), { benchmark: "t2vqa-db" })).toThrow(/expected video\|prompt\|score lines/);
  });
});

describe("results journal", () => {
  const header = { benchmark: "vsb2", options: { model: "/m.gguf", seed: 1, template: "benchmark" } };
  const entry = (id: string) => ({ id, video: `${id}.mp4`, prompt: "p", ok: true, scores: { visualQuality: { score: 3, soft: 3.1, expected: 3 }, textAlignment: { score: 3, soft: 3, expected: 3 }, physicalConsistency: { score: 3, soft: 3, expected: 3 } } });

  it("keeps what was appended; a cut last line is dropped and the file repaired", () => {
    const path = join(dir, "j1.jsonl");
    const j = Journal.open(path, header);
    j.append(entry("a"));
    j.append(entry("b"));
    j.close();
    writeFileSync(path, `${readFileSync(path, "utf8")}{"id":"c","vid`); // a crash mid-line
    expect(readJournal(path).cut).toBe(true);
    const k = Journal.open(path, header);
    expect(k.repaired).toBe(true);
    expect([...k.entries.keys()]).toEqual(["a", "b"]);
    k.append(entry("c"));
    k.close();
    const lines = readFileSync(path, "utf8").split("\n");
    expect(lines).toHaveLength(5); // header, a, b, c, ""
    expect(lines.slice(1, 4).map((l) => JSON.parse(l).id)).toEqual(["a", "b", "c"]);
  });

  it("refuses a journal made with other options, naming the option", () => {
    const path = join(dir, "j2.jsonl");
    Journal.open(path, header).close();
    expect(() => Journal.open(path, { ...header, options: { ...header.options, seed: 2 } })).toThrow(/made with --seed 1; this run has --seed 2/);
    expect(() => Journal.open(path, { ...header, benchmark: "videophy2" })).toThrow(/made for the vsb2 benchmark/);
    expect(() => Journal.open(path, header)).not.toThrow();
  });

  it("a bad line that is not the last is an error", () => {
    const path = join(dir, "j3.jsonl");
    const j = Journal.open(path, header);
    j.append(entry("a"));
    j.close();
    writeFileSync(path, readFileSync(path, "utf8").replace('{"id":"a"', '{"id":"a",,') + `${JSON.stringify(entry("b"))}\n`);
    expect(() => readJournal(path)).toThrow(/line 2 of the journal is not JSON/);
  });
});
