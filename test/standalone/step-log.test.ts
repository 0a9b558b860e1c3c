// The quiet set-up (issue 30): a step prints one line, its tools' output goes to its log, a failure
// names the log and shows its last lines, VIDEOSCORE2_VERBOSE=1 shows everything. Real commands
// (bash printing lines) stand in for the compilers; the terminal is a sink that records what it got.
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../src/addon/loader.js";
import { StepError, TAIL_LINES, step, stepSync, type StepOut } from "../../scripts/step-log.mjs";
import { pinnedUrl } from "../../scripts/pinned-download.mjs";

const root = packageRoot();
const work = mkdtempSync(join(tmpdir(), "vs2-step-log-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A terminal (or a pipe, isTTY false) that keeps what is written to it. */
function sink(isTTY = false): StepOut & { text: () => string } {
  let text = "";
  return { isTTY, columns: 120, write: (c: string | Uint8Array) => (text += c.toString()), text: () => text };
}

/** bash printing `n` numbered lines on stdout and stderr, then exiting with `code`. */
const noisy = (n: number, code = 0) => ["-c", `for i in $(seq 1 ${n}); do echo "out $i"; echo "warning: $i" >&2; done; exit ${code}`];

describe("a quiet step", () => {
  it("prints one line with its time, and its tools' output goes to its log", async () => {
    const out = sink();
    const logDir = join(work, "ok");
    await step("demo", "a noisy tool", "noisy", (s) => s.run("bash", noisy(300)), { out, logDir });
    expect(out.text()).toMatch(/^demo: a noisy tool \(\d+\.\d s\)\n$/);
    const log = readFileSync(join(logDir, "noisy.log"), "utf8");
    expect(log).toContain("out 300");
    expect(log).toContain("warning: 300");
  });

  it("fails with its log named and the log's last lines, and its message is all the script prints", async () => {
    const out = sink();
    const logDir = join(work, "fail");
    const err = await step("demo", "a failing tool", "failing", (s) => s.run("bash", ["-c", "for i in $(seq 1 50); do echo \"line $i\"; done; exit 3"]), { out, logDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    const message = (err as StepError).message;
    const logFile = join(logDir, "failing.log");
    expect((err as StepError).logFile).toBe(logFile);
    expect(message).toMatch(/^demo: a failing tool failed after \d+\.\d s: `bash` exited with code 3/);
    expect(message).toContain(`full log: ${logFile}`);
    expect(message).toContain(`its last ${TAIL_LINES} lines:`);
    for (let i = 51 - TAIL_LINES; i <= 50; i++) expect(message).toContain(`  | line ${i}\n`);
    expect(message).not.toContain(`| line ${50 - TAIL_LINES}\n`);
    // Nothing was printed on the way: the quiet step said nothing until it failed.
    expect(out.text()).toBe("");
    expect(readFileSync(logFile, "utf8")).toContain("line 1\n");
  });

  it("ends its script with exit code 1 and the report on stderr, without a stack trace", () => {
    const script = join(work, "fails.mjs");
    const stepLog = pathToFileURL(join(root, "scripts", "step-log.mjs")).href;
    writeFileSync(
      script,
      `import { exitOnFailure, step } from ${JSON.stringify(stepLog)};
exitOnFailure();
await step("demo", "a failing tool", "script-failing", (s) => s.run("bash", ["-c", "echo compiler said no >&2; exit 2"]), { logDir: ${JSON.stringify(join(work, "script"))} });`,
    );
    const r = spawnSync(process.execPath, [script], { encoding: "utf8", env: { ...process.env, VIDEOSCORE2_VERBOSE: "" } });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("demo: a failing tool failed after");
    expect(r.stderr).toContain(`full log: ${join(work, "script", "script-failing.log")}`);
    expect(r.stderr).toContain("  | compiler said no");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("a command that is not installed is named as such", () => {
    const err = (() => {
      try {
        return stepSync("demo", "missing tool", "missing", (s) => s.runSync("vs2-no-such-tool", ["--x"]), { out: sink(), logDir: join(work, "missing") });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toMatch(/could not start `vs2-no-such-tool` \(not installed or not on PATH\)/);
  });

  it("a synchronous step's failing command shows its log's tail too", () => {
    const logDir = join(work, "sync");
    const err = (() => {
      try {
        return stepSync("demo", "git apply", "sync", (s) => s.runSync("bash", noisy(40, 1)), { out: sink(), logDir });
      } catch (e) {
        return e;
      }
    })() as StepError;
    expect(err).toBeInstanceOf(StepError);
    expect(err.message).toContain(`full log: ${join(logDir, "sync.log")}`);
    expect(err.message).toMatch(/\| (out|warning:) 40\n/);
  });
});

describe("progress", () => {
  it("on a terminal, one line rewritten in place from ninja's [n/m], then the step's line", async () => {
    const out = sink(true);
    await step("demo", "llama.cpp", "ninja", (s) => s.run("bash", ["-c", "for i in 1 2 3; do echo \"[$i/3] Building CXX object f$i.o\"; done"], { progress: "steps", phase: "compiling" }), { out, logDir: join(work, "tty") });
    const text = out.text();
    expect(text).toContain("\r\x1b[Kdemo: llama.cpp … compiling [3/3], ");
    // The in-place line never ends a line: only the step's own line does.
    expect(text.split("\n").filter(Boolean).map((l) => l.split("\r").pop())).toEqual([expect.stringMatching(/^\x1b\[Kdemo: llama\.cpp \(\d+\.\d s\)$|^demo: llama\.cpp \(\d+\.\d s\)$/)]);
  });

  it("counts FFmpeg's compiled files, whose total make does not say", async () => {
    const out = sink(true);
    await step("demo", "FFmpeg", "make", (s) => s.run("bash", ["-c", "printf 'CC\\tlibavcodec/a.o\\nCC\\tlibavcodec/b.o\\nAR\\tlibavcodec/libavcodec.a\\n'"], { progress: "files", phase: "compiling FFmpeg" }), { out, logDir: join(work, "tty") });
    expect(out.text()).toContain("compiling FFmpeg: 3 files");
  });

  it("off a terminal, a plain line now and then while the step runs", async () => {
    const out = sink(false);
    await step("demo", "slow tool", "slow", (s) => s.run("bash", ["-c", "sleep 0.6"], { phase: "waiting" }), { out, logDir: join(work, "slow"), progressEveryMs: 100 });
    const lines = out.text().trimEnd().split("\n");
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.slice(0, -1).every((l) => /^demo: slow tool … waiting, \d+\.\d s$/.test(l))).toBe(true);
    expect(out.text()).not.toContain("\r");
  });
});

describe("VIDEOSCORE2_VERBOSE=1", () => {
  it("shows every line of the tools, keeps the log, and still ends with the step's line", async () => {
    const out = sink(true);
    const logDir = join(work, "verbose");
    await step("demo", "a noisy tool", "verbose", (s) => s.run("bash", noisy(30)), { out, logDir, verbose: true });
    const text = out.text();
    for (let i = 1; i <= 30; i++) expect(text).toContain(`out ${i}\n`);
    expect(text).toContain("warning: 30\n");
    expect(text).not.toContain("\r");
    expect(text).toMatch(/demo: a noisy tool \(\d+\.\d s\)\n$/);
    expect(readFileSync(join(logDir, "verbose.log"), "utf8")).toContain("out 30");
  });

  it("is read from the environment by the scripts' steps", () => {
    const script = join(work, "verbose.mjs");
    writeFileSync(
      script,
      `import { step } from ${JSON.stringify(pathToFileURL(join(root, "scripts", "step-log.mjs")).href)};
await step("demo", "tool", "env-verbose", (s) => s.run("bash", ["-c", "echo every line"]), { logDir: ${JSON.stringify(join(work, "env"))} });`,
    );
    const quiet = spawnSync(process.execPath, [script], { encoding: "utf8", env: { ...process.env, VIDEOSCORE2_VERBOSE: "" } });
    const verbose = spawnSync(process.execPath, [script], { encoding: "utf8", env: { ...process.env, VIDEOSCORE2_VERBOSE: "1" } });
    expect(quiet.stderr).not.toContain("every line");
    expect(verbose.stderr).toContain("every line\n");
  });
});

/** A local port nothing listens on: a fetch from it is refused at once. */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe("a broken set-up step, for real", () => {
  it("VIDEOSCORE2_DEBIAN_MIRROR stands in for deb.debian.org, and only for it", () => {
    const pin = { url: "http://deb.debian.org/debian/pool/main/f/ffmpeg/ffmpeg_5.1.9.orig.tar.xz", version: "5.1.9", sha256: "x" };
    const before = process.env.VIDEOSCORE2_DEBIAN_MIRROR;
    try {
      process.env.VIDEOSCORE2_DEBIAN_MIRROR = "https://mirror.example/debian/";
      expect(pinnedUrl(pin)).toBe("https://mirror.example/debian/pool/main/f/ffmpeg/ffmpeg_5.1.9.orig.tar.xz");
      expect(pinnedUrl({ ...pin, url: "https://example.org/x.tar.xz" })).toBe("https://example.org/x.tar.xz");
      delete process.env.VIDEOSCORE2_DEBIAN_MIRROR;
      expect(pinnedUrl(pin)).toBe(pin.url);
    } finally {
      if (before === undefined) delete process.env.VIDEOSCORE2_DEBIAN_MIRROR;
      else process.env.VIDEOSCORE2_DEBIAN_MIRROR = before;
    }
  });

  it("build-ffmpeg.mjs with no network for the FFmpeg tarball names its log and its last lines", async () => {
    // A copy of the scripts: its package root, and so its .cache/, is a temporary folder.
    const pkg = join(work, "pkg");
    cpSync(join(root, "scripts"), join(pkg, "scripts"), { recursive: true });
    const mirror = `http://127.0.0.1:${await closedPort()}/debian`;
    const r = spawnSync(process.execPath, [join(pkg, "scripts", "build-ffmpeg.mjs")], { encoding: "utf8", env: { ...process.env, VIDEOSCORE2_DEBIAN_MIRROR: mirror, VIDEOSCORE2_VERBOSE: "" } });
    expect(r.status).toBe(1);
    const log = join(pkg, ".cache", "logs", "ffmpeg.log");
    expect(r.stderr).toMatch(/build-ffmpeg: FFmpeg 5\.1\.9 with dav1d 1\.0\.0 failed after \d+\.\d s: could not fetch http:\/\/127\.0\.0\.1:\d+\/debian\/pool\/main\/f\/ffmpeg\/ffmpeg_5\.1\.9\.orig\.tar\.xz \(connect ECONNREFUSED/);
    expect(r.stderr).toContain(`put the file there by hand: ${join(pkg, ".cache", "ffmpeg", "ffmpeg_5.1.9.orig.tar.xz")}`);
    expect(r.stderr).toContain(`full log: ${log}`);
    expect(r.stderr).toContain(`  | fetching ${mirror}/pool/main/f/ffmpeg/ffmpeg_5.1.9.orig.tar.xz`);
    expect(r.stderr.split("\n").length).toBeLessThan(TAIL_LINES + 6);
    expect(existsSync(log)).toBe(true);
    expect(r.stdout).toBe("");
  });

  // What the set-up of this checkout has already fetched (deps/llama.cpp, the Vulkan headers), so
  // that the copy fetches nothing; without them (a tree never set up) there is nothing to borrow.
  const fetched = existsSync(join(root, "deps", "llama.cpp", ".videoscore2-stamp")) && existsSync(join(root, ".cache", "vulkan-headers"));
  it.runIf(fetched)("build.mjs: a failing cmake-js build is one line naming its log, with cmake-js's last lines", () => {
    // The copy has no CMakeLists.txt, so cmake-js fails at once, as a broken configure would.
    const pkg = join(work, "build");
    cpSync(join(root, "scripts"), join(pkg, "scripts"), { recursive: true });
    cpSync(join(root, "native", "patches"), join(pkg, "native", "patches"), { recursive: true });
    cpSync(join(root, "package.json"), join(pkg, "package.json"));
    mkdirSync(join(pkg, ".cache"), { recursive: true });
    symlinkSync(join(root, "deps"), join(pkg, "deps"));
    symlinkSync(join(root, ".cache", "vulkan-headers"), join(pkg, ".cache", "vulkan-headers"));
    symlinkSync(join(root, "node_modules"), join(pkg, "node_modules"));
    const r = spawnSync(process.execPath, [join(pkg, "scripts", "build.mjs")], { encoding: "utf8", env: { ...process.env, VIDEOSCORE2_SYSTEM_FFMPEG: "1", VIDEOSCORE2_VERBOSE: "" } });
    expect(r.status).toBe(1);
    expect(r.stdout.trim().split("\n")).toEqual([expect.stringMatching(/^fetch-llama: .* is up to date/)]);
    const log = join(pkg, ".cache", "logs", "cmake-cpu.log");
    expect(r.stderr).toMatch(/^build: llama\.cpp and the addon \(cpu, cmake( \+ ninja)?\) failed after \d+\.\d s: `cmake-js build` exited with code 1\n/);
    expect(r.stderr).toContain(`full log: ${log}`);
    expect(r.stderr).toMatch(/  \| .*CMakeLists\.txt' not found/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it.runIf(process.getuid?.() === 0)("setup-system.sh: apt's output goes to a log, and a failing apt-get names it with its last lines", () => {
    // A copy of the script under a temporary root, with a PATH on which nothing it looks for is
    // found and apt-get is a stand-in that prints and fails (as apt does without network).
    const pkg = join(work, "system");
    cpSync(join(root, "scripts", "setup-system.sh"), join(pkg, "scripts", "setup-system.sh"));
    const bin = join(pkg, "bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, "apt-get"), `#!/bin/bash\nfor i in $(seq 1 40); do echo "Get:$i http://deb.debian.org/debian bookworm"; done\necho "E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease" >&2\nexit 100\n`, { mode: 0o755 });
    const tools = ["bash", "dirname", "mkdir", "tail", "sed", "id", "env", "ls", "grep", "seq"];
    const link = tools.map((t) => `ln -s "$(command -v ${t})" ${JSON.stringify(join(bin, t))}`).join(" && ");
    expect(spawnSync("bash", ["-c", link]).status).toBe(0);
    const r = spawnSync(join(bin, "bash"), [join(pkg, "scripts", "setup-system.sh")], { encoding: "utf8", env: { PATH: bin, VIDEOSCORE2_VERBOSE: "" } });
    expect(r.status).toBe(1);
    const log = join(pkg, ".cache", "logs", "apt.log");
    expect(r.stdout).toMatch(/^setup-system: installing .*ninja-build/);
    expect(r.stdout).not.toContain("Get:");
    expect(r.stderr).toContain("setup-system: `env DEBIAN_FRONTEND=noninteractive apt-get update -qq` failed");
    expect(r.stderr).toContain(`full log: ${log}`);
    expect(r.stderr).toContain("  | E: Failed to fetch");
    expect(r.stderr).toContain("  | Get:40 ");
    expect(r.stderr).not.toContain("  | Get:20 ");
    expect(readFileSync(log, "utf8")).toContain("Get:1 ");

    const verbose = spawnSync(join(bin, "bash"), [join(pkg, "scripts", "setup-system.sh")], { encoding: "utf8", env: { PATH: bin, VIDEOSCORE2_VERBOSE: "1" } });
    expect(verbose.status).toBe(100);
    expect(verbose.stdout).toContain("Get:1 ");
  });
});

describe("setup-cuda's wheels from PyPI", () => {
  // A python3 whose `-m pip download` talks like pip and writes one wheel (a real zip, made by the
  // real python3) holding the runtime's three libraries; `-m zipfile` is the real one.
  function fakePython(dir: string, pipFails: boolean): string {
    const py = join(dir, "python3");
    const pip = pipFails
      ? `echo "Collecting nvidia-cuda-runtime==13.0.88"; echo "ERROR: No matching distribution found for nvidia-cuda-runtime==13.0.88" >&2; exit 1`
      : `while [ $# -gt 0 ]; do [ "$1" = -d ] && d=$2; shift; done
  for i in $(seq 1 50); do echo "Collecting nvidia-cuda-runtime (chunk $i)"; done
  src=$(mktemp -d); mkdir -p "$src/nvidia/cu13/lib"
  for l in libcudart.so.13 libcublas.so.13 libcublasLt.so.13; do echo "$l" > "$src/nvidia/cu13/lib/$l"; done
  (cd "$src" && python3 -m zipfile -c "$d/nvidia_cuda_runtime-13.0.88-py3-none-manylinux_2_17_x86_64.whl" nvidia) && echo "Saved $d"; exit $?`;
    writeFileSync(py, `#!/bin/bash\nif [ "$1 $2" = "-m pip" ]; then\n  ${pip}\nfi\nexec python3 "$@"\n`, { mode: 0o755 });
    return py;
  }

  it("fetch and unpack as one quiet step: one line, pip's output in its log", () => {
    const dir = join(work, "cuda-ok");
    mkdirSync(dir, { recursive: true });
    const libs = join(dir, "libs");
    const r = spawnSync(process.execPath, [join(root, "scripts", "setup-cuda.mjs"), "--runtime", libs], { encoding: "utf8", env: { ...process.env, PYTHON: fakePython(dir, false), VIDEOSCORE2_VERBOSE: "" } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^setup-cuda: the CUDA [\d.]+ runtime and cuBLAS from PyPI \(2 wheels, ~425 MB\): 1 wheel\(s\) unpacked \(\d+\.\d s\)\n/);
    expect(r.stderr).not.toContain("Collecting");
    for (const l of ["libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13"]) expect(readFileSync(join(libs, l), "utf8")).toBe(`${l}\n`);
    expect(readFileSync(join(root, ".cache", "logs", "cuda-runtime.log"), "utf8")).toContain("Collecting nvidia-cuda-runtime (chunk 50)");
  });

  it("a pip that cannot fetch them names the log, shows pip's words and says what to do", () => {
    const dir = join(work, "cuda-fail");
    mkdirSync(dir, { recursive: true });
    const r = spawnSync(process.execPath, [join(root, "scripts", "setup-cuda.mjs"), "--runtime", join(dir, "libs")], { encoding: "utf8", env: { ...process.env, PYTHON: fakePython(dir, true), VIDEOSCORE2_VERBOSE: "" } });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("pip could not fetch nvidia-cuda-runtime, nvidia-cublas");
    expect(r.stderr).toContain("Install a CUDA 13 toolkit, or give pip access to PyPI");
    expect(r.stderr).toContain(`full log: ${join(root, ".cache", "logs", "cuda-runtime.log")}`);
    expect(r.stderr).toContain("| ERROR: No matching distribution found for nvidia-cuda-runtime==13.0.88");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
