/**
 * Ends logged-in connections when their session expires, so an expired session stops receiving
 * pushes at once rather than at its next request. One timer for all of them: every session lives
 * sessionTtlMs from its LOGIN, so the order connections are watched in is mostly the order they
 * expire in, and a Map keeps that order with O(1) watch and forget; a session re-attached with
 * RESUME keeps its earlier expiry and waits in a small heap instead.
 */

/** setTimeout's longest delay; a later expiry is re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class SessionExpiry<K> {
  /** Watches in the order they expire in (the common case: each expires sessionTtlMs after its LOGIN). */
  private readonly due = new Map<K, number>();
  /** The latest expiry ever put in `due`: a watch at or after it keeps `due` in order. */
  private lastAt = -Infinity;
  /**
   * Watches that expire before `lastAt` (a session re-attached with RESUME keeps its own, earlier
   * expiry): a min-heap with lazy deletion, `early` holding each key's current expiry.
   */
  private readonly early = new Map<K, number>();
  private heap: Array<[number, K]> = [];
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  constructor(private readonly onExpire: (key: K) => void, private readonly now: () => number = Date.now) {}

  /** Watches `key` until `expiresAtMs` (ms since the epoch), replacing an earlier watch of it. */
  watch(key: K, expiresAtMs: number): void {
    this.due.delete(key);
    this.early.delete(key);
    if (expiresAtMs >= this.lastAt) {
      this.due.set(key, expiresAtMs);
      this.lastAt = expiresAtMs;
    } else {
      this.early.set(key, expiresAtMs);
      this.push([expiresAtMs, key]);
      // Forgotten keys leave stale heap entries: rebuilt when they outnumber the live ones, so memory stays bounded.
      if (this.heap.length > 2 * this.early.size + 64) this.rebuild();
    }
    if (expiresAtMs < this.armedFor) this.arm(expiresAtMs);
  }

  forget(key: K): void {
    this.due.delete(key);
    this.early.delete(key);
    if (this.size === 0) {
      this.disarm();
      this.heap = [];
    }
  }

  get size(): number {
    return this.due.size + this.early.size;
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
    for (let top = this.heap[0]; top && top[0] <= t; top = this.heap[0]) {
      this.pop();
      const [at, key] = top;
      if (this.early.get(key) !== at) continue; // forgotten or watched again since
      this.early.delete(key);
      this.onExpire(key);
    }
    const next = Math.min(this.due.values().next().value ?? Infinity, this.earliest());
    if (next !== Infinity) this.arm(next);
  };

  /** The earliest live expiry in the heap (stale tops dropped), or Infinity. */
  private earliest(): number {
    for (let top = this.heap[0]; top; top = this.heap[0]) {
      if (this.early.get(top[1]) === top[0]) return top[0];
      this.pop();
    }
    return Infinity;
  }

  private rebuild(): void {
    this.heap = [];
    for (const [key, at] of this.early) this.push([at, key]);
  }

  private push(entry: [number, K]): void {
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]![0] <= h[i]![0]) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]![0] < h[m]![0]) m = l;
      if (r < h.length && h[r]![0] < h[m]![0]) m = r;
      if (m === i) return;
      [h[m], h[i]] = [h[i]!, h[m]!];
      i = m;
    }
  }

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
