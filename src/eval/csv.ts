/**
 * RFC 4180 CSV: parse (quoted fields, doubled quotes, CRLF or LF, a leading BOM) and format.
 */

/** A CSV that cannot be read as its writer meant it; `line` is 1-based. */
export class CSVSyntaxError extends Error {
  constructor(readonly line: number, message: string) {
    super(message);
  }
}

/**
 * Parses CSV text into rows of fields. A trailing newline does not make an empty row.
 * @throws CSVSyntaxError for a quote that never closes (the rest of the file would become one field)
 */
export function parseCSV(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let fieldStarted = false;
  let line = 1;
  let quoteLine = 0;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") line++;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
      continue;
    }
    if (c === '"' && !fieldStarted) {
      quoted = true;
      quoteLine = line;
      fieldStarted = true;
    } else if (c === ",") {
      row.push(field);
      field = "";
      fieldStarted = false;
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      fieldStarted = false;
    } else {
      field += c;
      fieldStarted = true;
    }
  }
  if (quoted) throw new CSVSyntaxError(quoteLine, `line ${quoteLine}: a quoted field opens there and never closes; close the quote (a quote inside a field is written "")`);
  if (fieldStarted || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** Parses CSV with a header row into objects keyed by the (trimmed) header names. */
export function parseCSVRecords(text: string): Record<string, string>[] {
  const rows = parseCSV(text).filter((r) => !(r.length === 1 && r[0] === ""));
  const header = (rows.shift() ?? []).map((h) => h.trim());
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ""])));
}

/**
 * Text that a spreadsheet would run as a formula (OWASP, "CSV Injection"): a cell that starts with
 * `=`, `+`, `-`, `@`, a tab or a CR. A file name or prompt such as `=HYPERLINK(…)` would otherwise
 * become a live formula when the CSV is opened.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field: quoted when it holds a comma, quote, CR or LF, or starts/ends with a space. Text
 * that starts like a formula gets a leading `'` (OWASP's advice), which spreadsheets show as text;
 * numbers are written as they are (a negative number is not text).
 */
export function csvField(v: unknown): string {
  let s = v === null || v === undefined ? "" : typeof v === "number" && !Number.isFinite(v) ? "" : String(v);
  if (typeof v === "string" && FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV line (CRLF-terminated, as RFC 4180 says). */
export function csvLine(fields: readonly unknown[]): string {
  return `${fields.map(csvField).join(",")}\r\n`;
}
