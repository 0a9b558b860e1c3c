/**
 * The GGUF tokenizer of a Hugging Face byte-level BPE checkpoint (Qwen2/Qwen2.5), read from
 * `tokenizer.json`, `tokenizer_config.json`, `config.json` (and `generation_config.json` as a last
 * resort for the end-of-sequence id). Reproduces what llama.cpp's converter writes
 * (`_set_vocab_gpt2` + `gguf.SpecialVocab`):
 *
 * - tokens 0..vocab_size-1 from the BPE vocabulary and the added tokens; ids with no token (Qwen's
 *   embedding has more rows than tokens) become `[PAD<id>]`, type UNUSED;
 * - added tokens are CONTROL when marked special or spelled `<|…|>`, else USER_DEFINED;
 * - merges as "left right" strings (the pair form of newer tokenizers is joined the same way, a
 *   space inside a part written as U+0120 + 256, as the converter does);
 * - special ids: `<typ>_token` of tokenizer_config.json looked up among the added tokens, then
 *   `<typ>_token_id` of config.json (or its text_config) for the types still unset;
 *   `add_<typ>_token` flags; the chat template (tokenizer_config.json, else chat_template.jinja,
 *   else chat_template.json); normalizer lowercase / strip-accents flags.
 */
import { readCheckpointText } from "./regular-file.js";
import { join } from "node:path";
import { VideoScoreError } from "../../addon/errors.js";
import { TOKEN_TYPE } from "../tokenizer.js";
import { kv } from "../types.js";
import type { GGUFMetadata } from "../types.js";

/** The tokenizer as it goes into the GGUF. */
export interface HfVocab {
  tokens: string[];
  types: number[];
  merges: string[];
  /** [GGUF key, id] in the converter's order. */
  specialIds: Array<[string, number]>;
  /** [GGUF key, flag] in the converter's order. */
  addFlags: Array<[string, boolean]>;
  chatTemplate: string | undefined;
  normalizerLowercase: boolean | undefined;
  normalizerStripAccents: boolean | undefined;
  /** Where the end-of-sequence id came from, for the report. */
  eosSource: "tokenizer_config.json" | "config.json" | "generation_config.json" | "none";
}

const SPECIAL_TYPES = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"] as const;
type SpecialType = (typeof SPECIAL_TYPES)[number];

/** GGUF keys of the special ids gguf-py's writer has (it has none for cls). */
const SPECIAL_ID_KEY: Partial<Record<SpecialType, string>> = {
  bos: "tokenizer.ggml.bos_token_id",
  eos: "tokenizer.ggml.eos_token_id",
  unk: "tokenizer.ggml.unknown_token_id",
  sep: "tokenizer.ggml.seperator_token_id",
  pad: "tokenizer.ggml.padding_token_id",
  mask: "tokenizer.ggml.mask_token_id",
};

const ADD_FLAG_KEY: Partial<Record<SpecialType, string>> = {
  bos: "tokenizer.ggml.add_bos_token",
  eos: "tokenizer.ggml.add_eos_token",
  sep: "tokenizer.ggml.add_sep_token",
};

/** Reads a JSON object; a missing optional file is undefined, anything unreadable is ERR_MODEL_LOAD. */
export async function readJson(path: string, required: true): Promise<Record<string, unknown>>;
export async function readJson(path: string, required: boolean): Promise<Record<string, unknown> | undefined>;
export async function readJson(path: string, required: boolean): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readCheckpointText(path);
  } catch (e) {
    if (!required && (e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    if (e instanceof VideoScoreError) throw e;
    throw new VideoScoreError("ERR_MODEL_LOAD", `${path}: cannot read (${(e as Error).message})`, { path, cause: e });
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not a JSON object");
    return v as Record<string, unknown>;
  } catch (e) {
    throw new VideoScoreError("ERR_MODEL_LOAD", `${path}: invalid JSON (${(e as Error).message})`, { path, cause: e });
  }
}

/** What convert_hf_to_gguf's does_token_look_special says for Qwen-style added tokens. */
function looksSpecial(t: string): boolean {
  return (
    ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].includes(t) ||
    (t.startsWith("<|") && t.endsWith("|>")) ||
    (t.startsWith("<｜") && t.endsWith("｜>")) ||
    (t.startsWith("<unused") && t.endsWith(">"))
  );
}

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

/**
 * Reads the tokenizer of `dir`. `vocabSize` is the embedding's row count (config `vocab_size`);
 * undefined means "as many as the tokenizer has".
 */
export async function readHfVocab(dir: string, config: Record<string, unknown>, vocabSize: number | undefined): Promise<HfVocab> {
  const tokPath = join(dir, "tokenizer.json");
  const tok = await readJson(tokPath, true);
  const model = tok!.model as { type?: unknown; vocab?: unknown; merges?: unknown } | undefined;
  if (model === undefined || model.type !== "BPE" || typeof model.vocab !== "object" || model.vocab === null) {
    throw new VideoScoreError(
      "ERR_MODEL_MISMATCH",
      `${tokPath}: expected a byte-level BPE tokenizer (Qwen2), found model type ${JSON.stringify(model?.type ?? null)}`,
      { path: tokPath },
    );
  }
  const tcPath = join(dir, "tokenizer_config.json");
  const tc = await readJson(tcPath, false);

  // Added tokens: tokenizer.json's list, overlaid by tokenizer_config.json's added_tokens_decoder.
  const added = new Map<number, AddedToken>();
  for (const a of (tok!.added_tokens as unknown[] | undefined) ?? []) {
    const e = a as { id?: unknown; content?: unknown; special?: unknown };
    if (Number.isInteger(e.id) && typeof e.content === "string") added.set(e.id as number, { id: e.id as number, content: e.content, special: e.special === true });
  }
  const decoder = tc?.added_tokens_decoder;
  if (typeof decoder === "object" && decoder !== null) {
    for (const [k, v] of Object.entries(decoder as Record<string, unknown>)) {
      const id = Number(k);
      const e = v as { content?: unknown; special?: unknown };
      if (Number.isInteger(id) && typeof e?.content === "string") added.set(id, { id, content: e.content, special: e.special === true });
    }
  }

  const byId = new Map<number, string>();
  let maxId = -1;
  for (const [t, id] of Object.entries(model.vocab as Record<string, unknown>)) {
    if (!Number.isInteger(id) || (id as number) < 0) throw new VideoScoreError("ERR_MODEL_LOAD", `${tokPath}: bad id for token ${JSON.stringify(t)}`, { path: tokPath });
    byId.set(id as number, t);
    maxId = Math.max(maxId, id as number);
  }
  for (const a of added.values()) {
    byId.set(a.id, a.content);
    maxId = Math.max(maxId, a.id);
  }
  const n = vocabSize ?? maxId + 1;
  if (maxId >= n) {
    throw new VideoScoreError("ERR_MODEL_MISMATCH", `${tokPath}: token id ${maxId} does not fit the model's vocab_size ${n}`, { path: tokPath });
  }
  const tokens: string[] = new Array(n);
  const types: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const t = byId.get(i);
    const a = added.get(i);
    if (t === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TOKEN_TYPE.UNUSED;
    } else if (a !== undefined) {
      if (a.special || looksSpecial(a.content)) {
        tokens[i] = a.content;
        types[i] = TOKEN_TYPE.CONTROL;
      } else {
        tokens[i] = a.content.replaceAll("\u2581", " ");
        types[i] = TOKEN_TYPE.USER_DEFINED;
      }
    } else {
      tokens[i] = t;
      types[i] = TOKEN_TYPE.NORMAL;
    }
  }

  let merges: string[] = [];
  if (Array.isArray(model.merges) && model.merges.length > 0) {
    const first = model.merges[0] as unknown;
    if (typeof first === "string") merges = model.merges as string[];
    else if (Array.isArray(first) && first.length === 2 && typeof first[0] === "string") {
      const enc = (s: string) => s.replaceAll(" ", "\u0120");
      merges = (model.merges as [string, string][]).map(([a, b]) => `${enc(a)} ${enc(b)}`);
    } else {
      throw new VideoScoreError("ERR_MODEL_LOAD", `${tokPath}: unknown merges format`, { path: tokPath });
    }
  }
  if (merges.length === 0) throw new VideoScoreError("ERR_MODEL_LOAD", `${tokPath}: the BPE tokenizer has no merges`, { path: tokPath });

  // Normalizer flags (Qwen's NFC sets neither).
  let normalizerLowercase: boolean | undefined;
  let normalizerStripAccents: boolean | undefined;
  const parseNormalizer = (nm: unknown): void => {
    const o = nm as { type?: unknown; lowercase?: unknown; strip_accents?: unknown; normalizers?: unknown } | null;
    if (typeof o !== "object" || o === null) return;
    if (o.type === "Lowercase") normalizerLowercase = true;
    else if (o.type === "StripAccents") normalizerStripAccents = true;
    else if (o.type === "BertNormalizer") {
      if (typeof o.lowercase === "boolean") normalizerLowercase = o.lowercase;
      if (typeof o.strip_accents === "boolean") normalizerStripAccents = o.strip_accents;
    } else if (o.type === "Sequence" && Array.isArray(o.normalizers)) o.normalizers.forEach(parseNormalizer);
  };
  parseNormalizer(tok!.normalizer);

  // Special ids, in SpecialVocab's order: tokenizer_config.json first, then config.json.
  const special = new Map<SpecialType, number>();
  const addFlags: Array<[string, boolean]> = [];
  let eosSource: HfVocab["eosSource"] = "none";
  const setSpecial = (typ: SpecialType, id: unknown): boolean => {
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= n || special.has(typ)) return false;
    special.set(typ, id as number);
    return true;
  };
  if (tc !== undefined) {
    const addedList = (tok!.added_tokens as Array<{ id?: unknown; content?: unknown }> | undefined) ?? [];
    for (const typ of SPECIAL_TYPES) {
      const flag = tc[`add_${typ}_token`];
      if (typeof flag === "boolean" && ADD_FLAG_KEY[typ] !== undefined) addFlags.push([ADD_FLAG_KEY[typ], flag]);
      const entry = tc[`${typ}_token`];
      const content = typeof entry === "string" ? entry : typeof entry === "object" && entry !== null ? (entry as { content?: unknown }).content : undefined;
      if (typeof content !== "string") continue;
      // Looked up among tokenizer.json's added tokens only, as the converter does.
      const hit = addedList.find((a) => a.content === content);
      if (setSpecial(typ, hit?.id) && typ === "eos") eosSource = "tokenizer_config.json";
    }
  }
  const textConfig = (config.text_config as Record<string, unknown> | undefined) ?? {};
  for (const typ of SPECIAL_TYPES) {
    const id = config[`${typ}_token_id`] ?? textConfig[`${typ}_token_id`];
    if (setSpecial(typ, id) && typ === "eos") eosSource = "config.json";
  }
  if (!special.has("eos")) {
    // Not something the Python converter reads; only used when nothing else names an eos.
    const gen = await readJson(join(dir, "generation_config.json"), false);
    const e = gen?.eos_token_id;
    if (setSpecial("eos", Array.isArray(e) ? e[0] : e)) eosSource = "generation_config.json";
  }
  const specialIds: Array<[string, number]> = [];
  for (const [typ, id] of special) {
    const key = SPECIAL_ID_KEY[typ];
    if (key !== undefined) specialIds.push([key, id]);
  }

  // Chat template.
  let chatTemplate: string | undefined;
  if (tc !== undefined) {
    let alt: string | undefined;
    try {
      alt = await readCheckpointText(join(dir, "chat_template.jinja"));
    } catch (e) {
      if (e instanceof VideoScoreError) throw e;
      const ctj = await readJson(join(dir, "chat_template.json"), false);
      if (typeof ctj?.chat_template === "string") alt = ctj.chat_template;
    }
    const t = "chat_template" in tc ? tc.chat_template : alt;
    if (typeof t === "string") chatTemplate = t;
    else if (Array.isArray(t)) {
      // Named templates: the default one is what llama.cpp applies.
      const d = (t as Array<{ name?: unknown; template?: unknown }>).find((x) => x?.name === "default");
      if (typeof d?.template === "string") chatTemplate = d.template;
    }
  }

  return { tokens, types, merges, specialIds, addFlags, chatTemplate, normalizerLowercase, normalizerStripAccents, eosSource };
}

/** The tokenizer keys, in the converter's order. */
export function hfVocabMetadata(v: HfVocab): GGUFMetadata {
  const md: Array<[string, ReturnType<typeof kv.str>]> = [
    ["tokenizer.ggml.model", kv.str("gpt2")],
    ["tokenizer.ggml.pre", kv.str("qwen2")],
    ["tokenizer.ggml.tokens", kv.arr("string", v.tokens)],
    ["tokenizer.ggml.token_type", kv.arr("i32", v.types)],
    ["tokenizer.ggml.merges", kv.arr("string", v.merges)],
  ];
  for (const [k, id] of v.specialIds) md.push([k, kv.u32(id)]);
  for (const [k, f] of v.addFlags) md.push([k, kv.bool(f)]);
  if (v.chatTemplate !== undefined) md.push(["tokenizer.chat_template", kv.str(v.chatTemplate)]);
  if (v.normalizerLowercase !== undefined) md.push(["tokenizer.ggml.normalizer.lowercase", kv.bool(v.normalizerLowercase)]);
  if (v.normalizerStripAccents !== undefined) md.push(["tokenizer.ggml.normalizer.strip_accents", kv.bool(v.normalizerStripAccents)]);
  return md;
}
