import { describe, expect, it } from "vitest";
import { codeOf } from "../fixtures/errors.js";
import {
  VIDEO_MAX_PIXELS,
  VIDEO_MIN_PIXELS,
  VIDEO_TOTAL_PIXELS,
  linspaceIndices,
  planFrames,
  smartNframes,
  smartResize,
  validateSamplingOptions,
  type FramePlan,
  type VideoProbe,
} from "../../src/video/frame-plan.js";

// Expected values below were computed by hand from qwen-vl-utils 0.0.11's formulas and
// cross-checked against its own smart_nframes / smart_resize / calculate_video_frame_range run
// in Python with torch stubbed out (indices via a float32 re-implementation of torch.linspace).

const probe = (totalFrames: number, fps: number, width: number, height: number): VideoProbe => ({
  totalFrames,
  fps,
  width,
  height,
});


function expectPlan(plan: FramePlan, want: Partial<FramePlan>): void {
  expect(plan).toMatchObject(want);
  expect(plan.indices).toHaveLength(plan.nframes);
  expect(plan.nframes % 2).toBe(0);
  expect(plan.width % 28).toBe(0);
  expect(plan.height % 28).toBe(0);
  expect(plan.videoTokens).toBe((plan.nframes / 2) * (plan.height / 28) * (plan.width / 28));
}

describe("planFrames: the worked examples of docs/reference.md §2", () => {
  it("121 frames @24 fps 1280x720 → 10 frames, 560x1008, 3600 tokens", () => {
    const plan = planFrames(probe(121, 24, 1280, 720));
    expectPlan(plan, {
      nframes: 10,
      indices: [0, 13, 27, 40, 53, 67, 80, 93, 107, 120],
      width: 1008,
      height: 560,
      minPixels: VIDEO_MIN_PIXELS,
      maxPixels: VIDEO_MAX_PIXELS,
      sourceWidth: 1280,
      sourceHeight: 720,
      totalFrames: 121,
      nativeFps: 24,
      startFrame: 0,
      endFrame: 120,
      videoTokens: 3600,
    });
    expect(plan.sampleFps).toBeCloseTo((10 / 121) * 24, 12);
  });

  it("24 frames @10 fps 256x256 → 4 frames 0,8,15,23 upscaled to 336x336", () => {
    expectPlan(planFrames(probe(24, 10, 256, 256)), {
      nframes: 4,
      indices: [0, 8, 15, 23],
      width: 336,
      height: 336,
      videoTokens: 288,
    });
  });
});

describe("planFrames: frame counts", () => {
  it("2 frames → both", () => {
    expectPlan(planFrames(probe(2, 30, 640, 480)), { nframes: 2, indices: [0, 1], width: 644, height: 476, videoTokens: 391 });
  });

  it("3 frames → 2 (max_frames rounds 3 down to 2), first and last", () => {
    expectPlan(planFrames(probe(3, 30, 640, 480)), { nframes: 2, indices: [0, 2] });
  });

  it("5 frames @10 fps → min_frames 4, indices round half to even (0,1.33,2.67,4)", () => {
    expectPlan(planFrames(probe(5, 10, 256, 256)), { nframes: 4, indices: [0, 1, 3, 4] });
  });

  it("17 frames @8 fps → 4 frames", () => {
    expectPlan(planFrames(probe(17, 8, 400, 300)), { nframes: 4, indices: [0, 5, 11, 16], width: 392, height: 308 });
  });

  it("1 frame and 0 frames → ERR_VIDEO_TOO_SHORT with the count in the message", () => {
    expect(codeOf(() => planFrames(probe(1, 30, 640, 480)))).toBe("ERR_VIDEO_TOO_SHORT");
    expect(codeOf(() => planFrames(probe(0, 30, 640, 480)))).toBe("ERR_VIDEO_TOO_SHORT");
    expect(() => planFrames(probe(1, 30, 640, 480))).toThrow(/1 decodable frame;.*at least 2/);
  });

  it("3000 frames @30 fps 1920x1080 → 200 frames every 15.07", () => {
    const plan = planFrames(probe(3000, 30, 1920, 1080));
    expectPlan(plan, { nframes: 200, width: 1008, height: 560, maxPixels: VIDEO_MAX_PIXELS, videoTokens: 72000 });
    expect(plan.indices.slice(0, 6)).toEqual([0, 15, 30, 45, 60, 75]);
    expect(plan.indices.slice(-6)).toEqual([2924, 2939, 2954, 2969, 2984, 2999]);
  });

  it("20000 frames @30 fps → capped at 768 frames, budget shrinks to 235200 px per frame", () => {
    const plan = planFrames(probe(20000, 30, 1920, 1080));
    expectPlan(plan, { nframes: 768, width: 644, height: 336, maxPixels: 235200, videoTokens: 105984 });
    expect(plan.indices.slice(0, 6)).toEqual([0, 26, 52, 78, 104, 130]);
    expect(plan.indices.slice(-6)).toEqual([19869, 19895, 19921, 19947, 19973, 19999]);
    expect(plan.indices.slice(590, 596)).toEqual([15384, 15410, 15436, 15462, 15488, 15514]);
    expect(plan.indices.reduce((a, b) => a + b, 0)).toBe(7679616);
  });

  it("90000 frames @30 fps → 768 frames", () => {
    const plan = planFrames(probe(90000, 30, 1280, 720));
    expectPlan(plan, { nframes: 768, width: 644, height: 336 });
    expect(plan.indices.slice(0, 6)).toEqual([0, 117, 235, 352, 469, 587]);
    expect(plan.indices.slice(-6)).toEqual([89412, 89530, 89647, 89764, 89882, 89999]);
    expect(plan.indices.reduce((a, b) => a + b, 0)).toBe(34559616);
  });

  it("29.97 fps NTSC: 300 frames → 20", () => {
    expectPlan(planFrames(probe(300, 29.97, 854, 480)), {
      nframes: 20,
      indices: [0, 16, 31, 47, 63, 79, 94, 110, 126, 142, 157, 173, 189, 205, 220, 236, 252, 268, 283, 299],
      width: 840,
      height: 476,
      videoTokens: 5100,
    });
  });
});

describe("planFrames: sizes", () => {
  it("tiny 32x32 is upscaled to the 100352-pixel floor: 336x336", () => {
    expectPlan(planFrames(probe(121, 24, 32, 32)), { width: 336, height: 336, videoTokens: 720 });
  });

  it("8K 7680x4320 comes down to the same 1008x560 as 720p", () => {
    expectPlan(planFrames(probe(121, 24, 7680, 4320)), { width: 1008, height: 560, videoTokens: 3600 });
  });

  it("portrait 720x1280 → 560x1008", () => {
    expectPlan(planFrames(probe(121, 24, 720, 1280)), { width: 560, height: 1008, videoTokens: 3600 });
  });

  it("odd 641x359 → 644x364 (round to the 28 grid, within budget)", () => {
    expectPlan(planFrames(probe(121, 24, 641, 359)), { width: 644, height: 364, videoTokens: 1495 });
  });

  it("thin frames at aspect ratio 200 are accepted", () => {
    expectPlan(planFrames(probe(4, 8, 100, 20000)), { nframes: 4, indices: [0, 1, 2, 3], width: 28, height: 10948 });
    expectPlan(planFrames(probe(24, 10, 20000, 100)), { width: 10948, height: 28 });
    expectPlan(planFrames(probe(20000, 30, 2000, 15)), { nframes: 768, width: 3668, height: 28 });
  });

  it("aspect ratio above 200 → ERR_VIDEO_LIMITS", () => {
    expect(codeOf(() => planFrames(probe(121, 24, 20100, 100)))).toBe("ERR_VIDEO_LIMITS");
    expect(codeOf(() => smartResize(1, 201))).toBe("ERR_VIDEO_LIMITS");
    expect(() => smartResize(100, 20001)).toThrow(/at most 200:1/);
  });

  it("a side that 0.0.11 would floor to 0 is clamped to 28", () => {
    // 0.0.11: beta = sqrt(90000/50000), 30/beta = 22.4 → floor to 0 → its resize then fails.
    expectPlan(planFrames(probe(3000, 30, 3000, 30), { maxPixels: 50000 }), {
      nframes: 200,
      height: 28,
      width: 2212,
      maxPixels: 50000,
      videoTokens: 7900,
    });
  });
});

describe("planFrames: options", () => {
  it("fixed nframes rounds to even, ties to even: 7 → 8, 5 → 4, 3 → 4", () => {
    expectPlan(planFrames(probe(121, 24, 1280, 720), { nframes: 7 }), {
      nframes: 8,
      indices: [0, 17, 34, 51, 69, 86, 103, 120],
      videoTokens: 2880,
    });
    expectPlan(planFrames(probe(121, 24, 1280, 720), { nframes: 5 }), { nframes: 4, indices: [0, 40, 80, 120] });
    expectPlan(planFrames(probe(121, 24, 1280, 720), { nframes: 3 }), { nframes: 4, indices: [0, 40, 80, 120] });
    const all = planFrames(probe(121, 24, 1280, 720), { nframes: 121 });
    expect(all.nframes).toBe(120);
  });

  it("nframes above the frame count → ERR_VIDEO_TOO_SHORT that says what to lower", () => {
    expect(codeOf(() => planFrames(probe(121, 24, 1280, 720), { nframes: 200 }))).toBe("ERR_VIDEO_TOO_SHORT");
    expect(() => planFrames(probe(121, 24, 1280, 720), { nframes: 200 })).toThrow(/at most 120/);
  });

  it("fps, minFrames, maxFrames", () => {
    expectPlan(planFrames(probe(121, 24, 1280, 720), { fps: 1 }), { nframes: 4, indices: [0, 40, 80, 120] });
    expectPlan(planFrames(probe(121, 24, 1280, 720), { fps: 8, maxFrames: 16 }), {
      nframes: 16,
      indices: [0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120],
    });
    const p = planFrames(probe(121, 24, 1280, 720), { minFrames: 30 });
    expect(p.nframes).toBe(30);
    expect(p.indices.slice(0, 6)).toEqual([0, 4, 8, 12, 17, 21]);
    expect(p.indices.slice(-6)).toEqual([99, 103, 108, 112, 116, 120]);
  });

  it("start/end in seconds: ceil(start·fps) .. min(floor(end·fps), last)", () => {
    expectPlan(planFrames(probe(121, 24, 1280, 720), { start: 1, end: 3.5 }), {
      nframes: 4,
      startFrame: 24,
      endFrame: 84,
      indices: [24, 44, 64, 84],
    });
    expectPlan(planFrames(probe(121, 24, 1280, 720), { start: 0.5 }), {
      nframes: 8,
      startFrame: 12,
      endFrame: 120,
      indices: [12, 27, 43, 58, 74, 89, 105, 120],
    });
    expectPlan(planFrames(probe(121, 24, 1280, 720), { end: 2 }), { nframes: 4, startFrame: 0, endFrame: 48, indices: [0, 16, 32, 48] });
    // An end past the video is clamped; the plan equals the default one.
    expectPlan(planFrames(probe(121, 24, 1280, 720), { start: 0, end: 100 }), {
      startFrame: 0,
      endFrame: 120,
      indices: [0, 13, 27, 40, 53, 67, 80, 93, 107, 120],
    });
    expectPlan(planFrames(probe(7, 24, 64, 64), { start: 0.1, end: 0.2 }), { nframes: 2, startFrame: 3, endFrame: 4, indices: [3, 4] });
  });

  it("a start/end range of fewer than 2 frames → ERR_VIDEO_TOO_SHORT", () => {
    expect(codeOf(() => planFrames(probe(121, 24, 1280, 720), { start: 1, end: 1.02 }))).toBe("ERR_VIDEO_TOO_SHORT");
    expect(() => planFrames(probe(121, 24, 1280, 720), { start: 10 })).toThrow(/past the end/);
  });

  it("pixel options: maxPixels only lowers, totalPixels sets the budget, minPixels raises the floor", () => {
    expectPlan(planFrames(probe(1000, 30, 1280, 720), { maxPixels: 200000 }), {
      nframes: 66,
      width: 588,
      height: 308,
      maxPixels: 200000,
      videoTokens: 7623,
    });
    expect(planFrames(probe(121, 24, 1280, 720), { maxPixels: 10_000_000 }).maxPixels).toBe(VIDEO_MAX_PIXELS);
    expectPlan(planFrames(probe(121, 24, 1280, 720), { totalPixels: 1_000_000 }), {
      maxPixels: 200000,
      width: 588,
      height: 308,
      videoTokens: 1155,
    });
    expectPlan(planFrames(probe(121, 24, 1280, 720), { minPixels: 300000 }), { minPixels: 300000, width: 1008, height: 560 });
    // int(minPixels · 1.05) wins over a tiny totalPixels share.
    expect(planFrames(probe(121, 24, 1280, 720), { totalPixels: 1000 }).maxPixels).toBe(105369);
    expect(VIDEO_TOTAL_PIXELS).toBe(90316800);
  });

  it("invalid probes are ERR_INVALID_OPTION", () => {
    expect(codeOf(() => planFrames(probe(121, 0, 1280, 720)))).toBe("ERR_INVALID_OPTION");
    expect(codeOf(() => planFrames(probe(121, Number.NaN, 1280, 720)))).toBe("ERR_INVALID_OPTION");
    expect(codeOf(() => planFrames(probe(12.5, 24, 1280, 720)))).toBe("ERR_INVALID_OPTION");
    expect(codeOf(() => planFrames(probe(121, 24, 0, 720)))).toBe("ERR_INVALID_OPTION");
  });
});

describe("validateSamplingOptions", () => {
  it("accepts nothing, and copies only known, set keys", () => {
    expect(validateSamplingOptions(undefined)).toEqual({});
    expect(validateSamplingOptions(null)).toEqual({});
    expect(validateSamplingOptions({ fps: 4, prompt: "x", end: undefined })).toEqual({ fps: 4 });
  });

  it.each([
    ["not an object", 5],
    ["an array", []],
    ["negative fps", { fps: -1 }],
    ["zero fps", { fps: 0 }],
    ["infinite fps", { fps: Number.POSITIVE_INFINITY }],
    ["string fps", { fps: "2" }],
    ["nframes 1", { nframes: 1 }],
    ["fractional nframes", { nframes: 4.5 }],
    ["nframes with fps", { nframes: 8, fps: 2 }],
    ["nframes with maxFrames", { nframes: 8, maxFrames: 16 }],
    ["minFrames 0", { minFrames: 0 }],
    ["maxFrames 1", { maxFrames: 1 }],
    ["minFrames > maxFrames", { minFrames: 20, maxFrames: 10 }],
    ["negative minPixels", { minPixels: -5 }],
    ["minPixels > maxPixels", { minPixels: 500000, maxPixels: 200000 }],
    ["zero totalPixels", { totalPixels: 0 }],
    ["negative start", { start: -1 }],
    ["zero end", { end: 0 }],
    ["start = end", { start: 2, end: 2 }],
    ["start > end", { start: 3, end: 2 }],
  ])("rejects %s with ERR_INVALID_OPTION", (_name, value) => {
    expect(codeOf(() => validateSamplingOptions(value))).toBe("ERR_INVALID_OPTION");
  });

  it("says what it expected", () => {
    expect(() => validateSamplingOptions({ fps: -1 })).toThrow("Expected options.fps to be a finite number > 0 but received -1");
  });

  it("planFrames validates too", () => {
    expect(codeOf(() => planFrames(probe(121, 24, 1280, 720), { fps: -2 }))).toBe("ERR_INVALID_OPTION");
  });
});

describe("smartNframes", () => {
  it("follows the fps rule", () => {
    expect(smartNframes(121, 24)).toBe(10);
    expect(smartNframes(24, 10)).toBe(4);
    expect(smartNframes(3000, 30)).toBe(200);
    expect(smartNframes(20000, 30)).toBe(768);
    expect(smartNframes(3, 30)).toBe(2);
    expect(smartNframes(121, 24, { fps: 100 })).toBe(120);
  });

  it("rounds nframes half to even", () => {
    expect(smartNframes(121, 24, { nframes: 2 })).toBe(2);
    expect(smartNframes(121, 24, { nframes: 6 })).toBe(6);
    expect(smartNframes(121, 24, { nframes: 9 })).toBe(8);
    expect(smartNframes(121, 24, { nframes: 11 })).toBe(12);
  });

  it("throws ERR_VIDEO_TOO_SHORT outside [2, total]", () => {
    expect(codeOf(() => smartNframes(1, 30))).toBe("ERR_VIDEO_TOO_SHORT");
    expect(codeOf(() => smartNframes(10, 30, { nframes: 12 }))).toBe("ERR_VIDEO_TOO_SHORT");
  });
});

describe("smartResize", () => {
  it("uses the image defaults when no bounds are given", () => {
    expect(smartResize(720, 1280)).toEqual({ height: 728, width: 1288 });
    expect(smartResize(1080, 1920)).toEqual({ height: 1092, width: 1932 });
    expect(smartResize(2160, 3840)).toEqual({ height: 2156, width: 3836 });
    expect(smartResize(10, 10)).toEqual({ height: 56, width: 56 });
    expect(smartResize(1, 200)).toEqual({ height: 28, width: 196 });
    expect(smartResize(15, 2000)).toEqual({ height: 28, width: 1988 });
  });

  it("rounds to the grid with ties to even (Python round)", () => {
    // 42/28 = 1.5 → 2 (even) → 56; 70/28 = 2.5 → 2 (even) → 56; 98/28 = 3.5 → 4 → 112.
    expect(smartResize(42, 70, { minPixels: 1 })).toEqual({ height: 56, width: 56 });
    expect(smartResize(98, 98, { minPixels: 1 })).toEqual({ height: 112, width: 112 });
  });

  it("uses floor when shrinking and ceil when growing", () => {
    expect(smartResize(720, 1280, { minPixels: VIDEO_MIN_PIXELS, maxPixels: VIDEO_MAX_PIXELS })).toEqual({ height: 560, width: 1008 });
    expect(smartResize(256, 256, { minPixels: VIDEO_MIN_PIXELS, maxPixels: VIDEO_MAX_PIXELS })).toEqual({ height: 336, width: 336 });
  });
});

describe("linspaceIndices", () => {
  it("matches torch.linspace(...).round() on small ranges, ties to even", () => {
    expect(linspaceIndices(0, 120, 10)).toEqual([0, 13, 27, 40, 53, 67, 80, 93, 107, 120]);
    expect(linspaceIndices(0, 3, 3)).toEqual([0, 2, 3]); // 1.5 → 2
    expect(linspaceIndices(0, 5, 3)).toEqual([0, 2, 5]); // 2.5 → 2
    expect(linspaceIndices(0, 1, 3)).toEqual([0, 0, 1]); // 0.5 → 0
    expect(linspaceIndices(0, 9, 7)).toEqual([0, 2, 3, 4, 6, 8, 9]); // 1.5, 4.5, 7.5
    expect(linspaceIndices(7, 7, 1)).toEqual([7]);
    expect(linspaceIndices(0, 10, 0)).toEqual([]);
  });

  it("computes in float32 with one rounding per element, like torch's fused CPU kernel", () => {
    // Exact value 8218.50065 → 8219. torch: step = fp32(10630/767) = 13.85919189453125, and
    // fp32(10630 − step·174) = 8218.5009765625 → 8219. Rounding step·174 first would give 8218.5 → 8218.
    const idx = linspaceIndices(0, 10630, 768);
    expect(idx[593]).toBe(8219);
    expect(idx.slice(590, 596)).toEqual([8177, 8191, 8205, 8219, 8232, 8246]);
  });

  it("is symmetric: the last element is exactly end, the first exactly start", () => {
    for (const [s, e, n] of [
      [0, 99999, 768],
      [12, 4011, 200],
      [5, 6, 2],
    ] as const) {
      const idx = linspaceIndices(s, e, n);
      expect(idx[0]).toBe(s);
      expect(idx[n - 1]).toBe(e);
      for (let i = 1; i < n; i++) expect(idx[i]!).toBeGreaterThanOrEqual(idx[i - 1]!);
    }
  });

  it("rejects bad arguments", () => {
    expect(codeOf(() => linspaceIndices(0, 10, -1))).toBe("ERR_INVALID_OPTION");
    expect(codeOf(() => linspaceIndices(0, Number.NaN, 3))).toBe("ERR_INVALID_OPTION");
  });
});
