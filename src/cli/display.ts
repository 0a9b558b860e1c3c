/**
 * Text from outside (file names, error messages that quote them, the model's output) as the
 * terminal shows it. A file name may hold a newline (which would split a table row or forge a log
 * line), escape sequences (OSC, erase-screen: the terminal obeys them) or bidi controls (an RTL
 * override shows "gpj.exe" as "exe.jpg"); here each is written visibly, as `\n`, `\x1b`, `\u202e`.
 * Only human-readable output is escaped: JSON, JSON lines and CSV carry the text as it is.
 */

// C0 controls, DEL, C1 controls, the line and paragraph separators, and every bidi control.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  return NAMED[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`);
}

/** One line of text with every control and bidi character written visibly. */
export function displayText(s: string): string {
  return s.replace(UNSAFE, escapeChar);
}

/** The same, keeping newlines: for messages that are meant to span lines. */
export function displayLines(s: string): string {
  return s.replace(UNSAFE_BUT_NEWLINE, escapeChar);
}

/**
 * An error message as the command prints it. The few messages that span lines indent their
 * continuation lines (or open them with "("): only such a line break is kept, so a newline in a
 * quoted file name cannot start a line of its own at the left margin (a forged "videoscore2: …").
 */
export function displayMessage(s: string): string {
  const parts = s.split("\n");
  let out = displayText(parts[0] ?? "");
  for (const p of parts.slice(1)) out += /^(\s\s|\()/.test(p) ? `\n${displayText(p)}` : `\\n${displayText(p)}`;
  return out;
}

/**
 * The first line of a message, with the names it quotes escaped first: a newline inside a quoted
 * file name must not end the line there.
 */
export function firstLine(message: string, ...names: readonly string[]): string {
  let s = message;
  for (const n of names) if (n && n !== displayText(n)) s = s.split(n).join(displayText(n));
  return displayText(s.split("\n")[0] ?? "");
}
