/**
 * What this node keeps of members between commands, so that a SEND reads neither its sender's
 * session nor its member, nor the ids of recipients it named before, from the store again: on
 * PostgreSQL those were three round trips of a direct SEND's seven, each waiting for one of the
 * pool's connections under cross-node load (bench/README.md, issue 19). SQLite's store has a cache
 * of its own (read-cache.ts); this one is the node's, and works whatever the store.
 *
 * Kept:
 * - per connection, the session its token names and that session's member, as the dispatcher (or
 *   LOGIN, RESUME) last read them, for that token only;
 * - per username, the id of an active member a SEND named (usernames are never changed or reused;
 *   a name that is not an active member is never kept, so a new member is found at once).
 *
 * Forgotten when anything may have changed them, whichever node changed it:
 * - a member's entries when the bus says the member changed (`member_changed`: suspended,
 *   reactivated, password set or reset) or sessions of it were closed (`session_closed`: logout,
 *   suspension, password change or reset); the router tells this cache of the events this node
 *   publishes before they go out, so a change made here applies to this node's next command;
 * - everything when the bus reconnects (events may have been lost meanwhile);
 * - an entry older than `maxAgeMs` (on a bus that can lose events: a loss not followed by a
 *   reconnection is then acted on that late at most, as the periodic catch-up bounds a lost popup).
 *
 * A read that was under way when a change was heard is not kept: each entry carries a stamp taken
 * before its read, and a change heard later makes it stale. A change made on another node applies
 * here when its event arrives (the bus's delay, milliseconds), as the closing of its connections does.
 */
import type { BusEvent } from '../core/ports/bus.js';
import type { Session, User } from '../core/ports/store.js';

/** A session and its member, as the dispatcher checked them. */
export interface CheckedAuth {
  user: User;
  session: Session;
}

/** An active member's id by username: what a SEND's recipients need. */
export interface ActiveMember {
  id: number;
  username: string;
}

export type ActiveMembersLoad = (usernames: string[]) => Promise<{ found: ActiveMember[]; missing: string[] }>;

interface Stamped {
  /** The member the entry is about. */
  userId: number;
  /** mark() taken before the read the entry comes from. */
  stamp: number;
  /** When it was read (ms). */
  at: number;
}

interface AuthEntry extends Stamped {
  tokenHash: string;
  auth: CheckedAuth;
}

export interface AccountCacheOptions {
  /** How long an entry is trusted without hearing of a change; Infinity where no event can be lost (in process). */
  maxAgeMs: number;
  /** Usernames and changed members remembered at most; past it they are dropped and read again. */
  maxEntries?: number;
  now?: () => number;
}

/** Every entry is trusted at most this long on a bus between nodes (the catch-up interval's default). */
export const ACCOUNT_CACHE_MAX_AGE_ON_BUS_MS = 5_000;

export class AccountCache {
  private counter = 0;
  /** Stamp of the last forgetAll(): older entries are stale. */
  private forgotAllAt = 0;
  /** Stamp of the last change heard, per member. */
  private readonly changedAt = new Map<number, number>();
  /** Keyed by the connection object (server/connection.ts), which this module need not know. */
  private readonly auths = new WeakMap<object, AuthEntry>();
  private readonly members = new Map<string, ActiveMember & Stamped>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly options: AccountCacheOptions) {
    this.maxEntries = options.maxEntries ?? 50_000;
    this.now = options.now ?? Date.now;
  }

  /** Taken before a read whose result is then kept (rememberAuth): a change heard after it makes that result stale. */
  mark(): number {
    return ++this.counter;
  }

  /** The session and member this connection's token named last time, unless something may have changed them. */
  auth(conn: object, tokenHash: string): CheckedAuth | null {
    const entry = this.auths.get(conn);
    if (!entry) return null;
    if (entry.tokenHash === tokenHash && this.fresh(entry)) return entry.auth;
    this.auths.delete(conn);
    return null;
  }

  /** Keeps what was read since `since` (mark()) for the connection's next commands with the same token. */
  rememberAuth(conn: object, tokenHash: string, auth: CheckedAuth, since: number): void {
    const entry: AuthEntry = {
      tokenHash, auth: { user: Object.freeze({ ...auth.user }), session: Object.freeze({ ...auth.session }) },
      userId: auth.user.id, stamp: since, at: this.now(),
    };
    if (this.fresh(entry)) this.auths.set(conn, entry);
  }

  forgetAuth(conn: object): void {
    this.auths.delete(conn);
  }

  /**
   * The active members among `usernames`, in the order given: those kept without a read, the others
   * through `load` (one call for all of them), whose active members are then kept.
   */
  async activeMembers(usernames: readonly string[], load: ActiveMembersLoad): Promise<{ found: ActiveMember[]; missing: string[] }> {
    const known = new Map<string, ActiveMember>();
    const unknown: string[] = [];
    for (const name of usernames) {
      const entry = this.members.get(name);
      if (entry && this.fresh(entry)) known.set(name, entry);
      else unknown.push(name);
    }
    let missing: string[] = [];
    if (unknown.length > 0) {
      const since = this.mark();
      const loaded = await load(unknown);
      missing = loaded.missing;
      for (const m of loaded.found) {
        known.set(m.username, m);
        this.keepMember(m, since);
      }
    }
    const found = usernames.flatMap((name) => {
      const m = known.get(name);
      return m ? [{ id: m.id, username: m.username }] : [];
    });
    return { found, missing };
  }

  /** What the bus says (or this node is about to say): a member changed or lost sessions. */
  hear(event: BusEvent): void {
    if (event.type !== 'member_changed' && event.type !== 'session_closed') return;
    if (this.changedAt.size >= this.maxEntries) {
      this.forgetAll();
      return;
    }
    this.changedAt.set(event.userId, this.mark());
  }

  /** Everything (the bus reconnected: events may have been lost). */
  forgetAll(): void {
    this.forgotAllAt = this.mark();
    this.changedAt.clear();
    this.members.clear();
  }

  private keepMember(m: ActiveMember, since: number): void {
    const entry = { id: m.id, username: m.username, userId: m.id, stamp: since, at: this.now() };
    if (!this.fresh(entry)) return;
    // Past the limit the map is dropped and refilled on demand (no per-hit bookkeeping).
    if (this.members.size >= this.maxEntries) this.members.clear();
    this.members.set(m.username, entry);
  }

  private fresh(entry: Stamped): boolean {
    return entry.stamp > this.forgotAllAt
      && entry.stamp > (this.changedAt.get(entry.userId) ?? 0)
      && this.now() - entry.at < this.options.maxAgeMs;
  }
}
