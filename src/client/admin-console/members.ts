/** The members the console's forms and pick-lists offer and check names against. */
import type { AdminCalls } from '../calls.js';
import type { PickItem } from './pick-list.js';

/** Every member as a pick-list row (username, institution and a word when not active), or null when the list cannot be had. */
export async function memberItems(session: { admin: AdminCalls }): Promise<PickItem[] | null> {
  try {
    return (await session.admin.members())
      .map((m) => ({ name: m.username, institution: m.institution, status: m.status || 'active' }))
      .filter((m) => m.name)
      .map((m) => ({ name: m.name, detail: m.status === 'active' ? m.institution : `${m.institution} (${m.status})` }));
  } catch {
    return null;
  }
}
