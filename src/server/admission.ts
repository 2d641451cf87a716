/**
 * Who may hold a connection (docs/PROTOCOL.md §Limits). At accept: the server's cap, the cap on
 * not-logged-in connections per address, and the administrator's reserve — the last
 * adminReservedConnections slots of maxConnections. At LOGIN: the caps on logged-in connections
 * per member (counted on every node of a cluster) and per address (on this node). So no member, and no address, can take every slot, and the
 * administrator can always get in to act.
 */
import { SiarError } from '../protocol/index.js';
import type { ServerConfig } from './config.js';
import type { Connection } from './connection.js';
import type { LocalConnections } from './local-connections.js';

export const SERVER_FULL = 'The server is full; try again later.';
export const ANONYMOUS_FULL = 'Too many connections from your address that have not logged in.';
export const RESERVED_FOR_ADMIN = 'The server is full; its last connections are kept for the administrator. Try again later.';

export type Admission = { admit: true; reservedSlot: boolean } | { admit: false; reason: string };

/** Whether a new connection from `address` is taken, and whether only on a slot kept for the administrator. */
export function admitConnection(config: ServerConfig, router: LocalConnections, address: string): Admission {
  const count = router.connectionCount();
  if (count >= config.maxConnections) return { admit: false, reason: SERVER_FULL };
  if (router.anonymousFrom(address) >= config.maxAnonymousPerAddress) return { admit: false, reason: ANONYMOUS_FULL };
  // Only the reserve is left: taken, so an administrator can log in; anyone else is turned away at its first frame.
  return { admit: true, reservedSlot: count >= config.maxConnections - config.adminReservedConnections };
}

/**
 * A connection on a reserved slot may only log in as administrator, within the time allowed;
 * anything else gets TOO_MANY_REQUESTS and is closed (dispatcher.ts, LOGIN).
 */
export function holdReservedSlot(conn: Connection, config: ServerConfig): void {
  conn.onReservedSlot = true;
  const timer = setTimeout(() => {
    if (conn.onReservedSlot) conn.fail('TOO_MANY_REQUESTS', RESERVED_FOR_ADMIN);
  }, config.reservedSlotLoginTimeoutMs);
  timer.unref();
  conn.onClose(() => clearTimeout(timer));
}

/** The reserve a cap allows: as asked, but at most half of the connections. */
export function adminReserve(requested: number, maxConnections: number): number {
  return Math.max(0, Math.min(requested, Math.floor(maxConnections / 2)));
}

/**
 * Throws TOO_MANY_REQUESTS when binding `conn` to the user (LOGIN) would exceed a cap. The cap per
 * member is cluster-wide: this node's connections, counted exactly, plus `elsewhere`, the member's
 * connections on the other nodes as presence has them (read just before; two nodes admitting the
 * member's last connection at the same instant may each take it, so the cap can be passed by one per
 * other node during such a race, never more).
 */
export function admitLogin(
  config: ServerConfig, router: LocalConnections, conn: Connection, user: { id: number; username: string; role: string }, elsewhere = 0,
): void {
  if (conn.onReservedSlot) {
    if (user.role !== 'admin') throw new SiarError('TOO_MANY_REQUESTS', RESERVED_FOR_ADMIN);
    return;
  }
  // Logging in again on a connection already counted does not take another.
  const sameUser = conn.user?.userId === user.id ? 1 : 0;
  const held = router.connectionsOf(user.id) - sameUser + elsewhere;
  if (held >= config.maxConnectionsPerMember) {
    throw new SiarError('TOO_MANY_REQUESTS',
      `${user.username} already has ${held} connections open, the most one member may have; close one and try again.`);
  }
  if (user.role === 'admin') return;
  const fromAddress = router.loggedInFrom(conn.remoteAddress) - (conn.user ? 1 : 0);
  if (fromAddress >= config.maxLoggedInPerAddress) {
    throw new SiarError('TOO_MANY_REQUESTS',
      `Your address already has ${fromAddress} logged-in connections, the most one address may have; close one and try again.`);
  }
}
