/**
 * Group commit: writes requested during one turn of the event loop are run together in one
 * IMMEDIATE transaction, so a hundred concurrent SENDs cost one WAL commit (one fsync with
 * synchronous=FULL) instead of a hundred. A write's promise settles only after the transaction
 * holding it has committed (or failed): acknowledging after commit stays true.
 *
 * One write that throws must not take the others down. Savepoints around every write would cost
 * two statements each, for a case that almost never happens (the handlers validate first), so a
 * batch runs without them; if a write throws, the batch is rolled back and run again with each
 * write in its own savepoint, and only the one that throws is rolled back alone. A write's work is
 * therefore pure database work that may run twice (the first run leaves no trace).
 *
 * A batch that meets a lock held by another process waits in the LockWait (lock-wait.ts) without
 * blocking the event loop, and is tried again whole. A batch whose transaction fails (the lock
 * never came, the disk is full) fails every write in it: none is acknowledged.
 */
import type { Database, Transaction } from 'better-sqlite3';
import type { LockWait } from './lock-wait.js';

interface Job {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

export class GroupCommit {
  private queue: Job[] = [];
  private scheduled = false;
  /** A nested better-sqlite3 transaction is a savepoint: it rolls back alone when its work throws. */
  private readonly savepoint: Transaction<(work: () => unknown) => unknown>;
  private readonly batch: Transaction<(jobs: Job[]) => Outcome[]>;
  private readonly isolatedBatch: Transaction<(jobs: Job[]) => Outcome[]>;

  constructor(private readonly db: Database, private readonly lockWait: LockWait) {
    this.savepoint = db.transaction((work: () => unknown) => work());
    this.batch = db.transaction((jobs: Job[]) =>
      jobs.map((job): Outcome => {
        try {
          return { ok: true, value: job.work() };
        } catch (err) {
          throw new WriteFailed(err);
        }
      }),
    );
    this.isolatedBatch = db.transaction((jobs: Job[]) =>
      jobs.map((job): Outcome => {
        try {
          return { ok: true, value: this.savepoint(job.work) };
        } catch (err) {
          // Some errors (disk full, I/O) make SQLite roll back the whole transaction: fail the batch.
          if (!db.inTransaction) throw err;
          return { ok: false, err };
        }
      }),
    );
  }

  /** Queues work for the next batch; resolves with its result once the batch has committed. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  /** Commits whatever is queued now (also called before the database closes); settles once it has. */
  async flush(): Promise<void> {
    this.scheduled = false;
    const jobs = this.queue;
    if (jobs.length === 0) return;
    this.queue = [];
    let outcomes: Outcome[];
    try {
      outcomes = await this.lockWait.write(() => {
        if (!this.db.open) throw new Error('the store is closed');
        return this.commit(jobs);
      });
    } catch (err) {
      // The commit itself failed (disk full, database locked too long): nothing in it was stored.
      for (const job of jobs) job.reject(err);
      return;
    }
    jobs.forEach((job, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.err);
    });
  }

  private commit(jobs: Job[]): Outcome[] {
    try {
      return this.batch.immediate(jobs);
    } catch (err) {
      // Anything but a write's own error (BEGIN or COMMIT failed: busy, disk full) fails the batch.
      if (!(err instanceof WriteFailed)) throw err;
      if (jobs.length === 1) return [{ ok: false, err: err.cause }];
      // Rolled back whole (better-sqlite3 does that when the function throws): run it again isolated.
      return this.isolatedBatch.immediate(jobs);
    }
  }
}

/** A write's own error, told apart from the transaction's (BEGIN/COMMIT) errors. */
class WriteFailed extends Error {
  constructor(override readonly cause: unknown) {
    super('a write in the batch failed');
  }
}
