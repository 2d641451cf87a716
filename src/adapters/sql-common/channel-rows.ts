/**
 * Channels and groups (src/core/ports/store/channels.ts) as both SQL stores map their rows.
 */
import type { Channel, Group } from '../../core/ports/store/channels.js';

/** A channel as both stores read it (SQLite's and PostgreSQL's rows have these columns). */
export function toChannel(r: {
  id: number; name: string; description: string; access: Channel['access']; publish: Channel['publish'];
  created_at: string; archived_at: string | null; subscribers: number;
}): Channel {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    access: r.access,
    publish: r.publish,
    createdAt: r.created_at,
    archivedAt: r.archived_at,
    subscribers: r.subscribers,
  };
}

export function toGroup(r: { id: number; name: string; description: string; created_at: string; members: number }): Group {
  return { id: r.id, name: r.name, description: r.description, createdAt: r.created_at, members: r.members };
}
