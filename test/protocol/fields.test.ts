import t from 'tap';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FIELD_SEPARATOR, LineReader, ProtocolError, decodeFields, encodeFields, escapeField,
} from '../../src/protocol/index.js';
import { NUM_RUNS, chunk, codeUnitString, throwsCode, unicodeString } from './arbitraries.js';

t.test('decoding an encoded non-empty array of arbitrary strings gives the same array back', async (t) => {
  fc.assert(
    fc.property(fc.array(codeUnitString, { minLength: 1, maxLength: 16 }), (fields) => {
      assert.deepStrictEqual(decodeFields(encodeFields(fields)), fields);
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

t.test('fields made only of separators, backslashes and line breaks survive a round trip', async (t) => {
  const nasty = fc.string({ unit: fc.constantFrom('|', '\\', '\n', '\r', 'n', 'r'), maxLength: 12 });
  fc.assert(
    fc.property(fc.array(nasty, { minLength: 1, maxLength: 8 }), (fields) => {
      assert.deepStrictEqual(decodeFields(encodeFields(fields)), fields);
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

t.test('an encoded frame never contains a raw CR or LF', async (t) => {
  fc.assert(
    fc.property(fc.array(codeUnitString, { maxLength: 16 }), (fields) => {
      const line = encodeFields(fields);
      assert.ok(!line.includes('\n'), 'no LF');
      assert.ok(!line.includes('\r'), 'no CR');
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

t.test('an encoded frame has exactly one unescaped separator between consecutive fields', async (t) => {
  fc.assert(
    fc.property(fc.array(codeUnitString, { minLength: 1, maxLength: 16 }), (fields) => {
      // Drop escape pairs, then count the bars that remain.
      const bare = encodeFields(fields).replace(/\\./gs, '');
      assert.equal(bare.split(FIELD_SEPARATOR).length, fields.length);
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

t.test('an empty array encodes to the empty line, which decodes to one empty field', async (t) => {
  t.equal(encodeFields([]), '');
  t.strictSame(decodeFields(''), ['']);
  t.strictSame(decodeFields(encodeFields([''])), ['']);
});

t.test('a field without backslash, bar, CR or LF is sent as it is', async (t) => {
  fc.assert(
    fc.property(codeUnitString.filter((s) => !/[\\|\r\n]/.test(s)), (s) => {
      assert.equal(escapeField(s), s);
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

t.test('each special character has exactly one two-character escape', async (t) => {
  t.equal(escapeField('\\'), '\\\\');
  t.equal(escapeField('|'), '\\|');
  t.equal(escapeField('\n'), '\\n');
  t.equal(escapeField('\r'), '\\r');
  t.equal(escapeField('a|b\\c\r\nd'), 'a\\|b\\\\c\\r\\nd');
  t.strictSame(decodeFields('a\\|b|c\\\\|\\r\\n'), ['a|b', 'c\\', '\r\n']);
});

t.test('an empty field between two separators and at either end is kept', async (t) => {
  t.strictSame(decodeFields('|'), ['', '']);
  t.strictSame(decodeFields('a||b'), ['a', '', 'b']);
  t.strictSame(decodeFields('|a|'), ['', 'a', '']);
});

t.test('Unicode outside ASCII, including astral characters, stands for itself', async (t) => {
  t.strictSame(decodeFields('é|€|😀|\u0000'), ['é', '€', '😀', '\u0000']);
  t.equal(encodeFields(['日本', '😀']), '日本|😀');
});

t.test('an unknown escape sequence is a BAD_ESCAPE protocol error', async (t) => {
  throwsCode(t, () => decodeFields('a\\xb'), 'BAD_ESCAPE', ProtocolError);
  throwsCode(t, () => decodeFields('\\t'), 'BAD_ESCAPE', ProtocolError);
  throwsCode(t, () => decodeFields('\\N'), 'BAD_ESCAPE', ProtocolError);
  throwsCode(t, () => decodeFields('\\😀'), 'BAD_ESCAPE', ProtocolError);
});

t.test('a line ending in a lone backslash is a BAD_ESCAPE protocol error', async (t) => {
  throwsCode(t, () => decodeFields('abc\\'), 'BAD_ESCAPE', ProtocolError);
  throwsCode(t, () => decodeFields('\\'), 'BAD_ESCAPE', ProtocolError);
  throwsCode(t, () => decodeFields('a|\\\\\\'), 'BAD_ESCAPE', ProtocolError);
});

t.test('a raw CR or LF inside a line is a BAD_FRAME protocol error', async (t) => {
  throwsCode(t, () => decodeFields('a\nb'), 'BAD_FRAME', ProtocolError);
  throwsCode(t, () => decodeFields('a|b\r'), 'BAD_FRAME', ProtocolError);
});

t.test('decoding an arbitrary string either succeeds or throws BAD_ESCAPE / BAD_FRAME', async (t) => {
  fc.assert(
    fc.property(codeUnitString, (line) => {
      try {
        const fields = decodeFields(line);
        // Whatever decodes re-encodes to a line that decodes the same way.
        assert.deepStrictEqual(decodeFields(encodeFields(fields)), fields);
      } catch (err) {
        assert.ok(err instanceof ProtocolError, 'a ProtocolError');
        assert.ok(['BAD_ESCAPE', 'BAD_FRAME'].includes((err as ProtocolError).code), 'with a field-level code');
      }
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

t.test('fields encoded, sent as UTF-8 bytes in any chunking and read back decode to the same fields', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.array(unicodeString, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.boolean(),
      (frames, cuts, crlf) => {
        const eol = crlf ? '\r\n' : '\n';
        const bytes = Buffer.from(frames.map((f) => encodeFields(f) + eol).join(''), 'utf8');
        const reader = new LineReader(1 << 20);
        const lines = chunk(bytes, cuts).flatMap((c) => reader.push(c));
        assert.equal(reader.pendingBytes, 0);
        assert.deepStrictEqual(
          lines.map((l) => (l.ok ? decodeFields(l.line) : l.error.code)),
          frames,
        );
      },
    ),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

/** The first decoder, one character at a time: the oracle for the one that copies runs. */
function decodeCharByChar(line: string): string[] {
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

t.test('any line, well-formed or not, decodes exactly as a character-by-character scan would', async (t) => {
  const outcome = (decode: (line: string) => string[], line: string) => {
    try {
      return { fields: decode(line) };
    } catch (err) {
      return { code: (err as ProtocolError).code, message: (err as Error).message };
    }
  };
  const piece = fc.oneof(codeUnitString, fc.constantFrom('|', '\\', '\\\\', '\\|', '\\n', '\\r', '\\x', '\n', '\r', 'é', '😀'));
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 24 }).map((parts) => parts.join('')), (line) => {
      assert.deepStrictEqual(outcome(decodeFields, line), outcome(decodeCharByChar, line));
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('same fields, or the same error at the same character');
});
