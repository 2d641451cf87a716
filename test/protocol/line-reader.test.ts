import t from 'tap';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DEFAULT_MAX_FRAME_BYTES, LineReader, ProtocolError, type ReadLine,
} from '../../src/protocol/index.js';
import { NUM_RUNS, chunk, throwsCode, unicodeString } from './arbitraries.js';

/** A line's text, or the error code for a line that was not valid UTF-8. */
const show = (r: ReadLine): string => (r.ok ? r.line : `!${r.error.code}`);

function readAll(reader: LineReader, chunks: readonly Buffer[]): string[] {
  return chunks.flatMap((c) => reader.push(c)).map(show);
}

/** Lines of arbitrary well-formed Unicode without LF (a CR may appear, but not at the end). */
const lineArb = unicodeString
  .map((s) => s.replace(/\n/g, ' '))
  .map((s) => (s.endsWith('\r') ? `${s}.` : s));

t.test('a multi-byte line split at every byte offset yields the same lines', async (t) => {
  // 1-, 2-, 3- and 4-byte UTF-8 characters, so some splits fall inside a character.
  const text = '42|SEND|tök€n|body=Grüße 😀 日本\\|x\r\n*|POPUP|from=ä\n';
  const bytes = Buffer.from(text, 'utf8');
  const whole = readAll(new LineReader(), [bytes]);
  t.strictSame(whole, ['42|SEND|tök€n|body=Grüße 😀 日本\\|x', '*|POPUP|from=ä']);
  /** The splits (as "i" or "i,j") whose reading differs from the whole, or leaves bytes held. */
  const wrongSplits: string[] = [];
  const check = (at: string, parts: Buffer[]): void => {
    const reader = new LineReader();
    if (JSON.stringify(readAll(reader, parts)) !== JSON.stringify(whole) || reader.pendingBytes !== 0) wrongSplits.push(at);
  };
  for (let i = 0; i <= bytes.length; i++) {
    check(`${i}`, [bytes.subarray(0, i), bytes.subarray(i)]);
    for (let j = i; j <= bytes.length; j++) check(`${i},${j}`, [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]);
  }
  t.strictSame(wrongSplits, [], 'every split in two or three parts');
});

t.test('a stream fed one byte at a time yields the same lines', async (t) => {
  const bytes = Buffer.from('a|b\n😀\r\n\nlast€\n', 'utf8');
  const reader = new LineReader();
  const oneByOne = readAll(reader, [...bytes].map((b) => Buffer.from([b])));
  t.strictSame(oneByOne, ['a|b', '😀', '', 'last€']);
  t.equal(reader.pendingBytes, 0);
});

t.test('arbitrary lines in arbitrary chunkings yield the same lines, with LF or CRLF', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(lineArb, fc.boolean()), { maxLength: 10 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      (lines, cuts) => {
        const bytes = Buffer.from(lines.map(([l, crlf]) => l + (crlf ? '\r\n' : '\n')).join(''), 'utf8');
        const reader = new LineReader(1 << 20);
        assert.deepStrictEqual(readAll(reader, chunk(bytes, cuts)), lines.map(([l]) => l));
        assert.equal(reader.pendingBytes, 0);
      },
    ),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

t.test('CRLF and LF line endings are both accepted', async (t) => {
  const reader = new LineReader();
  t.strictSame(readAll(reader, [Buffer.from('1|PING|\r\n2|PING|\n3|PING|\r\n')]), ['1|PING|', '2|PING|', '3|PING|']);
});

t.test('a CR that is not right before the LF is kept as part of the line', async (t) => {
  const reader = new LineReader();
  t.strictSame(readAll(reader, [Buffer.from('a\rb\n\r\n')]), ['a\rb', '']);
});

t.test('an empty line is returned as an empty string', async (t) => {
  t.strictSame(readAll(new LineReader(), [Buffer.from('\n\n')]), ['', '']);
});

t.test('an unfinished line is held until its LF arrives', async (t) => {
  const reader = new LineReader();
  t.strictSame(reader.push(Buffer.from('1|PI')), []);
  t.equal(reader.pendingBytes, 4);
  t.strictSame(reader.push(Buffer.from('NG|')), []);
  t.equal(reader.pendingBytes, 7);
  t.strictSame(reader.push(Buffer.from('\n2|')).map(show), ['1|PING|']);
  t.equal(reader.pendingBytes, 2);
});

t.test('the reader does not keep a reference to the caller\'s buffer', async (t) => {
  const reader = new LineReader();
  const buf = Buffer.from('abc');
  reader.push(buf);
  buf.fill(0x7a); // the caller reuses its (possibly pooled) buffer
  t.strictSame(reader.push(Buffer.from('\n')).map(show), ['abc']);
});

t.test('the default maximum frame length is 64 KiB', async (t) => {
  t.equal(DEFAULT_MAX_FRAME_BYTES, 65536);
  t.equal(new LineReader().maxFrameBytes, DEFAULT_MAX_FRAME_BYTES);
});

t.test('a line of exactly the maximum length passes, in one chunk or split', async (t) => {
  const max = 32;
  const line = 'x'.repeat(max);
  t.strictSame(readAll(new LineReader(max), [Buffer.from(line + '\n')]), [line]);
  const reader = new LineReader(max);
  t.strictSame(reader.push(Buffer.from(line)), []);
  t.equal(reader.pendingBytes, max, 'a full unfinished line is held');
  t.strictSame(reader.push(Buffer.from('\n')).map(show), [line]);
  t.equal(reader.pendingBytes, 0);
});

t.test('a line one byte over the maximum throws FRAME_TOO_LONG, in one chunk or split', async (t) => {
  const max = 32;
  const line = 'x'.repeat(max + 1);
  throwsCode(t, () => new LineReader(max).push(Buffer.from(line + '\n')), 'FRAME_TOO_LONG', ProtocolError);
  const reader = new LineReader(max);
  reader.push(Buffer.from(line.slice(0, 20)));
  throwsCode(t, () => reader.push(Buffer.from(line.slice(20) + '\n')), 'FRAME_TOO_LONG', ProtocolError);
  t.equal(reader.pendingBytes, 0, 'nothing is held after the error');
});

t.test('the maximum counts bytes, not characters', async (t) => {
  const max = 16;
  const fits = 'é'.repeat(8); // 16 bytes
  t.strictSame(readAll(new LineReader(max), [Buffer.from(fits + '\n')]), [fits]);
  throwsCode(t, () => new LineReader(max).push(Buffer.from(fits + 'a\n')), 'FRAME_TOO_LONG', ProtocolError);
});

t.test('an oversize line with no newline throws as soon as the maximum is passed', async (t) => {
  const max = 64;
  const reader = new LineReader(max);
  const returned = Array.from({ length: max }, () => reader.push(Buffer.from('y'))).flat();
  t.strictSame(returned, [], 'nothing is returned while the line is unfinished');
  t.equal(reader.pendingBytes, max);
  throwsCode(t, () => reader.push(Buffer.from('y')), 'FRAME_TOO_LONG', ProtocolError);
  t.equal(reader.pendingBytes, 0);

  // A single huge chunk is refused without being buffered.
  const big = new LineReader(max);
  throwsCode(t, () => big.push(Buffer.alloc(max * 1000, 0x61)), 'FRAME_TOO_LONG', ProtocolError);
  t.equal(big.pendingBytes, 0);

  // Complete lines first, then an unterminated tail that is too long.
  const tail = new LineReader(max);
  throwsCode(t, () => tail.push(Buffer.from('ok\n' + 'z'.repeat(max + 1))), 'FRAME_TOO_LONG', ProtocolError);
  t.equal(tail.pendingBytes, 0);
});

t.test('the FRAME_TOO_LONG error asks for the connection to be closed', async (t) => {
  try {
    new LineReader(4).push(Buffer.from('12345'));
    t.fail('expected a throw');
  } catch (err) {
    t.ok(err instanceof ProtocolError);
    t.equal((err as ProtocolError).closes, true);
  }
});

t.test('the reader never holds more than the maximum, whatever bytes arrive in whatever chunks', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 48 }),
      fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 20 }),
      (max, chunks) => {
        const reader = new LineReader(max);
        for (const c of chunks) {
          try {
            for (const r of reader.push(Buffer.from(c))) {
              if (r.ok) assert.ok(Buffer.byteLength(r.line) <= max, 'a returned line is within the maximum');
            }
          } catch (err) {
            assert.ok(err instanceof ProtocolError && err.code === 'FRAME_TOO_LONG', 'only FRAME_TOO_LONG is thrown');
            assert.equal(reader.pendingBytes, 0);
          }
          assert.ok(reader.pendingBytes <= max, `pendingBytes ${reader.pendingBytes} <= ${max}`);
        }
      },
    ),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

t.test('invalid UTF-8 gives a BAD_UTF8 line and the next line still decodes', async (t) => {
  const cases: Array<[string, number[]]> = [
    ['a stray continuation byte', [0x80]],
    ['an impossible byte', [0xff]],
    ['a truncated 3-byte sequence', [0xe2, 0x82]],
    ['an overlong encoding of "/"', [0xc0, 0xaf]],
    ['an encoded UTF-16 surrogate', [0xed, 0xa0, 0x80]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ];
  const read = cases.map(([name, bad]) => {
    const out = new LineReader().push(Buffer.concat([Buffer.from('7|'), Buffer.from(bad), Buffer.from('\r\n8|PING|\n')]));
    return [name, out.map((r) => (r.ok ? r.line : `${r.error.name} ${r.error.code} closes=${r.error.closes}`))];
  });
  t.strictSame(Object.fromEntries(read), Object.fromEntries(cases.map(([name]) => [name, ['ProtocolError BAD_UTF8 closes=false', '8|PING|']])));
});

t.test('a multi-byte character cut by the line feed is invalid but does not spoil the next line', async (t) => {
  const euro = Buffer.from('€'); // e2 82 ac
  const reader = new LineReader();
  const out = reader.push(Buffer.concat([euro.subarray(0, 2), Buffer.from('\n'), euro.subarray(2), Buffer.from('\nok\n')]));
  t.strictSame(out.map(show), ['!BAD_UTF8', '!BAD_UTF8', 'ok']);
});

t.test('a line is reported valid exactly when its bytes are valid UTF-8, and then as those bytes', async (t) => {
  const lineBytes = fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    unicodeString.map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
  ).map((b) => Buffer.from(b.filter((x) => x !== 0x0a)));
  fc.assert(
    fc.property(fc.array(lineBytes, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (lines, cuts) => {
      const stream = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]));
      const reader = new LineReader(1 << 20);
      const got = chunk(stream, cuts).flatMap((c) => reader.push(c));
      assert.equal(got.length, lines.length);
      got.forEach((r, i) => {
        const raw = lines[i] as Buffer;
        const body = raw.length > 0 && raw[raw.length - 1] === 0x0d ? raw.subarray(0, -1) : raw;
        const valid = Buffer.from(body.toString('utf8'), 'utf8').equals(body);
        assert.equal(r.ok, valid, `line ${i} validity`);
        if (r.ok) assert.ok(Buffer.from(r.line, 'utf8').equals(body), `line ${i} keeps its bytes`);
      });
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

t.test('a line beginning with U+FEFF keeps that character (no per-line BOM stripping)', async (t) => {
  // The field codec promises that every Unicode character stands for itself; the reader
  // must hand the line on byte-for-byte (minus a trailing CR).
  const reader = new LineReader();
  const out = reader.push(Buffer.from('\uFEFFhello|world\n\uFEFF\n', 'utf8'));
  t.strictSame(out.map(show), ['\uFEFFhello|world', '\uFEFF']);
});
