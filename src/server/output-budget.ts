/**
 * What peers that do not take their output cost the server, per remote address and in total
 * (docs/PROTOCOL.md §Limits). A connection reports its backlog — bytes written that its peer's
 * kernel has not accepted — whenever it changes; past either bound, the connections that have been
 * backed up the longest are dropped first, so a peer that reads is not made to pay for ones that
 * do not.
 */
export interface Backlogged {
  readonly remoteAddress: string;
  /** Closes the connection for holding output too long; it reports a backlog of 0 as it goes. */
  dropForBacklog(reason: 'address' | 'total'): void;
}

export interface OutputBudgetLimits {
  maxOutputBytesPerAddress: number;
  maxOutputBytesTotal: number;
}

interface AddressShare {
  bytes: number;
  /** Backed-up connections from this address, in the order they became backed up. */
  conns: Set<Backlogged>;
}

export class OutputBudget {
  private total = 0;
  /** Every backed-up connection and its backlog, in the order they became backed up (a Map keeps insertion order). */
  private readonly backlog = new Map<Backlogged, number>();
  private readonly byAddress = new Map<string, AddressShare>();

  constructor(private readonly limits: OutputBudgetLimits) {}

  /** Bytes held for backed-up peers right now: in total, or from one address. */
  bytes(address?: string): number {
    return address === undefined ? this.total : (this.byAddress.get(address)?.bytes ?? 0);
  }

  /** Connections holding a backlog right now. */
  get backedUp(): number {
    return this.backlog.size;
  }

  /** Records a connection's backlog (0: caught up, or closed), then enforces both bounds. */
  set(conn: Backlogged, bytes: number): void {
    const before = this.backlog.get(conn) ?? 0;
    if (bytes === before) return;
    let share = this.byAddress.get(conn.remoteAddress);
    if (!share) this.byAddress.set(conn.remoteAddress, (share = { bytes: 0, conns: new Set() }));
    this.total += bytes - before;
    share.bytes += bytes - before;
    if (bytes > 0) {
      // A connection keeps its place in line while it stays backed up: the oldest goes first.
      if (before === 0) share.conns.add(conn);
      this.backlog.set(conn, bytes);
    } else {
      share.conns.delete(conn);
      this.backlog.delete(conn);
      if (share.conns.size === 0) this.byAddress.delete(conn.remoteAddress);
      return;
    }
    this.enforce(share);
  }

  private enforce(share: AddressShare): void {
    while (share.bytes > this.limits.maxOutputBytesPerAddress) {
      const oldest = share.conns.values().next().value;
      if (!oldest) break;
      this.set(oldest, 0); // forgotten first, so the loop always advances
      oldest.dropForBacklog('address');
    }
    while (this.total > this.limits.maxOutputBytesTotal) {
      const oldest = this.backlog.keys().next().value;
      if (!oldest) break;
      this.set(oldest, 0);
      oldest.dropForBacklog('total');
    }
  }
}
