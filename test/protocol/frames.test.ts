import t from 'tap';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  Args, ERRORS, LineReader, PUSH_ID, ProtocolError, SiarError, UNKNOWN_ID,
  decodeRequest, decodeServerFrame, encodeError, encodeFields, encodeItem, encodeOk, encodePush, encodeRequest,
  salvageId, type ServerFrame,
} from '../../src/protocol/index.js';
import {
  NUM_RUNS, chunk, codeUnitString, errorCodeArb, expectEach, idArb, isCatalogued, keyArb, pairsArb, pairsCodeUnitArb,
  thrownBy, throwsCode, unicodeString, upperVerbArb, verbArb,
} from './arbitraries.js';

const ID_PATTERN = /^[A-Za-z0-9._-]{1,32}$/;

/** Reads `line` + LF back through a LineReader, as a peer would receive it. */
function overTheWire(line: string): string {
  const out = new LineReader(1 << 20).push(Buffer.from(line + '\n', 'utf8'));
  const [first] = out;
  if (out.length !== 1 || !first?.ok) throw new Error(`line did not come back: ${JSON.stringify(out)}`);
  return first.line;
}

// ---------------------------------------------------------------------------------------------
// Requests

t.test('a request survives encode then decode: id, upper-cased verb, token and ordered args', async (t) => {
  fc.assert(
    fc.property(idArb, verbArb, codeUnitString, pairsCodeUnitArb, (id, verb, token, pairs) => {
      const req = decodeRequest(encodeRequest(id, verb, token, new Args(pairs)));
      assert.equal(req.id, id);
      assert.equal(req.verb, verb.toUpperCase());
      assert.equal(req.token, token);
      assert.deepStrictEqual(req.args.pairs, pairs);
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

t.test('a request survives being sent as UTF-8 bytes and read back through the line reader', async (t) => {
  fc.assert(
    fc.property(idArb, upperVerbArb, unicodeString, pairsArb, (id, verb, token, pairs) => {
      const line = encodeRequest(id, verb, token, new Args(pairs));
      const req = decodeRequest(overTheWire(line));
      assert.deepStrictEqual([req.id, req.verb, req.token, req.args.pairs], [id, verb, token, pairs]);
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

t.test('repeated argument keys keep every value, in order', async (t) => {
  const req = decodeRequest(encodeRequest('9', 'SEND', 'tok', { to: ['ann', 'bob', 'cy'], body: 'hi' }));
  t.strictSame(req.args.getAll('to'), ['ann', 'bob', 'cy']);
  t.equal(req.args.get('to'), 'ann', 'get returns the first value');
  t.strictSame(req.args.pairs, [['to', 'ann'], ['to', 'bob'], ['to', 'cy'], ['body', 'hi']]);
});

t.test('a request verb is upper-cased', async (t) => {
  t.equal(decodeRequest('1|ping|').verb, 'PING');
  t.equal(decodeRequest('1|Send-File_2|').verb, 'SEND-FILE_2');
});

t.test('a request token may be empty or left out altogether', async (t) => {
  const empty = decodeRequest('1|PING||a=b');
  t.equal(empty.token, '');
  t.strictSame(empty.args.pairs, [['a', 'b']]);
  t.equal(decodeRequest('1|PING').token, '');
  t.equal(decodeRequest('1|PING|').token, '');
  t.equal(decodeRequest(encodeRequest('1', 'PING', '')).token, '');
});

t.test('a request token is taken by position, even if it looks like key=value', async (t) => {
  const req = decodeRequest('1|LOGIN|user=x|user=y');
  t.equal(req.token, 'user=x');
  t.strictSame(req.args.pairs, [['user', 'y']]);
});

t.test('an argument value may contain "=", be empty, or hold escaped separators', async (t) => {
  const req = decodeRequest('1|SET|t|a=b=c|empty=|bar=x\\|y\\\\z\\n');
  t.strictSame(req.args.pairs, [['a', 'b=c'], ['empty', ''], ['bar', 'x|y\\z\n']]);
});

t.test('a trailing empty field after the arguments is tolerated', async (t) => {
  t.strictSame(decodeRequest('1|PING|t|a=b|').args.pairs, [['a', 'b']]);
});

t.test('a request id must be 1-32 of letters, digits, ".", "_" or "-"', async (t) => {
  const good = ['1', 'a.b_c-D', 'x'.repeat(32), '-', '...'];
  t.strictSame(good.map((id) => decodeRequest(`${id}|PING|`).id), good, 'valid ids are kept');
  const bad = ['', 'x'.repeat(33), 'a b', 'é', '*', 'a/b', 'a\\|b', '😀'].map((id) => `${id}|PING|`).concat('');
  t.strictSame(thrownBy(bad, decodeRequest), expectEach(bad, 'ProtocolError BAD_FRAME'), 'others are BAD_FRAME');
});

t.test('a request without a verb, or with a malformed verb, is BAD_FRAME', async (t) => {
  const lines = ['1', '1|', '1||tok', '1|9LIVES|', '1|_X|', '1|A B|', '1|PING!|', `1|A${'B'.repeat(32)}|`];
  t.strictSame(thrownBy(lines, decodeRequest), expectEach(lines, 'ProtocolError BAD_FRAME'));
  t.equal(decodeRequest(`1|A${'B'.repeat(31)}|`).verb.length, 32, 'a 32-character verb is fine');
});

t.test('an unknown escape or a trailing lone backslash in a request is BAD_ESCAPE', async (t) => {
  const lines = ['1|PING|tok\\x', '1|PING|tok|a=\\t', '1|PING|tok\\', '1|PING|tok|a=b\\'];
  t.strictSame(thrownBy(lines, decodeRequest), expectEach(lines, 'ProtocolError BAD_ESCAPE'));
});

t.test('a raw CR inside a request line is BAD_FRAME', async (t) => {
  throwsCode(t, () => decodeRequest('1|PING|to\rk'), 'BAD_FRAME', ProtocolError);
});

t.test('an argument not in key=value form is a BAD_ARGUMENT error, not a protocol error', async (t) => {
  const bad = ['novalue', '=x', '1a=x', 'a-b=x', 'a b=x', 'é=x', '_a=x', `a${'b'.repeat(64)}=x`];
  const decodeWith = (field: string) => decodeRequest(encodeFields(['1', 'PING', 'tok', field]));
  t.strictSame(thrownBy(bad, decodeWith), expectEach(bad, 'SiarError BAD_ARGUMENT'), 'a SiarError, not a ProtocolError');
  t.equal(decodeRequest(`1|PING|t|a${'b'.repeat(63)}=x`).args.pairs.length, 1, 'a 64-character key is fine');
});

// ---------------------------------------------------------------------------------------------
// salvageId

t.test('salvageId recovers the id of a request whose later fields are broken', async (t) => {
  t.equal(salvageId('42|PING|tok\\x'), '42');
  t.equal(salvageId('42|PING|tok|novalue'), '42');
  t.equal(salvageId('42|'), '42');
  t.equal(salvageId('42'), '42');
});

t.test('salvageId answers "-" when no id can be read', async (t) => {
  t.equal(UNKNOWN_ID, '-');
  const lines = ['', '|PING|', 'a b|PING|', 'x'.repeat(33) + '|PING', 'é|PING', '*|PING', 'a\\|b|PING', '\\'];
  t.strictSame(lines.filter((line) => salvageId(line) !== UNKNOWN_ID), []);
});

t.test('salvageId finds a valid id in front of any rest of the line', async (t) => {
  fc.assert(
    fc.property(idArb, codeUnitString, (id, rest) => {
      assert.equal(salvageId(`${id}|${rest}`), id);
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

/** decodeRequest's result, or null when it refuses the line with a catalogued error (anything else is thrown). */
function decodeOrNull(line: string): ReturnType<typeof decodeRequest> | null {
  try {
    return decodeRequest(line);
  } catch (err) {
    if (!isCatalogued(err)) throw err;
    return null;
  }
}

/**
 * Lines that look like requests, so decodeRequest succeeds in many cases and fails in many: valid ids
 * with something stuck before or after them (a blank, an escape, a character ids may not hold),
 * encoded requests, and arbitrary strings.
 */
const requestLikeLine: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(idArb, verbArb, codeUnitString, pairsCodeUnitArb).map(([id, verb, token, pairs]) => encodeRequest(id, verb, token, new Args(pairs))),
  fc.tuple(fc.constantFrom('', ' ', '\\|', '*', 'é', '\\n'), idArb, fc.constantFrom('', ' ', '\t', '\\\\', '\r'), verbArb, codeUnitString)
    .map(([before, id, after, verb, rest]) => `${before}${id}${after}|${verb}|${rest}`),
  codeUnitString,
);

t.test('salvageId always answers a valid id or "-", and agrees with decodeRequest when that succeeds', async (t) => {
  let compared = 0;
  fc.assert(
    fc.property(requestLikeLine, (line) => {
      const id = salvageId(line);
      assert.ok(id === UNKNOWN_ID || ID_PATTERN.test(id), `"${id}" is an id`);
      const request = decodeOrNull(line); // decoded outside any catch, so a disagreement fails the property
      if (request === null) return;
      compared++;
      assert.equal(id, request.id, `salvageId and decodeRequest agree on ${JSON.stringify(line)}`);
    }),
    { numRuns: NUM_RUNS },
  );
  t.ok(compared >= NUM_RUNS / 5, `decodeRequest succeeded in ${compared} of ${NUM_RUNS} cases, so the two were compared`);
});

// ---------------------------------------------------------------------------------------------
// Server frames

t.test('an OK reply survives encode then decode with its args in order', async (t) => {
  fc.assert(
    fc.property(idArb, pairsCodeUnitArb, (id, pairs) => {
      const frame = decodeServerFrame(encodeOk(id, new Args(pairs)));
      assert.equal(frame.kind, 'ok');
      if (frame.kind === 'ok') {
        assert.equal(frame.id, id);
        assert.deepStrictEqual(frame.args.pairs, pairs);
      }
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

t.test('an ITEM row survives encode then decode with its args in order', async (t) => {
  fc.assert(
    fc.property(idArb, pairsCodeUnitArb, (id, pairs) => {
      const frame = decodeServerFrame(encodeItem(id, new Args(pairs)));
      assert.equal(frame.kind, 'item');
      if (frame.kind === 'item') {
        assert.equal(frame.id, id);
        assert.deepStrictEqual(frame.args.pairs, pairs);
      }
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

t.test('an ERR reply survives encode then decode with its code and any sentence', async (t) => {
  fc.assert(
    fc.property(fc.oneof(idArb, fc.constant(UNKNOWN_ID)), errorCodeArb, codeUnitString, (id, code, message) => {
      assert.deepStrictEqual(decodeServerFrame(encodeError(id, code, message)), { kind: 'err', id, code, message });
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

t.test('a push survives encode then decode with its event and args in order', async (t) => {
  fc.assert(
    fc.property(fc.oneof(upperVerbArb, codeUnitString), pairsCodeUnitArb, (event, pairs) => {
      const line = encodePush(event, new Args(pairs));
      assert.ok(line.startsWith(`${PUSH_ID}|`), 'a push starts with *|');
      const frame = decodeServerFrame(line);
      assert.equal(frame.kind, 'push');
      if (frame.kind === 'push') {
        assert.equal(frame.event, event);
        assert.deepStrictEqual(frame.args.pairs, pairs);
      }
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

t.test('every kind of server frame survives being sent as bytes and read back', async (t) => {
  const frameArb: fc.Arbitrary<ServerFrame> = fc.oneof(
    fc.tuple(idArb, pairsArb).map(([id, p]): ServerFrame => ({ kind: 'ok', id, args: new Args(p) })),
    fc.tuple(idArb, pairsArb).map(([id, p]): ServerFrame => ({ kind: 'item', id, args: new Args(p) })),
    fc.tuple(idArb, errorCodeArb, unicodeString).map(([id, code, message]): ServerFrame => ({ kind: 'err', id, code, message })),
    fc.tuple(upperVerbArb, pairsArb).map(([event, p]): ServerFrame => ({ kind: 'push', event, args: new Args(p) })),
  );
  const encode = (f: ServerFrame): string => {
    switch (f.kind) {
      case 'ok': return encodeOk(f.id, f.args);
      case 'item': return encodeItem(f.id, f.args);
      case 'err': return encodeError(f.id, f.code as keyof typeof ERRORS, f.message);
      case 'push': return encodePush(f.event, f.args);
    }
  };
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), (frames, cuts) => {
      const bytes = Buffer.from(frames.map((f) => encode(f) + '\n').join(''), 'utf8');
      const reader = new LineReader(1 << 20);
      const got = chunk(bytes, cuts).flatMap((c) => reader.push(c)).map((r) => {
        if (!r.ok) throw r.error;
        return decodeServerFrame(r.line);
      });
      assert.deepStrictEqual(got, frames);
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

t.test('Args given as an object become ordered pairs; arrays repeat the key; null and undefined are left out', async (t) => {
  const a = Args.from({ n: 5, yes: true, no: false, gone: null, missing: undefined, to: ['ann', 7], s: '' });
  t.strictSame(a.pairs, [['n', '5'], ['yes', 'true'], ['no', 'false'], ['to', 'ann'], ['to', '7'], ['s', '']]);
  t.equal(encodeOk('1', { n: 5, to: ['a', 'b'] }), '1|OK|n=5|to=a|to=b');
  t.equal(encodePush('POPUP', { from: 'a|b' }), '*|POPUP|from=a\\|b');
  t.equal(encodeRequest('1', 'PING', 'tok'), '1|PING|tok');
  t.equal(encodeOk('1'), '1|OK');
});

t.test('Args get, getAll and has look keys up exactly', async (t) => {
  const a = new Args([['to', 'x'], ['To', 'y'], ['to', 'z']]);
  t.equal(a.get('to'), 'x');
  t.equal(a.get('TO'), undefined);
  t.strictSame(a.getAll('to'), ['x', 'z']);
  t.strictSame(a.getAll('nope'), []);
  t.ok(a.has('To'));
  t.notOk(a.has('tO'));
});

t.test('Args.toObject gives single keys as strings and repeated keys as arrays', async (t) => {
  const a = new Args([['to', 'x'], ['body', 'hi'], ['to', 'y'], ['to', 'z']]);
  t.strictSame({ ...a.toObject() }, { to: ['x', 'y', 'z'], body: 'hi' });
  t.strictSame({ ...new Args().toObject() }, {});
});

t.test('Args.toObject agrees with getAll for every key, including keys named like Object.prototype members', async (t) => {
  const key = fc.oneof(keyArb, fc.constantFrom('a', 'to', 'constructor', 'toString', 'valueOf', 'hasOwnProperty'));
  fc.assert(
    fc.property(fc.array(fc.tuple(key, unicodeString), { maxLength: 10 }), (pairs) => {
      const args = new Args(pairs);
      const obj = args.toObject();
      const keys = [...new Set(pairs.map(([k]) => k))];
      assert.deepStrictEqual(Object.keys(obj).sort(), keys.sort());
      for (const k of keys) {
        const all = args.getAll(k);
        assert.deepStrictEqual(obj[k], all.length === 1 ? all[0] : all, `key ${k}`);
      }
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

t.test('a request argument named "constructor" or "toString" reaches toObject as a plain string', async (t) => {
  // `out[k]` on a `{}` finds Object.prototype members, so these keys must not be mistaken for repeats.
  const req = decodeRequest('1|SEND|tok|constructor=x|toString=y|valueOf=z');
  t.strictSame({ ...req.args.toObject() }, { constructor: 'x', toString: 'y', valueOf: 'z' });
});

t.test('a server frame with no kind, an empty id or an unknown kind is BAD_FRAME', async (t) => {
  const lines = ['', '1', '|OK', '|', '1|NOPE', '1|ok', '1|EVENT|a=b'];
  t.strictSame(thrownBy(lines, decodeServerFrame), expectEach(lines, 'ProtocolError BAD_FRAME'));
});

t.test('a server frame with a malformed argument is BAD_ARGUMENT', async (t) => {
  const lines = ['1|OK|novalue', '1|ITEM|9=x', '*|POPUP|=x'];
  t.strictSame(thrownBy(lines, decodeServerFrame), expectEach(lines, 'SiarError BAD_ARGUMENT'));
});

t.test('an ERR frame with a code outside the catalogue is still decoded, and a missing code reads as INTERNAL', async (t) => {
  t.strictSame(decodeServerFrame('5|ERR|FUTURE_CODE|Something new.'), {
    kind: 'err', id: '5', code: 'FUTURE_CODE', message: 'Something new.',
  });
  t.strictSame(decodeServerFrame('5|ERR'), { kind: 'err', id: '5', code: 'INTERNAL', message: '' });
});

t.test('a frame with id "*" is always a push, whatever its second field', async (t) => {
  t.strictSame(decodeServerFrame('*|OK'), { kind: 'push', event: 'OK', args: new Args([]) });
});

// ---------------------------------------------------------------------------------------------
// Robustness: arbitrary bytes

const fragments = fc.constantFrom(
  '1|PING|tok|a=b', '*|POPUP|from=x', '7|OK|n=1', '7|ITEM|k=v', '7|ERR|NOT_FOUND|No such item.', '|', '||', '\\',
  '\\x', '\\|', '\\n', '=', 'a=', '=b', '\n', '\r\n', '\r', 'é', '😀', '\uFEFF', 'x'.repeat(70),
).map((s) => new Uint8Array(Buffer.from(s, 'utf8')));
const rawBytes = fc.constantFrom([0xff], [0x80], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0x00])
  .map((b) => new Uint8Array(b));
const streamArb = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.array(fc.oneof(fragments, rawBytes, fc.uint8Array({ maxLength: 8 })), { maxLength: 40 })
    .map((parts) => new Uint8Array(Buffer.concat(parts.map((p) => Buffer.from(p))))),
);

t.test('arbitrary bytes in arbitrary chunks through the reader and decoders only ever throw catalogued SiarErrors', async (t) => {
  fc.assert(
    fc.property(streamArb, fc.array(fc.nat(), { maxLength: 16 }), fc.integer({ min: 1, max: 128 }), (bytes, cuts, max) => {
      let reader = new LineReader(max);
      for (const c of chunk(Buffer.from(bytes), cuts)) {
        let lines;
        try {
          lines = reader.push(c);
        } catch (err) {
          if (!(err instanceof ProtocolError) || err.code !== 'FRAME_TOO_LONG') throw err;
          assert.ok(err.closes);
          reader = new LineReader(max); // the connection would be closed; start afresh
          continue;
        }
        for (const r of lines) {
          if (!r.ok) {
            if (!(r.error instanceof ProtocolError) || r.error.code !== 'BAD_UTF8') throw r.error;
            continue;
          }
          for (const decode of [decodeRequest, decodeServerFrame] as Array<(l: string) => unknown>) {
            try {
              decode(r.line);
            } catch (err) {
              if (!isCatalogued(err)) throw err;
              assert.ok(Object.prototype.hasOwnProperty.call(ERRORS, (err as SiarError).code));
            }
          }
          assert.ok(salvageId(r.line) === UNKNOWN_ID || ID_PATTERN.test(salvageId(r.line)));
        }
      }
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});

t.test('arbitrary strings given to the decoders only ever throw catalogued SiarErrors', async (t) => {
  fc.assert(
    fc.property(codeUnitString, (line) => {
      for (const decode of [decodeRequest, decodeServerFrame] as Array<(l: string) => unknown>) {
        try {
          decode(line);
        } catch (err) {
          assert.ok(isCatalogued(err), `${String(err)} is a catalogued SiarError`);
        }
      }
    }),
    { numRuns: NUM_RUNS },
  );
  t.pass('the property held for every generated case');
});
