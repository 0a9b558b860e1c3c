/**
 * A self-contained HTML report of a scoring run: one card per clip with the sampled frames as
 * thumbnails (PNG data URIs), the three scores as bars with their p(1..5), the rationale and the
 * timings; failed clips show their error. Inline CSS and JS only (no network, no external files);
 * the cards can be sorted by any score, the average, the name or the time.
 */
import { answerMissing, noAnswerReason, type ScoreTimings } from "../scorer/result.js";
import { basename } from "node:path";
import { downscale, encodePNG, type RGBImage } from "../video/png.js";

/** One dimension's scores, as {@link ScoreResult} carries them. */
export interface ReportDimension {
  score: number | null;
  soft: number | null;
  expected: number | null;
  probs: number[] | null;
}

/** The parts of a ScoreResult the report shows. */
export interface ReportResult {
  visualQuality: ReportDimension;
  textAlignment: ReportDimension;
  physicalConsistency: ReportDimension;
  rationale: string;
  /** All the generated text (shown when there is no answer). */
  text?: string;
  stopReason?: string;
  mode?: string;
  frames?: { count: number; width: number; height: number; indices: number[]; totalFrames?: number; nativeFps?: number };
  timings?: ScoreTimings;
}

/** One clip of the report. */
export interface ReportClip {
  /** Path or name of the video. */
  video: string;
  prompt?: string;
  /** The result, when scoring succeeded. */
  result?: ReportResult;
  /** The error, when it failed. */
  error?: { code: string; message: string };
  /** The frames the model saw (RGB at the model's size); thumbnails are made from them. */
  frames?: (RGBImage & { index?: number; timeSeconds?: number })[];
}

/** Options of {@link renderReport}. */
export interface ReportOptions {
  title?: string;
  /** Lines shown under the title (model, template, …): label → value. */
  meta?: Record<string, string>;
  /** Largest thumbnail width and height in pixels (default 160). */
  thumbnailSize?: number;
  /** Most thumbnails per clip, chosen evenly (default 12). */
  maxThumbnails?: number;
  /** A warning banner (e.g. "random weights: the scores are meaningless"). */
  warning?: string;
  /** Time shown as the report's date (default now). */
  generatedAt?: Date;
}

const DIMS = [
  ["visualQuality", "Visual quality", "vq"],
  ["textAlignment", "Text alignment", "ta"],
  ["physicalConsistency", "Physical consistency", "pc"],
] as const;

/** Escapes text for HTML content and attribute values. */
export function escapeHTML(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

/** The value a clip is sorted and drawn by: the soft score, else the hard score. */
export function sortValue(d: ReportDimension | undefined): number | null {
  if (!d) return null;
  if (isNum(d.soft)) return d.soft;
  return isNum(d.score) ? d.score : null;
}

/**
 * A value of a result as HTML text. Results can come from a queue that anyone with access to Redis
 * writes, so even a "number" is escaped: a field that holds markup stays text.
 */
function text(v: unknown): string {
  return escapeHTML(String(v));
}

function isNum(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

function fmt(v: number | null | undefined, digits = 2): string {
  return isNum(v) ? v.toFixed(digits) : "—";
}

function ms(v: number): string {
  if (!isNum(v)) return "—";
  return v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`;
}

/**
 * Time spent on one clip: sampling, encoding, prefill and generation. (`timings.totalMs` also counts
 * the wait for the model while earlier clips generate.)
 */
export function workMs(t: Pick<ScoreTimings, "sampleMs" | "encodeMs" | "prefillMs" | "generateMs">): number {
  return t.sampleMs + t.encodeMs + t.prefillMs + t.generateMs;
}

/** Evenly spread picks of k out of n (all when n ≤ k). */
function spread(n: number, k: number): number[] {
  if (n <= k) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: k }, (_, i) => Math.round((i * (n - 1)) / (k - 1)));
}

function thumbnails(clip: ReportClip, size: number, max: number): string {
  const frames = clip.frames ?? [];
  if (frames.length === 0) return "";
  const imgs = spread(frames.length, max).map((i) => {
    const f = frames[i] as RGBImage & { index?: number; timeSeconds?: number };
    const t = downscale(f, size, size);
    const uri = `data:image/png;base64,${encodePNG(t).toString("base64")}`;
    const label = f.index !== undefined ? `frame ${f.index}${f.timeSeconds !== undefined ? ` @ ${fmt(f.timeSeconds)} s` : ""}` : `frame ${i}`;
    return `<figure><img src="${uri}" width="${t.width}" height="${t.height}" alt="${escapeHTML(label)}" title="${escapeHTML(label)}"><figcaption>${escapeHTML(f.index !== undefined ? String(f.index) : String(i))}</figcaption></figure>`;
  });
  const more = frames.length > max ? `<span class="more">${text(frames.length)} frames, ${text(max)} shown</span>` : "";
  return `<div class="frames">${imgs.join("")}${more}</div>`;
}

function dimension(label: string, key: string, d: ReportDimension): string {
  const v = sortValue(d);
  const width = v === null ? 0 : Math.max(0, Math.min(100, (v / 5) * 100));
  const probs = Array.isArray(d.probs) ? d.probs.map((p) => (isNum(p) ? p : 0)) : null;
  const total = probs ? probs.reduce((a, b) => a + b, 0) : 0;
  const hist = probs
    ? `<div class="probs" aria-label="p(1..5)">${probs
        .map((p, i) => {
          const q = total > 0 ? p / total : 0;
          return `<div class="p" title="p(${i + 1}) = ${fmt(p, 4)}"><div class="pbar" style="height:${(q * 100).toFixed(1)}%"></div><span>${i + 1}</span></div>`;
        })
        .join("")}</div>`
    : `<div class="probs none">no p(1..5)</div>`;
  return `<div class="dim ${key}">
  <div class="dimhead"><span class="label">${escapeHTML(label)}</span><span class="hard" title="hard score">${text(d.score ?? "—")}</span></div>
  <div class="bar" title="soft ${fmt(d.soft, 4)}"><div class="fill" style="width:${width.toFixed(1)}%"></div></div>
  <div class="nums">soft <b>${fmt(d.soft, 3)}</b> · expected ${fmt(d.expected, 3)}</div>
  ${hist}
</div>`;
}

function card(clip: ReportClip, index: number, options: Required<Pick<ReportOptions, "thumbnailSize" | "maxThumbnails">>): string {
  const r = clip.result;
  const vals = DIMS.map(([k]) => (r ? sortValue(r[k]) : null));
  const avg = vals.every((v) => v !== null) ? (vals as number[]).reduce((a, b) => a + b, 0) / 3 : null;
  const data = [
    `data-index="${index}"`,
    `data-name="${escapeHTML(basename(clip.video))}"`,
    ...DIMS.map(([, , short], i) => `data-${short}="${text(vals[i] ?? "")}"`),
    `data-avg="${text(avg ?? "")}"`,
    `data-time="${r?.timings && isNum(workMs(r.timings)) ? workMs(r.timings) : ""}"`,
  ].join(" ");
  const head = `<header><span class="rank">#${index + 1}</span><h2 title="${escapeHTML(clip.video)}">${escapeHTML(basename(clip.video))}</h2>${
    avg !== null ? `<span class="avg" title="mean of the three soft scores">avg ${fmt(avg)}</span>` : ""
  }</header>${clip.prompt !== undefined ? `<p class="prompt">${escapeHTML(clip.prompt)}</p>` : ""}`;
  if (!r) {
    const e = clip.error ?? { code: "ERR_INTERNAL", message: "no result" };
    return `<article class="clip failed" ${data}>${head}<p class="error"><b>${escapeHTML(e.code)}</b> ${escapeHTML(e.message)}</p></article>`;
  }
  const t = r.timings;
  const f = r.frames;
  const timing = t
    ? `<p class="timings">sample ${ms(t.sampleMs)} · encode ${ms(t.encodeMs)} · prefill ${ms(t.prefillMs)} (${text(t.promptTokens)} tokens) · generate ${ms(t.generateMs)} (${text(t.generatedTokens)} tokens, ${fmt(t.tokensPerSecond, 1)} tok/s) · <b>time ${ms(workMs(t))}</b>${
        r.stopReason ? ` · stop: ${escapeHTML(r.stopReason)}` : ""
      }${r.mode ? ` · mode: ${escapeHTML(r.mode)}` : ""}</p>`
    : "";
  const frameInfo = f
    ? `<p class="frameinfo">${text(f.count)} frames at ${text(f.width)}×${text(f.height)}${f.totalFrames ? ` from ${text(f.totalFrames)}` : ""}${f.nativeFps ? ` @ ${fmt(f.nativeFps)} fps` : ""}</p>`
    : "";
  const rationale = String(r.rationale ?? "").trim();
  // Without an answer there is nothing to score: say why, and show what the model did write.
  const missing = answerMissing(r)
    ? `<p class="error"><b>No answer</b> ${escapeHTML(noAnswerReason(r))}</p><details class="rationale" open><summary>Generated text (${text(String(r.text ?? r.rationale).length)} characters${r.stopReason ? `, stop: ${escapeHTML(r.stopReason)}` : ""})</summary><pre>${escapeHTML(r.text ?? r.rationale) || "(empty)"}</pre></details>`
    : "";
  return `<article class="clip${missing ? " failed" : ""}" ${data}>${head}${missing}
${thumbnails(clip, options.thumbnailSize, options.maxThumbnails)}${frameInfo}
<div class="dims">${DIMS.map(([k, label, short]) => dimension(label, short, r[k])).join("")}</div>
${missing ? "" : `<details class="rationale"${rationale.length <= 1200 ? " open" : ""}><summary>Rationale (${text(rationale.length)} characters)</summary><pre>${escapeHTML(rationale || "(empty)")}</pre></details>`}
${timing}</article>`;
}

const CSS = `
:root{--fg:#1d2430;--muted:#5f6b7a;--line:#d9dee5;--bg:#f5f7fa;--card:#fff;--vq:#3b7dd8;--ta:#2e9d6a;--pc:#c9772b;--bad:#c0392b}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:20px}h1{font-size:22px;margin:0 0 4px}
.meta{color:var(--muted);margin:0 0 12px}.meta span{margin-right:14px}.warning{background:#fff4d6;border:1px solid #e8c66a;padding:8px 12px;border-radius:6px;margin:0 0 12px}
.toolbar{position:sticky;top:0;background:var(--bg);padding:8px 0;z-index:2;display:flex;flex-wrap:wrap;gap:6px;align-items:center;border-bottom:1px solid var(--line);margin-bottom:12px}
.toolbar button{font:inherit;border:1px solid var(--line);background:#fff;border-radius:5px;padding:4px 10px;cursor:pointer}
.toolbar button[aria-pressed=true]{background:var(--fg);color:#fff;border-color:var(--fg)}
.clip{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;margin:0 0 12px}
.clip header{display:flex;align-items:baseline;gap:10px}.clip h2{font-size:16px;margin:0;word-break:break-all}
.rank{color:var(--muted);font-variant-numeric:tabular-nums}.avg{margin-left:auto;font-weight:600;font-variant-numeric:tabular-nums}
.prompt{margin:4px 0 8px;color:var(--muted);font-style:italic}
.frames{display:flex;flex-wrap:wrap;gap:4px;align-items:flex-end;margin:6px 0}.frames figure{margin:0;text-align:center}
.frames img{display:block;border-radius:3px;image-rendering:auto}.frames figcaption{font-size:10px;color:var(--muted)}.more{font-size:11px;color:var(--muted)}
.frameinfo,.timings{color:var(--muted);font-size:12px;margin:4px 0}
.dims{display:grid;grid-template-columns:repeat(3,1fr);gap:12px;margin:8px 0}
.dim{border:1px solid var(--line);border-radius:6px;padding:8px}.dimhead{display:flex;justify-content:space-between}.label{font-weight:600}
.hard{font-size:20px;font-weight:700;line-height:1}.bar{height:10px;background:#eef1f5;border-radius:5px;overflow:hidden;margin:6px 0 4px}
.fill{height:100%}.vq .fill,.vq .pbar{background:var(--vq)}.ta .fill,.ta .pbar{background:var(--ta)}.pc .fill,.pc .pbar{background:var(--pc)}
.nums{font-size:12px;color:var(--muted);font-variant-numeric:tabular-nums}
.probs{display:flex;gap:4px;height:54px;align-items:flex-end;margin-top:6px}.probs.none{height:auto;color:var(--muted);font-size:12px}
.p{flex:1;height:100%;display:flex;flex-direction:column;justify-content:flex-end;align-items:center}.pbar{width:100%;min-height:1px;border-radius:2px 2px 0 0}
.p span{font-size:10px;color:var(--muted)}
.rationale pre{white-space:pre-wrap;word-break:break-word;font:12px/1.45 ui-monospace,SFMono-Regular,Menlo,monospace;background:#f8f9fb;border:1px solid var(--line);border-radius:5px;padding:8px;max-height:320px;overflow:auto;margin:6px 0 0}
.failed{border-color:#e6b0aa}.error{color:var(--bad);margin:6px 0 0}
@media (max-width:760px){.dims{grid-template-columns:1fr}}
`;

const JS = `
(function(){
  var list=document.getElementById('clips');var key='index';var dir=1;
  var buttons=[].slice.call(document.querySelectorAll('.toolbar button[data-key]'));
  function val(el,k){var v=el.getAttribute('data-'+k);return v===null||v===''?null:v;}
  function apply(){
    var cards=[].slice.call(list.children);
    cards.sort(function(a,b){
      var va=val(a,key),vb=val(b,key),ia=+a.getAttribute('data-index'),ib=+b.getAttribute('data-index');
      if(va===null&&vb===null)return ia-ib;if(va===null)return 1;if(vb===null)return -1;
      var c=key==='name'?va.localeCompare(vb):(+va)-(+vb);return c!==0?dir*c:ia-ib;});
    cards.forEach(function(c,i){list.appendChild(c);var r=c.querySelector('.rank');if(r)r.textContent='#'+(i+1);});
    buttons.forEach(function(b){var on=b.getAttribute('data-key')===key;b.setAttribute('aria-pressed',on?'true':'false');
      var base=b.getAttribute('data-label');b.textContent=on&&key!=='index'?base+(dir>0?' \\u2191':' \\u2193'):base;});
    document.body.setAttribute('data-sort',key+':'+(dir>0?'asc':'desc'));
  }
  buttons.forEach(function(b){b.addEventListener('click',function(){var k=b.getAttribute('data-key');
    if(k===key&&k!=='index')dir=-dir;else{key=k;dir=(k==='index'||k==='name'||k==='time')?1:-1;}apply();});});
  window.sortClips=function(k,d){key=k;dir=d==='asc'?1:-1;apply();};
  apply();
})();
`;

/** Renders the report as one HTML string. */
export function renderReport(clips: readonly ReportClip[], options: ReportOptions = {}): string {
  const size = options.thumbnailSize ?? 160;
  const max = options.maxThumbnails ?? 12;
  const title = options.title ?? "VideoScore2 report";
  const ok = clips.filter((c) => c.result).length;
  const meta = {
    clips: `${clips.length} (${ok} scored${clips.length - ok > 0 ? `, ${clips.length - ok} failed` : ""})`,
    ...(options.meta ?? {}),
    generated: (options.generatedAt ?? new Date()).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC"),
  };
  const sortKeys = [
    ["index", "Input order"],
    ["vq", "Visual quality"],
    ["ta", "Text alignment"],
    ["pc", "Physical consistency"],
    ["avg", "Average"],
    ["name", "Name"],
    ["time", "Time"],
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHTML(title)}</title><style>${CSS}</style></head>
<body><main>
<h1>${escapeHTML(title)}</h1>
<p class="meta">${Object.entries(meta)
    .map(([k, v]) => `<span><b>${escapeHTML(k)}:</b> ${escapeHTML(v)}</span>`)
    .join("")}</p>
${options.warning ? `<p class="warning">${escapeHTML(options.warning)}</p>` : ""}
<nav class="toolbar" aria-label="sort"><span>Sort by:</span>${sortKeys
    .map(([k, l]) => `<button type="button" data-key="${text(k)}" data-label="${text(l)}" aria-pressed="${k === "index"}">${text(l)}</button>`)
    .join("")}<span class="meta" style="margin:0 0 0 auto">scores: soft s*·p(s*)/Σp; bars out of 5; click again to reverse</span></nav>
<section id="clips">
${clips.map((c, i) => card(c, i, { thumbnailSize: size, maxThumbnails: max })).join("\n")}
</section>
</main><script>${JS}</script></body></html>
`;
}
