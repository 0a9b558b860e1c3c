/**
 * A small byte-level BPE vocabulary shaped like Qwen2.5's (GGUF `tokenizer.ggml.model = "gpt2"`,
 * `pre = "qwen2"`), for test models that llama.cpp loads and tokenizes like the real thing:
 *
 * - ids 0..255: the 256 byte tokens, spelled with GPT-2's byte-to-unicode table and ordered as
 *   GPT-2/Qwen order them (printable bytes first), so e.g. "Ġ" (space) is id 220 as in Qwen;
 * - then merged tokens learned deterministically from a built-in English word list (letters only,
 *   so digits stay single byte tokens, as the qwen2 pre-tokenizer splits numbers digit by digit);
 * - then Qwen's added tokens in Qwen's order (`<|endoftext|>` first), control type except the two
 *   tool-call tags, which Qwen marks non-special;
 * - optionally `[PAD<i>]` unused tokens up to a fixed size, as convert_hf_to_gguf pads Qwen's
 *   152064-row embedding.
 *
 * `<think>` / `</think>` are not tokens of Qwen2.5 (they arrived with Qwen3), so they stay text.
 */
import { kv } from "./types.js";
import type { GGUFMetadata } from "./types.js";

/** GGUF `tokenizer.ggml.token_type` values (llama_token_type). */
export const TOKEN_TYPE = {
  UNDEFINED: 0,
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;

/** Qwen2.5(-VL)'s added tokens, in id order, with the type the converter gives each. */
export const QWEN_ADDED_TOKENS: ReadonlyArray<{ text: string; type: number }> = [
  { text: "<|endoftext|>", type: TOKEN_TYPE.CONTROL },
  { text: "<|im_start|>", type: TOKEN_TYPE.CONTROL },
  { text: "<|im_end|>", type: TOKEN_TYPE.CONTROL },
  { text: "<|object_ref_start|>", type: TOKEN_TYPE.CONTROL },
  { text: "<|object_ref_end|>", type: TOKEN_TYPE.CONTROL },
  { text: "<|box_start|>", type: TOKEN_TYPE.CONTROL },
  { text: "<|box_end|>", type: TOKEN_TYPE.CONTROL },
  { text: "<|quad_start|>", type: TOKEN_TYPE.CONTROL },
  { text: "<|quad_end|>", type: TOKEN_TYPE.CONTROL },
  { text: "<|vision_start|>", type: TOKEN_TYPE.CONTROL },
  { text: "<|vision_end|>", type: TOKEN_TYPE.CONTROL },
  { text: "<|vision_pad|>", type: TOKEN_TYPE.CONTROL },
  { text: "<|image_pad|>", type: TOKEN_TYPE.CONTROL },
  { text: "<|video_pad|>", type: TOKEN_TYPE.CONTROL },
  // Qwen's tokenizer_config marks these two special=false, so the converter writes USER_DEFINED.
  { text: "<tool_call>", type: TOKEN_TYPE.USER_DEFINED },
  { text: "</tool_call>", type: TOKEN_TYPE.USER_DEFINED },
  { text: "<|fim_prefix|>", type: TOKEN_TYPE.CONTROL },
  { text: "<|fim_middle|>", type: TOKEN_TYPE.CONTROL },
  { text: "<|fim_suffix|>", type: TOKEN_TYPE.CONTROL },
  { text: "<|fim_pad|>", type: TOKEN_TYPE.CONTROL },
  { text: "<|repo_name|>", type: TOKEN_TYPE.CONTROL },
  { text: "<|file_sep|>", type: TOKEN_TYPE.CONTROL },
];

/** The 14 special tokens of the Qwen2.5-VL chat/vision protocol, in id order. */
export const QWEN_SPECIAL_TOKENS: readonly string[] = QWEN_ADDED_TOKENS.slice(0, 14).map((t) => t.text);

/**
 * Qwen2.5-VL's chat template, reformulated: same rendered output as the one shipped with
 * Qwen2.5-VL-7B-Instruct (default system prompt when the first message is not a system one,
 * `<|vision_start|><|image_pad|>/<|video_pad|><|vision_end|>` placeholders, optional
 * "Picture n: " / "Video n: " labels with `add_vision_id`).
 */
export const QWEN25VL_CHAT_TEMPLATE = [
  "{%- set image_count = namespace(value=0) -%}",
  "{%- set video_count = namespace(value=0) -%}",
  "{%- for message in messages -%}",
  "{%- if loop.first and message['role'] != 'system' -%}",
  "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' -}}",
  "{%- endif -%}",
  "{{- '<|im_start|>' + message['role'] + '\\n' -}}",
  "{%- if message['content'] is string -%}",
  "{{- message['content'] + '<|im_end|>\\n' -}}",
  "{%- else -%}",
  "{%- for content in message['content'] -%}",
  "{%- if content['type'] == 'image' or 'image' in content or 'image_url' in content -%}",
  "{%- set image_count.value = image_count.value + 1 -%}",
  "{%- if add_vision_id -%}{{- 'Picture ' + (image_count.value | string) + ': ' -}}{%- endif -%}",
  "{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}",
  "{%- elif content['type'] == 'video' or 'video' in content -%}",
  "{%- set video_count.value = video_count.value + 1 -%}",
  "{%- if add_vision_id -%}{{- 'Video ' + (video_count.value | string) + ': ' -}}{%- endif -%}",
  "{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}",
  "{%- elif 'text' in content -%}",
  "{{- content['text'] -}}",
  "{%- endif -%}",
  "{%- endfor -%}",
  "{{- '<|im_end|>\\n' -}}",
  "{%- endif -%}",
  "{%- endfor -%}",
  "{%- if add_generation_prompt -%}",
  "{{- '<|im_start|>assistant\\n' -}}",
  "{%- endif -%}",
].join("\n");

let byteTable: string[] | undefined;

/**
 * GPT-2's byte-to-unicode table: printable Latin-1 bytes map to themselves, the other 68 bytes
 * to U+0100 upward in byte order, so every byte has a visible, non-space character.
 * Index = byte value.
 */
export function bytesToUnicode(): readonly string[] {
  if (byteTable !== undefined) return byteTable;
  const table = new Array<string>(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = printable(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + n++);
  }
  byteTable = table;
  return table;
}

/** Byte order of ids 0..255: printable bytes ascending, then the remapped ones ascending. */
function byteTokenOrder(): number[] {
  const table = bytesToUnicode();
  const order: number[] = [];
  for (let b = 0; b < 256; b++) if (table[b]!.codePointAt(0) === b) order.push(b);
  for (let b = 0; b < 256; b++) if (table[b]!.codePointAt(0) !== b) order.push(b);
  return order;
}

/** UTF-8 text to its byte-level token spelling ("hello world" → "helloĠworld"). */
export function byteLevelEncode(text: string): string {
  const table = bytesToUnicode();
  let out = "";
  for (const b of Buffer.from(text, "utf8")) out += table[b];
  return out;
}

/** Inverse of {@link byteLevelEncode}: token spelling back to raw bytes. */
export function byteLevelDecode(spelling: string): Buffer {
  const table = bytesToUnicode();
  const inv = new Map<string, number>(table.map((c, b) => [c, b]));
  const bytes: number[] = [];
  for (const ch of spelling) {
    const b = inv.get(ch);
    if (b === undefined) throw new Error(`not a byte-level character: ${JSON.stringify(ch)}`);
    bytes.push(b);
  }
  return Buffer.from(bytes);
}

/**
 * Training words, most frequent first (frequency falls with rank). General English plus the
 * vocabulary of video-quality prompts and answers, so prompts tokenize compactly.
 */
const WORDS = `
the of and to a in is it you that he was for on are with as his they be at one have this from
or had by not word but what some we can out other were all there when up use your how said an
each she which do their time if will way about many then them write would like so these her long
make thing see him two has look more day could go come did number sound no most people my over
know water than call first who may down side been now find any new work part take get place made
live where after back little only round man year came show every good me give our under name very
through just form sentence great think say help low line differ turn cause much mean before move
right boy old too same tell does set three want air well also play small end put home read hand
large spell add even land here must big high such follow act why ask men change went light kind
off need house picture try us again animal point mother world near build self earth father head
stand own page should country found answer school grow study still learn plant cover food sun four
between state keep eye never last let thought city tree cross farm hard start might story saw far
sea draw left late run while press close night real life few north video videos quality visual
text alignment physical common sense consistency score scores frame frames motion smooth clarity
artifacts prompt generated model image object objects scene camera person dimension evaluate
evaluation analysis rating realistic background color lighting movement human face hands walking
dog cat car street sky blue red green white black shows appears looks however overall poor clear
blurry natural unnatural assistant user system helpful described description content consistent
moving appear detail details texture shape sharp stable temporal flicker distortion
`
  .trim()
  .split(/\s+/);

/** A built vocabulary with everything GGUF needs and the ids callers look up. */
export interface QwenVocab {
  /** Token spellings, index = id. */
  tokens: string[];
  /** GGUF token types, index = id. */
  types: number[];
  /** Merge rules "left right", best rank first. */
  merges: string[];
  /** Ids of the added tokens by text (all 22 of {@link QWEN_ADDED_TOKENS}). */
  special: Readonly<Record<string, number>>;
  /** Beginning-of-sequence id as Qwen's config gives it (`<|endoftext|>`; never auto-added). */
  bos: number;
  /** End of generation: `<|im_end|>`, what Qwen2.5-VL's generation config stops on. */
  eos: number;
  /** Padding: `<|endoftext|>`. */
  pad: number;
  /** Ids of the 256 byte tokens, index = byte value. */
  byteIds: number[];
}

/** Options of {@link buildQwenVocab}. */
export interface QwenVocabOptions {
  /** How many BPE merges to learn from the word list (default 400). */
  merges?: number;
  /** Pad with `[PAD<i>]` unused tokens up to this many tokens (e.g. 152064 for the 7B embedding). */
  padTo?: number;
}

/**
 * Learns merges from the word list: repeatedly merges the pair with the highest weighted count,
 * ties broken by the lexicographically smaller "left right", so the result is fixed.
 */
function learnMerges(nMerges: number): string[] {
  const words: Array<{ symbols: string[]; weight: number }> = [];
  WORDS.forEach((w, rank) => {
    const weight = Math.floor(100000 / (rank + 10));
    const cap = w[0]!.toUpperCase() + w.slice(1);
    // Mid-sentence words carry their leading space; sentence starts do not.
    words.push({ symbols: [...byteLevelEncode(" " + w)], weight });
    words.push({ symbols: [...byteLevelEncode(w)], weight: Math.floor(weight / 4) });
    words.push({ symbols: [...byteLevelEncode(" " + cap)], weight: Math.floor(weight / 8) });
    words.push({ symbols: [...byteLevelEncode(cap)], weight: Math.floor(weight / 8) });
  });
  const merges: string[] = [];
  while (merges.length < nMerges) {
    const counts = new Map<string, number>();
    for (const { symbols, weight } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = symbols[i] + " " + symbols[i + 1];
        counts.set(key, (counts.get(key) ?? 0) + weight);
      }
    }
    let best: string | undefined;
    let bestCount = 0;
    for (const [key, count] of counts) {
      if (count > bestCount || (count === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    if (best === undefined) break;
    merges.push(best);
    const sp = best.indexOf(" ");
    const left = best.slice(0, sp);
    const right = best.slice(sp + 1);
    for (const w of words) {
      const out: string[] = [];
      for (let i = 0; i < w.symbols.length; i++) {
        if (i + 1 < w.symbols.length && w.symbols[i] === left && w.symbols[i + 1] === right) {
          out.push(left + right);
          i++;
        } else {
          out.push(w.symbols[i]!);
        }
      }
      w.symbols = out;
    }
  }
  return merges;
}

/** Builds the vocabulary (deterministic: same options, same tokens and ids). */
export function buildQwenVocab(options: QwenVocabOptions = {}): QwenVocab {
  const table = bytesToUnicode();
  const tokens: string[] = [];
  const types: number[] = [];
  const byteIds = new Array<number>(256);
  for (const b of byteTokenOrder()) {
    byteIds[b] = tokens.length;
    tokens.push(table[b]!);
    // Byte-level BPE byte tokens are ordinary tokens; BYTE is SentencePiece's <0xNN> kind.
    types.push(TOKEN_TYPE.NORMAL);
  }
  const merges = learnMerges(options.merges ?? 400);
  const seen = new Set(tokens);
  for (const m of merges) {
    const t = m.replace(" ", "");
    if (seen.has(t)) continue; // two merge paths can spell the same token
    seen.add(t);
    tokens.push(t);
    types.push(TOKEN_TYPE.NORMAL);
  }
  const special: Record<string, number> = {};
  for (const { text, type } of QWEN_ADDED_TOKENS) {
    special[text] = tokens.length;
    tokens.push(text);
    types.push(type);
  }
  if (options.padTo !== undefined) {
    if (options.padTo < tokens.length) throw new Error(`padTo ${options.padTo} < vocabulary size ${tokens.length}`);
    for (let i = tokens.length; i < options.padTo; i++) {
      tokens.push(`[PAD${i}]`);
      types.push(TOKEN_TYPE.UNUSED);
    }
  }
  return {
    tokens,
    types,
    merges,
    special,
    bos: special["<|endoftext|>"]!,
    eos: special["<|im_end|>"]!,
    pad: special["<|endoftext|>"]!,
    byteIds,
  };
}

/**
 * The tokenizer metadata a converted Qwen2.5-VL GGUF carries, in the converter's order.
 * No eot id is written (llama.cpp finds `<|im_end|>` by its text and marks it end-of-generation,
 * together with `<|endoftext|>` and the fim tokens).
 */
export function vocabMetadata(vocab: QwenVocab, chatTemplate = QWEN25VL_CHAT_TEMPLATE): GGUFMetadata {
  return [
    ["tokenizer.ggml.model", kv.str("gpt2")],
    ["tokenizer.ggml.pre", kv.str("qwen2")],
    ["tokenizer.ggml.tokens", kv.arr("string", vocab.tokens)],
    ["tokenizer.ggml.token_type", kv.arr("i32", vocab.types)],
    ["tokenizer.ggml.merges", kv.arr("string", vocab.merges)],
    ["tokenizer.ggml.eos_token_id", kv.u32(vocab.eos)],
    ["tokenizer.ggml.padding_token_id", kv.u32(vocab.pad)],
    ["tokenizer.ggml.bos_token_id", kv.u32(vocab.bos)],
    ["tokenizer.ggml.add_bos_token", kv.bool(false)],
    ["tokenizer.chat_template", kv.str(chatTemplate)],
  ];
}

/** Qwen2's pre-tokenizer split (the regex of its tokenizer.json, with the case-insensitive group spelled out). */
const QWEN2_SPLIT =
  /(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

/** Applies the merges to one pre-token (lowest rank first, leftmost on ties). */
function bpeWord(word: string, ranks: Map<string, number>): string[] {
  let symbols = [...word];
  for (;;) {
    let bestRank = Infinity;
    let bestAt = -1;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const r = ranks.get(symbols[i] + " " + symbols[i + 1]);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        bestAt = i;
      }
    }
    if (bestAt < 0) return symbols;
    symbols = [...symbols.slice(0, bestAt), symbols[bestAt]! + symbols[bestAt + 1]!, ...symbols.slice(bestAt + 2)];
  }
}

const tokenizerCache = new WeakMap<QwenVocab, { ranks: Map<string, number>; ids: Map<string, number> }>();

/**
 * Reference tokenizer for this vocabulary, following llama.cpp's BPE path: split out added
 * tokens (control ones only when `parseSpecial`, user-defined ones always), pre-tokenize with
 * the qwen2 regex, byte-level encode, apply merges. Meant for tests that compare with
 * `llama_tokenize`; exact for ASCII text (llama.cpp's own regex engine decides for exotic Unicode).
 */
export function tokenize(vocab: QwenVocab, text: string, options: { parseSpecial?: boolean } = {}): number[] {
  let cache = tokenizerCache.get(vocab);
  if (cache === undefined) {
    const ranks = new Map(vocab.merges.map((m, i) => [m, i] as const));
    const ids = new Map<string, number>();
    vocab.tokens.forEach((t, i) => {
      if (!ids.has(t)) ids.set(t, i);
    });
    cache = { ranks, ids };
    tokenizerCache.set(vocab, cache);
  }
  const { ranks, ids } = cache;
  const specials = Object.entries(vocab.special)
    .filter(([, id]) => vocab.types[id] === TOKEN_TYPE.USER_DEFINED || (options.parseSpecial === true && vocab.types[id] === TOKEN_TYPE.CONTROL))
    .map(([t]) => t)
    .sort((a, b) => b.length - a.length);
  const out: number[] = [];
  const encodeText = (s: string) => {
    for (const m of s.matchAll(QWEN2_SPLIT)) {
      for (const sym of bpeWord(byteLevelEncode(m[0]), ranks)) {
        const id = ids.get(sym);
        if (id !== undefined) out.push(id);
        else for (const b of byteLevelDecode(sym)) out.push(vocab.byteIds[b]!);
      }
    }
  };
  let rest = text;
  while (rest.length > 0) {
    let at = -1;
    let hit = "";
    for (const s of specials) {
      const i = rest.indexOf(s);
      if (i >= 0 && (at < 0 || i < at || (i === at && s.length > hit.length))) {
        at = i;
        hit = s;
      }
    }
    if (at < 0) {
      encodeText(rest);
      break;
    }
    encodeText(rest.slice(0, at));
    out.push(vocab.special[hit]!);
    rest = rest.slice(at + hit.length);
  }
  return out;
}
