/**
 * A periodic job that runs on one node of the cluster at a time (issue 19): the node that holds the
 * job's lease (src/core/ports/lease.ts) runs it every `intervalMs`; every node tries to acquire the
 * lease, and the holder renews it, every third of its time-to-live. When the holder dies its lease
 * runs out and the next node to try takes the job over (at most ttl + ttl/3 later), running it at
 * once. Renewal goes on while a run is under way, so a long run keeps its lease; a holder that
 * cannot renew in time (Redis unreachable) stops counting itself the holder.
 *
 * On a single node the leases are in process: the node always holds them.
 */
import type { Logger } from 'pino';
import type { LeaseGrant, Leases } from '../core/ports/lease.js';
import { rateLimitedWarn } from './logger.js';

export interface ClusterJobOptions {
  /** The lease's name, the same on every node. */
  name: string;
  leases: Leases;
  ttlMs: number;
  intervalMs: number;
  run: () => Promise<void>;
  log: Logger;
  now?: () => number;
}

export class ClusterJob {
  private grant: LeaseGrant | null = null;
  /** When the grant was last acquired or renewed: past ttlMs without renewal it is not counted on. */
  private heldSince = 0;
  private renewedAt = 0;
  private lastRun = -Infinity;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly now: () => number;

  private readonly warnLease: (fields: Record<string, unknown>) => void;

  constructor(private readonly options: ClusterJobOptions) {
    this.now = options.now ?? Date.now;
    this.warnLease = rateLimitedWarn(options.log, 'could not acquire or renew a lease; trying again');
  }

  /** Whether this node holds the job's lease now (and so runs it). */
  get holding(): boolean {
    return this.grant !== null && this.now() - this.renewedAt < this.options.ttlMs;
  }

  /** Tries at once, then every third of the lease's time-to-live (or every interval, if shorter). */
  start(): void {
    if (this.timer || this.stopped) return;
    this.tick();
    const every = Math.max(10, Math.min(this.options.intervalMs, Math.floor(this.options.ttlMs / 3)));
    this.timer = setInterval(() => this.tick(), every);
    this.timer.unref();
  }

  /** Stops trying, waits for a run under way, and hands the lease back so another node takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking;
    await this.running;
    const grant = this.grant;
    this.grant = null;
    if (grant) await this.options.leases.release(grant).catch(() => undefined);
  }

  /** One round: renew or acquire, then run the job if it is due and not running. */
  tick(): Promise<void> {
    this.ticking ??= this.round().finally(() => { this.ticking = null; });
    return this.ticking;
  }

  private async round(): Promise<void> {
    const { leases, name, ttlMs, log } = this.options;
    try {
      if (this.grant) {
        const at = this.now();
        if (await leases.renew(this.grant, ttlMs)) this.renewedAt = at;
        else {
          log.warn({ lease: name, fence: this.grant.token, heldForMs: at - this.heldSince }, 'lost the lease of a once-per-cluster job; another node runs it');
          this.grant = null;
        }
      }
      if (!this.grant && !this.stopped) {
        const at = this.now();
        const grant = await leases.acquire(name, ttlMs);
        if (grant) {
          this.grant = grant;
          this.heldSince = at;
          this.renewedAt = at;
          this.lastRun = -Infinity;
          log.info({ lease: name, fence: grant.token }, 'holds the lease of a once-per-cluster job: runs it on this node');
        }
      }
    } catch (err) {
      // Every round while Redis is down: one line per 10 s, not one per round.
      this.warnLease({ lease: name, err: err instanceof Error ? err.message : String(err) });
    }
    if (this.holding && !this.running && !this.stopped && this.now() - this.lastRun >= this.options.intervalMs) {
      this.lastRun = this.now();
      this.running = this.options.run()
        .catch((err) => log.error({ lease: name, err }, 'a once-per-cluster job failed'))
        .finally(() => { this.running = null; });
    }
  }
}
