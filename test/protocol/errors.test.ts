/**
 * The error catalogue (src/protocol/errors.ts). Each property is one assertion over the whole
 * catalogue that names the codes breaking it, rather than one assertion per code: a failure still
 * says which code, and the count of assertions says how many properties are checked.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import {
  ERRORS, ProtocolError, SiarError, decodeServerFrame, encodeError, isErrorCode, type ErrorCode,
} from '../../src/protocol/index.js';

const codes = Object.keys(ERRORS) as ErrorCode[];

/** The codes for which `check` does not hold (an empty list when the property holds). */
const breaking = (check: (code: ErrorCode) => boolean): ErrorCode[] => codes.filter((code) => !check(code));

t.test('the catalogue is not empty', async (t) => {
  t.ok(codes.length > 0);
});

t.test('every error code is UPPER_SNAKE', async (t) => {
  t.strictSame(breaking((code) => /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/.test(code)), []);
});

t.test('every error code has a one-line sentence: a capital first, a period last, no surrounding blanks', async (t) => {
  const isSentence = (m: string): boolean => m.length > 1 && m === m.trim() && /^[A-Z]/.test(m) && m.endsWith('.') && !/[\r\n]/.test(m);
  t.strictSame(breaking((code) => isSentence(ERRORS[code].message)), []);
});

t.test('isErrorCode accepts exactly the catalogue keys', async (t) => {
  t.strictSame(breaking(isErrorCode), [], 'every catalogue key');
  const others = ['', 'nope', 'bad_frame', 'toString', 'constructor', '__proto__', 'hasOwnProperty'];
  t.strictSame(others.filter(isErrorCode), [], 'nothing else, not even Object.prototype members');
});

t.test('a SiarError carries its code, the catalogue sentence by default, and the catalogue closes flag', async (t) => {
  const wrong = breaking((code) => {
    const err = new SiarError(code);
    return err instanceof Error && err.name === 'SiarError' && err.code === code
      && err.message === ERRORS[code].message && err.closes === ERRORS[code].closes;
  });
  t.strictSame(wrong, []);
});

t.test('a SiarError may carry a more specific sentence without changing its code or closes flag', async (t) => {
  const err = new SiarError('NOT_FOUND', 'No message 12.');
  t.strictSame({ message: err.message, code: err.code, closes: err.closes }, { message: 'No message 12.', code: 'NOT_FOUND', closes: false });
});

t.test('a ProtocolError is a SiarError for the wire-format codes; only FRAME_TOO_LONG closes', async (t) => {
  const wire = ['BAD_FRAME', 'BAD_ESCAPE', 'BAD_UTF8', 'FRAME_TOO_LONG'] as const;
  const seen = wire.map((code) => {
    const err = new ProtocolError(code);
    return { code: err.code, name: err.name, siar: err instanceof SiarError, message: err.message, closes: err.closes };
  });
  t.strictSame(seen, wire.map((code) => ({
    code, name: 'ProtocolError', siar: true, message: ERRORS[code].message, closes: code === 'FRAME_TOO_LONG',
  })));
});

t.test('errors that end the connection are marked as closing', async (t) => {
  const ending = ['SESSION_CLOSED', 'SESSION_EXPIRED', 'TOO_MANY_ERRORS', 'TIMEOUT', 'SHUTTING_DOWN'] as const;
  t.strictSame(ending.filter((code) => !ERRORS[code].closes), []);
});

t.test('every catalogued error travels as an ERR frame and decodes to the same code and sentence', async (t) => {
  const wrong = breaking((code) => {
    const frame = decodeServerFrame(encodeError('x1', code, ERRORS[code].message));
    return frame.kind === 'err' && frame.id === 'x1' && frame.code === code && frame.message === ERRORS[code].message;
  });
  t.strictSame(wrong, []);
});

// ---------------------------------------------------------------------------------------------
// The catalogue in the code and the one in the docs (docs/PROTOCOL.md §Errors says a test keeps them
// consistent): the codes in the first column of every "## Errors" table of docs/PROTOCOL*.md.

const PROTOCOL_DOCS = ['PROTOCOL.md', 'PROTOCOL-transfer.md', 'PROTOCOL-channels.md', 'PROTOCOL-admin.md'];

interface DocumentedCode {
  code: string;
  doc: string;
  /** The "closes" column's yes/no, where the table has one. */
  closes?: boolean;
}

/** The rows of each document's `## Errors` table, one entry per code (a cell may list several: `A` / `B`). */
function documentedCodes(doc: string, text: string): DocumentedCode[] {
  const section = text.split(/^## /m).find((s) => /^Errors\s*\n/.test(s));
  if (!section) return [];
  const rows = section.split('\n').filter((l) => l.startsWith('|')).map((l) => l.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim()));
  const header = rows[0] ?? [];
  const closesAt = header.indexOf('closes');
  const out: DocumentedCode[] = [];
  for (const row of rows.slice(2)) {
    const cell = row[0] ?? '';
    const closes = closesAt === -1 ? undefined : /yes/.test(row[closesAt] ?? '');
    for (const [, code] of cell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) out.push({ code: code!, doc, ...(closes === undefined ? {} : { closes }) });
  }
  return out;
}

const documented = PROTOCOL_DOCS.flatMap((doc) => documentedCodes(doc, readFileSync(new URL(`../../docs/${doc}`, import.meta.url), 'utf8')));

t.test('the error codes in docs/PROTOCOL*.md and the catalogue in the code are the same set', async (t) => {
  t.ok(documented.length > 0, 'the docs list error codes');
  const inDocs = new Set(documented.map((d) => d.code));
  t.strictSame([...inDocs].filter((c) => !isErrorCode(c)).sort(), [], 'every documented code is in src/protocol/errors.ts');
  t.strictSame(codes.filter((c) => !inDocs.has(c)).sort(), [], 'every catalogued code is documented');
});

t.test('the docs\' "closes" column agrees with the catalogue', async (t) => {
  const withColumn = documented.filter((d) => d.closes !== undefined);
  t.ok(withColumn.length > 0, 'docs/PROTOCOL.md has a closes column');
  const wrong = withColumn.filter((d) => isErrorCode(d.code) && ERRORS[d.code].closes !== d.closes).map((d) => `${d.doc}: ${d.code}`);
  t.strictSame(wrong, []);
});

t.test('documentedCodes reads codes, repeated cells and the closes column from an Errors table', async (t) => {
  const text = [
    '# X', '## Errors', '', '| code | meaning | closes |', '|---|---|---|',
    '| `A_ONE` | a \\| b | no |', '| `B_TWO` / `C3` | two | **yes** |', '', '## Limits', '| `NOT_AN_ERROR` | x | no |',
  ].join('\n');
  t.strictSame(documentedCodes('x.md', text), [
    { code: 'A_ONE', doc: 'x.md', closes: false },
    { code: 'B_TWO', doc: 'x.md', closes: true },
    { code: 'C3', doc: 'x.md', closes: true },
  ]);
  t.strictSame(documentedCodes('y.md', '# Y\n## Errors\n| code | when |\n|-|-|\n| `D` | d |\n'), [{ code: 'D', doc: 'y.md' }]);
  t.strictSame(documentedCodes('z.md', '# Z\nno errors here\n'), []);
});
