/**
 * The due-jobs runner (issue 21): every `intervalMs` it claims the jobs that are due (scheduled
 * deliveries, automatic reminders) from the store, at most `limit` a tick, and hands each to
 * `handle` (or a tick's deliveries all at once to `handleDeliveries`, which releases them in one
 * store transaction). The claim is atomic in the store (src/core/ports/store/due-jobs.ts), so on several nodes
 * each job runs once per cluster; a tick that claimed a full batch runs again at once, so a backlog
 * drains without waiting an interval per batch. The clock is injectable: tests move time.
 */
import type { DueJob, DueJobStore } from './ports/store/due-jobs.js';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** What a job's handler is told: who holds it (to finish it with) and the runner's time. */
export interface DueJobContext {
  owner: string;
  nowMs: number;
}

export interface DueJobRunnerOptions {
  store: DueJobStore;
  /** This runner's name in the store's claims: unique per process. */
  owner: string;
  handle: (job: DueJob, ctx: DueJobContext) => Promise<void>;
  /** When given, a tick's scheduled deliveries go to it together (their message ids), not one by one to `handle`. */
  handleDeliveries?: (messageIds: number[], ctx: DueJobContext) => Promise<void>;
  /** A job (or a tick's deliveries, together) failed; null: the claim itself failed. */
  onError: (err: unknown, job: DueJob | readonly DueJob[] | null) => void;
  clock?: Clock;
  intervalMs?: number;
  /** Jobs claimed per tick. */
  limit?: number;
  /** How long a claim holds before another runner may take the job. */
  leaseMs?: number;
}

export class DueJobRunner {
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private readonly limit: number;
  private readonly leaseMs: number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private stopped = true;

  constructor(private readonly options: DueJobRunnerOptions) {
    this.clock = options.clock ?? systemClock;
    this.intervalMs = options.intervalMs ?? 1000;
    this.limit = Math.max(1, options.limit ?? 100);
    this.leaseMs = options.leaseMs ?? 60_000;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops ticking; resolves when a tick under way has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** Claims the due jobs and runs them, one after another; resolves to how many were claimed. One tick at a time. */
  tick(): Promise<number> {
    this.running ??= this.runOnce().finally(() => { this.running = null; });
    return this.running;
  }

  private async runOnce(): Promise<number> {
    const nowMs = this.clock.now();
    const { owner } = this.options;
    const jobs = await this.options.store.claimDueJobs({
      now: new Date(nowMs).toISOString(), owner, leaseUntil: new Date(nowMs + this.leaseMs).toISOString(), limit: this.limit,
    });
    const together = this.options.handleDeliveries ? jobs.filter((j) => j.kind === 'deliver') : [];
    if (together.length > 0) {
      try {
        await this.options.handleDeliveries!(together.map((j) => j.messageId), { owner, nowMs: this.clock.now() });
      } catch (err) {
        // Their leases end and they are claimed again then: retried, not lost.
        this.options.onError(err, together);
      }
    }
    for (const job of jobs) {
      if (together.includes(job)) continue;
      try {
        await this.options.handle(job, { owner, nowMs: this.clock.now() });
      } catch (err) {
        // Its lease ends and it is claimed again then: a job that failed is retried, not lost.
        this.options.onError(err, job);
      }
    }
    return jobs.length;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.tick().then(
        (claimed) => this.schedule(claimed >= this.limit ? 0 : this.intervalMs),
        (err: unknown) => { this.options.onError(err, null); this.schedule(this.intervalMs); },
      );
    }, delayMs);
    this.timer.unref();
  }
}
