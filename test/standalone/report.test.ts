// The HTML report: structure and self-containment checked on the string; then opened in real
// headless Chromium (Debian's `chromium`, driven by playwright-core with executablePath): sort by a
// column, take a screenshot, assert on what is shown. The browser part is skipped, with a note,
// where Chromium or playwright-core is missing.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pngSize } from "../../src/video/png.js";
import { escapeHTML, renderReport, sortValue, type ReportClip, type ReportDimension } from "../../src/eval/report.js";
import { FIXTURE_DIR } from "../fixtures/models.js";

const dir = join(FIXTURE_DIR, "report");

function frame(w: number, h: number, hue: number, index: number) {
  const rgb = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      rgb[i] = (hue + x) & 0xff;
      rgb[i + 1] = (y * 255) / h;
      rgb[i + 2] = ((index * 40) + (x ^ y)) & 0xff;
    }
  return { width: w, height: h, rgb, index: index * 6, timeSeconds: index * 0.5 };
}

function dim(score: number, probs: number[]): ReportDimension {
  const total = probs.reduce((a, b) => a + b, 0);
  let best = 0;
  probs.forEach((p, i) => {
    if (p > (probs[best] as number)) best = i;
  });
  return { score, soft: ((best + 1) * (probs[best] as number)) / total, expected: probs.reduce((a, p, i) => a + (i + 1) * p, 0) / total, probs };
}

const timings = (ms: number) => ({ sampleMs: 40, sampleTotalMs: 90, encodeMs: 300, prefillMs: 500, generateMs: ms, totalMs: ms + 840, promptTokens: 565, generatedTokens: 120, decodedTokens: 684, sharedSteps: 0, tokensPerSecond: 30 });

function clips(): ReportClip[] {
  const mk = (name: string, vq: number[], ta: number[], pc: number[], hue: number, ms: number, rationale: string): ReportClip => ({
    video: `/videos/${name}`,
    prompt: `prompt of ${name} <b>not bold</b>`,
    frames: Array.from({ length: 6 }, (_, i) => frame(336, 192, hue, i)),
    result: {
      visualQuality: dim(vq.indexOf(Math.max(...vq)) + 1, vq),
      textAlignment: dim(ta.indexOf(Math.max(...ta)) + 1, ta),
      physicalConsistency: dim(pc.indexOf(Math.max(...pc)) + 1, pc),
      rationale,
      stopReason: "eos",
      mode: "think",
      frames: { count: 6, width: 336, height: 192, indices: [0, 6, 12, 18, 24, 30], totalFrames: 31, nativeFps: 12 },
      timings: timings(ms),
    },
  });
  return [
    mk("middle.mp4", [0.05, 0.1, 0.6, 0.2, 0.05], [0.1, 0.2, 0.3, 0.3, 0.1], [0.1, 0.5, 0.3, 0.1, 0], 0, 4000, "The motion is smooth.\nSome <script>alert(1)</script> text."),
    mk("best.mp4", [0, 0.02, 0.08, 0.2, 0.7], [0, 0, 0.1, 0.2, 0.7], [0, 0.1, 0.2, 0.6, 0.1], 90, 9000, "Sharp and faithful."),
    { video: "/videos/broken.mp4", prompt: "a broken file", error: { code: "ERR_DECODE", message: "Cannot open /videos/broken.mp4 as a video" } },
    mk("worst.mp4", [0.7, 0.2, 0.1, 0, 0], [0.5, 0.3, 0.1, 0.1, 0], [0.8, 0.1, 0.1, 0, 0], 180, 2000, "Blurry, flickering."),
  ];
}

/** A result as a queue can hand it back when someone else wrote it: markup in every number. */
function forgedClip(): ReportClip {
  const x = `<img src=x onerror="document.title='pwned'">`;
  // The fields the battery forged (the others hold markup that would not render before either).
  const forged = { score: x, soft: x, expected: x, probs: null } as unknown as ReportDimension;
  return {
    video: "/videos/forged.mp4",
    result: {
      visualQuality: forged,
      textAlignment: forged,
      physicalConsistency: forged,
      rationale: "r",
      stopReason: "eos",
      mode: "think",
      frames: { count: x, width: x, height: x, indices: [], totalFrames: x, nativeFps: 10 } as never,
      timings: { ...timings(1000), promptTokens: x, generatedTokens: x } as never,
    },
  };
}

describe("renderReport (string)", () => {
  const html = renderReport(clips(), { title: "Test report", meta: { model: "tiny.gguf" }, thumbnailSize: 120, maxThumbnails: 4 });

  it("is one self-contained document", () => {
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/\b(src|href)="(?!data:)/i);
    expect(html).not.toMatch(/<script\s+src/i);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it("embeds the thumbnails as PNG data URIs, downscaled, evenly picked", () => {
    const uris = [...html.matchAll(/src="data:image\/png;base64,([^"]+)"/g)].map((m) => Buffer.from(m[1] as string, "base64"));
    expect(uris).toHaveLength(3 * 4); // three scored clips, 4 of 6 frames each
    for (const png of uris) expect(pngSize(png)).toEqual({ width: 120, height: 69 }); // 336x192 → 120x68.57
    expect(html).toMatch(/6 frames, 4 shown/);
  });

  it("escapes prompts and rationales", () => {
    expect(html).not.toContain("<script>alert(1)</script>");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("prompt of middle.mp4 &lt;b&gt;not bold&lt;/b&gt;");
    expect(escapeHTML(`"'&`)).toBe("&quot;&#39;&amp;");
  });

  it("carries sortable values and shows the failed clip's error", () => {
    expect(html.match(/<article class="clip/g)).toHaveLength(4);
    expect(html).toContain('data-vq=""'); // the failed clip has no score
    expect(html).toMatch(/ERR_DECODE<\/b> Cannot open/);
    expect(html).toMatch(/data-key="vq"[^>]*>Visual quality</);
    expect(sortValue(dim(5, [0, 0, 0.1, 0.2, 0.7]))).toBeCloseTo(3.5, 12);
    expect(sortValue({ score: 3, soft: null, expected: null, probs: null })).toBe(3);
  });

  it("escapes every value of a result, numbers included: a forged result's markup stays text", () => {
    const out = renderReport([forgedClip()]);
    expect(out).not.toMatch(/<img src=x/);
    expect(out).not.toContain('onerror="');
    expect(out).toContain("&lt;img src=x onerror=&quot;document.title=&#39;pwned&#39;&quot;&gt;");
    // An attribute cannot be closed from inside either.
    expect(out).not.toMatch(/data-(vq|ta|pc|avg|time)="[^"]*<img/);
  });
});

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** The few DOM members used inside page callbacks (the suite compiles without the DOM lib). */
type El = { textContent: string | null; naturalWidth: number; parentElement: El | null; getBoundingClientRect(): { width: number } };
type Browser = { newPage(o?: unknown): Promise<any>; close(): Promise<void> };
let browser: Browser | null = null;
let skipWhy = "";

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    skipWhy = `no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
    return;
  }
  let pw: { chromium: { launch(o: unknown): Promise<Browser> } };
  try {
    const name = "playwright-core"; // not a static import: the suite must typecheck without it
    pw = (await import(name)) as typeof pw;
  } catch {
    skipWhy = "playwright-core is not installed (npm i -D playwright-core)";
    return;
  }
  // The browser never gets the sanitizer runtime scripts/sanitize.sh preloads into node (it hangs with it).
  const env = Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k !== "LD_PRELOAD" && v !== undefined)) as Record<string, string>;
  browser = await pw.chromium.launch({ executablePath: CHROMIUM, headless: true, env, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
});

afterAll(async () => {
  await browser?.close();
});

describe("report in headless Chromium", () => {
  it("a forged result's markup runs nothing: no image is made, the title stays", async (ctx) => {
    if (!browser) {
      console.warn(`report browser test skipped: ${skipWhy}`);
      ctx.skip();
      return;
    }
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "forged.html");
    writeFileSync(file, renderReport([forgedClip()], { title: "Forged" }));
    const page = await browser.newPage();
    await page.goto(pathToFileURL(file).href);
    await page.waitForTimeout(300);
    expect(await page.title()).toBe("Forged");
    expect(await page.$$eval("#clips img", (els: El[]) => els.length)).toBe(0);
    expect(await page.textContent("#clips .vq .hard")).toContain("<img src=x");
    await page.close();
  });


  it("opens, sorts by a column, and shows what it should", async (ctx) => {
    if (!browser) {
      console.warn(`report browser test skipped: ${skipWhy}`);
      ctx.skip();
      return;
    }
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "report.html");
    writeFileSync(file, renderReport(clips(), { title: "Browser test report", meta: { model: "tiny.gguf" }, warning: "synthetic data" }));
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (e: Error) => errors.push(e.message));
    await page.goto(pathToFileURL(file).href);
    const names = () => page.$$eval("#clips h2", (els: El[]) => els.map((e) => e.textContent));
    const ranks = () => page.$$eval("#clips .rank", (els: El[]) => els.map((e) => e.textContent));
    expect(await names()).toEqual(["middle.mp4", "best.mp4", "broken.mp4", "worst.mp4"]);

    // Every thumbnail decoded (a broken data URI has naturalWidth 0).
    const widths: number[] = await page.$$eval("#clips img", (els: El[]) => els.map((e) => e.naturalWidth));
    expect(widths.length).toBe(18);
    expect(widths.every((w) => w > 0)).toBe(true);

    // Sort by visual quality: highest first; the clip without a score stays last.
    await page.click('button[data-key="vq"]');
    expect(await names()).toEqual(["best.mp4", "middle.mp4", "worst.mp4", "broken.mp4"]);
    expect(await ranks()).toEqual(["#1", "#2", "#3", "#4"]);
    expect(await page.getAttribute('button[data-key="vq"]', "aria-pressed")).toBe("true");
    expect(await page.textContent('button[data-key="vq"]')).toContain("↓");
    expect(await page.getAttribute("body", "data-sort")).toBe("vq:desc");

    // The bar of the first card is the widest: soft 3.5 of 5 → 70 %.
    const ratio: number = await page.$eval("#clips article:first-child .vq .fill", (e: El) => e.getBoundingClientRect().width / (e.parentElement as El).getBoundingClientRect().width);
    expect(ratio).toBeCloseTo(0.7, 2);
    // The score shown next to it is the hard score of the answer.
    expect(await page.textContent("#clips article:first-child .vq .hard")).toBe("5");

    // Clicking again reverses, failed clip still last.
    await page.click('button[data-key="vq"]');
    expect(await names()).toEqual(["worst.mp4", "middle.mp4", "best.mp4", "broken.mp4"]);
    // Sort by time (ascending first): 2 s, 4 s, 9 s.
    await page.click('button[data-key="time"]');
    expect(await names()).toEqual(["worst.mp4", "middle.mp4", "best.mp4", "broken.mp4"]);
    await page.click('button[data-key="name"]');
    expect(await names()).toEqual(["best.mp4", "broken.mp4", "middle.mp4", "worst.mp4"]);

    // Back to the visual-quality ranking for the screenshot.
    await page.click('button[data-key="vq"]');
    const shot = join(dir, "report-sorted-vq.png");
    const png: Buffer = await page.screenshot({ path: shot, fullPage: true });
    const size = pngSize(png);
    expect(size?.width).toBe(1280);
    expect(size!.height).toBeGreaterThan(900);
    // What is shown: the rationale text is visible and escaped, the error is shown.
    expect(await page.isVisible("text=Sharp and faithful.")).toBe(true);
    expect(await page.isVisible("text=ERR_DECODE")).toBe(true);
    expect(await page.textContent("#clips article:nth-child(2) .rationale pre")).toContain("<script>alert(1)</script>");
    expect(errors).toEqual([]);
    await page.close();
  });
});
