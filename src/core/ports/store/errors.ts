/**
 * How a store refuses: one StoreError class with a `kind` and what the caller needs to word the
 * refusal (the `failure`). Every adapter throws these, never a wire error code or an engine's own
 * error for these cases; src/core/wire-errors.ts alone turns them into the protocol's codes.
 * Anything else a store throws is a bug (the client hears INTERNAL) or a full disk.
 */

/** What was refused and why, by kind. */
export type StoreFailure =
  /** A uniqueness rule: a username or e-mail taken or requested, a channel or group name taken. */
  | { kind: 'conflict'; field: 'username' | 'email'; value?: string }
  | { kind: 'conflict'; field: 'name'; of: 'channel' | 'group'; value: string }
  /** The registration request, member, channel or group with that id does not exist. */
  | { kind: 'not_found'; what: 'registration' | 'user' | 'channel' | 'group'; id: number }
  /** The registration request was approved, rejected or expired already. */
  | { kind: 'already_decided'; id: number }
  /** The channel is archived: it takes no new messages and no new subscribers. */
  | { kind: 'archived'; channel: string }
  /** The restricted channel only admits members the administrator chose. */
  | { kind: 'restricted'; channel: string }
  /** A bound on what may wait at once was reached (pending registrations, overall or per address). */
  | { kind: 'limit'; what: 'pending_registrations' }
  /** The sender's messages would take more than its storage quota. */
  | { kind: 'quota'; usedBytes: number; messageBytes: number; quotaBytes: number }
  /**
   * The store could not do it now, though nothing is wrong with the request: 'contention' (a lock
   * waited for too long, a deadlock, a serialization failure; nothing was changed) or 'unavailable'
   * (the database could not be reached or went away; a COMMIT in flight has an unknown outcome).
   */
  | { kind: 'busy'; reason: 'contention' | 'unavailable' };

export type StoreErrorKind = StoreFailure['kind'];

export class StoreError<K extends StoreErrorKind = StoreErrorKind> extends Error {
  readonly kind: K;

  constructor(
    readonly failure: Extract<StoreFailure, { kind: K }>,
    /** A sentence about what was refused, for logs and for callers with nothing better to say. */
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
    this.kind = failure.kind as K;
  }
}

/** True when `err` is a StoreError (of one of `kinds`, when given). */
export function isStoreError<K extends StoreErrorKind>(err: unknown, ...kinds: K[]): err is StoreError<K> {
  return err instanceof StoreError && (kinds.length === 0 || (kinds as StoreErrorKind[]).includes(err.kind));
}

/** The store's sentences for a taken username or e-mail (both adapters say the same). */
export const TAKEN = {
  username: 'That username is already taken or requested.',
  email: 'That e-mail address is already registered or requested.',
} as const;

/** A username or e-mail already taken or requested. */
export function conflict(field: 'username' | 'email', value?: string): StoreError<'conflict'> {
  return new StoreError({ kind: 'conflict', field, ...(value === undefined ? {} : { value }) }, TAKEN[field]);
}

/** A second channel or group with the same name. */
export function nameTaken(of: 'channel' | 'group', name: string): StoreError<'conflict'> {
  return new StoreError({ kind: 'conflict', field: 'name', of, value: name }, `There is already a ${of} named ${name}.`);
}

const NOT_FOUND_NAME = { registration: 'registration request', user: 'user', channel: 'channel', group: 'group' } as const;

export function notFound(what: 'registration' | 'user' | 'channel' | 'group', id: number): StoreError<'not_found'> {
  return new StoreError({ kind: 'not_found', what, id }, `No ${NOT_FOUND_NAME[what]} ${id}.`);
}

export function alreadyDecided(id: number): StoreError<'already_decided'> {
  return new StoreError({ kind: 'already_decided', id }, `The registration request ${id} was already decided.`);
}

/** `sending`: refused while storing a message (nothing was sent), else while subscribing. */
export function archived(channel: string, sending = false): StoreError<'archived'> {
  return new StoreError({ kind: 'archived', channel }, `The channel ${channel} is archived${sending ? '; nothing was sent' : ''}.`);
}

export function restricted(channel: string): StoreError<'restricted'> {
  return new StoreError({ kind: 'restricted', channel }, `The channel ${channel} is restricted to members the administrator chose.`);
}

/** `scope`: pending requests from everyone (the most the server keeps) or from one address. */
export function pendingLimit(count: number, scope: 'everyone' | 'address'): StoreError<'limit'> {
  return new StoreError({ kind: 'limit', what: 'pending_registrations' }, scope === 'everyone'
    ? `${count} registration requests are already waiting for a decision, the most this server keeps.`
    : `${count} registration requests from this address are already waiting for a decision.`);
}

export function quotaExceeded(usedBytes: number, messageBytes: number, quotaBytes: number): StoreError<'quota'> {
  return new StoreError({ kind: 'quota', usedBytes, messageBytes, quotaBytes },
    `the sender's messages take ${usedBytes} bytes; ${messageBytes} more would pass the quota of ${quotaBytes}`);
}

export function busy(reason: 'contention' | 'unavailable', message: string, cause?: unknown): StoreError<'busy'> {
  return new StoreError({ kind: 'busy', reason }, message, cause === undefined ? undefined : { cause });
}
