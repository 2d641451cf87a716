import { ProtocolError } from './errors.js';

/**
 * Field codec (docs/PROTOCOL.md §Frames). A frame is one line of fields separated by `|`.
 * Inside a field `\` escapes: `\\` backslash, `\|` bar, `\n` line feed, `\r` carriage return.
 * Every other character, including any Unicode, stands for itself.
 */
export const FIELD_SEPARATOR = '|';

export function escapeField(value: string): string {
  // Fast path: most fields need no escaping.
  if (!/[\\|\n\r]/.test(value)) return value;
  return value.replace(/[\\|\n\r]/g, (ch) => {
    switch (ch) {
      case '\\': return '\\\\';
      case '|': return '\\|';
      case '\n': return '\\n';
      default: return '\\r';
    }
  });
}

/** Encodes fields into one frame line, without the trailing line feed. */
export function encodeFields(fields: readonly string[]): string {
  return fields.map(escapeField).join(FIELD_SEPARATOR);
}

const BAR = 0x7c;
const BACKSLASH = 0x5c;
const LF = 0x0a;
const CR = 0x0d;

/** Splits one frame line (without its line feed) into unescaped fields. */
export function decodeFields(line: string): string[] {
  // Copies runs of plain characters with one slice each (a 512-character body was 512 string
  // appends); errors are the same, at the same first offending character, as a char-by-char scan.
  const fields: string[] = [];
  let current = '';
  let runStart = 0;
  for (let i = 0; i < line.length; i++) {
    const code = line.charCodeAt(i);
    if (code === BAR) {
      fields.push(current + line.slice(runStart, i));
      current = '';
      runStart = i + 1;
    } else if (code === BACKSLASH) {
      current += line.slice(runStart, i) + unescapeAt(line, i + 1);
      i++;
      runStart = i + 1;
    } else if (code === LF || code === CR) {
      throw new ProtocolError('BAD_FRAME', 'A raw line break inside a frame must be escaped.');
    }
  }
  fields.push(current + line.slice(runStart));
  return fields;
}

/** The character an escape stands for; `at` is the index just after the backslash. */
function unescapeAt(line: string, at: number): string {
  const next = line[at];
  switch (next) {
    case '\\': return '\\';
    case '|': return '|';
    case 'n': return '\n';
    case 'r': return '\r';
    case undefined: throw new ProtocolError('BAD_ESCAPE', 'A frame ends with a lone backslash.');
    default: throw new ProtocolError('BAD_ESCAPE', `Unknown escape sequence \\${next}.`);
  }
}
