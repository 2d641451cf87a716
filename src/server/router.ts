/**
 * What handlers use to reach members: pushes and closings go out on the bus (every node, this one
 * included, acts on its own connections), who is online comes from presence, and this node's
 * connections (LocalConnections) are attached and detached here. Nothing in it knows which bus or
 * presence adapter it runs on.
 */
import type { ArgInput, ErrorCode } from '../protocol/index.js';
import type { Bus, BusEvent, SessionSelector } from '../core/ports/bus.js';
import type { OnlineEntry, Presence } from '../core/ports/presence.js';
import { BusUnreachable } from '../core/ports/unreachable.js';
import type { AccountCache } from './account-cache.js';
import type { Connection } from './connection.js';
import type { LocalConnections } from './local-connections.js';

export type { OnlineEntry };

export interface MessageRouter {
  /** This node's connections. */
  readonly local: LocalConnections;
  /** Registers a logged-in connection for pushes to its user, until its session ends or expires. */
  attach(conn: Connection): void;
  detach(conn: Connection): void;
  /** The connection's taking of popups changed (PASSWD after a mailed password). */
  popupsChanged(conn: Connection): void;
  /** Pushes an event to every connection of the member, on every node. */
  pushToUser(userId: number, event: string, args: ArgInput): void;
  pushToAdmins(event: string, args: ArgInput): void;
  /** A member's account changed (suspension, reactivation, password set or reset): every node's caches forget it. */
  memberChanged(userId: number, change: string): void;
  /** Remembers a connection of this node waiting for the decision on a registration request. */
  awaitRegistration(requestId: number, conn: Connection): void;
  /** Tells the registrant waiting for this request, on whichever node holds it. */
  pushToRegistrant(requestId: number, event: string, args: ArgInput): void;
  /** Closes every connection of the member with a closing error; resolves to how many there were. */
  disconnectUser(userId: number, code: ErrorCode, message: string): Promise<number>;
  /** Closes the member's connections logged in with the sessions meant; resolves to how many there were. */
  /** `decidedAt`: when the store closed them (default now); connections bound later are spared. */
  disconnectSessions(userId: number, sessions: SessionSelector, code: ErrorCode, message: string, decidedAt?: number): Promise<number>;
  isOnline(userId: number): Promise<boolean>;
  /** The member's logged-in connections on the other nodes (presence's count; this node's are exact in `local`). */
  connectionsElsewhere(userId: number): Promise<number>;
  /** Of these members, the ones online. */
  onlineAmong(userIds: readonly number[]): Promise<Set<number>>;
  online(): Promise<OnlineEntry[]>;
  /**
   * Who is online as far as this node can tell: every node's members, or (`complete` false) only
   * this node's while presence is unreachable.
   */
  onlineAsKnown(): Promise<{ entries: OnlineEntry[]; complete: boolean }>;
  /** Every connection of this node, logged in or not (shutdown, statistics). */
  connectionCount(): number;
  connections(): Connection[];
  anonymousFrom(address: string): number;
}

export class Router implements MessageRouter {
  private unsubscribe: (() => void) | null = null;

  /**
   * `onError` hears a publish that failed; `onDegraded` (default: onError) hears Redis being
   * unreachable, and what was done instead (`meaning`), for a log line.
   */
  constructor(
    readonly local: LocalConnections,
    private readonly bus: Bus,
    private readonly presence: Presence,
    private readonly onError: (err: unknown) => void,
    /** What this node keeps of members: told of every event, this node's own before they go out. */
    private readonly accounts: AccountCache | null = null,
    private readonly onDegraded: (err: BusUnreachable, meaning: string) => void = (err) => onError(err),
  ) {}

  /** Acts on the bus's notices for this node's connections, until stop(). */
  start(): void {
    this.unsubscribe ??= this.bus.subscribe((event) => this.hear(event));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  attach(conn: Connection): void {
    this.local.attach(conn);
  }

  detach(conn: Connection): void {
    this.local.detach(conn);
  }

  popupsChanged(conn: Connection): void {
    this.local.present(conn);
  }

  pushToUser(userId: number, event: string, args: ArgInput): void {
    this.publish({ type: 'member_notice', userId, event, args });
  }

  pushToAdmins(event: string, args: ArgInput): void {
    this.publish({ type: 'admin_notice', event, args });
  }

  memberChanged(userId: number, change: string): void {
    this.publish({ type: 'member_changed', userId, change });
  }

  awaitRegistration(requestId: number, conn: Connection): void {
    this.local.awaitRegistration(requestId, conn);
  }

  pushToRegistrant(requestId: number, event: string, args: ArgInput): void {
    this.publish({ type: 'registration_decided', requestId, event, args });
  }

  disconnectUser(userId: number, code: ErrorCode, message: string): Promise<number> {
    return this.disconnectSessions(userId, { all: true }, code, message);
  }

  /**
   * Redis unreachable: the store has closed the sessions already (the caller's write); the bus still
   * closes this node's connections (RedisBus.publish), the count is this node's, and the other nodes
   * close theirs when they reconnect (server.ts, closeSuspended; a password change: at their next command).
   */
  async disconnectSessions(userId: number, sessions: SessionSelector, code: ErrorCode, message: string, decidedAt = Date.now()): Promise<number> {
    // Counted where presence can see every node; only all of a member's connections is a count it knows.
    const count = 'all' in sessions
      ? await this.orLocal(this.presence.connectionsOf(userId), () => this.local.connectionsOf(userId), 'only the connections on this node are counted')
      : 0;
    const event: BusEvent = { type: 'session_closed', userId, sessions, code, message, decidedAt };
    this.accounts?.hear(event); // this node's next command reads them again, whenever the bus brings the event back
    try {
      await this.bus.publish(event);
    } catch (err) {
      if (!(err instanceof BusUnreachable)) throw err;
      this.onDegraded(err, 'sessions were closed on this node; the other nodes close theirs when they reconnect');
    }
    return count;
  }

  async isOnline(userId: number): Promise<boolean> {
    return (await this.onlineAmong([userId])).has(userId);
  }

  /** Redis unreachable: 0 (the cap per member then counts this node's connections only). */
  connectionsElsewhere(userId: number): Promise<number> {
    return this.orLocal(this.presence.connectionsOf(userId, { exceptNode: this.local.node }), () => 0, 'the cap per member counts this node\'s connections only');
  }

  /** Redis unreachable: the members online on this node. */
  onlineAmong(userIds: readonly number[]): Promise<Set<number>> {
    return this.orLocal(this.presence.onlineAmong(userIds), () => new Set(userIds.filter((id) => this.local.isOnline(id))), 'online flags show this node\'s members only');
  }

  online(): Promise<OnlineEntry[]> {
    return this.presence.online();
  }

  async onlineAsKnown(): Promise<{ entries: OnlineEntry[]; complete: boolean }> {
    try {
      return { entries: await this.presence.online(), complete: true };
    } catch (err) {
      if (!(err instanceof BusUnreachable)) throw err;
      this.onDegraded(err, 'ONLINE lists this node\'s members only');
      return { entries: this.local.online(), complete: false };
    }
  }

  connectionCount(): number {
    return this.local.connectionCount();
  }

  connections(): Connection[] {
    return this.local.connections();
  }

  anonymousFrom(address: string): number {
    return this.local.anonymousFrom(address);
  }

  /** Redis unreachable: this node still acts on its own connections (RedisBus.publish hears it here). */
  private publish(event: BusEvent): void {
    this.accounts?.hear(event);
    this.bus.publish(event).catch((err: unknown) => {
      if (err instanceof BusUnreachable) this.onDegraded(err, `a ${event.type} notice reached this node's connections only`);
      else this.onError(err);
    });
  }

  /** What presence says, or (Redis unreachable) what this node knows, with a log line saying so. */
  private async orLocal<T>(shared: Promise<T>, here: () => T, meaning: string): Promise<T> {
    try {
      return await shared;
    } catch (err) {
      if (!(err instanceof BusUnreachable)) throw err;
      this.onDegraded(err, meaning);
      return here();
    }
  }

  /** This node's part of a notice: its own connections. */
  private hear(event: BusEvent): void {
    this.accounts?.hear(event);
    switch (event.type) {
      case 'member_notice': this.local.pushToUser(event.userId, event.event, event.args); break;
      case 'admin_notice': this.local.pushToAdmins(event.event, event.args); break;
      case 'registration_decided': this.local.pushToRegistrant(event.requestId, event.event, event.args); break;
      case 'session_closed': this.local.disconnectSessions(event.userId, event.sessions, event.code, event.message, event.decidedAt); break;
      default: break; // message_stored is delivery's; member_changed is for the account cache (above)
    }
  }
}
