/**
 * Brute-force protection for LOGIN (docs/PROTOCOL.md §Limits): failures are counted per username
 * and per address; each failure beyond a free allowance adds a growing delay before the answer,
 * and past a threshold the key is locked out for a while. A success clears the username's count.
 * In memory on purpose: a restart forgetting counts is acceptable, and a multi-node deployment
 * would move this to Redis with the router.
 */
export interface ThrottleOptions {
  /** Failures answered without delay. */
  freeFailures: number;
  /** Delay after the first failure past the allowance; doubles each further failure. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failures (per key) that lock the key out. */
  lockoutFailures: number;
  lockoutMs: number;
  /** Failures older than this are forgotten. */
  windowMs: number;
  /** Most keys tracked; the oldest are dropped beyond it, so memory stays bounded. */
  maxKeys: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = {
  freeFailures: 3,
  baseDelayMs: 250,
  maxDelayMs: 4000,
  lockoutFailures: 10,
  lockoutMs: 15 * 60_000,
  windowMs: 15 * 60_000,
  maxKeys: 100_000,
};

interface Entry {
  failures: number;
  firstAt: number;
  lockedUntil: number;
}

export type ThrottleVerdict = { locked: false; delayMs: number } | { locked: true; retryAfterMs: number };

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  constructor(readonly options: ThrottleOptions = DEFAULT_THROTTLE, private readonly now: () => number = Date.now) {}

  /** Before checking a password: is either key locked, and how long to wait if it fails. */
  check(username: string, address: string): ThrottleVerdict {
    const t = this.now();
    let failures = 0;
    for (const key of keys(username, address)) {
      const e = this.live(key, t);
      if (!e) continue;
      if (e.lockedUntil > t) return { locked: true, retryAfterMs: e.lockedUntil - t };
      failures = Math.max(failures, e.failures);
    }
    return { locked: false, delayMs: this.delayFor(failures) };
  }

  /** Records a failure; returns whether this failure locked a key. */
  fail(username: string, address: string): boolean {
    const t = this.now();
    let locked = false;
    for (const key of keys(username, address)) {
      const e = this.live(key, t) ?? { failures: 0, firstAt: t, lockedUntil: 0 };
      e.failures++;
      if (e.failures >= this.options.lockoutFailures && e.lockedUntil <= t) {
        e.lockedUntil = t + this.options.lockoutMs;
        locked = true;
      }
      this.entries.delete(key); // re-insert: Map order is the eviction order
      this.entries.set(key, e);
    }
    while (this.entries.size > this.options.maxKeys) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return locked;
  }

  succeed(username: string): void {
    this.entries.delete(`u:${username}`);
  }

  /** Delay owed after `failures` earlier failures. */
  delayFor(failures: number): number {
    const over = failures - this.options.freeFailures;
    if (over < 0) return 0;
    return Math.min(this.options.baseDelayMs * 2 ** over, this.options.maxDelayMs);
  }

  private live(key: string, t: number): Entry | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.lockedUntil <= t && t - e.firstAt > this.options.windowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }
}

function keys(username: string, address: string): string[] {
  return [`u:${username}`, `a:${address}`];
}
