/**
 * A record from the server (MEMBERS, MAILQUEUE, AUDIT, BACKUPS rows) as a details box shows it:
 * words for the protocol's keys ("lastLoginAt" → "last login"), times without the T and the
 * milliseconds, yes/no for flags, and a word for what is empty.
 */
import type { Args } from '../../protocol/index.js';
import { shortTime } from './format.js';

/** A reply's row as an object; a key given twice keeps both values, comma-joined. */
export function recordOf(a: Args): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of a.pairs) out[k] = out[k] === undefined ? v : `${out[k]},${v}`;
  return out;
}

export interface FieldStyle {
  /** Words for keys; other keys are spelled out from camelCase ("nextAttemptAt" → "next attempt at"). */
  labels?: Record<string, string>;
  /** Keys whose "1"/"0" mean yes/no. */
  flags?: string[];
  /** What an empty value says, by key (default "—"). */
  empty?: Record<string, string>;
}

/** "nextAttemptAt" → "next attempt at". */
export function spellKey(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
}

export function readableFields(record: Record<string, string>, style: FieldStyle = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, raw] of Object.entries(record)) {
    const label = style.labels?.[key] ?? spellKey(key);
    let value = raw;
    if (style.flags?.includes(key)) value = raw === '1' ? 'yes' : raw === '0' || raw === '' ? 'no' : raw;
    else if (key === 'at' || /At$/.test(key)) value = shortTime(raw);
    out[label] = value === '' ? style.empty?.[key] ?? '—' : value;
  }
  return out;
}

export const MEMBER_FIELDS: FieldStyle = {
  labels: {
    createdAt: 'member since', lastLoginAt: 'last login', lastLoginAddress: 'last login from', online: 'online now',
    mustChangePassword: 'must change password',
  },
  flags: ['online', 'mustChangePassword'],
  empty: { lastLoginAt: 'never', lastLoginAddress: '—', phone: '(none)', address: '(none)' },
};

export const MAIL_FIELDS: FieldStyle = {
  labels: { attempts: 'tries', lastError: 'last error', nextAttemptAt: 'next attempt', sentAt: 'sent', createdAt: 'queued' },
  empty: { lastError: '(none)', sentAt: 'not yet' },
};

export const AUDIT_FIELDS: FieldStyle = {
  labels: { at: 'when', actor: 'by', subject: 'about', address: 'from address' },
  empty: { detail: '(none)', actor: '(nobody logged in)' },
};
