/** The members the console's forms and pick-lists offer and check names against. */
import type { Requester } from '../channels.js';
import type { PickItem } from './pick-list.js';

/** Every member as a pick-list row (username, institution and a word when not active), or null when the list cannot be had. */
export async function memberItems(session: Requester): Promise<PickItem[] | null> {
  try {
    const reply = await session.request('MEMBERS');
    return reply.items
      .map((a) => ({ name: a.get('username') ?? '', institution: a.get('institution') ?? '', status: a.get('status') ?? 'active' }))
      .filter((m) => m.name)
      .map((m) => ({ name: m.name, detail: m.status === 'active' ? m.institution : `${m.institution} (${m.status})` }));
  } catch {
    return null;
  }
}
