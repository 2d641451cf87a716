/**
 * Shared fast-check arbitraries and helpers for the protocol codec tests.
 * Not a test file itself (tap only runs `*.test.ts`).
 */
import fc from 'fast-check';
import { ERRORS, ProtocolError, SiarError, isErrorCode, type ErrorCode } from '../../src/protocol/index.js';

export const NUM_RUNS = 500;

/** Characters the field codec treats specially, plus look-alikes of escape sequences. */
const awkward = fc.constantFrom('|', '\\', '\n', '\r', '\r\n', '=', '*', '-', '\\n', '\\|', '\\\\', '||', 'é', '€', '😀', '\u0000', '\uFEFF');

/** One well-formed code point (no lone surrogates), anywhere in Unicode. */
const anyCodePoint = fc.string({ unit: 'binary', minLength: 1, maxLength: 1 });

/** Well-formed Unicode strings (survive UTF-8 encoding unchanged), rich in `|`, `\`, CR, LF, and often empty. */
export const unicodeString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.oneof(awkward, anyCodePoint), maxLength: 24 }),
  fc.constant(''),
);

/** Arbitrary UTF-16 strings, lone surrogates included (valid JS strings that are not valid Unicode). */
export const codeUnitString: fc.Arbitrary<string> = fc.oneof(
  unicodeString,
  fc.string({
    unit: fc.oneof(awkward, fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))),
    maxLength: 24,
  }),
);

const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-';
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';

const charOf = (chars: string): fc.Arbitrary<string> => fc.constantFrom(...chars.split(''));

/** Request/reply ids: 1–32 of A-Z a-z 0-9 . _ - */
export const idArb: fc.Arbitrary<string> = fc.string({ unit: charOf(ID_CHARS), minLength: 1, maxLength: 32 });

/** Verbs matching /^[A-Za-z][A-Za-z0-9_-]{0,31}$/ in any letter case. */
export const verbArb: fc.Arbitrary<string> = fc
  .tuple(charOf(LETTERS), fc.string({ unit: charOf(LETTERS + DIGITS + '_-'), maxLength: 31 }))
  .map(([a, b]) => a + b);

/** Upper-case verbs / event names (what a decoder hands back unchanged). */
export const upperVerbArb: fc.Arbitrary<string> = fc
  .tuple(charOf(UPPER), fc.string({ unit: charOf(UPPER + DIGITS + '_-'), maxLength: 31 }))
  .map(([a, b]) => a + b);

/** Keys matching /^[A-Za-z][A-Za-z0-9_]{0,63}$/. */
export const keyArb: fc.Arbitrary<string> = fc
  .tuple(charOf(LETTERS), fc.string({ unit: charOf(LETTERS + DIGITS + '_'), maxLength: 63 }))
  .map(([a, b]) => a + b);

/** Keys drawn from a small pool as well, so that repeated keys are common. */
const pooledKeyArb: fc.Arbitrary<string> = fc.oneof(keyArb, fc.constantFrom('to', 'a', 'B', 'file_id', 'x1'));

/** Ordered key/value pairs, repeated keys likely; values are arbitrary Unicode. */
export const pairsArb: fc.Arbitrary<[string, string][]> = fc.array(fc.tuple(pooledKeyArb, unicodeString), {
  maxLength: 12,
});

/** Same, with values that may hold lone surrogates (for string-level round trips). */
export const pairsCodeUnitArb: fc.Arbitrary<[string, string][]> = fc.array(fc.tuple(pooledKeyArb, codeUnitString), {
  maxLength: 12,
});

export const errorCodeArb: fc.Arbitrary<ErrorCode> = fc.constantFrom(...(Object.keys(ERRORS) as ErrorCode[]));

/** Cuts `bytes` into chunks at the given (arbitrary, possibly duplicate or out-of-range) offsets. */
export function chunk(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  if (bytes.length === 0) return [bytes];
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** The few assertions the helpers below need (structural, so any tap Test fits). */
// tap declares its assertions with rest-tuple parameters, hence the loose signatures.
export interface Asserts {
  ok: (...args: any[]) => unknown;
  equal: (...args: any[]) => unknown;
  fail: (...args: any[]) => unknown;
}

/** Runs `fn`, expecting it to throw a SiarError (of `cls`, default SiarError) carrying `code`. */
export function throwsCode(
  t: Asserts,
  fn: () => unknown,
  code: ErrorCode,
  cls: typeof SiarError | typeof ProtocolError = SiarError,
): void {
  try {
    fn();
  } catch (err) {
    t.ok(err instanceof cls, `throws a ${cls.name}`);
    t.equal((err as SiarError).code, code, `with code ${code}`);
    return;
  }
  t.fail(`expected ${code} to be thrown`);
}

/**
 * What `fn` throws, as "Class CODE" ("ProtocolError BAD_FRAME"), or "no error": lets one assertion
 * compare a whole table of inputs with their expected errors and name the rows that differ.
 */
export function thrown(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof SiarError ? `${err.name} ${err.code}` : `not a SiarError: ${String(err)}`;
  }
  return 'no error';
}

/** For each input, what `fn(input)` throws; compare with `expectEach(inputs, "Class CODE")`. */
export function thrownBy<T>(inputs: readonly T[], fn: (input: T) => unknown): Record<string, string> {
  return Object.fromEntries(inputs.map((i) => [JSON.stringify(i), thrown(() => fn(i))]));
}

export function expectEach<T>(inputs: readonly T[], outcome: string): Record<string, string> {
  return Object.fromEntries(inputs.map((i) => [JSON.stringify(i), outcome]));
}

/** True if `err` is a SiarError (ProtocolError included) whose code is in the catalogue. */
export function isCatalogued(err: unknown): boolean {
  return err instanceof SiarError && typeof err.code === 'string' && isErrorCode(err.code);
}
