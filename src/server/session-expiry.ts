/**
 * Ends logged-in connections when their session expires, so an expired session stops receiving
 * pushes at once rather than at its next request. One timer for all of them: every session lives
 * sessionTtlMs from its LOGIN, so the order connections are watched in is the order they expire
 * in, and a Map keeps that order with O(1) watch and forget.
 */

/** setTimeout's longest delay; a later expiry is re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class SessionExpiry<K> {
  private readonly due = new Map<K, number>();
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  constructor(private readonly onExpire: (key: K) => void, private readonly now: () => number = Date.now) {}

  /** Watches `key` until `expiresAtMs` (ms since the epoch), replacing an earlier watch of it. */
  watch(key: K, expiresAtMs: number): void {
    this.due.delete(key);
    this.due.set(key, expiresAtMs);
    if (expiresAtMs < this.armedFor) this.arm(expiresAtMs);
  }

  forget(key: K): void {
    this.due.delete(key);
    if (this.due.size === 0) this.disarm();
  }

  get size(): number {
    return this.due.size;
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    const t = this.now();
    for (const [key, at] of this.due) {
      if (at > t) break;
      this.due.delete(key);
      this.onExpire(key);
    }
    const next = this.due.values().next();
    if (!next.done) this.arm(next.value);
  };

  private arm(atMs: number): void {
    this.disarm();
    this.armedFor = atMs;
    this.timer = setTimeout(this.fire, Math.min(Math.max(0, atMs - this.now()), MAX_TIMER_MS));
    this.timer.unref();
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }
}
