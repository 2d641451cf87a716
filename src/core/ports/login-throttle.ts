/**
 * The login throttle's state (issue 18): password attempts counted per (username, address), per
 * address and per username, with locks and windows that run out. The policy is ThrottleOptions
 * (docs/PROTOCOL.md §Limits); an adapter keeps the counts where every node sees them, and does
 * each step of an attempt at once (an attempt is counted when it starts, before the slow hash, so
 * parallel guesses, on one node or several, cannot all be checked against the same count). The
 * clock is given to the adapter (the contract suite, test/contract/throttle/, runs a fake one).
 *
 * - Failures slow down, then lock, the (username, address) pair that made them, and an address that
 *   fails across many usernames (password spraying). A correct password from an address that has not
 *   been failing is never refused because of other addresses' failures.
 * - Failures against one username from every address are a signal, never a lock: past a threshold
 *   every further failed guess on that username is slowed and the administrator is alerted.
 * - Attempts refused while locked cost no hash and no audit row each: they are counted and reported
 *   once the lock is over (onReport), one report per lock with the count, made by one node.
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

/** One password check under way; settled once (later calls do nothing). */
export interface ThrottledAttempt {
  /** A correct password: clears its pair. */
  succeed(): Promise<void>;
  /** A wrong one: counts for the pair, the address and the username. */
  fail(): Promise<FailureOutcome>;
  /** Given up without an outcome (a failure of the server, not of the password). */
  abandon(): Promise<void>;
}

export type ThrottleStart = { refused: Refusal; attempt?: undefined } | { refused?: undefined; attempt: ThrottledAttempt };

export interface LoginThrottleState {
  readonly options: ThrottleOptions;
  /**
   * Before checking a password: refused at once if the pair or the address is locked, or if the
   * attempts already under way would reach the lock; otherwise counted as under way.
   */
  begin(username: string, address: string): Promise<ThrottleStart>;
  /** Where counts go once they are final (the server writes them to the audit log). */
  onReport: (report: ThrottleReport) => void;
  /** Reports finished locks and alert windows every reportIntervalMs until stop(). */
  start(): void;
  /**
   * Stops (the node is stopping). Counts held only by this node are reported first; counts the
   * other nodes share (Redis) stay for them.
   */
  stop(): Promise<void>;
}
