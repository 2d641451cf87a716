import { SiarError } from '../protocol/index.js';
import type { Services } from './commands/types.js';
import type { Audience, User } from './store/types.js';
import { USERNAME_PATTERN } from './validation.js';

/**
 * Turns a SEND's addressing into recipient ids, resolved at send time and recorded with the
 * message. Any name that is not an active member fails the whole send: nothing goes half-way.
 */
export interface RecipientRequest {
  /** Usernames, already split and lower-cased. */
  to: string[];
  /** Broadcast to every active member but the sender. */
  all: boolean;
}

/** `to=a,b` and `to=a|to=b` both work; order kept, duplicates dropped. */
export function recipientNames(values: string[]): string[] {
  const names = values.flatMap((v) => v.split(',')).map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const n of names) {
    if (!USERNAME_PATTERN.test(n)) throw new SiarError('UNKNOWN_RECIPIENT', `"${n}" is not a valid username.`);
  }
  return [...new Set(names)];
}

export async function resolveRecipients(
  services: Services, sender: User, request: RecipientRequest,
): Promise<{ audience: Audience; ids: number[] }> {
  const { to, all } = request;
  const { store } = services;
  if (all && to.length > 0) throw new SiarError('BAD_ARGUMENT', 'Give either to= or all=1, not both.');
  if (all) {
    const ids = (await store.listActiveMemberIds()).filter((id) => id !== sender.id);
    if (ids.length === 0) throw new SiarError('NO_RECIPIENTS', 'There are no other active members to broadcast to.');
    return { audience: 'all', ids };
  }
  if (to.length === 0) throw new SiarError('NO_RECIPIENTS', 'Name at least one recipient (to=) or broadcast (all=1).');
  const { found, missing } = await store.resolveActiveMembers(to);
  if (missing.length > 0) {
    throw new SiarError('UNKNOWN_RECIPIENT', `Not an active member: ${missing.join(', ')}. Nothing was sent.`);
  }
  return { audience: found.length === 1 ? 'direct' : 'list', ids: found.map((u: User) => u.id) };
}

