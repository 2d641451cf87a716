/** Readers of request arguments with the checks both ends make (the server on every request, the TUI's forms before sending). */
import { SiarError } from './errors.js';
import type { Args } from './frames.js';
import { hasTerminalControls } from './terminal-text.js';

/** Usernames are addresses on the wire: lower-case, no separators used by the protocol. */
export const USERNAME_PATTERN = /^[a-z][a-z0-9._-]{1,31}$/;
// Pragmatic: one @, a dot in the domain, no spaces or control characters.
const EMAIL_PATTERN = /^[^\s@<>()",;:\\]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;

export function requireText(args: Args, key: string, maxChars: number, label = key): string {
  const value = args.get(key)?.trim();
  if (!value) throw new SiarError('MISSING_ARGUMENT', `${label} is required (${key}=…).`);
  return withinChars(value, maxChars, label);
}

export function optionalText(args: Args, key: string, maxChars: number, label = key): string {
  return withinChars(args.get(key)?.trim() ?? '', maxChars, label);
}

/** Text kept exactly as sent (a message body's whitespace is the author's). */
export function optionalRawText(args: Args, key: string, maxChars: number, label = key): string {
  return withinChars(args.get(key) ?? '', maxChars, label);
}

/**
 * Limits count characters as people (and the TUI's editor) do, by code point: an emoji is one
 * character, not the two UTF-16 units JavaScript's `length` counts.
 */
function withinChars(value: string, maxChars: number, label: string): string {
  if (value.length <= maxChars) return value; // never more code points than code units
  let count = 0;
  for (const _ of value) {
    if (++count > maxChars) throw new SiarError('BAD_ARGUMENT', `${label} is longer than ${maxChars} characters.`);
  }
  return value;
}

export function requireUsername(args: Args, key = 'username'): string {
  const value = requireText(args, key, 64).toLowerCase();
  if (!USERNAME_PATTERN.test(value)) {
    throw new SiarError('BAD_ARGUMENT', `${key} must be 2-32 characters: a-z first, then a-z, 0-9, ".", "_" or "-".`);
  }
  return value;
}

export function requireEmail(args: Args, key = 'email'): string {
  const value = requireText(args, key, 254).toLowerCase();
  // Addresses are shown to the administrator: nothing in one may drive a terminal.
  if (!EMAIL_PATTERN.test(value) || hasTerminalControls(value)) throw new SiarError('BAD_EMAIL', `"${value}" is not a valid e-mail address.`);
  return value;
}

export function requireId(args: Args, key = 'id'): number {
  const raw = args.get(key);
  if (raw === undefined || raw === '') throw new SiarError('MISSING_ARGUMENT', `${key} is required.`);
  if (!/^[1-9][0-9]{0,15}$/.test(raw)) throw new SiarError('BAD_ARGUMENT', `${key} must be a positive integer.`);
  return Number(raw);
}

export function optionalId(args: Args, key: string): number | undefined {
  return args.has(key) && args.get(key) !== '' ? requireId(args, key) : undefined;
}

export function pageFrom(args: Args, maxPageSize: number, defaultLimit = 50): { limit: number; beforeId?: number } {
  const limit = args.has('limit') ? requireId(args, 'limit') : defaultLimit;
  const beforeId = optionalId(args, 'before');
  return { limit: Math.min(limit, maxPageSize), ...(beforeId !== undefined ? { beforeId } : {}) };
}

export function flag(args: Args, key: string): boolean {
  const v = args.get(key);
  return v === '1' || v === 'true' || v === 'yes';
}
