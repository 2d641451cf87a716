/**
 * Text other people wrote (institution names, contacts, subjects, bodies, attachment names) is
 * shown on terminals. Some characters drive the terminal instead of being shown: C0 and C1 control
 * characters and DEL (clear the screen, retitle the window, move the cursor back over a line to
 * forge another) and the Unicode bidirectional embeddings, overrides and isolates (show text in
 * another order than it is). One definition for the server, which refuses them where they have no
 * business (e-mail addresses, attachment names), and for every client that prints text.
 */

/* eslint-disable no-control-regex */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/** The same without tab and line feed: what a multi-line text may keep. */
const UNSAFE_IN_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
/* eslint-enable no-control-regex */

/** Whether `text` holds a control or bidirectional-override character. */
export function hasTerminalControls(text: string): boolean {
  return new RegExp(UNSAFE.source).test(text);
}

const NAMED: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** `\x1b`, `\n`, `\u202e`: the character written out, so it is seen rather than obeyed. */
function visible(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.codePointAt(0)!;
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `text` with every control and bidirectional-override character shown as an escape (`\x1b`).
 * `lines`: line breaks and tabs stay (a message body; CR LF becomes LF); otherwise they are shown
 * too, so one field stays on one line and cannot forge the next.
 */
export function showControls(text: string, opts: { lines?: boolean } = {}): string {
  if (!opts.lines) return text.replace(UNSAFE, visible);
  return text.replace(/\r\n/g, '\n').replace(UNSAFE_IN_LINES, visible);
}

/**
 * `text` without control and bidirectional-override characters (for full-screen clients, where an
 * escape would take room): tabs become four spaces; line breaks stay when `keepNewlines`.
 */
export function dropControls(text: string, keepNewlines = false): string {
  const normalized = keepNewlines ? text.replace(/\r\n?/g, '\n') : text;
  return normalized.replace(UNSAFE, (ch) => (ch === '\t' ? '    ' : ch === '\n' && keepNewlines ? '\n' : ''));
}
