/**
 * Brute-force protection for passwords (LOGIN, PASSWD old=; docs/PROTOCOL.md §Limits), done the way
 * mature servers do it, so that an attacker cannot turn it against the owner:
 *
 * - Failures slow down, then lock, the (username, address) pair that made them, and an address that
 *   fails across many usernames (password spraying). A correct password from an address that has not
 *   been failing is never refused because of other addresses' failures.
 * - Failures against one username from every address are a signal, never a lock: past a threshold
 *   every further failed guess on that username is slowed and the administrator is alerted.
 * - An attempt is counted when it starts, before the slow hash, so parallel guesses cannot all be
 *   checked against the same count.
 * - Attempts refused while locked cost no hash and no audit row each: they are counted and reported
 *   once the lock is over (onReport), one report per lock with the count.
 *
 * In memory on purpose: a restart forgetting counts is acceptable, and a multi-node deployment
 * would move this to Redis with the router.
 */
export interface ThrottleOptions {
  /** Failures of one (username, address) pair answered without delay. */
  freeFailures: number;
  /** Delay after the first failure past the allowance; doubles each further failure. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failures (attempts under way included) of one (username, address) pair that lock the pair out. */
  lockoutFailures: number;
  /** Failures from one address, whatever the usernames, that lock the address out. */
  addressLockoutFailures: number;
  lockoutMs: number;
  /** Failures older than this are forgotten. */
  windowMs: number;
  /**
   * Failures against one username, from all addresses, that alert the administrator; each further
   * failed guess on it is slowed. Never a lock, so nobody can lock a member out.
   */
  alertFailures: number;
  /** Most keys tracked; the oldest are dropped beyond it (their counts reported first), so memory stays bounded. */
  maxKeys: number;
  /** How often finished locks and alert windows are looked for and reported. */
  reportIntervalMs: number;
}

export const DEFAULT_THROTTLE: ThrottleOptions = {
  freeFailures: 3,
  baseDelayMs: 250,
  maxDelayMs: 4000,
  lockoutFailures: 10,
  addressLockoutFailures: 100,
  lockoutMs: 15 * 60_000,
  windowMs: 15 * 60_000,
  alertFailures: 30,
  maxKeys: 100_000,
  reportIntervalMs: 60_000,
};

/** What is locked: one username from one address, or one address for every username. */
export type LockScope = 'pair' | 'address';

/** An attempt refused before its password was checked. */
export interface Refusal {
  scope: LockScope;
  /** False when the limit is reached only by attempts still under way (no lock yet). */
  locked: boolean;
  retryAfterMs: number;
}

/** The per-username signal: failures against one username from several addresses. */
export interface LoginAlert {
  username: string;
  failures: number;
  /** Some of the addresses the failures came from (at most MAX_SAMPLE_ADDRESSES). */
  addresses: string[];
  since: number;
}

export interface FailureOutcome {
  /** The pair or address this failure locked, if it locked one. */
  lockedNow: LockScope | null;
  /** Set when this failure crossed the username's alert threshold (once per window). */
  alert: LoginAlert | null;
  /** How long to wait before answering the failure. */
  delayMs: number;
}

/** Counts reported after the fact, for the audit log. */
export type ThrottleReport =
  | { kind: 'refused'; scope: LockScope; username: string | null; address: string; attempts: number; since: number; until: number }
  | { kind: 'alert_ended'; username: string; failures: number; addresses: string[]; since: number; until: number };

const MAX_SAMPLE_ADDRESSES = 16;

interface Entry {
  readonly username: string | null;
  readonly address: string | null;
  failures: number;
  /** Attempts whose password is being checked now: they count before their outcome is known. */
  inFlight: number;
  firstAt: number;
  lockedUntil: number;
  /** Attempts refused without a check, not yet reported, and when the first of them came. */
  refused: number;
  refusedSince: number;
  /** Username entries: whether the alert went out in this window, and where failures came from. */
  alerted: boolean;
  addresses: Set<string> | null;
}

export type AttemptStart = { refused: Refusal; attempt?: undefined } | { refused?: undefined; attempt: PasswordAttempt };

export class LoginThrottle {
  private readonly entries = new Map<string, Entry>();
  private timer: NodeJS.Timeout | undefined;
  /** Where counts go once they are final (the server writes them to the audit log). */
  onReport: (report: ThrottleReport) => void = () => undefined;

  constructor(readonly options: ThrottleOptions = DEFAULT_THROTTLE, private readonly now: () => number = Date.now) {}

  /** Reports finished locks and alert windows every reportIntervalMs until stop(). */
  start(): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.sweep(), this.options.reportIntervalMs);
    this.timer.unref();
  }

  /** Stops the timer and reports every count still held (locks under way included). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.sweep(true);
  }

  /**
   * Before checking a password: refused at once if the pair or the address is locked, or if the
   * attempts already under way would reach the lock; otherwise counted as under way.
   */
  begin(username: string, address: string): AttemptStart {
    const t = this.now();
    const pair = this.live(pairKey(username, address), t);
    const addr = this.live(addressKey(address), t);
    const refused = this.refusal(pair, this.options.lockoutFailures, 'pair', t)
      ?? this.refusal(addr, this.options.addressLockoutFailures, 'address', t);
    if (refused) return { refused };
    const p = pair ?? this.create(pairKey(username, address), username, address, t);
    const a = addr ?? this.create(addressKey(address), null, address, t);
    const user = this.live(usernameKey(username), t);
    p.inFlight++;
    a.inFlight++;
    const over = Math.max(
      p.failures - this.options.freeFailures,
      // An address slows once it has failed as often as one pair may.
      a.failures - this.options.lockoutFailures,
      user ? user.failures - this.options.alertFailures : -1,
    );
    return { attempt: new PasswordAttempt(this, p, a, this.delayFor(over)) };
  }

  /** Delay owed for `over` failures past an allowance (negative: none). */
  delayFor(over: number): number {
    if (over < 0) return 0;
    return Math.min(this.options.baseDelayMs * 2 ** over, this.options.maxDelayMs);
  }

  /** @internal PasswordAttempt's outcome: a correct password clears its pair. */
  settleSuccess(pair: Entry, addr: Entry): void {
    pair.inFlight--;
    addr.inFlight--;
    pair.failures = 0;
  }

  /** @internal PasswordAttempt's outcome: the failure counts for the pair, the address and the username. */
  settleFailure(pair: Entry, addr: Entry, delayMs: number): FailureOutcome {
    pair.inFlight--;
    addr.inFlight--;
    const t = this.now();
    const username = pair.username!;
    const address = pair.address!;
    const p = this.touch(pairKey(username, address), username, address, t, pair);
    const a = this.touch(addressKey(address), null, address, t, addr);
    const u = this.touch(usernameKey(username), username, null, t);
    p.failures++;
    a.failures++;
    u.failures++;
    let lockedNow: LockScope | null = null;
    if (p.failures >= this.options.lockoutFailures && p.lockedUntil <= t) {
      p.lockedUntil = t + this.options.lockoutMs;
      lockedNow = 'pair';
    }
    if (a.failures >= this.options.addressLockoutFailures && a.lockedUntil <= t) {
      a.lockedUntil = t + this.options.lockoutMs;
      lockedNow ??= 'address';
    }
    u.addresses ??= new Set();
    if (u.addresses.size < MAX_SAMPLE_ADDRESSES) u.addresses.add(address);
    let alert: LoginAlert | null = null;
    if (u.failures >= this.options.alertFailures && !u.alerted) {
      u.alerted = true;
      alert = { username, failures: u.failures, addresses: [...u.addresses], since: u.firstAt };
    }
    this.bound();
    return { lockedNow, alert, delayMs };
  }

  /** @internal An attempt given up (an error before the outcome): it no longer counts. */
  release(pair: Entry, addr: Entry): void {
    pair.inFlight--;
    addr.inFlight--;
  }

  /**
   * Reports what is final and forgets what is idle: attempts refused while no lock holds them any
   * more (all of them when `everything`, at stop), and an alerted username's summary once its
   * window is over.
   */
  sweep(everything = false): void {
    const t = this.now();
    for (const [key, e] of this.entries) {
      this.expire(e, t, everything ? 'all' : 'sweep');
      if (e.failures === 0 && e.inFlight === 0 && e.refused === 0 && e.lockedUntil <= t && !e.alerted) this.entries.delete(key);
    }
  }

  /** Entries tracked (for tests and the bound). */
  get size(): number {
    return this.entries.size;
  }

  private refusal(e: Entry | undefined, limit: number, scope: LockScope, t: number): Refusal | null {
    if (!e) return null;
    let refusal: Refusal | null = null;
    if (e.lockedUntil > t) refusal = { scope, locked: true, retryAfterMs: e.lockedUntil - t };
    else if (e.failures + e.inFlight >= limit) refusal = { scope, locked: false, retryAfterMs: 0 };
    if (refusal) {
      if (e.refused === 0) e.refusedSince = t;
      e.refused++;
    }
    return refusal;
  }

  /** The entry under `key`, its finished lock or window run out first. */
  private live(key: string, t: number): Entry | undefined {
    const e = this.entries.get(key);
    if (e) this.expire(e, t, 'touch');
    return e;
  }

  /**
   * A finished lock or window starts counting again. Refused attempts are reported when the lock
   * that refused them is over ('touch'), or by the sweep whenever no lock holds them, so a lock
   * gives one report; an alerted username's summary goes when its window is over.
   */
  private expire(e: Entry, t: number, mode: 'touch' | 'sweep' | 'all'): void {
    const lockOver = e.lockedUntil !== 0 && e.lockedUntil <= t;
    const windowOver = e.lockedUntil <= t && t - e.firstAt > this.options.windowMs;
    const reportRefused = mode === 'all' || (mode === 'sweep' ? e.lockedUntil <= t : lockOver);
    if (e.refused > 0 && reportRefused) this.reportRefused(e, t);
    if (e.alerted && (windowOver || mode === 'all')) {
      this.onReport({ kind: 'alert_ended', username: e.username!, failures: e.failures, addresses: [...(e.addresses ?? [])], since: e.firstAt, until: t });
      e.alerted = false;
    }
    if (lockOver || windowOver) {
      e.failures = 0;
      e.firstAt = t;
      e.lockedUntil = 0;
      e.addresses = null;
    }
  }

  private reportRefused(e: Entry, t: number): void {
    this.onReport({
      kind: 'refused', scope: e.username === null ? 'address' : 'pair', username: e.username, address: e.address!,
      attempts: e.refused, since: e.refusedSince, until: t,
    });
    e.refused = 0;
    e.refusedSince = 0;
  }

  private create(key: string, username: string | null, address: string | null, t: number): Entry {
    const e: Entry = {
      username, address, failures: 0, inFlight: 0, firstAt: t, lockedUntil: 0, refused: 0, refusedSince: 0, alerted: false, addresses: null,
    };
    this.entries.set(key, e);
    this.bound();
    return e;
  }

  /** The live entry (or `held` if it was dropped meanwhile, or a new one), moved to the newest end. */
  private touch(key: string, username: string | null, address: string | null, t: number, held?: Entry): Entry {
    const e = this.live(key, t) ?? held ?? this.create(key, username, address, t);
    this.entries.delete(key); // re-insert: Map order is the eviction order
    this.entries.set(key, e);
    return e;
  }

  /** Drops the oldest keys beyond maxKeys, reporting their counts first. */
  private bound(): void {
    const t = this.now();
    while (this.entries.size > this.options.maxKeys) {
      const [key, oldest] = this.entries.entries().next().value as [string, Entry];
      this.expire(oldest, t, 'all');
      this.entries.delete(key);
    }
  }
}

/** One password check under way; settled exactly once (later calls do nothing). */
export class PasswordAttempt {
  private settled = false;
  constructor(private readonly throttle: LoginThrottle, private readonly pair: Entry, private readonly addr: Entry, private readonly delayMs: number) {}

  succeed(): void {
    if (this.settle()) this.throttle.settleSuccess(this.pair, this.addr);
  }

  fail(): FailureOutcome {
    if (!this.settle()) return { lockedNow: null, alert: null, delayMs: 0 };
    return this.throttle.settleFailure(this.pair, this.addr, this.delayMs);
  }

  /** Gives the attempt up without an outcome (a failure of the server, not of the password). */
  abandon(): void {
    if (this.settle()) this.throttle.release(this.pair, this.addr);
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    return true;
  }
}

function pairKey(username: string, address: string): string {
  return `p:${username}\n${address}`;
}

function addressKey(address: string): string {
  return `a:${address}`;
}

function usernameKey(username: string): string {
  return `u:${username}`;
}
