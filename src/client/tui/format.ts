import { stripControls } from './editor.js';

/**
 * Text layout for the terminal: display widths, clipping, wrapping, blessed tags. Everything that
 * came from the server goes through clean() (no control characters) and esc() (no tag injection).
 */

/** Display width of one code point: 0 for combining marks, 2 for wide East Asian and emoji, else 1. */
export function charWidth(cp: number): number {
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if ((cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) || (cp >= 0xac00 && cp <= 0xd7a3)
    || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60)
    || (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) || (cp >= 0x1f900 && cp <= 0x1f9ff)
    || (cp >= 0x20000 && cp <= 0x3fffd)
  ) return 2;
  return 1;
}

export function strWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += charWidth(ch.codePointAt(0)!);
  return w;
}

/** One line of server text, safe to show: no control characters, line breaks as spaces. */
export function clean(s: string): string {
  return stripControls(s.replace(/[\r\n\t]+/g, ' '));
}

/** Escapes blessed's tag braces. */
export function esc(s: string): string {
  return s.replace(/[{}]/g, (ch) => (ch === '{' ? '{open}' : '{close}'));
}

/** Cuts `s` to at most `width` columns, ending in "…" when cut. */
export function clip(s: string, width: number): string {
  if (width <= 0) return '';
  if (strWidth(s) <= width) return s;
  let out = '';
  let w = 0;
  for (const ch of s) {
    const cw = charWidth(ch.codePointAt(0)!);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return out + '…';
}

/** Cuts `s` to at most `width` columns from the left, starting with "…" when cut (keeps a path's file name). */
export function clipStart(s: string, width: number): string {
  if (width <= 0) return '';
  if (strWidth(s) <= width) return s;
  const chars = Array.from(s);
  let out = '';
  let w = 0;
  for (let i = chars.length - 1; i >= 0; i--) {
    const cw = charWidth(chars[i]!.codePointAt(0)!);
    if (w + cw > width - 1) break;
    out = chars[i]! + out;
    w += cw;
  }
  return `…${out}`;
}

export function padEnd(s: string, width: number): string {
  const c = clip(s, width);
  return c + ' '.repeat(Math.max(0, width - strWidth(c)));
}

/** A piece of a line: plain text, or text with blessed styles such as "bold" or "red-fg,bold". */
export type Seg = string | { t: string; s?: string; w?: number };

/**
 * Builds one tagged line from segments, never wider than `width` (a segment with `w` is padded or
 * clipped to that width). Braces in text are escaped.
 */
export function line(segs: Seg[], width: number): string {
  let out = '';
  let used = 0;
  for (const seg of segs) {
    if (used >= width) break;
    const text = typeof seg === 'string' ? seg : seg.t;
    const style = typeof seg === 'string' ? undefined : seg.s;
    const fixed = typeof seg === 'string' ? undefined : seg.w;
    const room = width - used;
    let piece = fixed !== undefined ? padEnd(text, Math.min(fixed, room)) : clip(text, room);
    if (fixed === undefined && strWidth(text) > room) piece = clip(text, room);
    used += strWidth(piece);
    out += style ? wrapStyle(esc(piece), style) : esc(piece);
  }
  return out;
}

function wrapStyle(text: string, style: string): string {
  const styles = style.split(',').filter(Boolean);
  return styles.map((s) => `{${s}}`).join('') + text + styles.slice().reverse().map((s) => `{/${s}}`).join('');
}

/** Wraps text to `width` columns: words move whole to the next line, longer words are cut. */
export function wrap(text: string, width: number): string[] {
  const w = Math.max(1, width);
  const out: string[] = [];
  for (const raw of stripControls(text, true).split('\n')) {
    if (raw === '') {
      out.push('');
      continue;
    }
    let current = '';
    let cw = 0;
    for (const token of raw.match(/\s+|\S+/g) ?? []) {
      const tw = strWidth(token);
      if (cw + tw <= w) {
        current += token;
        cw += tw;
        continue;
      }
      if (/^\s+$/.test(token)) {
        out.push(current);
        current = '';
        cw = 0;
        continue;
      }
      if (cw > 0) {
        out.push(current.trimEnd());
        current = '';
        cw = 0;
      }
      for (const ch of token) {
        const chw = charWidth(ch.codePointAt(0)!);
        if (cw + chw > w) {
          out.push(current);
          current = '';
          cw = 0;
        }
        current += ch;
        cw += chw;
      }
    }
    out.push(current);
  }
  return out;
}

/** `2024-05-01 10:22` in local time; the raw text if it is not a date. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return clean(iso).slice(0, 16);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** `[██████░░░░] 60%` in `width` columns. */
export function progressBar(done: number, total: number | null, width: number): string {
  const pct = total && total > 0 ? Math.min(1, Math.max(0, done / total)) : total === 0 ? 1 : 0;
  const label = ` ${String(Math.round(pct * 100)).padStart(3)}%`;
  const inner = Math.max(0, width - 2 - label.length);
  const full = Math.round(inner * pct);
  return `[${'█'.repeat(full)}${'░'.repeat(inner - full)}]${label}`;
}
