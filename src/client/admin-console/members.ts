/** The member usernames forms check names against before sending. */
import type { Requester } from '../channels.js';

/** Every member's username (MEMBERS), or null when the list cannot be had (the server still checks). */
export async function knownMembers(session: Requester): Promise<Set<string> | null> {
  try {
    const reply = await session.request('MEMBERS');
    return new Set(reply.items.map((a) => a.get('username') ?? '').filter(Boolean));
  } catch {
    return null;
  }
}
