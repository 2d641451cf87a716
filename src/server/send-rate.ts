/**
 * The per-member sending rate (issue 20): at most `perMinute` messages in any minute. Counted with
 * a sliding window — this minute's sends plus the share of last minute's still inside the window:
 * a member may send `perMinute` at once, then waits about a minute (a little more, as the burst
 * fades out of the window), or sends steadily one every 60/perMinute seconds. Two numbers per
 * member who sent in the last two minutes; nothing is stored (a restart forgets the counts).
 */

const MINUTE_MS = 60_000;
/** Members remembered before the ones idle for two minutes are dropped. */
const SWEEP_ABOVE = 1_000;

interface Window {
  /** Index of the minute `current` counts (Date.now() / 60,000, rounded down). */
  minute: number;
  current: number;
  previous: number;
}

export type SendVerdict = { ok: true } | { ok: false; retryAfterMs: number };

export class SendRate {
  private readonly windows = new Map<number, Window>();

  /** `perMinute` 0: no limit (nothing is counted either). */
  constructor(readonly perMinute: number, private readonly now: () => number = Date.now) {}

  /** Counts one send of `userId`, or refuses it (not counted) with how long until one fits. */
  take(userId: number): SendVerdict {
    if (this.perMinute <= 0) return { ok: true };
    const at = this.now();
    const w = this.windowOf(userId, at);
    if (estimate(w, at) + 1 > this.perMinute) return { ok: false, retryAfterMs: this.retryAfter(w, at) };
    w.current++;
    return { ok: true };
  }

  /** Sends counted in the last minute (the sliding estimate, rounded), for the administrator. */
  lastMinute(userId: number): number {
    const w = this.windows.get(userId);
    if (!w) return 0;
    const at = this.now();
    return Math.round(estimate(advance({ ...w }, at), at));
  }

  private windowOf(userId: number, at: number): Window {
    let w = this.windows.get(userId);
    if (!w) {
      if (this.windows.size >= SWEEP_ABOVE) this.sweep(at);
      w = { minute: Math.floor(at / MINUTE_MS), current: 0, previous: 0 };
      this.windows.set(userId, w);
    }
    return advance(w, at);
  }

  /** Milliseconds until the estimate has room for one more send (found in steps of a second at most). */
  private retryAfter(w: Window, at: number): number {
    const step = Math.max(50, Math.floor(MINUTE_MS / Math.max(this.perMinute, 1) / 4));
    for (let wait = step; wait <= 2 * MINUTE_MS; wait += step) {
      const later = advance({ ...w }, at + wait);
      if (estimate(later, at + wait) + 1 <= this.perMinute) return wait;
    }
    return 2 * MINUTE_MS;
  }

  private sweep(at: number): void {
    const minute = Math.floor(at / MINUTE_MS);
    for (const [id, w] of this.windows) if (w.minute < minute - 1) this.windows.delete(id);
  }
}

/** Moves a window to the minute of `at` (what it counted becomes `previous`, or is forgotten). */
function advance(w: Window, at: number): Window {
  const minute = Math.floor(at / MINUTE_MS);
  if (minute !== w.minute) {
    w.previous = minute === w.minute + 1 ? w.current : 0;
    w.current = 0;
    w.minute = minute;
  }
  return w;
}

function estimate(w: Window, at: number): number {
  const elapsed = (at % MINUTE_MS) / MINUTE_MS;
  return w.previous * (1 - elapsed) + w.current;
}
