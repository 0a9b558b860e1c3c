/**
 * Dumps the frames our sampler returns for each parity clip (raw RGB24, frame after frame) with their
 * plan, so parity/goldens.py can measure full-frame pixel differences against qwen-vl-utils and run
 * the reference model on our frames too. Usage: npx tsx parity/dump-frames.ts <clips dir> <out dir>
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { sampleFrames } from "../src/index.js";

const [clipsDir, outDir] = process.argv.slice(2);
if (!clipsDir || !outDir) throw new Error("usage: dump-frames.ts <clips dir> <out dir>");
const spec = JSON.parse(await readFile(new URL("../test/parity/goldens/clips.json", import.meta.url), "utf8")) as {
  clips: { name: string; file: string }[];
};
await mkdir(outDir, { recursive: true });
for (const c of spec.clips) {
  const v = await sampleFrames(join(clipsDir, c.file));
  await writeFile(join(outDir, `${c.name}.rgb`), Buffer.concat(v.frames.map((f) => f.rgb)));
  await writeFile(
    join(outDir, `${c.name}.json`),
    JSON.stringify({ width: v.width, height: v.height, indices: v.frames.map((f) => f.index), plan: v.plan }),
  );
}
console.log(`dumped ${spec.clips.length} clips to ${outDir}`);
