/**
 * Leases (issue 19): a periodic job that must run on one node of a cluster at a time (the expiry of
 * registrations, clean-up sweeps) runs only while its node holds the job's lease. A lease is held
 * for a time-to-live and renewed before it runs out; a node that dies stops renewing, so its lease
 * runs out and another node acquires it. The contract suite is test/contract/lease/.
 *
 * Contract:
 * - acquire(name, ttlMs) grants the lease when nobody holds it (or the holder's ran out), with a
 *   fencing token greater than every token granted before for that name; otherwise null.
 * - renew(grant, ttlMs) extends the lease only while this grant still holds it (true); once it ran
 *   out or someone else acquired it, false, and the grant is lost for good.
 * - release(grant) frees the lease at once if this grant holds it; otherwise does nothing.
 * - The clock is the adapter's (the memory adapter takes one; Redis expires keys by its own clock).
 */
export interface LeaseGrant {
  readonly name: string;
  /** Grows with every grant of the name: work fenced by it can refuse a stale holder's writes. */
  readonly token: number;
}

export interface Leases {
  acquire(name: string, ttlMs: number): Promise<LeaseGrant | null>;
  renew(grant: LeaseGrant, ttlMs: number): Promise<boolean>;
  release(grant: LeaseGrant): Promise<void>;
  close(): Promise<void>;
}
