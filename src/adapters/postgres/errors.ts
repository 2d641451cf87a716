/**
 * PostgreSQL's errors as the store's callers understand them: a broken uniqueness rule becomes a
 * StoreError 'conflict' on the field it protects; lock timeouts, deadlocks, serialization failures
 * and lost connections become StoreError 'busy' (the client hears BUSY and may retry); anything
 * else is left as it is (a bug: the client hears INTERNAL).
 */
import { StoreError, busy, conflict } from '../../core/ports/store/errors.js';

/** Named in schema.postgres.sql: the unique constraints and indexes a registration can break. */
const CONFLICT_FIELD: Record<string, 'username' | 'email'> = {
  users_username_unique: 'username',
  registration_pending_username_unique: 'username',
  users_email_unique: 'email',
  registration_pending_email_unique: 'email',
};

const UNIQUE_VIOLATION = '23505';

/** SQLSTATEs after which the same request may well succeed a moment later. */
const CONTENTION = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available (lock_timeout)
  '57014', // query_canceled (statement_timeout)
]);
const UNAVAILABLE_STATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, in recovery)
  '53300', // too_many_connections
  '25006', // read_only_sql_transaction (a standby)
]);
/** Node's socket errors, and pg's own words for a connection it lost or could not get. */
const UNAVAILABLE_SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const UNAVAILABLE_TEXT = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|Cannot use a pool after calling end)/;

interface PgErrorFields {
  code?: unknown;
  constraint?: unknown;
  message?: unknown;
}

/** The unique violation's field, if it is one the caller can report. */
export function conflictField(err: unknown): 'username' | 'email' | null {
  const e = err as PgErrorFields | null;
  if (e?.code !== UNIQUE_VIOLATION || typeof e.constraint !== 'string') return null;
  return CONFLICT_FIELD[e.constraint] ?? null;
}

/** True when `err` broke the unique constraint with this name. */
export function violates(err: unknown, constraint: string): boolean {
  const e = err as PgErrorFields | null;
  return e?.code === UNIQUE_VIOLATION && e.constraint === constraint;
}

/** Why the database could not do it now, or null when the error says something else. */
export function busyReason(err: unknown): 'contention' | 'unavailable' | null {
  if (err instanceof StoreError && err.failure.kind === 'busy') return err.failure.reason;
  const e = err as PgErrorFields | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (CONTENTION.has(code)) return 'contention';
  if (UNAVAILABLE_STATES.has(code) || code.startsWith('08') || UNAVAILABLE_SOCKET.has(code)) return 'unavailable';
  if (typeof e?.message === 'string' && UNAVAILABLE_TEXT.test(e.message)) return 'unavailable';
  return null;
}

/** The error a caller of the store should see for what node-postgres threw. */
export function storeError(err: unknown): unknown {
  if (err instanceof StoreError) return err;
  const field = conflictField(err);
  if (field) return conflict(field);
  const reason = busyReason(err);
  if (reason === 'contention') return busy(reason, `The database is busy (${describe(err)}); nothing was changed. Retry.`, err);
  if (reason === 'unavailable') return busy(reason, `The database cannot be reached (${describe(err)}). Retry later.`, err);
  return err;
}

function describe(err: unknown): string {
  const e = err as PgErrorFields | null;
  const code = typeof e?.code === 'string' ? `${e.code}: ` : '';
  return `${code}${typeof e?.message === 'string' ? e.message : String(err)}`;
}
