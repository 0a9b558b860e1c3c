/**
 * T2VQA-DB: the reference's `video|prompt|score` list (one video a line, MOS 0–100) and its pair
 * file (`[{video1, video2, preference}]`, preference `1` / `2` / `same`; a pair without one gets
 * it from the MOS, a tie when |ΔMOS| ≤ 1). A MOS is not a 1–5 score, so there is no accuracy:
 * PLCC/SRCC of each dimension and of the sum against the MOS over every scored video, and
 * pairwise accuracy on the mean of the three (`get_pairwise_acc.py`).
 */
import { existsSync } from "node:fs";
import { readRegularText } from "../input-file.js";
import { dirname, join, resolve } from "node:path";
import type { Preference } from "../metrics.js";
import { parseRecords } from "../bench-file.js";
import { correlations, humanPreference, pairwiseBoth, withAverages, emptyMetrics } from "./compute.js";
import { asNumber, benchError, field, videoId, videoPath } from "./fields.js";
import { METRIC_DIMENSIONS } from "../metrics.js";
import type { Benchmark, BenchVideo, ModelScores } from "./types.js";

/** The pair file looked for next to the list when `--pair-file` is not given. */
export const T2VQA_PAIR_FILE = "t2vqa_db_pref.json";

/** A MOS difference up to this is a human tie. */
export const T2VQA_MOS_TIE = 1;

/** Whether text looks like the `video|prompt|score` list. */
export function isT2VQAList(text: string): boolean {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/).filter((l) => l.trim() !== "").slice(0, 5);
  return lines.length > 0 && !/^\s*[[{]/.test(lines[0] as string) && lines.every((l) => l.split("|").length >= 3);
}

interface Row {
  id: string;
  prompt: string;
  mos: number;
}

/** Parses the list; a first line whose score is not a number is a header. */
export function parseT2VQAList(text: string, file: string): { name: string; prompt: string; mos: number }[] {
  const out: { name: string; prompt: string; mos: number }[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    const first = line.indexOf("|");
    const last = line.lastIndexOf("|");
    if (first < 0 || first === last) benchError(file, `line ${i + 1} is not video|prompt|score`);
    const mos = asNumber(line.slice(last + 1));
    if (mos === null) {
      if (out.length === 0 && i === lines.findIndex((l) => l.trim() !== "")) return; // header
      benchError(file, `line ${i + 1}: the score ${JSON.stringify(line.slice(last + 1))} is not a number`);
    }
    out.push({ name: line.slice(0, first).trim(), prompt: line.slice(first + 1, last), mos });
  });
  return out;
}

function preferenceOf(v: unknown, mos: [number, number] | null, file: string, where: string): Preference {
  const s = typeof v === "number" ? String(v) : typeof v === "string" ? v.trim() : v;
  if (s === "1") return 1;
  if (s === "2") return -1;
  if (s === "same") return 0;
  if (s === undefined && mos) return humanPreference(mos[0], mos[1], T2VQA_MOS_TIE);
  return benchError(file, `${where}: preference is ${JSON.stringify(v)}; expected "1", "2" or "same"`);
}

/** Reads the list and, when there is one, the pair file. */
export function t2vqaBenchmark(text: string, file: string, videosDir?: string, pairFile?: string): Benchmark & { pairFile: string | null } {
  const dir = dirname(resolve(file));
  const rows: Row[] = [];
  const videos = new Map<string, BenchVideo>();
  for (const r of parseT2VQAList(text, file)) {
    const id = videoId(r.name);
    if (videos.has(id)) continue;
    videos.set(id, { id, video: videoPath(r.name, dir, videosDir), prompt: r.prompt });
    rows.push({ id, prompt: r.prompt, mos: r.mos });
  }
  const mosOf = new Map(rows.map((r) => [r.id, r.mos]));
  const pf = pairFile ?? (existsSync(join(dir, T2VQA_PAIR_FILE)) ? join(dir, T2VQA_PAIR_FILE) : null);
  let pairs: { a: string; b: string; human: Preference }[] = [];
  if (pf) {
    // Both name the pair file in their errors.
    const records = parseRecords(readRegularText(pf, "the pair file"), pf);
    pairs = records.map((r, i) => {
      const v1 = field(r, "video1");
      const v2 = field(r, "video2");
      if (v1 === undefined || v2 === undefined) benchError(pf, `pair ${i + 1} lacks video1 or video2`);
      const a = videoId(String(v1));
      const b = videoId(String(v2));
      for (const id of [a, b]) if (!mosOf.has(id)) benchError(pf, `pair ${i + 1} names ${id}, which ${file} does not list`);
      return { a, b, human: preferenceOf(r.preference, [mosOf.get(a)!, mosOf.get(b)!], pf, `pair ${i + 1}`) };
    });
  }
  return {
    name: "t2vqa-db",
    file,
    pairFile: pf,
    videos: [...videos.values()],
    evaluate(scores, options) {
      const kept = rows.filter((r) => scores.get(r.id)).map((r) => ({ ...r, model: scores.get(r.id) as ModelScores }));
      const m = emptyMetrics();
      const mos = kept.map((r) => r.mos);
      for (const d of METRIC_DIMENSIONS) m.dimensions[d] = { ...m.dimensions[d], ...correlations(kept.map((r) => r.model[d]), mos) };
      const mean = (s: ModelScores) => (s.visualQuality + s.textAlignment + s.physicalConsistency) / 3;
      const usable = pairs.filter((p) => scores.get(p.a) && scores.get(p.b));
      m.overall = {
        ...m.overall,
        ...correlations(kept.map((r) => r.model.visualQuality + r.model.textAlignment + r.model.physicalConsistency), mos),
        ...(pf ? pairwiseBoth(usable.map((p) => ({ a: mean(scores.get(p.a)!), b: mean(scores.get(p.b)!), human: p.human })), options.tieDimension) : {}),
      };
      // Correlations count videos; pairwise counts pairs. The counts report videos when there are no pairs.
      return pf
        ? { metrics: withAverages(m), measured: usable.length, skipped: pairs.length - usable.length, total: pairs.length, unit: "pairs" }
        : { metrics: withAverages(m), measured: kept.length, skipped: rows.length - kept.length, total: rows.length, unit: "items" };
    },
  };
}
