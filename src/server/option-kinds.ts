/**
 * The kinds of value a `siar server` option takes (options.ts). A value is read the same way from a
 * flag, an environment variable (text) or the config file (a YAML scalar: text, a number or a
 * boolean), and written back the way an operator writes it, so what `--print-config` prints can be
 * read again.
 */
import net from 'node:net';
import { parseByteSize, parseDuration, parsePortRange } from '../protocol/units.js';

/** What a source gives. */
export type RawValue = string | number | boolean;
export interface PortRange { from: number; to: number }
export type OptionValue = number | string | PortRange;

/** What every kind of option says about itself. */
interface Described {
  /** The flag (`--max-connections`), the file key (`max-connections`) and, as SIAR_MAX_CONNECTIONS, the environment variable. */
  name: string;
  /** Where --help, the example file and the reference list it. */
  group: string;
  /** A lower-case phrase, as --help shows it. */
  describe: string;
  /** Masked wherever it is shown (the SMTP password). */
  secret?: boolean;
  /** Default null: what happens when it is not set, and a value to show in the example file. */
  unset?: { means: string; example: string };
}

/** A whole number, a size (bytes) or a duration (milliseconds), within bounds. */
export interface NumberKind {
  kind: 'integer' | 'size' | 'duration';
  default: number | null;
  min: number;
  max?: number;
  /** What 0 means when 0 is allowed below `min` (0 = no limit). */
  zero?: string;
}
/**
 * Text; a path is text too, taken from the directory the server starts in. `pattern`: what the text
 * must match, and how that reads for people (`says`, after "must be").
 */
export interface TextKind { kind: 'string' | 'path' | 'host'; default: string | null; pattern?: { regex: RegExp; says: string } }
export interface ChoiceKind { kind: 'enum'; choices: readonly string[]; default: string | null }
export interface UrlKind { kind: 'url'; schemes: readonly string[]; default: string | null }
export interface PortRangeKind { kind: 'port-range'; default: PortRange | null }
/** Where the store is: a file path (sqlite:PATH or PATH) or a postgres:// URL (src/adapters/index.ts). */
export interface StoreKind { kind: 'store'; default: null }
export type ValueKind = NumberKind | TextKind | ChoiceKind | UrlKind | PortRangeKind | StoreKind;
export type KindSpec = Described & ValueKind;

/** How a value of the kind is written: for --help, the example file and the reference. */
export function placeholder(spec: ValueKind): string {
  switch (spec.kind) {
    case 'integer': return 'N';
    case 'size': return 'SIZE';
    case 'duration': return 'DURATION';
    case 'string': return 'TEXT';
    case 'path': return 'PATH';
    case 'host': return 'HOST';
    case 'enum': return spec.choices.join('|');
    case 'url': return 'URL';
    case 'port-range': return 'FROM-TO';
    case 'store': return 'PATH|URL';
  }
}

/** The value a raw one stands for; throws an Error whose message is a sentence about the value. */
export function parseValue(spec: KindSpec, raw: RawValue): OptionValue {
  // A secret is never repeated in an error (it would reach a terminal or a log).
  const shown = spec.secret ? 'the value' : `"${String(raw)}"`;
  switch (spec.kind) {
    case 'integer': return inBounds(spec, parseInteger(raw, shown));
    case 'size': return inBounds(spec, typeof raw === 'boolean' ? notA(shown, 'size (e.g. 1048576, 500M, 1GiB)') : parseByteSize(raw));
    case 'duration': {
      if (typeof raw === 'boolean') notA(shown, 'duration (e.g. 60, 30s, 10m, 24h)');
      // A duration whose 0 means something (off, never) also takes the word.
      if (spec.zero !== undefined && String(raw).trim().toLowerCase() === 'off') return 0;
      return inBounds(spec, parseDuration(raw as string | number));
    }
    case 'string':
    case 'path': {
      const text = nonEmpty(raw, shown);
      if (spec.pattern && !spec.pattern.regex.test(text)) throw new Error(`${shown} is not valid: it must be ${spec.pattern.says}.`);
      return text;
    }
    case 'host': {
      const host = nonEmpty(raw, shown);
      if (!net.isIP(host) && !HOSTNAME.test(host)) notA(shown, 'host name or IP address');
      return host;
    }
    case 'enum': {
      const choice = String(raw);
      if (!spec.choices.includes(choice)) throw new Error(`${shown} is not one of ${spec.choices.join(', ')}.`);
      return choice;
    }
    case 'url': return parseUrl(spec, nonEmpty(raw, shown));
    case 'port-range': return parsePortRange(String(raw));
    case 'store': return parseStore(nonEmpty(raw, shown), shown);
  }
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

function notA(shown: string, what: string): never {
  throw new Error(`${shown} is not a ${what}.`);
}

function parseInteger(raw: RawValue, shown: string): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n)) notA(shown, 'whole number');
  return n;
}

function nonEmpty(raw: RawValue, shown: string): string {
  if (typeof raw === 'boolean') notA(shown, 'text (put it in quotes)');
  const text = String(raw).trim();
  if (!text) throw new Error('the value is empty.');
  return text;
}

/** A path, sqlite:PATH, or a postgres:// URL with a host; nothing else names a store siar has. */
function parseStore(text: string, shown: string): string {
  if (/^postgres(ql)?:\/\//i.test(text)) {
    let host = '';
    try { host = new URL(text).hostname; } catch { /* below */ }
    if (!host) notA(shown, 'PostgreSQL URL (postgres://user@host:port/database)');
    return text;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) notA(shown, 'store: give a file path (sqlite:PATH) or postgres://user@host:port/database');
  return text;
}

function parseUrl(spec: UrlKind & Described, text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`is not a URL (e.g. ${spec.unset?.example ?? `${spec.schemes[0]}//host:port`}).`);
  }
  if (!spec.schemes.includes(url.protocol) || !url.hostname) {
    throw new Error(`must be a URL with a host, starting ${spec.schemes.map((s) => `${s}//`).join(' or ')}.`);
  }
  return text;
}

function inBounds(spec: NumberKind, n: number): number {
  if (!Number.isFinite(n)) throw new Error(`"${n}" is not a number.`);
  if (n === 0 && spec.zero !== undefined) return n;
  const zero = spec.zero !== undefined ? ` (or 0: ${spec.zero})` : '';
  if (n < spec.min) throw new Error(`must be at least ${formatBound(spec, spec.min)}${zero}, not ${formatBound(spec, n)}.`);
  if (spec.max !== undefined && n > spec.max) throw new Error(`must be at most ${formatBound(spec, spec.max)}, not ${formatBound(spec, n)}.`);
  return n;
}

function formatBound(spec: NumberKind, n: number): string {
  return String(formatValue(spec, n));
}

const SIZE_UNITS: Array<[string, number]> = [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]];
const DURATION_UNITS: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];

/** The value as an operator writes it: `64KiB`, `5m`, `40000-40099`; a plain number where no unit fits. */
export function formatValue(spec: ValueKind, value: OptionValue): string | number {
  if (typeof value === 'object') return value.from === value.to ? String(value.from) : `${value.from}-${value.to}`;
  if (typeof value === 'string') return value;
  if (spec.kind === 'size') return withUnit(value, SIZE_UNITS, '');
  if (spec.kind === 'duration') return value === 0 ? 0 : withUnit(value, DURATION_UNITS, 'ms');
  return value;
}

/** The largest unit that divides `n` exactly; the base unit (or a bare number) otherwise. */
function withUnit(n: number, units: Array<[string, number]>, base: string): string | number {
  for (const [unit, size] of units) {
    if (n !== 0 && n % size === 0) return `${n / size}${unit}`;
  }
  return base ? `${n}${base}` : n;
}

/** A secret option's value as it may be shown: a store's file path as it is (it holds no password). */
export function maskSecretOf(spec: KindSpec, value: string): string {
  return spec.kind === 'store' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : maskSecret(value);
}

/** A secret as it may be shown: an URL keeps everything but its password; anything else is hidden whole. */
export function maskSecret(value: string): string {
  try {
    const url = new URL(value);
    if (!url.password) return value;
    url.password = '***';
    return url.toString().replace('%2A%2A%2A', '***');
  } catch {
    return '***';
  }
}
