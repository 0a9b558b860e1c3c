// The Python tests' set-up (test/fixtures/python.ts) with a real python3 and pip: an index that cannot
// be reached skips them, quoting pip; an index that answers with nothing to install (what PyPI says
// to a Python older than the pin needs, or to a wrong pin) is an error, never a silent skip on CI.
import { mkdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { pythonEnv } from "../fixtures/python.js";
import { FIXTURE_DIR } from "../fixtures/models.js";

const dir = join(FIXTURE_DIR, "python-env");

describe("the Python tests' venv", () => {
  it("an index that cannot be reached skips, saying so in pip's words, and leaves no venv", async () => {
    const venv = join(dir, "unreachable");
    // Port 1 on loopback: nothing listens, so pip's connection is refused at once.
    const got = await pythonEnv({ venv, env: { PIP_INDEX_URL: "http://127.0.0.1:1/simple" } });
    expect(got.python).toBeUndefined();
    expect(got.skip).toMatch(/^PyPI cannot be reached from here, so the Python producer is not tested: pip said .*(Connection refused|Failed to establish)/);
    expect(existsSync(venv)).toBe(false);
  });

  it("an index that answers but has no bullmq==3.4.4 is an error naming pip's words, not a skip", async () => {
    const venv = join(dir, "no-match");
    const index = join(dir, "empty-index");
    mkdirSync(index, { recursive: true });
    await expect(pythonEnv({ venv, env: { PIP_INDEX_URL: pathToFileURL(index).href } })).rejects.toThrow(/pip install -r python\/requirements\.txt -c python\/constraints\.txt failed:[\s\S]*No matching distribution found for bullmq==3\.4\.4/);
    expect(existsSync(venv)).toBe(false);
  });
});
