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
    const user = conn.user;
    if (!this.presence || !user || this.attachedAs.get(conn) !== user.userId) return;
    const entry: PresenceEntry = {
      node: this.node, cid: conn.cid, userId: user.userId, username: user.username, address: conn.remoteAddress,
      since: conn.connectedAt.toISOString(), admin: user.role === 'admin', popups: conn.wantsPopups,
    };
    this.presence.set(entry).catch(this.onError);
  }

  /** Writes every attached connection's presence again (after the presence store lost it, e.g. Redis restarted). */
  presentAll(): void {
    for (const conn of this.attachedAs.keys()) this.present(conn);
  }

  detach(conn: Connection): void {
    this.admins.delete(conn);
    this.expiry.forget(conn);
    const userId = this.attachedAs.get(conn);
    if (userId === undefined) return;
    this.attachedAs.delete(conn);
    this.presence?.remove(this.node, conn.cid).catch(this.onError);
    bump(this.loggedIn, conn.remoteAddress, -1);
    const set = this.byUser.get(userId);
    if (set?.delete(conn) && set.size === 0) this.byUser.delete(userId);
  }

  pushPopup(userId: number, messageId: number, frame: Buffer): number {
    let n = 0;
    for (const conn of this.byUser.get(userId) ?? []) if (conn.pushPopup(messageId, frame)) n++;
    return n;
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
