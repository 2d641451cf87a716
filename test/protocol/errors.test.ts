import t from 'tap';
import {
  ERRORS, ProtocolError, SiarError, decodeServerFrame, encodeError, isErrorCode, type ErrorCode,
} from '../../src/protocol/index.js';

const codes = Object.keys(ERRORS) as ErrorCode[];

t.test('the catalogue is not empty', async (t) => {
  t.ok(codes.length > 0);
});

t.test('every error code is UPPER_SNAKE', async (t) => {
  for (const code of codes) t.match(code, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, code);
});

t.test('every error code has a non-empty one-line sentence ending in a period', async (t) => {
  for (const code of codes) {
    const { message } = ERRORS[code];
    t.type(message, 'string', code);
    t.ok(message.trim().length > 1, `${code} has a sentence`);
    t.ok(message.endsWith('.'), `${code}: "${message}" ends in "."`);
    t.equal(message, message.trim(), `${code} has no surrounding blanks`);
    t.match(message, /^[A-Z]/, `${code} starts with a capital`);
    t.notOk(/[\r\n]/.test(message), `${code} is one line`);
  }
});

t.test('every error says with a boolean whether it closes the connection', async (t) => {
  for (const code of codes) t.type(ERRORS[code].closes, 'boolean', code);
});

t.test('isErrorCode accepts exactly the catalogue keys', async (t) => {
  for (const code of codes) t.ok(isErrorCode(code), code);
  for (const other of ['', 'nope', 'bad_frame', 'toString', 'constructor', '__proto__', 'hasOwnProperty']) {
    t.notOk(isErrorCode(other), JSON.stringify(other));
  }
});

t.test('a SiarError carries its code, the catalogue sentence by default, and the catalogue closes flag', async (t) => {
  for (const code of codes) {
    const err = new SiarError(code);
    t.ok(err instanceof Error);
    t.equal(err.name, 'SiarError');
    t.equal(err.code, code);
    t.equal(err.message, ERRORS[code].message);
    t.equal(err.closes, ERRORS[code].closes, `${code} closes`);
  }
});

t.test('a SiarError may carry a more specific sentence without changing its code or closes flag', async (t) => {
  const err = new SiarError('NOT_FOUND', 'No message 12.');
  t.equal(err.message, 'No message 12.');
  t.equal(err.code, 'NOT_FOUND');
  t.equal(err.closes, false);
});

t.test('a ProtocolError is a SiarError for the wire-format codes', async (t) => {
  for (const code of ['BAD_FRAME', 'BAD_ESCAPE', 'BAD_UTF8', 'FRAME_TOO_LONG'] as const) {
    const err = new ProtocolError(code);
    t.ok(err instanceof SiarError, `${code} is a SiarError`);
    t.ok(err instanceof ProtocolError);
    t.equal(err.name, 'ProtocolError');
    t.equal(err.code, code);
    t.equal(err.message, ERRORS[code].message);
    t.equal(err.closes, ERRORS[code].closes);
  }
});

t.test('FRAME_TOO_LONG closes the connection; the other wire-format errors do not', async (t) => {
  t.equal(ERRORS.FRAME_TOO_LONG.closes, true);
  t.equal(new ProtocolError('FRAME_TOO_LONG').closes, true);
  t.equal(new ProtocolError('BAD_FRAME').closes, false);
  t.equal(new ProtocolError('BAD_ESCAPE').closes, false);
  t.equal(new ProtocolError('BAD_UTF8').closes, false);
});

t.test('errors that end the connection are marked as closing', async (t) => {
  for (const code of ['SESSION_CLOSED', 'SESSION_EXPIRED', 'TOO_MANY_ERRORS', 'TIMEOUT', 'SHUTTING_DOWN'] as const) {
    t.equal(ERRORS[code].closes, true, code);
  }
});

t.test('every catalogued error travels as an ERR frame and decodes to the same code and sentence', async (t) => {
  for (const code of codes) {
    const err = new SiarError(code);
    t.strictSame(decodeServerFrame(encodeError('x1', err.code, err.message)), {
      kind: 'err', id: 'x1', code, message: ERRORS[code].message,
    });
  }
});
