#!/usr/bin/env node
// Builds the minimal FFmpeg that the addon links statically, so that a prebuild needs nothing of the
// system's libav: only the demuxers and decoders of what video generators and users produce, the
// file protocol, LGPL, position-independent, no external libraries at all (--disable-autodetect).
//
//   node scripts/build-ffmpeg.mjs        prints the install prefix (include/, lib/*.a)
//
// The source is Debian's orig tarball of FFmpeg 5.1.9 (the version Debian 12's libav comes from),
// fetched from deb.debian.org and checked against the sha256 pinned here, which is the one Debian's
// signed .dsc lists. It is unpacked under .cache/ffmpeg/ and built once per configuration: a stamp
// in the prefix holds the configuration, so a re-run with the same one is a no-op. Nothing of
// FFmpeg is committed.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { downloadPinned } from "./pinned-download.mjs";
import { failureMessage, step } from "./step-log.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export const FFMPEG = {
  version: "5.1.9",
  url: "http://deb.debian.org/debian/pool/main/f/ffmpeg/ffmpeg_5.1.9.orig.tar.xz",
  sha256: "d9b593bb2ba93d4b50f74177e0cdcd41747e708596367deed0c30348a71dd176",
};

/**
 * dav1d, VideoLAN's AV1 decoder (BSD-2-Clause), the one software AV1 decoder FFmpeg can use: Debian
 * 12's 1.0.0, its orig tarball pinned by the sha256 of Debian's signed .dsc. Built with meson.
 */
export const DAV1D = {
  version: "1.0.0",
  url: "http://deb.debian.org/debian/pool/main/d/dav1d/dav1d_1.0.0.orig.tar.xz",
  sha256: "51737db7e4897e599684f873a4725176dd3c779e639411d7c4fce134bb5ebb82",
};

/**
 * What the addon reads. Containers: MP4/MOV, Matroska/WebM, AVI, MPEG-TS/PS, FLV, GIF, IVF and raw
 * streams; the audio demuxers are there so an audio-only file is named as such instead of as an
 * unknown format; image2 and the image pipes so a still image is recognised and refused. Codecs:
 * H.264, HEVC, VP8, VP9, MPEG-4 Part 2 (and H.263), MPEG-1/2, ProRes, MJPEG, GIF, and AV1 through
 * dav1d (FFmpeg's own AV1 decoder only drives hardware).
 */
export const COMPONENTS = {
  demuxer: ["mov", "matroska", "avi", "mpegts", "mpegps", "flv", "gif", "ivf", "h264", "hevc", "m4v", "mjpeg", "mpegvideo", "aac", "mp3", "wav", "ogg", "image2", "png_pipe", "jpeg_pipe"],
  decoder: ["h264", "hevc", "vp8", "vp9", "mpeg4", "h263", "mpeg1video", "mpeg2video", "prores", "mjpeg", "gif", "libdav1d"],
  parser: ["h264", "hevc", "vp8", "vp9", "av1", "mpeg4video", "mpegvideo", "mjpeg", "png", "gif", "aac", "mpegaudio"],
  protocol: ["file"],
};

export function configureFlags() {
  const flags = [
    "--disable-everything",
    "--disable-autodetect",
    "--disable-programs",
    "--disable-doc",
    "--disable-network",
    "--disable-avdevice",
    "--disable-avfilter",
    "--disable-swresample",
    "--disable-postproc",
    "--disable-debug",
    "--enable-static",
    "--disable-shared",
    "--enable-pic",
  ];
  for (const [kind, names] of Object.entries(COMPONENTS)) flags.push(`--enable-${kind}=${names.join(",")}`);
  flags.push("--enable-libdav1d", "--pkg-config-flags=--static");
  // Without nasm, FFmpeg builds without its x86 SIMD (decoding 2-3x slower): allowed, but said.
  if (!hasNasm()) flags.push("--disable-x86asm");
  return flags;
}

function hasNasm() {
  try {
    execFileSync("nasm", ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const cacheDir = join(root, ".cache", "ffmpeg");

function configId(flags) {
  return createHash("sha256").update(JSON.stringify({ ...FFMPEG, dav1d: DAV1D, flags })).digest("hex").slice(0, 12);
}

/** The install prefix for this configuration (built or not). */
export function ffmpegPrefix() {
  return join(cacheDir, `${FFMPEG.version}-${configId(configureFlags())}`);
}

function unpack(step, tarball, dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  step.runSync("tar", ["-xJf", tarball, "-C", dir, "--strip-components=1"]);
}

/** dav1d as a static, position-independent library under `prefix` (lib/libdav1d.a, lib/pkgconfig). */
async function buildDav1d(step, prefix, jobs) {
  for (const tool of ["meson", "ninja"])
    try {
      execFileSync(tool, ["--version"], { stdio: "ignore" });
    } catch {
      throw new Error(`${tool} is needed to build dav1d (AV1); install it (Debian: apt-get install meson ninja-build) or run scripts/setup-system.sh`);
    }
  const tarball = join(cacheDir, `dav1d_${DAV1D.version}.orig.tar.xz`);
  await downloadPinned(tarball, DAV1D, "build-ffmpeg", step);
  const src = join(cacheDir, `dav1d-src-${DAV1D.version}`);
  unpack(step, tarball, src);
  const opts = ["--buildtype=release", "--default-library=static", "-Db_staticpic=true", "-Denable_tools=false", "-Denable_tests=false", `--prefix=${prefix}`, "--libdir=lib"];
  await step.run("meson", ["setup", "build", ...opts], { cwd: src, phase: "configuring dav1d" });
  await step.run("ninja", ["-C", "build", "-j", jobs, "install"], { cwd: src, phase: "compiling dav1d", progress: "steps" });
  rmSync(src, { recursive: true, force: true });
}

/**
 * Builds (once) and returns the install prefix: one step (step-log.mjs) with one line, its tools'
 * output in .cache/logs/ffmpeg.log.
 */
export async function buildFFmpeg() {
  const flags = configureFlags();
  const prefix = ffmpegPrefix();
  const stamp = join(prefix, "stamp.json");
  const want = JSON.stringify({ ...FFMPEG, flags });
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === want) return prefix;
  return step("build-ffmpeg", `FFmpeg ${FFMPEG.version} with dav1d ${DAV1D.version}`, "ffmpeg", async (s) => {
    if (!hasNasm()) s.say("build-ffmpeg: nasm not found; building without FFmpeg's x86 SIMD (slower decoding). Install nasm to get it.");
    mkdirSync(cacheDir, { recursive: true });
    const tarball = join(cacheDir, `ffmpeg_${FFMPEG.version}.orig.tar.xz`);
    await downloadPinned(tarball, FFMPEG, "build-ffmpeg", s);
    rmSync(prefix, { recursive: true, force: true });
    const jobs = String(Number(process.env.CMAKE_BUILD_PARALLEL_LEVEL) || availableParallelism());
    await buildDav1d(s, prefix, jobs);
    const src = join(cacheDir, `src-${configId(flags)}`);
    unpack(s, tarball, src);
    const env = { ...process.env, PKG_CONFIG_PATH: join(prefix, "lib", "pkgconfig") };
    await s.run("./configure", [`--prefix=${prefix}`, ...flags], { cwd: src, env, phase: `configuring FFmpeg (${Object.values(COMPONENTS).flat().length} components)` });
    await s.run("make", ["-j", jobs, "install"], { cwd: src, env, phase: "compiling FFmpeg", progress: "files" });
    rmSync(src, { recursive: true, force: true });
    writeFileSync(stamp, want);
    s.summary = `FFmpeg ${FFMPEG.version} with dav1d ${DAV1D.version} built into ${prefix}`;
    return prefix;
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildFFmpeg()
    .then((p) => console.log(p))
    .catch((e) => {
      console.error(failureMessage(e));
      process.exit(1);
    });
}
