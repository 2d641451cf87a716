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

/** Splits one frame line (without its line feed) into unescaped fields. */
export function decodeFields(line: string): string[] {
  const fields: string[] = [];
  let current = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '|') {
      fields.push(current);
      current = '';
    } else if (ch === '\\') {
      const next = line[++i];
      switch (next) {
        case '\\': current += '\\'; break;
        case '|': current += '|'; break;
        case 'n': current += '\n'; break;
        case 'r': current += '\r'; break;
        case undefined: throw new ProtocolError('BAD_ESCAPE', 'A frame ends with a lone backslash.');
        default: throw new ProtocolError('BAD_ESCAPE', `Unknown escape sequence \\${next}.`);
      }
    } else if (ch === '\n' || ch === '\r') {
      throw new ProtocolError('BAD_FRAME', 'A raw line break inside a frame must be escaped.');
    } else {
      current += ch;
    }
  }
  fields.push(current);
  return fields;
}
