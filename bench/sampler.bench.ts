/**
 * Sampler benchmark: our in-process sampleFrames() against the ffmpeg CLI doing the same job, and
 * against the floor: decoding only the frames the plan needs and converting the targets, on an
 * already opened and indexed source with the same decoders; and against decoding those frames alone
 * (no conversion), which no sampler that hands out RGB can reach. 10 s 30 fps H.264 clips at
 * 720p/1080p, keyframe every 30/250 frames, 2 and 20 Mb/s.
 *
 *   npx tsx bench/sampler.bench.ts [--runs N] [--only SUBSTRING]
 *
 * Clips are generated once into bench/.out/ (git-ignored). Timings are medians of N (default 5) runs,
 * interleaved clip by clip so that drift hits every column alike. Prints a markdown table.
 */
import { spawn } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { openOptions } from "../src/video/limits.js";
import { loadAddon } from "../src/addon/loader.js";
import { planFrames } from "../src/video/frame-plan.js";
import { sampleFrames } from "../src/video/sample.js";
import { ensureFile, ffmpeg } from "../test/fixtures/videos.js";

const OUT = resolve(dirname(fileURLToPath(import.meta.url)), ".out");

interface Clip {
  name: string;
  path: string;
  width: number;
  height: number;
  gop: number;
  bitrate: string;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const RUNS = Math.max(1, Number(arg("--runs") ?? 5));
const ONLY = arg("--only");

async function makeClips(): Promise<Clip[]> {
  const clips: Clip[] = [];
  for (const [width, height] of [
    [1280, 720],
    [1920, 1080],
  ] as const) {
    for (const gop of [30, 250]) {
      for (const bitrate of ["2M", "20M"]) {
        const name = `${height}p-gop${gop}-${bitrate}`;
        if (ONLY && !name.includes(ONLY)) continue;
        const path = join(OUT, `${name}.mp4`);
        const t0 = performance.now();
        let made = false;
        await ensureFile(path, async (tmp) => {
          made = true;
          // Moving test pattern plus temporal noise: detail the encoder has to spend bits on.
          await ffmpeg([
            "-f", "lavfi", "-i", `testsrc2=s=${width}x${height}:r=30,noise=alls=10:allf=t`,
            "-frames:v", "300", "-c:v", "libx264", "-preset", "veryfast", "-bf", "3",
            "-g", String(gop), "-keyint_min", String(gop), "-sc_threshold", "0",
            "-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate, "-pix_fmt", "yuv420p", tmp,
          ]);
        });
        if (made) console.error(`generated ${name} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
        clips.push({ name, path, width, height, gop, bitrate });
      }
    }
  }
  return clips;
}

/** ffmpeg CLI as a subprocess: decode everything, fps=2, bicubic scale, raw RGB on stdout. Returns bytes read. */
function cli(path: string, w: number, h: number): Promise<number> {
  return new Promise((res, rej) => {
    const p = spawn(
      "ffmpeg",
      ["-hide_banner", "-loglevel", "error", "-nostdin", "-i", path, "-vf", `fps=2,scale=${w}:${h}:flags=bicubic`,
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let bytes = 0;
    let err = "";
    p.stdout.on("data", (b: Buffer) => (bytes += b.length));
    p.stderr.on("data", (b: Buffer) => (err += b.toString()));
    p.on("error", rej);
    p.on("close", (code) => (code === 0 ? res(bytes) : rej(new Error(`ffmpeg exited ${code}: ${err}`))));
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [performance.now() - t0, v];
}

async function main(): Promise<void> {
  const clips = await makeClips();
  const { addon } = loadAddon();
  const v = addon.versions();

  interface Row {
    ours: number[];
    cli: number[];
    open: number[];
    floor: number[];
    decodeOnly: number[];
    full: number[];
    fullFrames: number;
    cliFrames: number;
    stats: string;
    plan: string;
  }
  const rows = new Map<string, Row>();

  // Plans first (and a warm-up of every path, so the first timed run pays no cold cache).
  for (const c of clips) {
    const video = await addon.openVideo(openOptions(c.path));
    const info = video.info;
    const plan = planFrames({ totalFrames: info.totalFrames, fps: info.fps, width: info.width, height: info.height });
    video.close();
    const r = await sampleFrames(c.path);
    await cli(c.path, plan.width, plan.height);
    rows.set(c.name, {
      ours: [], cli: [], open: [], floor: [], decodeOnly: [], full: [], fullFrames: 0, cliFrames: 0,
      stats: `${r.stats.framesDecoded}/${r.totalFrames} decoded, ${r.stats.seeks} seeks, ${r.stats.decoders} decoders`,
      plan: `${plan.nframes} × ${plan.width}x${plan.height}`,
    });
  }

  for (let run = 0; run < RUNS; run++) {
    for (const c of clips) {
      const row = rows.get(c.name)!;
      // (c) floor: decode only the planned frames on an already opened + indexed source; and open alone.
      const [openMs, video] = await time(() => addon.openVideo(openOptions(c.path)));
      row.open.push(openMs);
      const info = video.info;
      const plan = planFrames({ totalFrames: info.totalFrames, fps: info.fps, width: info.width, height: info.height });
      const [floorMs] = await time(() => video.decode({ indices: plan.indices, width: plan.width, height: plan.height }));
      row.floor.push(floorMs);
      // The same decoders, seeks and skips converting nothing: what decoding alone costs.
      const [decodeOnlyMs] = await time(() => video.decode({ indices: plan.indices, width: 0, height: 0 }));
      row.decodeOnly.push(decodeOnlyMs);
      video.close();
      // (a) ours, end to end.
      const [oursMs, r] = await time(() => sampleFrames(c.path));
      row.ours.push(oursMs);
      if (r.frames.length !== plan.nframes) throw new Error(`${c.name}: ${r.frames.length} frames`);
      // (b) the CLI.
      const [cliMs, bytes] = await time(() => cli(c.path, plan.width, plan.height));
      row.cli.push(cliMs);
      row.cliFrames = bytes / (plan.width * plan.height * 3);
      // Full decode (no conversion): frames/s of the decoder alone.
      if (run < 3) {
        const all = await addon.openVideo(openOptions(c.path));
        const [fullMs, n] = await time(() => all.decodeAll());
        all.close();
        row.full.push(fullMs);
        row.fullFrames = n;
      }
    }
    console.error(`run ${run + 1}/${RUNS} done`);
  }

  const f0 = (x: number): string => x.toFixed(0);
  console.log(
    `\nsampleFrames vs ffmpeg CLI — ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, libavcodec ${v.libavcodec}, ` +
      `median of ${RUNS} interleaved runs (full decode: of ${Math.min(RUNS, 3)}), load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}\n`,
  );
  console.log(
    "| clip | plan | ours ms | CLI ms | speedup | open+index ms | floor ms (decode + convert needed) | ours/floor | decode-only ms | ours/decode-only | our decoder work | full-decode fps |",
  );
  console.log("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|");
  for (const c of clips) {
    const r = rows.get(c.name)!;
    const ours = median(r.ours);
    const cliMs = median(r.cli);
    const open = median(r.open);
    const floor = median(r.floor);
    const decodeOnly = median(r.decodeOnly);
    const full = median(r.full);
    console.log(
      `| ${c.name} | ${r.plan} | ${f0(ours)} | ${f0(cliMs)} (${r.cliFrames} fr) | ${(cliMs / ours).toFixed(2)}x | ${f0(open)} | ${f0(floor)} | ` +
        `${(ours / floor).toFixed(2)} | ${f0(decodeOnly)} | ${(ours / decodeOnly).toFixed(2)} | ${r.stats} | ${((r.fullFrames / full) * 1000).toFixed(0)} |`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
