/**
 * Group commit on PostgreSQL, as src/adapters/sqlite/group-commit.ts does it on SQLite: writes
 * requested while a batch is being committed (and during one turn of the event loop) are run
 * together in the next transaction, on one connection, so a hundred concurrent SENDs cost one
 * COMMIT (one WAL flush) instead of a hundred. A write's promise settles only after the
 * transaction holding it has committed (or failed).
 *
 * One write that fails must not take the others down. A batch runs without savepoints; if a write
 * fails, the batch is rolled back and run again with each write in its own savepoint, and only the
 * one that fails is rolled back alone. A write's work is therefore database work that may run twice
 * (the first run leaves no trace). One batch is in flight at a time: the next one fills meanwhile.
 *
 * A round trip to the server per write would bound a batch by latency, not by the commit, so work
 * may come with a bulk form: the writes of one kind in a batch, wherever they are queued, are done by
 * one call over all of them (a hundred messages in two statements, a hundred messages' delivery marks
 * in one). The savepoint retry runs each write alone.
 */
import type { Pool, PoolClient } from 'pg';
import { commit, connect } from './connection.js';
import { storeError } from './errors.js';

type Work<T> = (tx: PoolClient) => Promise<T>;

/** The same kind of write for many items at once: one result per item, in their order. */
export interface Bulk<I, T> {
  /** Writes with the same key in a batch are done together, where the first of them is queued. */
  key: string;
  item: I;
  many: (tx: PoolClient, items: I[]) => Promise<T[]>;
}

interface Job {
  work: Work<unknown>;
  bulk?: Bulk<unknown, unknown> | undefined;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

export class PgGroupCommit {
  private queue: Job[] = [];
  private scheduled = false;
  private inFlight: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly pool: Pool) {}

  /** Queues work for the next batch; resolves with its result once the batch has committed. */
  run<T, I>(work: Work<T>, bulk?: Bulk<I, T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, bulk: bulk as Bulk<unknown, unknown> | undefined, resolve: resolve as (value: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Refuses new work and resolves once everything queued has been committed (or has failed). */
  async close(): Promise<void> {
    this.closed = true;
    while (this.inFlight || this.queue.length > 0) {
      if (this.inFlight) await this.inFlight;
      else this.flush();
    }
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.inFlight || this.queue.length === 0) return;
    const jobs = this.queue;
    this.queue = [];
    this.inFlight = this.commit(jobs).finally(() => {
      this.inFlight = null;
      if (this.queue.length > 0) this.schedule();
    });
  }

  private async commit(jobs: Job[]): Promise<void> {
    let client: PoolClient;
    try {
      client = await connect(this.pool);
    } catch (err) {
      for (const job of jobs) job.reject(err);
      return;
    }
    let broken: Error | undefined;
    try {
      const outcomes = await this.runBatch(client, jobs);
      jobs.forEach((job, i) => {
        const outcome = outcomes[i]!;
        if (outcome.ok) job.resolve(outcome.value);
        else job.reject(outcome.err);
      });
    } catch (err) {
      // BEGIN, COMMIT or a savepoint failed (connection lost, server shutting down): nothing in the
      // batch is known to be stored. The connection is not reused.
      broken = err instanceof Error ? err : new Error(String(err));
      const mapped = storeError(err);
      for (const job of jobs) job.reject(mapped);
    } finally {
      client.release(broken);
    }
  }

  private async runBatch(client: PoolClient, jobs: Job[]): Promise<Outcome[]> {
    await client.query('BEGIN');
    const values: unknown[] = new Array(jobs.length);
    let failed: { err: unknown } | null = null;
    try {
      for (const run of byKind(jobs)) {
        if (run.length > 1) {
          const results = await jobs[run[0]!]!.bulk!.many(client, run.map((i) => jobs[i]!.bulk!.item));
          run.forEach((i, k) => { values[i] = results[k]; });
        } else {
          values[run[0]!] = await jobs[run[0]!]!.work(client);
        }
      }
    } catch (err) {
      failed = { err };
    }
    if (!failed) {
      await commit(client);
      return jobs.map((_, i) => ({ ok: true, value: values[i] }));
    }
    await client.query('ROLLBACK');
    if (jobs.length === 1) return [{ ok: false, err: storeError(failed.err) }];
    return this.runIsolated(client, jobs);
  }

  /** The batch again, each write in a savepoint: the ones that fail are rolled back alone. */
  private async runIsolated(client: PoolClient, jobs: Job[]): Promise<Outcome[]> {
    await client.query('BEGIN');
    const outcomes: Outcome[] = [];
    for (const job of jobs) {
      await client.query('SAVEPOINT write');
      try {
        const value = await job.work(client);
        await client.query('RELEASE SAVEPOINT write');
        outcomes.push({ ok: true, value });
      } catch (err) {
        await client.query('ROLLBACK TO SAVEPOINT write');
        outcomes.push({ ok: false, err: storeError(err) });
      }
    }
    await commit(client);
    return outcomes;
  }
}

/**
 * The batch's jobs in the order they run: every job with a bulk key joins the first one with that key
 * (one call for all of them), the others run alone, in the order they were queued. Jobs of one batch
 * were all requested before any of them settled (none waited for another), so any order among them
 * is one their callers could have seen; under cross-node traffic a node's queue interleaves its own
 * SENDs with the delivery marks of messages heard on the bus, and grouping only consecutive writes
 * left runs of one, a round trip each.
 */
function byKind(jobs: Job[]): number[][] {
  const runs: number[][] = [];
  const byKey = new Map<string, number[]>();
  jobs.forEach((job, i) => {
    const key = job.bulk?.key;
    if (key === undefined) { runs.push([i]); return; }
    let run = byKey.get(key);
    if (!run) { byKey.set(key, (run = [])); runs.push(run); }
    run.push(i);
  });
  return runs;
}
