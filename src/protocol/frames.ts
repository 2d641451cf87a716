import { decodeFields, encodeFields, escapeField } from './fields.js';
import { ProtocolError, SiarError, type ErrorCode } from './errors.js';

/**
 * Frame layouts (docs/PROTOCOL.md §Frames), after the seed's blocks
 * `String | Token | Command | IP/Port`:
 *
 *   client → server   ID|VERB|TOKEN|key=value|key=value…
 *   server → client   ID|OK|key=value…          final reply
 *                     ID|ITEM|key=value…        one row of a list; the list ends with OK
 *                     ID|ERR|CODE|sentence      error reply
 *                     *|EVENT|key=value…        push, not a reply to anything
 *
 * ID is chosen by the client (1–32 of A-Z a-z 0-9 . _ -). A reply to a frame whose ID could not
 * be read carries ID `-`. An address travels as a value `host:port`.
 */
export const PUSH_ID = '*';
export const UNKNOWN_ID = '-';
const ID_PATTERN = /^[A-Za-z0-9._-]{1,32}$/;
const KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const VERB_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

export type ArgValue = string | number | boolean | null | undefined | readonly (string | number)[];
export type ArgInput = Readonly<Record<string, ArgValue>>;

/** Ordered key=value pairs; a key may repeat (a list). */
export class Args {
  constructor(readonly pairs: ReadonlyArray<readonly [string, string]> = []) {}

  static from(input: ArgInput = {}): Args {
    const pairs: [string, string][] = [];
    for (const [key, value] of Object.entries(input)) {
      if (value === undefined || value === null) continue;
      if (Array.isArray(value)) for (const v of value) pairs.push([key, String(v)]);
      else pairs.push([key, String(value)]);
    }
    return new Args(pairs);
  }

  get(key: string): string | undefined {
    for (const [k, v] of this.pairs) if (k === key) return v;
    return undefined;
  }

  getAll(key: string): string[] {
    return this.pairs.filter(([k]) => k === key).map(([, v]) => v);
  }

  has(key: string): boolean {
    return this.pairs.some(([k]) => k === key);
  }

  /** A plain object: single keys as strings, repeated keys as arrays. */
  toObject(): Record<string, string | string[]> {
    // No prototype: keys such as "constructor" arrive from peers and must be plain keys.
    const out: Record<string, string | string[]> = Object.create(null);
    for (const [k, v] of this.pairs) {
      const prev = out[k];
      if (prev === undefined) out[k] = v;
      else if (Array.isArray(prev)) prev.push(v);
      else out[k] = [prev, v];
    }
    return out;
  }

  toFields(): string[] {
    return this.pairs.map(([k, v]) => `${k}=${v}`);
  }

  static parse(fields: readonly string[]): Args {
    const pairs: [string, string][] = [];
    for (const field of fields) {
      const eq = field.indexOf('=');
      const key = eq === -1 ? field : field.slice(0, eq);
      if (eq === -1 || !KEY_PATTERN.test(key)) {
        if (field === '') continue; // tolerate a trailing `|` typed by hand
        throw new SiarError('BAD_ARGUMENT', `Argument "${truncate(field)}" is not key=value.`);
      }
      pairs.push([key, field.slice(eq + 1)]);
    }
    return new Args(pairs);
  }
}

export interface Request {
  id: string;
  verb: string;
  token: string;
  args: Args;
}

export type ServerFrame =
  | { kind: 'ok'; id: string; args: Args }
  | { kind: 'item'; id: string; args: Args }
  | { kind: 'err'; id: string; code: ErrorCode | string; message: string }
  | { kind: 'push'; event: string; args: Args };

/** Best-effort id of a frame that failed to parse, so its error can still be matched. */
export function salvageId(line: string): string {
  const bar = line.indexOf('|');
  const head = bar === -1 ? line : line.slice(0, bar);
  return ID_PATTERN.test(head) ? head : UNKNOWN_ID;
}

export function decodeRequest(line: string): Request {
  const fields = decodeFields(line);
  const [id, verb, token = '', ...rest] = fields;
  if (id === undefined || !ID_PATTERN.test(id)) {
    throw new ProtocolError('BAD_FRAME', 'A request starts with an id of 1-32 letters, digits, ".", "_" or "-".');
  }
  if (verb === undefined || !VERB_PATTERN.test(verb)) {
    throw new ProtocolError('BAD_FRAME', 'A request is ID|COMMAND|TOKEN|key=value….');
  }
  return { id, verb: verb.toUpperCase(), token, args: Args.parse(rest) };
}

export function encodeRequest(id: string, verb: string, token: string, args: Args | ArgInput = {}): string {
  const a = args instanceof Args ? args : Args.from(args);
  return encodeFields([id, verb, token, ...a.toFields()]);
}

export function encodeOk(id: string, args: Args | ArgInput = {}): string {
  const a = args instanceof Args ? args : Args.from(args);
  return encodeFields([id, 'OK', ...a.toFields()]);
}

export function encodeItem(id: string, args: Args | ArgInput): string {
  const a = args instanceof Args ? args : Args.from(args);
  return encodeFields([id, 'ITEM', ...a.toFields()]);
}

/**
 * ITEM rows that are the same for every request but their id, encoded once: the returned function
 * gives all of them, line feeds included, for one id as a single string (one allocation per reply
 * instead of several per row).
 */
export function itemRowsTemplate(rows: ReadonlyArray<Args | ArgInput>): (id: string) => string {
  // Joined with the id as separator: '' + id + '|ITEM|…\n' + id + '|ITEM|…\n' …
  const parts = ['', ...rows.map((args) => `${encodeItem('', args)}\n`)];
  return (id) => (rows.length === 0 ? '' : parts.join(escapeField(id)));
}

export function encodeError(id: string, code: ErrorCode, message: string): string {
  return encodeFields([id, 'ERR', code, message]);
}

export function encodePush(event: string, args: Args | ArgInput = {}): string {
  const a = args instanceof Args ? args : Args.from(args);
  return encodeFields([PUSH_ID, event, ...a.toFields()]);
}

export function decodeServerFrame(line: string): ServerFrame {
  const fields = decodeFields(line);
  const [id, kind, ...rest] = fields;
  if (id === undefined || kind === undefined || id === '') {
    throw new ProtocolError('BAD_FRAME', 'A server frame is ID|KIND|….');
  }
  if (id === PUSH_ID) return { kind: 'push', event: kind, args: Args.parse(rest) };
  switch (kind) {
    case 'OK': return { kind: 'ok', id, args: Args.parse(rest) };
    case 'ITEM': return { kind: 'item', id, args: Args.parse(rest) };
    case 'ERR': {
      const [code = 'INTERNAL', message = ''] = rest;
      return { kind: 'err', id, code, message };
    }
    default:
      throw new ProtocolError('BAD_FRAME', `Unknown server frame kind ${truncate(kind)}.`);
  }
}

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
