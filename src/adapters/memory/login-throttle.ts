/**
 * The login throttle in this process's memory (a restart forgetting counts is acceptable): the
 * policy of src/core/ports/login-throttle.ts over a bounded map of entries. LoginThrottle is the
 * synchronous engine; MemoryLoginThrottle is it behind the port.
 */
import {
  DEFAULT_THROTTLE, type FailureOutcome, type LockScope, type LoginAlert, type LoginThrottleState, type Refusal,
  type ThrottleOptions, type ThrottleReport, type ThrottleStart,
} from '../../core/ports/login-throttle.js';

export type { FailureOutcome, LockScope, LoginAlert, Refusal, ThrottleOptions, ThrottleReport };
export { DEFAULT_THROTTLE };

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

/** The engine behind the port: each step runs at once, so each is atomic in this process. */
export class MemoryLoginThrottle implements LoginThrottleState {
  readonly engine: LoginThrottle;

  constructor(options: ThrottleOptions = DEFAULT_THROTTLE, now: () => number = Date.now) {
    this.engine = new LoginThrottle(options, now);
  }

  get options(): ThrottleOptions {
    return this.engine.options;
  }

  /** Entries tracked (for tests and the bound). */
  get size(): number {
    return this.engine.size;
  }

  get onReport(): (report: ThrottleReport) => void {
    return this.engine.onReport;
  }

  set onReport(report: (report: ThrottleReport) => void) {
    this.engine.onReport = report;
  }

  async begin(username: string, address: string): Promise<ThrottleStart> {
    const started = this.engine.begin(username, address);
    if (started.refused) return { refused: started.refused };
    const { attempt } = started;
    return {
      attempt: {
        succeed: async () => attempt.succeed(),
        fail: async () => attempt.fail(),
        abandon: async () => attempt.abandon(),
      },
    };
  }

  start(): void {
    this.engine.start();
  }

  async stop(): Promise<void> {
    this.engine.stop();
  }
}
