/**
 * Pure text editing for the TUI's input fields: a one-line field and a multi-line text area.
 * Positions count code points, so a non-ASCII letter is one step of the cursor.
 */
import { dropControls } from '../../protocol/index.js';

export type EditKey =
  | { kind: 'insert'; text: string }
  | { kind: 'backspace' | 'delete' | 'left' | 'right' | 'home' | 'end' | 'up' | 'down' | 'newline' | 'killStart' | 'killEnd' | 'wordLeft' | 'wordRight' };

export interface LineField {
  name: string;
  label: string;
  value: string;
  /** Cursor position in code points. */
  cursor: number;
  secret?: boolean;
  optional?: boolean;
  hint?: string;
  error?: string | null;
  maxChars?: number;
}

export interface TextArea {
  lines: string[];
  row: number;
  col: number;
}

/** Removes terminal control characters (ESC, C0 and C1, DEL, bidi overrides) so pasted or received text cannot drive the terminal. */
export const stripControls = dropControls;

const chars = (s: string): string[] => Array.from(s);

export function field(name: string, label: string, opts: Partial<Omit<LineField, 'name' | 'label'>> = {}): LineField {
  const value = opts.value ?? '';
  return { name, label, ...opts, value, cursor: opts.cursor ?? chars(value).length };
}

export function setValue(f: LineField, value: string): LineField {
  return { ...f, value, cursor: chars(value).length };
}

export function editLine(f: LineField, key: EditKey): LineField {
  const cs = chars(f.value);
  const at = Math.min(Math.max(f.cursor, 0), cs.length);
  switch (key.kind) {
    case 'insert': {
      const add = chars(stripControls(key.text));
      const room = f.maxChars !== undefined ? Math.max(0, f.maxChars - cs.length) : add.length;
      const ins = add.slice(0, room);
      cs.splice(at, 0, ...ins);
      return { ...f, value: cs.join(''), cursor: at + ins.length };
    }
    case 'backspace':
      if (at === 0) return f;
      cs.splice(at - 1, 1);
      return { ...f, value: cs.join(''), cursor: at - 1 };
    case 'delete':
      if (at >= cs.length) return f;
      cs.splice(at, 1);
      return { ...f, value: cs.join('') };
    case 'left': return { ...f, cursor: Math.max(0, at - 1) };
    case 'right': return { ...f, cursor: Math.min(cs.length, at + 1) };
    case 'home': return { ...f, cursor: 0 };
    case 'end': return { ...f, cursor: cs.length };
    case 'killStart': return { ...f, value: cs.slice(at).join(''), cursor: 0 };
    case 'killEnd': return { ...f, value: cs.slice(0, at).join('') };
    case 'wordLeft': return { ...f, cursor: wordLeft(cs, at) };
    case 'wordRight': return { ...f, cursor: wordRight(cs, at) };
    default: return f;
  }
}

function wordLeft(cs: string[], at: number): number {
  let i = at;
  while (i > 0 && /\s/.test(cs[i - 1]!)) i--;
  while (i > 0 && !/\s/.test(cs[i - 1]!)) i--;
  return i;
}

function wordRight(cs: string[], at: number): number {
  let i = at;
  while (i < cs.length && /\s/.test(cs[i]!)) i++;
  while (i < cs.length && !/\s/.test(cs[i]!)) i++;
  return i;
}

export function textArea(text = ''): TextArea {
  const lines = text.split('\n');
  return { lines, row: lines.length - 1, col: chars(lines[lines.length - 1] ?? '').length };
}

export function textOf(area: TextArea): string {
  return area.lines.join('\n');
}

export function editArea(area: TextArea, key: EditKey, maxChars = Infinity): TextArea {
  const lines = area.lines.slice();
  const row = Math.min(Math.max(area.row, 0), lines.length - 1);
  const line = chars(lines[row] ?? '');
  const col = Math.min(Math.max(area.col, 0), line.length);
  switch (key.kind) {
    case 'insert': {
      const total = lines.reduce((n, l) => n + chars(l).length + 1, -1);
      let text = stripControls(key.text, true);
      const room = Math.max(0, maxChars - total);
      if (chars(text).length > room) text = chars(text).slice(0, room).join('');
      if (!text) return area;
      const before = line.slice(0, col).join('');
      const after = line.slice(col).join('');
      const pieces = text.split('\n');
      const first = before + pieces[0]!;
      if (pieces.length === 1) {
        lines[row] = first + after;
        return { lines, row, col: chars(first).length };
      }
      const last = pieces[pieces.length - 1]!;
      lines.splice(row, 1, first, ...pieces.slice(1, -1), last + after);
      return { lines, row: row + pieces.length - 1, col: chars(last).length };
    }
    case 'newline':
      return editArea(area, { kind: 'insert', text: '\n' }, maxChars);
    case 'backspace': {
      if (col > 0) {
        line.splice(col - 1, 1);
        lines[row] = line.join('');
        return { lines, row, col: col - 1 };
      }
      if (row === 0) return area;
      const prev = lines[row - 1]!;
      lines.splice(row - 1, 2, prev + line.join(''));
      return { lines, row: row - 1, col: chars(prev).length };
    }
    case 'delete': {
      if (col < line.length) {
        line.splice(col, 1);
        lines[row] = line.join('');
        return { lines, row, col };
      }
      if (row >= lines.length - 1) return area;
      lines.splice(row, 2, line.join('') + lines[row + 1]!);
      return { lines, row, col };
    }
    case 'left':
      if (col > 0) return { lines, row, col: col - 1 };
      if (row > 0) return { lines, row: row - 1, col: chars(lines[row - 1]!).length };
      return area;
    case 'right':
      if (col < line.length) return { lines, row, col: col + 1 };
      if (row < lines.length - 1) return { lines, row: row + 1, col: 0 };
      return area;
    case 'up':
      if (row === 0) return { lines, row, col: 0 };
      return { lines, row: row - 1, col: Math.min(col, chars(lines[row - 1]!).length) };
    case 'down':
      if (row >= lines.length - 1) return { lines, row, col: line.length };
      return { lines, row: row + 1, col: Math.min(col, chars(lines[row + 1]!).length) };
    case 'home': return { lines, row, col: 0 };
    case 'end': return { lines, row, col: line.length };
    case 'killStart':
      lines[row] = line.slice(col).join('');
      return { lines, row, col: 0 };
    case 'killEnd':
      lines[row] = line.slice(0, col).join('');
      return { lines, row, col };
    case 'wordLeft': return { lines, row, col: wordLeft(line, col) };
    case 'wordRight': return { lines, row, col: wordRight(line, col) };
    default: return area;
  }
}
