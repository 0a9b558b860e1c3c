// The CPU addon links libav statically (scripts/build-ffmpeg.mjs): it needs nothing beyond the C and
// C++ runtimes, and it runs where the system's libav cannot be loaded at all.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../../src/addon/loader.js";
import { modularLibs } from "../../scripts/modular-libs.mjs";
import { ensureFile, ffmpeg } from "../fixtures/videos.js";
import { FIXTURE_DIR, tinyModels } from "../fixtures/models.js";
import { canHideLibav, withLibavHidden } from "../fixtures/hide-libav.js";

const root = packageRoot();
const node = join(root, "build", "cpu", "videoscore2.node");
// A build made with VIDEOSCORE2_SYSTEM_FFMPEG=1 links the system's libav: it is not self-contained.
const systemLibav = process.env.VIDEOSCORE2_SYSTEM_FFMPEG === "1";

const neededOf = (file: string) => [...execFileSync("readelf", ["-d", file]).toString().matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
const RUNTIME = ["ld-linux-x86-64.so.2", "libc.so.6", "libgcc_s.so.1", "libm.so.6", "libstdc++.so.6"];
/** In the modular build (docs/backends.md) the .node's folder also holds llama.cpp's libraries and the CPU modules. */
const libs = () => modularLibs(dirname(node));
const vulkanModule = join(root, "build", "vulkan", "libggml-vulkan.so");

/** The newest glibc symbol version the addon asks for. */
function glibcNeeded(): string {
  const versions = [...execFileSync("objdump", ["-T", node]).toString().matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
  const [maj, min] = versions.reduce((a, b) => (b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]) ? b : a));
  return `${maj}.${min}`;
}

describe.runIf(!systemLibav)("the self-contained CPU addon", () => {
  it("needs only glibc, libstdc++, libgcc and libm (and its own libraries beside it), and states the glibc it needs", () => {
    const ours = libs().filter((n) => n.startsWith("libvs2-"));
    for (const file of [node, ...libs().map((n) => join(dirname(node), n))]) {
      const extra = neededOf(file).filter((n) => !RUNTIME.includes(n) && !ours.includes(n));
      expect(extra, file).toEqual([]);
    }
    expect(neededOf(node).filter((n) => RUNTIME.includes(n)).sort()).toEqual([...RUNTIME].sort());
    // Debian 12 and Ubuntu 22.04 have glibc 2.36 and 2.35: the addon must not need more than what it was built on.
    expect(glibcNeeded()).toMatch(/^2\.(\d+)$/);
    expect(Number(glibcNeeded().split(".")[1])).toBeLessThanOrEqual(36);
  });

  it.runIf(existsSync(vulkanModule))("the Vulkan module adds only libvulkan.so.1 (the system's loader) to that list", () => {
    const ours = libs().filter((n) => n.startsWith("libvs2-"));
    expect(neededOf(vulkanModule).filter((n) => !RUNTIME.includes(n) && !ours.includes(n))).toEqual(["libvulkan.so.1"]);
  });

  it("reports the libav it was built with (FFmpeg 5.1.9's libraries)", () => {
    const r = spawnSync(process.execPath, ["-e", `console.log(JSON.stringify(require(${JSON.stringify(node)}).versions()))`], { encoding: "utf8" });
    const v = JSON.parse(r.stdout);
    expect(v.libavformat).toMatch(/^59\./);
    expect(v.libavcodec).toMatch(/^59\./);
  });

  it.runIf(canHideLibav)("scores with the system's libav hidden from the loader (which the system ffmpeg cannot survive)", async () => {
    const models = await tinyModels();
    const clip = await ensureFile(join(FIXTURE_DIR, "videos", "self-contained-2s.mp4"), (tmp) =>
      ffmpeg(["-f", "lavfi", "-i", "testsrc=size=320x240:rate=8:duration=2", "-pix_fmt", "yuv420p", "-c:v", "libx264", tmp]),
    );
    const dir = mkdtempSync(join(tmpdir(), "vs2-score-"));
    try {
      const script = join(dir, "score.mjs");
      writeFileSync(
        script,
        `import { VideoScorer } from ${JSON.stringify(join(root, "src", "index.ts"))};
         const s = await VideoScorer.load({ model: ${JSON.stringify(models.model)}, mmproj: ${JSON.stringify(models.mmproj)}, gpu: "cpu" });
         const r = await s.score(${JSON.stringify(clip)}, { prompt: "a test pattern", maxTokens: 16, mode: "direct" });
         console.log(JSON.stringify({ frames: r.frames.count, vq: r.visualQuality.score }));
         await s.dispose();`,
      );
      const env = { ...process.env, VIDEOSCORE2_BINARY: node };
      const cli = withLibavHidden("ffmpeg -version", env);
      expect(cli.status, "the system ffmpeg still starts: the hiding did not take").not.toBe(0);
      expect(cli.stderr).toMatch(/libav\w+\.so/);
      const ours = withLibavHidden(`cd ${JSON.stringify(root)} && ${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(script)}`, env);
      expect(ours.status, ours.stderr).toBe(0);
      const out = JSON.parse(ours.stdout.trim().split("\n").pop()!);
      expect(out.frames).toBeGreaterThanOrEqual(4);
      expect(out.vq).toBeGreaterThanOrEqual(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
