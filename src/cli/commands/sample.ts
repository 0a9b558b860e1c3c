/**
 * `videoscore2 sample <video> --out dir`: the exact frames the model would see, as PNG files, and a
 * frames.json with their indices, times and the plan.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { encodePNG } from "../../video/png.js";
import { sampleFrames } from "../../video/sample.js";
import { allowOnly, EXIT, intOpt, numOpt, UsageError, type CliValues } from "../args.js";
import { displayText } from "../display.js";

export async function sampleCommand(values: CliValues, positionals: string[], ctx: { signal: AbortSignal; stderr: NodeJS.WriteStream }): Promise<number> {
  allowOnly(values, "sample", ["out", "fps", "nframes", "max-pixels", "quiet"]);
  if (positionals.length !== 1) throw new UsageError("sample takes one video: videoscore2 sample <video> --out <dir>");
  if (!values.out) throw new UsageError("sample needs --out <dir>");
  const video = positionals[0] as string;
  const fps = numOpt(values, "fps");
  if (fps !== undefined && !(fps > 0)) throw new UsageError(`--fps expects a number > 0, got "${values.fps}"`);
  const nframes = intOpt(values, "nframes", 2);
  if (fps !== undefined && nframes !== undefined) throw new UsageError("give --fps or --nframes, not both");
  const opts: Record<string, unknown> = { fps, nframes, maxPixels: intOpt(values, "max-pixels", 1) };
  for (const k of Object.keys(opts)) if (opts[k] === undefined) delete opts[k];
  const s = await sampleFrames(video, { ...opts, signal: ctx.signal });
  mkdirSync(values.out, { recursive: true });
  const files: string[] = [];
  for (const f of s.frames) {
    const name = `frame-${String(f.index).padStart(5, "0")}.png`;
    writeFileSync(join(values.out, name), encodePNG({ width: s.width, height: s.height, rgb: f.rgb }));
    files.push(name);
  }
  const meta = {
    video: resolve(video),
    width: s.width,
    height: s.height,
    sourceWidth: s.sourceWidth,
    sourceHeight: s.sourceHeight,
    totalFrames: s.totalFrames,
    nativeFps: s.nativeFps,
    durationSeconds: s.durationSeconds,
    codec: s.codec,
    container: s.container,
    frames: s.frames.map((f, i) => ({ file: files[i], index: f.index, timeSeconds: f.timeSeconds })),
    plan: s.plan,
  };
  writeFileSync(join(values.out, "frames.json"), `${JSON.stringify(meta, null, 2)}\n`);
  if (!values.quiet)
    process.stdout.write(`${s.frames.length} frames ${s.width}x${s.height} (indices ${s.frames.map((f) => f.index).join(",")} of ${s.totalFrames}) → ${displayText(resolve(values.out))}\n`);
  return EXIT.ok;
}
