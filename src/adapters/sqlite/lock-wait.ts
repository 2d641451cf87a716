/**
 * Waiting for a lock another process holds on the database without holding up the event loop.
 *
 * better-sqlite3 is synchronous, and SQLite's busy handler sleeps inside the call: with the busy
 * timeout at 5 s, a write that met a lock held by another process (an sqlite3 shell, a backup
 * script) stopped the whole server until the lock went or the 5 s passed, every PING included.
 * Now SQLite spins for LOCK_SPIN_MS at most, and a write that still finds the lock taken waits
 * here instead: it is tried again after a growing pause (2 ms doubling to 50 ms) until it succeeds
 * or has waited `maxWaitMs`, when it fails with StoreError 'busy' (the client hears BUSY). A failed
 * try rolls back whole (BEGIN IMMEDIATE is where the lock is taken), so trying again is safe.
 *
 * Writes keep their order: while one waits, those asked for later queue behind it and only the
 * head of the queue tries the lock, so a held lock costs the loop one short try per pause, however
 * many writes wait. Reads do not queue behind writes (a WAL reader is not blocked by a writer); the
 * rare read that meets a lock (another process in exclusive locking mode, WAL recovery) retries alone.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { busy, type StoreError } from '../../core/ports/store/errors.js';

/** SQLite's own busy wait (busy_timeout) on the server's connection: short, it blocks the event loop. */
export const LOCK_SPIN_MS = 5;
const FIRST_PAUSE_MS = 2;
const MAX_PAUSE_MS = 50;

/** SQLite's SQLITE_BUSY / SQLITE_LOCKED (and their extended codes), as better-sqlite3 reports them. */
export function isDatabaseBusy(err: unknown): err is { code: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)(_|$)/.test(code);
}

/** What a write or read that waited `maxWaitMs` for the lock fails with: nothing was changed. */
function gaveUp(err: { code: string }, waitedMs: number): StoreError<'busy'> {
  return busy('contention', `The database stayed locked by another process for ${waitedMs} ms (${err.code}); nothing was changed. Retry.`, err);
}

interface Waiting {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  /** Date.now() past which a try that meets the lock fails the write instead of waiting more. */
  giveUpAt: number;
}

export class LockWait {
  private readonly queue: Waiting[] = [];
  private timer: NodeJS.Timeout | null = null;
  private pauseMs = FIRST_PAUSE_MS;
  private idle: Array<() => void> = [];

  /** `maxWaitMs`: how long a write or read waits for a lock before it fails (StoreError 'busy'). */
  constructor(readonly maxWaitMs: number) {}

  /** Writes waiting for the lock now. */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Runs a write now when none is waiting (the usual case: its result comes back as is, no promise
   * made), else after those that are, in order.
   */
  write<T>(work: () => T): T | Promise<T> {
    if (this.queue.length === 0) {
      try {
        return work();
      } catch (err) {
        if (!isDatabaseBusy(err)) throw err;
      }
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject, giveUpAt: Date.now() + this.maxWaitMs });
      this.arm();
    });
  }

  /** Runs a read now; one that meets a lock is tried again alone, after growing pauses. */
  read<T>(work: () => T): T | Promise<T> {
    try {
      return work();
    } catch (err) {
      if (!isDatabaseBusy(err)) throw err;
    }
    return this.readAgain(work);
  }

  private async readAgain<T>(work: () => T): Promise<T> {
    const giveUpAt = Date.now() + this.maxWaitMs;
    for (let pause = FIRST_PAUSE_MS; ; pause = Math.min(pause * 2, MAX_PAUSE_MS)) {
      await sleep(pause);
      try {
        return work();
      } catch (err) {
        if (!isDatabaseBusy(err)) throw err;
        if (Date.now() >= giveUpAt) throw gaveUp(err, this.maxWaitMs);
      }
    }
  }

  /** Resolves once no write waits (each has succeeded or given up): before the database closes. */
  whenIdle(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private arm(): void {
    this.timer ??= setTimeout(() => this.retry(), this.pauseMs);
  }

  /** Tries the queue from its head while the lock can be had; gives up on writes that waited long enough. */
  private retry(): void {
    this.timer = null;
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      try {
        const value = head.work();
        this.queue.shift();
        head.resolve(value);
        this.pauseMs = FIRST_PAUSE_MS;
      } catch (err) {
        if (!isDatabaseBusy(err)) {
          this.queue.shift();
          head.reject(err);
          continue;
        }
        // Still locked. The queue is in order of arrival, so those to give up on are at its head.
        const now = Date.now();
        while (this.queue.length > 0 && this.queue[0]!.giveUpAt <= now) this.queue.shift()!.reject(gaveUp(err, this.maxWaitMs));
        break;
      }
    }
    if (this.queue.length > 0) {
      this.pauseMs = Math.min(this.pauseMs * 2, MAX_PAUSE_MS);
      this.arm();
      return;
    }
    this.pauseMs = FIRST_PAUSE_MS;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
