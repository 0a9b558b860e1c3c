// Which files a queue worker may open: inside its allowed roots as written and once symlinks are
// resolved. Plain files and links made here; no addon.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { VideoScoreError } from "../../src/addon/errors.js";
import { allowedRoots, resolveAllowed } from "../../src/queue/allow-roots.js";

const base = mkdtempSync(join(tmpdir(), "vs2-roots-"));
const root = join(base, "shared");
const outside = join(base, "private");
mkdirSync(join(root, "clips"), { recursive: true });
mkdirSync(outside, { recursive: true });
writeFileSync(join(root, "clips", "a.mp4"), "a");
writeFileSync(join(outside, "secret.mp4"), "s");
symlinkSync(join(outside, "secret.mp4"), join(root, "clips", "escape.mp4"));
symlinkSync(outside, join(root, "private-dir"));
symlinkSync(join(root, "clips", "a.mp4"), join(root, "inside-link.mp4"));
// A root reached through a symlink: its files are inside whichever way they are named.
symlinkSync(root, join(base, "via-link"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

async function code(video: unknown, roots = [root]): Promise<string> {
  try {
    await resolveAllowed(video, await allowedRoots(roots));
    return "ok";
  } catch (e) {
    expect(e).toBeInstanceOf(VideoScoreError);
    return (e as VideoScoreError).code;
  }
}

describe("allowed roots", () => {
  it("a file inside is opened by its real path; an inside link too", async () => {
    const roots = await allowedRoots([root]);
    expect(await resolveAllowed(join(root, "clips", "a.mp4"), roots)).toBe(join(root, "clips", "a.mp4"));
    expect(await resolveAllowed(join(root, "inside-link.mp4"), roots)).toBe(join(root, "clips", "a.mp4"));
    expect(await code(join(base, "via-link", "clips", "a.mp4"), [join(base, "via-link")])).toBe("ok");
    expect(await code(join(root, "clips", "a.mp4"), [join(base, "via-link")])).toBe("ok");
  });

  it("/etc/passwd, ../ and symlinks that escape are ERR_INPUT_NOT_ALLOWED", async () => {
    expect(await code("/etc/passwd")).toBe("ERR_INPUT_NOT_ALLOWED");
    expect(await code(join(root, "clips", "..", "..", "private", "secret.mp4"))).toBe("ERR_INPUT_NOT_ALLOWED");
    expect(await code(`${root}/../../../../etc/passwd`)).toBe("ERR_INPUT_NOT_ALLOWED");
    expect(await code(join(root, "clips", "escape.mp4"))).toBe("ERR_INPUT_NOT_ALLOWED");
    expect(await code(join(root, "private-dir", "secret.mp4"))).toBe("ERR_INPUT_NOT_ALLOWED");
    // A sibling whose name starts with the root's is not inside it.
    expect(await code(`${root}-evil/a.mp4`)).toBe("ERR_INPUT_NOT_ALLOWED");
    expect(await code("clips/a.mp4")).toBe("ERR_INPUT_NOT_ALLOWED");
    expect(await code(`${root}/a\0.mp4`)).toBe("ERR_INPUT_NOT_ALLOWED");
  });

  it("outside is refused before the file system is asked (no probing); inside and missing is ERR_INPUT_NOT_FOUND", async () => {
    expect(await code("/nonexistent/dir/x.mp4")).toBe("ERR_INPUT_NOT_ALLOWED");
    expect(await code(join(root, "missing.mp4"))).toBe("ERR_INPUT_NOT_FOUND");
    const e = await resolveAllowed("/etc/passwd", await allowedRoots([root])).catch((x: VideoScoreError) => x);
    expect((e as VideoScoreError).message).toContain(`this worker opens only files under ${root}`);
    expect((e as VideoScoreError).path).toBe("/etc/passwd");
  });

  it("roots must be existing folders", async () => {
    expect(await code(join(root, "clips", "a.mp4"), [join(base, "nope")])).toBe("ERR_INVALID_OPTION");
    expect(await code(join(root, "clips", "a.mp4"), [join(root, "clips", "a.mp4")])).toBe("ERR_INVALID_OPTION");
    expect(await code(join(root, "clips", "a.mp4"), [])).toBe("ERR_INVALID_OPTION");
  });
});
