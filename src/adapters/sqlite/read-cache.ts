import type { Session, User } from '../../core/ports/store.js';

/**
 * Open sessions and users as last read from the database. Every request checks its token (a
 * session and a user) and a direct message resolves its recipient by name: without this, those
 * three lookups were a third of the server's time per message (bench/README.md, scenario 7).
 *
 * Correct only while this process is the database's one writer (it is: clients reach the data
 * through the server): every store method that writes users or sessions forgets what it changes
 * before it returns. A store shared by several nodes needs its own invalidation instead.
 * Entries are frozen, so a caller cannot change what the next request reads.
 */
export class ReadCache {
  private readonly sessions = new Map<string, Session>();
  private readonly usersById = new Map<number, User>();
  private readonly usersByName = new Map<string, User>();

  constructor(private readonly maxEntries = 50_000) {}

  session(tokenHash: string, load: () => Session | null): Session | null {
    const hit = this.sessions.get(tokenHash);
    if (hit) return hit;
    const fresh = load();
    if (!fresh) return null;
    // Past the limit the map is dropped and refilled on demand (no per-hit bookkeeping).
    if (this.sessions.size >= this.maxEntries) this.sessions.clear();
    const frozen = Object.freeze(fresh);
    this.sessions.set(tokenHash, frozen);
    return frozen;
  }

  userById(id: number, load: () => User | null): User | null {
    return this.usersById.get(id) ?? this.keepUser(load());
  }

  userByName(username: string, load: () => User | null): User | null {
    return this.usersByName.get(username) ?? this.keepUser(load());
  }

  /** After a write to one user's row. */
  forgetUser(id: number): void {
    const user = this.usersById.get(id);
    this.usersById.delete(id);
    if (user) this.usersByName.delete(user.username);
  }

  /** After any session is closed (rare: logout, expiry, suspension, password change). */
  forgetSessions(): void {
    this.sessions.clear();
  }

  private keepUser(user: User | null): User | null {
    if (!user) return null;
    const frozen = Object.freeze(user);
    // Both maps always hold the same users, so forgetUser's lookup by id finds the name too.
    if (this.usersById.size >= this.maxEntries) {
      this.usersById.clear();
      this.usersByName.clear();
    }
    this.usersById.set(user.id, frozen);
    this.usersByName.set(user.username, frozen);
    return frozen;
  }
}
