/**
 * Presence (issue 18): who is logged in, on which node and connection. Each node writes its own
 * connections; every node reads all of them (ONLINE, the directory's online flags, whether a
 * member takes popups). The contract suite is test/contract/presence/.
 *
 * Contract: set replaces the entry of (node, cid) (a connection logged in again, perhaps as
 * someone else); remove and removeNode forget; reads see every write that resolved before them;
 * the online list is grouped by member, members in the order they came online, their connections
 * in the order they logged in.
 */
export interface PresenceEntry {
  node: string;
  /** The connection's id on its node. */
  cid: number;
  userId: number;
  username: string;
  address: string;
  /** When the connection was opened (ISO 8601). */
  since: string;
  admin: boolean;
  /** Whether the connection takes popups (a one-shot client or a mailed-password session does not). */
  popups: boolean;
}

export interface OnlineEntry {
  userId: number;
  username: string;
  connections: Array<{ node: string; cid: number; address: string; since: string }>;
}

export interface Presence {
  set(entry: PresenceEntry): Promise<void>;
  remove(node: string, cid: number): Promise<void>;
  /** Forgets every connection of a node (it stopped, or it is known to be gone). */
  removeNode(node: string): Promise<void>;
  /**
   * Logged-in connections of the member, on every node (but `exceptNode`, when given: a node knows
   * its own exactly and adds them, for the cluster-wide cap per member).
   */
  connectionsOf(userId: number, options?: { exceptNode?: string }): Promise<number>;
  /** Of these members, the ones with at least one connection. */
  onlineAmong(userIds: readonly number[]): Promise<Set<number>>;
  /** Whether the member has a connection that takes popups. */
  acceptsPopups(userId: number): Promise<boolean>;
  online(): Promise<OnlineEntry[]>;
  close(): Promise<void>;
}
