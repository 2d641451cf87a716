/**
 * The one place where a store's refusal (StoreError, src/core/ports/store/errors.ts) becomes a
 * protocol error code and the sentence the client reads. The dispatcher and the transfer service
 * call it; command handlers do not catch store errors themselves.
 */
import { SiarError } from '../protocol/errors.js';
import { formatBytes } from '../protocol/units.js';
import { StoreError } from './ports/store/errors.js';
import { BusUnreachable } from './ports/unreachable.js';

/** What a client reads when what it asked needs Redis (--bus) and Redis cannot be reached. */
export const BUS_UNREACHABLE_SENTENCE = 'The server cannot reach Redis, which the nodes of this cluster share, right now; try again shortly.';

/** The protocol error for a store refusal (or an unreachable bus), or null when `err` is neither. */
export function wireError(err: unknown): SiarError | null {
  if (err instanceof BusUnreachable) return new SiarError('BUSY', BUS_UNREACHABLE_SENTENCE);
  if (!(err instanceof StoreError)) return null;
  const f = err.failure;
  switch (f.kind) {
    case 'conflict':
      if (f.field === 'name') return new SiarError('DUPLICATE_NAME', err.message);
      if (f.field === 'username') {
        return new SiarError('DUPLICATE_USERNAME', f.value === undefined ? err.message : `The username "${f.value}" is already taken or requested.`);
      }
      return new SiarError('DUPLICATE_EMAIL', f.value === undefined ? err.message : `The e-mail address ${f.value} is already registered or requested.`);
    case 'not_found':
      if (f.what === 'channel') return new SiarError('UNKNOWN_CHANNEL', err.message);
      if (f.what === 'group') return new SiarError('UNKNOWN_GROUP', err.message);
      return new SiarError('NOT_FOUND', err.message);
    case 'already_decided':
      return new SiarError('ALREADY_DECIDED');
    case 'archived':
      return new SiarError('CHANNEL_ARCHIVED', err.message);
    case 'restricted':
      return new SiarError('CHANNEL_RESTRICTED', err.message);
    case 'limit':
      return new SiarError('TOO_MANY_REQUESTS', `${err.message} Wait until the administrator has decided.`);
    case 'quota':
      return new SiarError('QUOTA_EXCEEDED',
        `Your messages and attachments take ${formatBytes(f.usedBytes)} of your ${formatBytes(f.quotaBytes)} quota; `
        + `this one (${formatBytes(f.messageBytes)}) does not fit, so nothing was sent. Ask the administrator for a larger quota.`);
    case 'busy':
      // The store's own sentence names the engine's error: for the log, not for the client.
      return new SiarError('BUSY', f.reason === 'unavailable'
        ? 'The server cannot reach its database right now; try again shortly.'
        : undefined);
  }
}
