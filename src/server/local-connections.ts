import type { ArgInput, ErrorCode } from '../protocol/index.js';
import type { SessionSelector } from '../core/ports/bus.js';
import type { OnlineEntry, Presence, PresenceEntry } from '../core/ports/presence.js';
import type { Connection } from './connection.js';
import { SessionExpiry } from './session-expiry.js';

/**
 * This process's connections (one of the four jobs the router had; fan-out is the bus's, presence
 * the presence port's, and a registrant hears its decision through the bus): which connection
 * belongs to which member, the counts admission needs (per address, logged in or not), session
 * expiry, and pushes to the connections held here. Every logged-in connection is written to
 * presence, so every node sees it.
 */
export interface LocalConnectionsOptions {
  /** This node's name in presence. */
  node?: string;
  presence?: Presence;
  /** Hears a presence write that failed. */
  onError?: (err: unknown) => void;
}

/** What a suspended member's connections are told as they are closed. */
export const SUSPENDED_SENTENCE = 'Your account was suspended by the administrator.';

/** How soon presence is written again after a write failed (Redis unreachable), and then again until it takes. */
export const PRESENCE_RETRY_MS = 2_000;
/** Removals kept to retry, at most (above). */
const MAX_UNREMOVED = 10_000;

export class LocalConnections {
  readonly node: string;
  private readonly presence: Presence | null;
  private readonly onError: (err: unknown) => void;
  private readonly byUser = new Map<number, Set<Connection>>();
  /** The user each attached connection was filed under, so detaching is one lookup, not a scan of every user. */
  private readonly attachedAs = new Map<Connection, number>();
  private readonly admins = new Set<Connection>();
  private readonly registrants = new Map<number, Connection>();
  private readonly all = new Set<Connection>();
  /** Connections not yet logged in, per remote address (a limit applies to them). */
  private readonly anonymous = new Map<string, number>();
  private readonly countedAnonymous = new WeakSet<Connection>();
  /** Logged-in connections per remote address (a limit applies to them too). */
  private readonly loggedIn = new Map<string, number>();
  /** A connection whose session expires is closed then: it must not go on receiving popups. */
  private readonly expiry = new SessionExpiry<Connection>((conn) => conn.fail('SESSION_EXPIRED'));
  /**
   * Connections that left while presence could not be told (Redis unreachable): removed when it
   * can. Past MAX_UNREMOVED of them, this node's presence is cleared whole and written again instead.
   */
  private unremoved: Set<number> | 'all' = new Set();
  private presenceRetry: NodeJS.Timeout | null = null;
  private presenceStopped = false;

  constructor(options: LocalConnectionsOptions = {}) {
    this.node = options.node ?? 'local';
    this.presence = options.presence ?? null;
    this.onError = options.onError ?? (() => undefined);
  }

  /** Every accepted connection is tracked so counts and shutdown see it. */
  track(conn: Connection): void {
    this.all.add(conn);
    this.countedAnonymous.add(conn);
    bump(this.anonymous, conn.remoteAddress, 1);
    conn.onClose(() => {
      this.uncountAnonymous(conn);
      this.all.delete(conn);
      this.detach(conn);
      if (conn.waitingRegistration !== null && this.registrants.get(conn.waitingRegistration) === conn) {
        this.registrants.delete(conn.waitingRegistration);
      }
    });
  }

  anonymousFrom(address: string): number {
    return this.anonymous.get(address) ?? 0;
  }

  private uncountAnonymous(conn: Connection): void {
    if (this.countedAnonymous.delete(conn)) bump(this.anonymous, conn.remoteAddress, -1);
  }

  attach(conn: Connection): void {
    const user = conn.user;
    if (!user) return;
    this.uncountAnonymous(conn);
    this.detach(conn); // logged in again, perhaps as someone else
    this.attachedAs.set(conn, user.userId);
    bump(this.loggedIn, conn.remoteAddress, 1);
    let set = this.byUser.get(user.userId);
    if (!set) this.byUser.set(user.userId, (set = new Set()));
    set.add(conn);
    if (user.role === 'admin') this.admins.add(conn);
    this.expiry.watch(conn, user.expiresAt);
    this.present(conn);
  }

  /** Writes the connection's presence again (it started or stopped taking popups). */
  present(conn: Connection): void {
    this.write(conn)?.catch((err: unknown) => this.presenceFailed(err));
  }

  private write(conn: Connection): Promise<void> | null {
    const user = conn.user;
    if (!this.presence || !user || this.attachedAs.get(conn) !== user.userId) return null;
    const entry: PresenceEntry = {
      node: this.node, cid: conn.cid, userId: user.userId, username: user.username, address: conn.remoteAddress,
      since: conn.connectedAt.toISOString(), admin: user.role === 'admin', popups: conn.wantsPopups,
    };
    return this.presence.set(entry);
  }

  /**
   * Writes this node's presence again: the removals presence missed, then every attached connection
   * (after the presence store lost it, e.g. Redis restarted, or could not be written). A failure
   * tries again PRESENCE_RETRY_MS later, until it takes.
   */
  async presentAll(): Promise<void> {
    if (!this.presence) return;
    try {
      if (this.unremoved === 'all') {
        await this.presence.removeNode(this.node);
        this.unremoved = new Set();
      }
      for (const cid of [...this.unremoved]) {
        await this.presence.remove(this.node, cid);
        this.unremoved.delete(cid);
      }
      const [first, ...rest] = this.attachedAs.keys();
      // One write first: while Redis is still unreachable, one failure and not one per connection.
      if (first) await this.write(first);
      await Promise.all(rest.map((conn) => this.write(conn)));
    } catch (err) {
      this.presenceFailed(err);
    }
  }

  /** A presence write failed: logged, and this node's presence written again soon. */
  private presenceFailed(err: unknown): void {
    this.onError(err);
    if (this.presenceRetry || this.presenceStopped) return;
    this.presenceRetry = setTimeout(() => {
      this.presenceRetry = null;
      void this.presentAll();
    }, PRESENCE_RETRY_MS);
    this.presenceRetry.unref();
  }

  /** Stops retrying presence writes (the node is stopping). */
  stopPresence(): void {
    this.presenceStopped = true;
    if (this.presenceRetry) clearTimeout(this.presenceRetry);
    this.presenceRetry = null;
  }

  detach(conn: Connection): void {
    this.admins.delete(conn);
    this.expiry.forget(conn);
    const userId = this.attachedAs.get(conn);
    if (userId === undefined) return;
    this.attachedAs.delete(conn);
    const cid = conn.cid;
    this.presence?.remove(this.node, cid).catch((err: unknown) => {
      if (this.unremoved !== 'all') this.unremoved.add(cid);
      if (this.unremoved !== 'all' && this.unremoved.size > MAX_UNREMOVED) this.unremoved = 'all';
      this.presenceFailed(err);
    });
    bump(this.loggedIn, conn.remoteAddress, -1);
    const set = this.byUser.get(userId);
    if (set?.delete(conn) && set.size === 0) this.byUser.delete(userId);
  }

  /** One popup of a fan-out to every connection of a member held here, each written at once. */
  pushPopup(userId: number, messageId: number, frame: Buffer): number {
    let n = 0;
    for (const conn of this.byUser.get(userId) ?? []) if (conn.pushPopup(messageId, frame, true)) n++;
    return n;
  }

  /** The members logged in here. */
  loggedInMembers(): number[] {
    return [...this.byUser.keys()];
  }

  /** The members with a connection here that takes popups now (the periodic catch-up asks the store for theirs). */
  popupTakers(): number[] {
    const ids: number[] = [];
    for (const userId of this.byUser.keys()) if (this.acceptsPopups(userId)) ids.push(userId);
    return ids;
  }

  acceptsPopups(userId: number): boolean {
    for (const conn of this.byUser.get(userId) ?? []) if (conn.acceptsPopups()) return true;
    return false;
  }

  pushToUser(userId: number, event: string, args: ArgInput): number {
    let n = 0;
    for (const conn of this.byUser.get(userId) ?? []) {
      // A popup (a reminder) reaches only connections that take popups: not a session opened with a
      // mailed password until PASSWD, as replay and delivery skip it too.
      if (event === 'POPUP' && !conn.wantsPopups) continue;
      if (conn.push(event, args)) n++;
    }
    return n;
  }

  pushToAdmins(event: string, args: ArgInput): number {
    let n = 0;
    for (const conn of this.admins) if (conn.push(event, args)) n++;
    return n;
  }

  awaitRegistration(requestId: number, conn: Connection): void {
    conn.waitingRegistration = requestId;
    this.registrants.set(requestId, conn);
  }

  pushToRegistrant(requestId: number, event: string, args: ArgInput): boolean {
    const conn = this.registrants.get(requestId);
    if (!conn) return false;
    this.registrants.delete(requestId);
    conn.waitingRegistration = null;
    return conn.push(event, args);
  }

  /** Closes the member's connections logged in with the sessions meant, with a closing error; returns how many. */
  /** Connections bound after `decidedAt` logged in after the closing (heard late from another node): spared. */
  disconnectSessions(userId: number, sessions: SessionSelector, code: ErrorCode, message: string, decidedAt = Infinity): number {
    const conns = [...(this.byUser.get(userId) ?? [])]
      .filter((c) => c.user !== null && selects(sessions, c.user.sessionId) && c.user.boundAt <= decidedAt);
    for (const conn of conns) conn.fail(code, message);
    return conns.length;
  }

  isOnline(userId: number): boolean {
    return (this.byUser.get(userId)?.size ?? 0) > 0;
  }

  connectionsOf(userId: number): number {
    return this.byUser.get(userId)?.size ?? 0;
  }

  loggedInFrom(address: string): number {
    return this.loggedIn.get(address) ?? 0;
  }

  /** The members logged in here (presence has every node's). */
  online(): OnlineEntry[] {
    return [...this.byUser.values()].flatMap((set) => {
      const conns = [...set];
      const first = conns[0]?.user;
      if (!first) return [];
      return [{
        userId: first.userId,
        username: first.username,
        connections: conns.map((c) => ({ node: this.node, cid: c.cid, address: c.remoteAddress, since: c.connectedAt.toISOString() })),
      }];
    });
  }

  connectionCount(): number {
    return this.all.size;
  }

  connections(): Connection[] {
    return [...this.all];
  }
}

/** Adds delta to a count per address; a count of 0 is removed, so the map holds only addresses in use. */
function bump(counts: Map<string, number>, address: string, delta: number): void {
  const n = (counts.get(address) ?? 0) + delta;
  if (n <= 0) counts.delete(address);
  else counts.set(address, n);
}

function selects(sessions: SessionSelector, sessionId: number): boolean {
  if ('only' in sessions) return sessionId === sessions.only;
  if ('except' in sessions) return sessionId !== sessions.except;
  return true;
}
