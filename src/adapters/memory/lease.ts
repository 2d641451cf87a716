/** Leases in this process's memory: today's single node (or several nodes of one test sharing it). */
import type { LeaseGrant, Leases } from '../../core/ports/lease.js';

interface Held {
  token: number;
  until: number;
}

export class MemoryLeases implements Leases {
  private readonly held = new Map<string, Held>();
  /** The last token granted per name (never reset, so tokens only grow). */
  private readonly fences = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  async acquire(name: string, ttlMs: number): Promise<LeaseGrant | null> {
    const t = this.now();
    const current = this.held.get(name);
    if (current && current.until > t) return null;
    const token = (this.fences.get(name) ?? 0) + 1;
    this.fences.set(name, token);
    this.held.set(name, { token, until: t + ttlMs });
    return { name, token };
  }

  async renew(grant: LeaseGrant, ttlMs: number): Promise<boolean> {
    const t = this.now();
    const current = this.held.get(grant.name);
    if (!current || current.token !== grant.token || current.until <= t) return false;
    current.until = t + ttlMs;
    return true;
  }

  async release(grant: LeaseGrant): Promise<void> {
    if (this.held.get(grant.name)?.token === grant.token) this.held.delete(grant.name);
  }

  async close(): Promise<void> {
    this.held.clear();
  }
}
