#!/usr/bin/env node
/**
 * videoscore2 — command line.
 *   videoscore2 demo [video] [--prompt "…"]   score the bundled sample (tiny random model unless
 *                                             VIDEOSCORE2_MODEL / VIDEOSCORE2_MMPROJ are set)
 *   videoscore2 score <video>... --prompt "…" [--model m.gguf --mmproj mm.gguf] [--format table|json]
 *   videoscore2 sample <video> --out dir      write the frames the model sees (PPM)
 *   videoscore2 info                          versions and the loader's choice
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { packageRoot } from "../binding.js";
import { VideoScoreError } from "../errors.js";
import { writeQwen25VLModels } from "../gguf/tiny-model.js";
import { VideoScorer, type ScoreResult } from "../scorer.js";
import { sampleFrames } from "../video.js";
import { versions } from "../index.js";

const EXIT = { ok: 0, usage: 2, failed: 1, someFailed: 3, aborted: 130 } as const;

const SAMPLE_PROMPT = "a colourful test pattern with a moving gradient and a ticking counter";

function usage(): never {
  console.error(`usage:
  videoscore2 demo [video] [--prompt "…"] [--max-tokens N]
  videoscore2 score <video>... --prompt "…" [--model m.gguf --mmproj mm.gguf] [--template inference|benchmark]
                    [--fps 2] [--seed 0] [--max-tokens 1024] [--gpu-layers 0] [--format table|json|jsonl]
  videoscore2 sample <video> --out <dir> [--fps 2]
  videoscore2 info`);
  process.exit(EXIT.usage);
}

/** The bundled sample: a 5 s 640x360 clip generated once with the ffmpeg CLI (only for the demo). */
function sampleClip(cacheDir: string): string {
  const out = join(cacheDir, "sample-640x360-5s.mp4");
  if (existsSync(out)) return out;
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${out}.tmp.mp4`;
  execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=24", "-t", "5",
    "-c:v", "libx264", "-pix_fmt", "yuv420p", tmp]);
  execFileSync("mv", [tmp, out]);
  return out;
}

async function resolveModels(values: { model?: string; mmproj?: string }, cacheDir: string) {
  const model = values.model ?? process.env.VIDEOSCORE2_MODEL;
  const mmproj = values.mmproj ?? process.env.VIDEOSCORE2_MMPROJ;
  if (model && mmproj) return { model, mmproj, random: false };
  if (model || mmproj) throw new VideoScoreError("ERR_INVALID_OPTION", "Give both the text model and the mmproj (--model/--mmproj or VIDEOSCORE2_MODEL/VIDEOSCORE2_MMPROJ)");
  const dir = join(cacheDir, "tiny-model");
  const m = join(dir, "tiny-qwen2.5-vl.gguf");
  const mm = join(dir, "mmproj-tiny-qwen2.5-vl.gguf");
  if (!existsSync(m) || !existsSync(mm)) await writeQwen25VLModels({ dir, seed: 1 });
  return { model: m, mmproj: mm, random: true };
}

function bar(p: number): string {
  const n = Math.round(p * 20);
  return "█".repeat(n) + "·".repeat(20 - n);
}

function printResult(file: string, r: ScoreResult, random: boolean): void {
  console.log(`\n${file}${random ? "   [RANDOM WEIGHTS: tiny generated model, scores are meaningless]" : ""}`);
  console.log(`frames: ${r.frames.count} × ${r.frames.width}x${r.frames.height} (indices ${r.frames.indices.join(",")}) from ${r.frames.totalFrames} @ ${r.frames.nativeFps.toFixed(2)} fps`);
  for (const [label, d] of [["visual quality", r.visualQuality], ["text alignment", r.textAlignment], ["physical consistency", r.physicalConsistency]] as const) {
    const probs = d.probs ? d.probs.map((p) => p.toFixed(2)).join(" ") : "—";
    const soft = d.soft === null ? "  —  " : d.soft.toFixed(3);
    console.log(`  ${label.padEnd(21)} ${d.score ?? "—"}  soft ${soft}  p(1..5) ${probs}  ${d.probs ? bar((d.soft ?? 0) / 5) : ""}`);
  }
  const t = r.timings;
  console.log(`timings: sample ${t.sampleMs.toFixed(0)} ms, encode ${t.encodeMs.toFixed(0)} ms, prefill ${t.prefillMs.toFixed(0)} ms (${t.promptTokens} tokens), generate ${t.generateMs.toFixed(0)} ms (${t.generatedTokens} tokens, ${t.tokensPerSecond.toFixed(1)} tok/s), total ${t.totalMs.toFixed(0)} ms; stop: ${r.stopReason}`);
}

async function main(): Promise<number> {
  const [cmd, ...rest] = process.argv.slice(2);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      prompt: { type: "string" },
      model: { type: "string" },
      mmproj: { type: "string" },
      template: { type: "string" },
      fps: { type: "string" },
      seed: { type: "string" },
      "max-tokens": { type: "string" },
      "gpu-layers": { type: "string" },
      format: { type: "string" },
      out: { type: "string" },
      constrain: { type: "boolean" },
    },
  });
  const cacheDir = join(packageRoot(), ".cache");
  const int = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const ac = new AbortController();
  process.once("SIGINT", () => ac.abort());

  switch (cmd) {
    case "info": {
      console.log(JSON.stringify(versions(), null, 2));
      return EXIT.ok;
    }
    case "sample": {
      const video = positionals[0];
      if (!video || !values.out) usage();
      const s = await sampleFrames(video, { fps: int(values.fps), signal: ac.signal });
      mkdirSync(values.out, { recursive: true });
      for (const f of s.frames) {
        const header = Buffer.from(`P6\n${s.width} ${s.height}\n255\n`);
        writeFileSync(join(values.out, `frame-${String(f.index).padStart(5, "0")}.ppm`), Buffer.concat([header, f.rgb]));
      }
      console.log(`${s.frames.length} frames ${s.width}x${s.height} → ${resolve(values.out)}`);
      return EXIT.ok;
    }
    case "demo":
    case "score": {
      const videos = positionals.length > 0 ? positionals : cmd === "demo" ? [sampleClip(cacheDir)] : usage();
      const prompt = values.prompt ?? (cmd === "demo" && positionals.length === 0 ? SAMPLE_PROMPT : undefined);
      if (prompt === undefined) usage();
      const m = await resolveModels(values, cacheDir);
      if (m.random) console.log("No VIDEOSCORE2_MODEL/VIDEOSCORE2_MMPROJ given: using a tiny RANDOM-WEIGHT Qwen2.5-VL generated into .cache/ (real architecture, meaningless scores).");
      const scorer = await VideoScorer.load({ model: m.model, mmproj: m.mmproj, gpuLayers: int(values["gpu-layers"]), contextSize: 16384 });
      let failures = 0;
      const results: Record<string, unknown>[] = [];
      try {
        for (const v of videos) {
          try {
            const r = await scorer.score(v, {
              prompt,
              template: (values.template as "inference" | "benchmark" | undefined) ?? "inference",
              fps: int(values.fps),
              seed: int(values.seed),
              maxTokens: int(values["max-tokens"]) ?? (m.random ? 256 : 1024),
              constrain: values.constrain ?? (m.random ? { maxThinkingChars: 200 } : undefined),
              signal: ac.signal,
            });
            if (values.format === "json" || values.format === "jsonl") results.push({ video: v, ...r });
            else printResult(v, r, m.random);
          } catch (e) {
            if (e instanceof VideoScoreError && e.code === "ERR_ABORTED") throw e;
            failures++;
            console.error(`${v}: ${e instanceof VideoScoreError ? `${e.code}: ` : ""}${(e as Error).message}`);
          }
        }
      } finally {
        await scorer.dispose();
      }
      if (values.format === "json") console.log(JSON.stringify(results, null, 2));
      if (values.format === "jsonl") for (const r of results) console.log(JSON.stringify(r));
      return failures === 0 ? EXIT.ok : failures === videos.length ? EXIT.failed : EXIT.someFailed;
    }
    default:
      usage();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof VideoScoreError) {
      console.error(`${e.code}: ${e.message}`);
      process.exit(e.code === "ERR_ABORTED" ? EXIT.aborted : EXIT.failed);
    }
    console.error(e);
    process.exit(EXIT.failed);
  },
);
