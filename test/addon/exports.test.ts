// The .node's real surface equals the typed interface of the bridge (src/addon/interface.ts), and
// each native call refuses an options object that lacks a key instead of filling it in itself.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ADDON_SURFACE, type NativeAddon } from "../../src/addon/interface.js";
import { loadAddon } from "../../src/addon/loader.js";
import { nativeLoadOptions, nativeSampling, resolveLoadOptions } from "../../src/scorer/options.js";
import { openOptions } from "../../src/video/limits.js";
import { ensureFile, ffmpeg } from "../fixtures/videos.js";
import { FIXTURE_DIR, tinyModels } from "../fixtures/models.js";

/** Own members of an object and of its class (accessors and methods live on the prototype). */
function members(o: object): string[] {
  const names = new Set(Object.keys(o));
  for (const n of Object.getOwnPropertyNames(Object.getPrototypeOf(o))) if (n !== "constructor") names.add(n);
  return [...names].sort();
}

const sorted = (a: readonly string[]) => [...a].sort();

describe("the addon's exports", () => {
  const addon: NativeAddon = loadAddon("cpu").addon;
  let clip: string;

  it("exports exactly the functions of NativeAddon", () => {
    expect(Object.keys(addon).sort()).toEqual(sorted(ADDON_SURFACE.addon));
    for (const k of ADDON_SURFACE.addon) expect(typeof addon[k], k).toBe("function");
  });

  it("NativeVideo and NativeFrameFeed have exactly the typed members", async () => {
    clip = await ensureFile(join(FIXTURE_DIR, "videos", "exports-8f.mp4"), (tmp) =>
      ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x48:rate=8:duration=1", "-pix_fmt", "yuv420p", "-c:v", "libx264", tmp]),
    );
    const video = await addon.openVideo(openOptions(clip));
    expect(members(video)).toEqual(sorted(ADDON_SURFACE.video));
    const feed = video.stream({ indices: [0, 1], width: 28, height: 28 });
    expect(members(feed)).toEqual(sorted(ADDON_SURFACE.feed));
    await feed.done;
    feed.close();
    video.close();
  });

  it("NativeModel has exactly the typed members", async () => {
    const native = nativeLoadOptions(resolveLoadOptions({ ...(await tinyModels()), contextSize: 2048, threads: 1 }), "cpu");
    const model = await addon.loadModel(native);
    try {
      expect(members(model)).toEqual(sorted(ADDON_SURFACE.model));
    } finally {
      model.dispose();
    }
  });

  it("a missing key is refused with its name (C++ has no defaults of its own)", async () => {
    const native = nativeLoadOptions(resolveLoadOptions({ ...(await tinyModels()), contextSize: 2048, threads: 1 }), "cpu");
    const { batchSize: _, ...noBatch } = native;
    expect(() => addon.loadModel(noBatch as typeof native)).toThrow(/options\.batchSize/);
    const { deadlineSeconds: __, ...noDeadline } = openOptions(clip);
    expect(() => addon.openVideo(noDeadline as ReturnType<typeof openOptions>)).toThrow(/options\.deadlineSeconds/);
    const model = await addon.loadModel(native);
    try {
      const { topK: ___, ...noTopK } = nativeSampling();
      const frames = { frames: [new Uint8Array(28 * 28 * 3), new Uint8Array(28 * 28 * 3)], width: 28, height: 28 };
      const call = () =>
        model.generate({ beforeVideo: "<|vision_start|>", afterVideo: "<|vision_end|>", userText: "", afterText: "", video: frames, sampling: noTopK as ReturnType<typeof nativeSampling> }, new Int32Array(new SharedArrayBuffer(4)));
      expect(call).toThrow(/options\.topK/);
      expect(() => addon.quantize({ input: "a", output: "b", type: "Q8_0" } as never)).toThrow(/options\.threads/);
    } finally {
      model.dispose();
    }
  });
});
