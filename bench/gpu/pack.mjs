#!/usr/bin/env node
// Packs what the GPU machine lacks (it has no network, and a call takes the work tree plus at most
// 64 MiB, carried files included) into files under .cache/device/ (git-ignored), which
// `bash bench/gpu/run.sh unpack` puts back into place:
//
//   tools.tar.xz   what the build and every bench step need:
//     .cache/device/node/   this machine's node binary (the device image lists no node; --node none leaves it out)
//     deps/llama.cpp/       the pinned source with our patches and its .videoscore2-stamp, trimmed to what
//                           the CMake build (CPU and CUDA backends) and convert_hf_to_gguf.py + gguf-py use
//     node_modules/         tsx, vitest, cmake-js, node-addon-api, node-api-headers and what they need
//                           (as installed here; not typescript, tsup, playwright-core)
//     .cache/ffmpeg/<id>/   the static FFmpeg of scripts/build-ffmpeg.mjs (built first if it is missing)
//     bench/.out/gpu/clips/ the two parity clips the benchmark and the fidelity check use
//   clips.tar.xz   the clips the test suite makes with the ffmpeg CLI (libx264, libvpx, aac), taken
//                  from a fixture folder where the suite has run (`npm test` makes them); only the
//                  `test` step needs it
//   vulkan.tar.xz  build/vulkan/libggml-vulkan.so as built here (`node scripts/build.mjs --vulkan`; it
//                  needs glslc and the Vulkan headers, which the device may lack), for run.sh's vulkan
//                  step; made only where that module exists, and carried in a call of its own
//
//   node bench/gpu/pack.mjs [--fixtures test/.fixtures] [--ffmpeg PREFIX] [--node PATH|none] [--dir .cache/device]
//
// Identical files are stored once (hard links). xz: Debian and Ubuntu have it, and run.sh falls back
// to Python's tarfile where they do not.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ffmpegPrefix, buildFFmpeg } from "../../scripts/build-ffmpeg.mjs";
import { wantedStamp } from "../../scripts/fetch-llama.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const { values: a } = parseArgs({
  options: {
    dir: { type: "string", default: join(root, ".cache", "device") },
    fixtures: { type: "string", default: join(root, "test", ".fixtures") },
    ffmpeg: { type: "string" },
    node: { type: "string", default: process.execPath },
  },
});
const outDir = resolve(a.dir);
const stage = join(outDir, "stage");
// The device runner's limit is for the whole call: work tree (about 2 MB) plus what it carries.
const LIMIT = 62 * 1024 * 1024;

// --- llama.cpp: what add_subdirectory() reaches with our options, and the converter ----------------
const LLAMA_KEEP = [
  "CMakeLists.txt", "LICENSE", ".videoscore2-stamp", "cmake", "include", "src", "vendor", "licenses",
  "tools/mtmd",
  "ggml/CMakeLists.txt", "ggml/cmake", "ggml/include", "ggml/src", // ggml/src minus the other backends (below)
  "convert_hf_to_gguf.py", "conversion", "gguf-py/gguf", "gguf-py/LICENSE",
];
// ggml_add_backend() enters a backend's folder only when it is enabled: we build CPU and CUDA.
const GGML_BACKENDS_KEPT = new Set(["ggml-cpu", "ggml-cuda"]);
const LLAMA_DROP = [/\/__pycache__(\/|$)/, /^tools\/mtmd\/(tests|test-\d|.*\.md$)/];

function packLlama(dest) {
  const src = realpathSync(join(root, "deps", "llama.cpp"));
  const stampFile = join(src, ".videoscore2-stamp");
  if (!existsSync(stampFile) || readFileSync(stampFile, "utf8").trim() !== wantedStamp())
    throw new Error(`pack: ${src} is not the pinned, patched tree (run node scripts/fetch-llama.mjs)`);
  for (const p of LLAMA_KEEP) {
    cpSync(join(src, p), join(dest, p), {
      recursive: true,
      filter: (f) => {
        const rel = relative(src, f);
        if (LLAMA_DROP.some((re) => re.test(rel))) return false;
        const m = /^ggml\/src\/(ggml-[^/]+)$/.exec(rel);
        return !(m && lstatSync(f).isDirectory() && !GGML_BACKENDS_KEPT.has(m[1]));
      },
    });
  }
}

// --- node_modules: the closure of what the GPU steps run, resolved the way Node resolves -----------
const NODE_ROOTS = ["tsx", "vitest", "cmake-js", "node-addon-api", "node-api-headers"];

function packNodeModules(dest) {
  const nm = realpathSync(join(root, "node_modules"));
  const seen = new Set();
  const resolveDep = (fromDir, name) => {
    // fromDir: a package folder under nm; look in its node_modules, then each parent's.
    for (let d = fromDir; ; d = dirname(d)) {
      const cand = join(d, "node_modules", name);
      if (existsSync(join(cand, "package.json"))) return cand;
      if (d === dirname(nm) || d === "/") return null;
    }
  };
  const visit = (dir) => {
    if (seen.has(dir)) return;
    seen.add(dir);
    const pj = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    const required = Object.keys(pj.dependencies ?? {});
    const optional = [...Object.keys(pj.optionalDependencies ?? {}), ...Object.keys(pj.peerDependencies ?? {})];
    for (const n of required) {
      const r = resolveDep(dir, n);
      if (!r) throw new Error(`pack: ${relative(nm, dir)} needs ${n}, which is not installed`);
      visit(r);
    }
    for (const n of optional) {
      if (n === "typescript" || n === "@types/node") continue; // type-checking only
      const r = resolveDep(dir, n);
      if (r) visit(r);
    }
  };
  for (const n of NODE_ROOTS) visit(join(nm, n));
  for (const dir of seen) cpSync(dir, join(dest, relative(nm, dir)), { recursive: true, verbatimSymlinks: true, filter: (f) => !/\/node_modules$/.test(f) || f === dir });
  // The roots' commands (npx --no-install tsx / vitest / cmake-js).
  mkdirSync(join(dest, ".bin"), { recursive: true });
  for (const e of readdirSync(join(nm, ".bin"))) {
    const target = realpathSync(join(nm, ".bin", e));
    if ([...seen].some((d) => target.startsWith(d + "/") && dirname(d) === nm)) cpSync(join(nm, ".bin", e), join(dest, ".bin", e), { verbatimSymlinks: true });
  }
  return seen.size;
}

// --- the static FFmpeg ------------------------------------------------------------------------------
async function ffmpegSource() {
  if (a.ffmpeg) return resolve(a.ffmpeg);
  return existsSync(join(ffmpegPrefix(), "stamp.json")) ? ffmpegPrefix() : await buildFFmpeg();
}
const ffPrefix = await ffmpegSource();
function packFFmpeg(s) {
  // run.sh finds it by its stamp.json and hands it to the build as VIDEOSCORE2_FFMPEG_DIR.
  const to = join(s, ".cache", "ffmpeg", ffPrefix.split("/").pop());
  // lib/pkgconfig too: run.sh points PKG_CONFIG_PATH there, so the suite compares the versions the
  // addon reports with the libav it linked.
  for (const p of ["include", "lib", "stamp.json"]) cpSync(join(ffPrefix, p), join(to, p), { recursive: true });
  return { [relative(s, to)]: mb(du(to)) };
}

// --- clips: what the suite and the benchmark make with the ffmpeg CLI ------------------------------
// Media files of the fixture folder; not what the tests write themselves (CLI outputs, reports) nor
// a half-written temporary.
const MEDIA = /\.(mp4|mkv|webm|avi|mov|m4a|h264|ts|flv|gif|ivf|mpg|wav)$|^videos\/image\.png$/;
const NOT_CLIPS = [/(^|\/)\.tmp-/, /\.tmp\./, /^cli\/(frames-|out)/, /^report\//];

function walk(dir, base = dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? walk(p, base) : e.isFile() ? [relative(base, p)] : [];
  });
}

function storeOnce() {
  const byHash = new Map();
  const add = (file, to) => {
    const h = createHash("sha256").update(readFileSync(file)).digest("hex");
    mkdirSync(dirname(to), { recursive: true });
    if (byHash.has(h)) linkSync(byHash.get(h), to);
    else {
      cpSync(file, to);
      byHash.set(h, to);
    }
  };
  return { add, distinct: () => byHash.size };
}

// Clips the suite makes only where the fixture folder may not have met the condition: the static
// FFmpeg (self-contained.test.ts), the demo's sample (src/cli/commands/score.ts, in the cache folder
// that run.sh's test step sets to test/.fixtures/cache), convert.test.ts's clip. Same arguments as there.
const CONDITIONAL_CLIPS = [
  ["videos/self-contained-2s.mp4", ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=8:duration=2", "-pix_fmt", "yuv420p", "-c:v", "libx264"]],
  ["cache/sample-640x360-5s.mp4", ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=24", "-t", "5", "-c:v", "libx264", "-pix_fmt", "yuv420p"]],
  ["videos/convert-224x224.mp4", ["-f", "lavfi", "-i", "testsrc2=size=224x224:rate=10", "-frames:v", "20", "-c:v", "libx264", "-pix_fmt", "yuv420p"]],
];

function packSuiteClips(dest, fixtures) {
  if (!existsSync(fixtures) || walk(fixtures).length === 0)
    throw new Error(`pack: ${fixtures} has no fixtures: run \`npm test\` once (it makes the clips with the ffmpeg CLI), or pass --fixtures`);
  const once = storeOnce();
  const clips = walk(fixtures).filter((f) => MEDIA.test(f) && !NOT_CLIPS.some((re) => re.test(f))).sort();
  for (const f of clips) once.add(join(fixtures, f), join(dest, "test", ".fixtures", f));
  for (const [f, args] of CONDITIONAL_CLIPS) {
    const to = join(dest, "test", ".fixtures", f);
    if (existsSync(to)) continue;
    mkdirSync(dirname(to), { recursive: true });
    execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", "-y", ...args, to]);
    clips.push(f);
  }
  return { files: clips.length, distinct: once.distinct() + CONDITIONAL_CLIPS.length };
}

// The benchmark's clips are parity clips (bench/gpu/common.ts ensureClip): fps-720p on the GPU,
// min4-upscale for --tiny and the CPU fidelity check. Taken from the fixtures, or made here.
const BENCH_CLIPS = ["fps-720p", "min4-upscale"];
function packBenchClips(dest, fixtures) {
  const spec = JSON.parse(readFileSync(join(root, "test", "parity", "goldens", "clips.json"), "utf8"));
  for (const name of BENCH_CLIPS) {
    const c = spec.clips.find((x) => x.name === name);
    const to = join(dest, "bench", ".out", "gpu", "clips", c.file);
    mkdirSync(dirname(to), { recursive: true });
    const src = join(fixtures, "parity", "clips", c.file);
    if (existsSync(src)) cpSync(src, to);
    else execFileSync("ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", "-y", ...c.input, ...c.output, to]);
  }
}

// --- pack ---------------------------------------------------------------------------------------------
const du = (p) => Number(execFileSync("du", ["-sb", p]).toString().split("\t")[0]);
const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
const fixtures = resolve(a.fixtures);

function bundle(name, fill) {
  const t0 = Date.now();
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  const parts = fill(stage);
  const manifest = { bundle: name, made: new Date().toISOString(), llamaStamp: wantedStamp(), parts };
  mkdirSync(join(stage, ".cache", "device"), { recursive: true });
  writeFileSync(join(stage, ".cache", "device", `${name}.manifest.json`), JSON.stringify(manifest, null, 1) + "\n");
  const out = join(outDir, `${name}.tar.xz`);
  const tmp = `${out}.tmp`;
  // Sorted names and fixed owners: the same inputs give the same listing.
  execFileSync("sh", ["-c", `tar -C "$1" --sort=name --owner=0 --group=0 --numeric-owner -cf - . | xz -T0 -6e > "$2"`, "sh", stage, tmp], { stdio: ["ignore", "inherit", "inherit"] });
  renameSync(tmp, out);
  const raw = du(stage);
  rmSync(stage, { recursive: true, force: true });
  const size = statSync(out).size;
  console.log(`pack: ${relative(root, out)}: ${mb(size)} = ${(size / 1048576).toFixed(1)} MiB (${mb(raw)} unpacked), in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  for (const [k, v] of Object.entries(parts)) console.log(`  ${k}: ${v}`);
  return size;
}

mkdirSync(outDir, { recursive: true });
const sizes = [];
sizes.push(bundle("tools", (s) => {
  const parts = {};
  if (a.node !== "none") {
    const node = realpathSync(a.node);
    mkdirSync(join(s, ".cache", "device", "node", "bin"), { recursive: true });
    cpSync(node, join(s, ".cache", "device", "node", "bin", "node"));
    parts[".cache/device/node/bin/node"] = `${execFileSync(node, ["--version"]).toString().trim()}, ${mb(du(node))}`;
  }
  packLlama(join(s, "deps", "llama.cpp"));
  parts["deps/llama.cpp"] = mb(du(join(s, "deps", "llama.cpp")));
  const npkgs = packNodeModules(join(s, "node_modules"));
  parts.node_modules = `${npkgs} packages, ${mb(du(join(s, "node_modules")))}`;
  Object.assign(parts, packFFmpeg(s));
  packBenchClips(s, fixtures);
  parts["bench/.out/gpu/clips"] = `${BENCH_CLIPS.join(", ")}, ${mb(du(join(s, "bench")))}`;
  return parts;
}));
sizes.push(bundle("clips", (s) => {
  const c = packSuiteClips(s, fixtures);
  return { "test/.fixtures": `${c.files} clips (${c.distinct} distinct), ${mb(du(join(s, "test")))}` };
}));
const vulkanModule = join(root, "build", "vulkan", "libggml-vulkan.so");
if (existsSync(vulkanModule))
  sizes.push(bundle("vulkan", (s) => {
    mkdirSync(join(s, "build", "vulkan"), { recursive: true });
    cpSync(vulkanModule, join(s, "build", "vulkan", "libggml-vulkan.so"));
    return { "build/vulkan/libggml-vulkan.so": mb(du(vulkanModule)) };
  }));
else console.log(`pack: no ${relative(root, vulkanModule)} (node scripts/build.mjs --vulkan): no vulkan bundle, run.sh's build-vulkan step then needs glslc on the device`);
const over = sizes.filter((n) => n > LIMIT);
if (over.length) {
  console.error(`pack: a bundle is over ${LIMIT / 1048576} MiB: with the ~2 MB work tree it would not fit the device runner's 64 MiB a call`);
  process.exit(1);
}
