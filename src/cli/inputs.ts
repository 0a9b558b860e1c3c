/**
 * Turning command-line inputs into video files (files, folders, globs) and reading per-video
 * prompt files (JSON or CSV).
 */
import { readdirSync, statSync } from "node:fs";
import { basename, dirname, extname, isAbsolute, join, resolve, sep } from "node:path";
import { parseRecords, VIDEO_EXTENSIONS } from "../eval/bench-file.js";
import { readRegularText } from "../eval/input-file.js";
import { UsageError } from "./args.js";

const GLOB_CHARS = /[*?[]/;

/** Whether a path has a known video extension. */
export function isVideoFile(path: string): boolean {
  return VIDEO_EXTENSIONS.has(extname(path).toLowerCase());
}

const collator = new Intl.Collator("en", { numeric: true });
const byName = (a: string, b: string) => collator.compare(a, b);

/** One glob segment as a regular expression: `*`, `?`, `[abc]`, `[!abc]`. */
export function segmentRegExp(seg: string): RegExp {
  let re = "";
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i] as string;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = seg.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        let body = seg.slice(i + 1, end);
        if (body.startsWith("!")) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

function listDir(dir: string): { name: string; dir: boolean; file: boolean }[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).map((d) => {
      let isDir = d.isDirectory();
      let isFile = d.isFile();
      if (d.isSymbolicLink()) {
        try {
          const s = statSync(join(dir, d.name));
          isDir = s.isDirectory();
          isFile = s.isFile();
        } catch {
          /* dangling link */
        }
      }
      return { name: d.name, dir: isDir, file: isFile };
    });
  } catch {
    return [];
  }
}

/**
 * Expands a glob with `*`, `?`, `[…]` within one path segment and `**` for any number of folders.
 * Names starting with "." match only a segment that starts with "." too. Returns files, sorted.
 */
export function expandGlob(pattern: string): string[] {
  const norm = pattern.split(sep).join("/");
  const absolute = norm.startsWith("/");
  const segs = norm.split("/").filter((s, i) => s !== "" || i === 0);
  if (absolute) segs.shift();
  const firstGlob = segs.findIndex((s) => GLOB_CHARS.test(s));
  if (firstGlob < 0) return [pattern];
  const baseSegs = segs.slice(0, firstGlob);
  const base = absolute ? `/${baseSegs.join("/")}` : baseSegs.length ? baseSegs.join("/") : ".";
  const rest = segs.slice(firstGlob);
  const out = new Set<string>();
  const prefix = (dir: string, name: string) => (dir === "." && !absolute && baseSegs.length === 0 ? name : `${dir}/${name}`);
  const walk = (dir: string, i: number): void => {
    if (i === rest.length) return;
    const seg = rest[i] as string;
    const last = i === rest.length - 1;
    if (seg === "**") {
      walk(dir, i + 1); // zero folders
      for (const e of listDir(dir)) if (e.dir && !e.name.startsWith(".")) walk(prefix(dir, e.name), i);
      return;
    }
    const re = segmentRegExp(seg);
    for (const e of listDir(dir)) {
      if (e.name.startsWith(".") && !seg.startsWith(".")) continue;
      if (!re.test(e.name)) continue;
      const p = prefix(dir, e.name);
      if (last) {
        if (e.file) out.add(p);
      } else if (e.dir) walk(p, i + 1);
    }
  };
  walk(base, 0);
  return [...out].sort(byName);
}

/** The video files of a folder (sorted by name, numbers in names compared as numbers). */
export function videosInDir(dir: string, recursive: boolean): string[] {
  const out: string[] = [];
  const entries = listDir(dir).sort((a, b) => byName(a.name, b.name));
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    const p = join(dir, e.name);
    if (e.file && isVideoFile(e.name)) out.push(p);
    else if (e.dir && recursive) out.push(...videosInDir(p, true));
  }
  return out;
}

/**
 * The videos named by the inputs: a file as given (even with an unknown extension or missing —
 * scoring then reports it), a folder's video files, a glob's matching files. Duplicates (same
 * resolved path) are dropped. `warnings` gets inputs that matched nothing.
 */
export function expandInputs(inputs: readonly string[], options: { recursive?: boolean; warnings?: string[] } = {}): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  const add = (p: string) => {
    const key = resolve(p);
    if (!seen.has(key)) {
      seen.add(key);
      out.push(p);
    }
  };
  for (const input of inputs) {
    let st: ReturnType<typeof statSync> | undefined;
    try {
      st = statSync(input);
    } catch {
      st = undefined;
    }
    if (st?.isDirectory()) {
      const found = videosInDir(input, options.recursive ?? false);
      if (found.length === 0) options.warnings?.push(`${input}: no video files in this folder${options.recursive ? "" : " (--recursive looks in subfolders)"}`);
      found.forEach(add);
    } else if (!st && GLOB_CHARS.test(input)) {
      const last = basename(input);
      let found = expandGlob(input);
      // "clips/*" means the videos in clips/; "clips/*.json" means what it says.
      if (!last.includes(".")) found = found.filter(isVideoFile);
      if (found.length === 0) options.warnings?.push(`${input}: no file matches`);
      found.forEach(add);
    } else add(input);
  }
  return out;
}

/** Per-video prompts read from a JSON or CSV file. */
export class PromptTable {
  /** Entries in file order: the key as written and its prompt. */
  readonly entries: { key: string; prompt: string }[] = [];
  private readonly byPath = new Map<string, string>();
  private readonly byName = new Map<string, string>();
  private readonly byStem = new Map<string, string>();

  constructor(
    readonly file: string,
    entries: { key: string; prompt: string }[],
  ) {
    const base = dirname(resolve(file));
    for (const e of entries) {
      this.entries.push(e);
      this.byPath.set(resolve(base, e.key), e.prompt);
      if (!isAbsolute(e.key)) this.byPath.set(resolve(e.key), e.prompt);
      const name = basename(e.key);
      this.byName.set(name, e.prompt);
      this.byStem.set(name.slice(0, name.length - extname(name).length) || name, e.prompt);
    }
  }

  /** The prompt of a video: by path (relative to the prompts file or the working folder), file name, or name without extension. */
  lookup(video: string): string | undefined {
    const name = basename(video);
    return (
      this.byPath.get(resolve(video)) ??
      this.byName.get(name) ??
      this.byStem.get(name.slice(0, name.length - extname(name).length)) ??
      this.byStem.get(name)
    );
  }

  /** The videos the file lists, as paths relative to its folder. */
  videos(): string[] {
    const base = dirname(this.file);
    return this.entries.map((e) => (isAbsolute(e.key) ? e.key : join(base, e.key)));
  }
}

const VIDEO_KEYS = ["video", "video_path", "path", "file", "video_name", "name"];
const PROMPT_KEYS = ["prompt", "t2v_prompt", "text", "caption"];

/** Reads a prompts file: JSON object (video → prompt), JSON/JSONL array of {video, prompt}, or CSV. */
export function readPromptsFile(file: string): PromptTable {
  let text: string;
  try {
    text = readRegularText(file, "the prompts file");
  } catch (e) {
    throw new UsageError(`--prompts ${(e as Error).message}`);
  }
  const entries: { key: string; prompt: string }[] = [];
  let parsed: unknown = undefined;
  if (extname(file).toLowerCase() === ".json") {
    try {
      parsed = JSON.parse(text.replace(/^\uFEFF/, ""));
    } catch (e) {
      throw new UsageError(`--prompts ${file}: not valid JSON (${(e as Error).message})`);
    }
  }
  if (parsed && typeof parsed === "object" && !Array.isArray(parsed) && !("data" in parsed) && !("items" in parsed)) {
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof v !== "string") throw new UsageError(`--prompts ${file}: the prompt of "${k}" is not a string`);
      entries.push({ key: k, prompt: v });
    }
    return new PromptTable(file, entries);
  }
  let records: Record<string, unknown>[];
  try {
    records = parseRecords(text, file);
  } catch (e) {
    throw new UsageError(`--prompts ${(e as Error).message}`);
  }
  records.forEach((r, i) => {
    const key = VIDEO_KEYS.map((k) => r[k]).find((v) => typeof v === "string" && v !== "");
    const prompt = PROMPT_KEYS.map((k) => r[k]).find((v) => typeof v === "string");
    if (typeof key !== "string") throw new UsageError(`--prompts ${file}: entry ${i + 1} has no video (${VIDEO_KEYS.join(" / ")})`);
    if (typeof prompt !== "string") throw new UsageError(`--prompts ${file}: entry ${i + 1} (${key}) has no prompt (${PROMPT_KEYS.join(" / ")})`);
    entries.push({ key, prompt });
  });
  return new PromptTable(file, entries);
}
