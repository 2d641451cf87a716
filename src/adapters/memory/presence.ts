/** Presence in this process's memory: today's single node, or several nodes of one test process. */
import type { OnlineEntry, Presence, PresenceEntry } from '../../core/ports/presence.js';

export class MemoryPresence implements Presence {
  /** Per member, its connections keyed by node and cid; Map order is the order they came online. */
  private readonly byUser = new Map<number, Map<string, PresenceEntry>>();
  private readonly byConnection = new Map<string, PresenceEntry>();

  async set(entry: PresenceEntry): Promise<void> {
    this.drop(entry.node, entry.cid);
    const key = keyOf(entry.node, entry.cid);
    const copy = { ...entry };
    this.byConnection.set(key, copy);
    let conns = this.byUser.get(entry.userId);
    if (!conns) this.byUser.set(entry.userId, (conns = new Map()));
    conns.set(key, copy);
  }

  async remove(node: string, cid: number): Promise<void> {
    this.drop(node, cid);
  }

  async removeNode(node: string): Promise<void> {
    for (const e of [...this.byConnection.values()]) if (e.node === node) this.drop(e.node, e.cid);
  }

  async connectionsOf(userId: number, options: { exceptNode?: string } = {}): Promise<number> {
    const conns = this.byUser.get(userId);
    if (!conns || options.exceptNode === undefined) return conns?.size ?? 0;
    let n = 0;
    for (const e of conns.values()) if (e.node !== options.exceptNode) n++;
    return n;
  }

  async onlineAmong(userIds: readonly number[]): Promise<Set<number>> {
    return new Set(userIds.filter((id) => this.byUser.has(id)));
  }

  async acceptsPopups(userId: number): Promise<boolean> {
    for (const e of this.byUser.get(userId)?.values() ?? []) if (e.popups) return true;
    return false;
  }

  async online(): Promise<OnlineEntry[]> {
    return [...this.byUser.entries()].map(([userId, conns]) => {
      const list = [...conns.values()];
      return {
        userId, username: list[0]!.username,
        connections: list.map((c) => ({ node: c.node, cid: c.cid, address: c.address, since: c.since })),
      };
    });
  }

  async close(): Promise<void> {
    this.byUser.clear();
    this.byConnection.clear();
  }

  private drop(node: string, cid: number): void {
    const key = keyOf(node, cid);
    const e = this.byConnection.get(key);
    if (!e) return;
    this.byConnection.delete(key);
    const conns = this.byUser.get(e.userId);
    if (conns?.delete(key) && conns.size === 0) this.byUser.delete(e.userId);
  }
}

function keyOf(node: string, cid: number): string {
  return `${node}\n${cid}`;
}
