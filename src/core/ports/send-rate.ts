/**
 * The per-member sending rate (issue 20; one count across the cluster since issue 19): at most
 * `perMinute` messages (and reminders) in any minute. Counted with a sliding window — this minute's
 * sends plus the share of last minute's still inside the window: a member may send `perMinute` at
 * once, then waits about a minute (a little more, as the burst fades out of the window), or sends
 * steadily one every 60/perMinute seconds. Two numbers per member who sent in the last two minutes.
 *
 * An adapter keeps the two numbers where every node sees them and decides each send at once (the
 * check and the count are one step, so parallel sends on one node or several cannot all pass the same
 * count). The clock is given to the adapter (the contract suite, test/contract/send-rate/, runs a
 * fake one). The window arithmetic below is shared, so every adapter answers the same.
 *
 * The same port bounds a member's acknowledgement reports (REPORT, --max-reports-per-minute): a
 * second instance with a counter of its own (`take` counts one report there).
 */

export const MINUTE_MS = 60_000;

export type SendVerdict = { ok: true } | { ok: false; retryAfterMs: number };

export interface SendRate {
  /** The limit; 0: no limit (nothing is counted either). */
  readonly perMinute: number;
  /** Counts one send of `userId`, or refuses it (not counted) with how long until one fits. */
  take(userId: number): Promise<SendVerdict>;
  /** Sends counted in the last minute (the sliding estimate, rounded) of each member, for the administrator. */
  lastMinute(userIds: readonly number[]): Promise<Map<number, number>>;
  /** Lets go of what the adapter holds (a connection); the counts stay for the other nodes. */
  stop(): Promise<void>;
}

/** The two counts of one member: this minute's (`minute`, Date.now() / 60,000 rounded down) and the one before. */
export interface SendWindow {
  minute: number;
  current: number;
  previous: number;
}

export function minuteOf(at: number): number {
  return Math.floor(at / MINUTE_MS);
}

/** Moves a window to the minute of `at` (what it counted becomes `previous`, or is forgotten). */
export function advanceWindow(w: SendWindow, at: number): SendWindow {
  const minute = minuteOf(at);
  if (minute !== w.minute) {
    w.previous = minute === w.minute + 1 ? w.current : 0;
    w.current = 0;
    w.minute = minute;
  }
  return w;
}

/** The sliding estimate of the sends in the minute before `at` (`w` already at the minute of `at`). */
export function estimateSends(w: SendWindow, at: number): number {
  const elapsed = (at % MINUTE_MS) / MINUTE_MS;
  return w.previous * (1 - elapsed) + w.current;
}

/** Milliseconds until the estimate has room for one more send (found in steps of a second at most). */
export function retryAfterMs(w: SendWindow, at: number, perMinute: number): number {
  const step = Math.max(50, Math.floor(MINUTE_MS / Math.max(perMinute, 1) / 4));
  for (let wait = step; wait <= 2 * MINUTE_MS; wait += step) {
    const later = advanceWindow({ ...w }, at + wait);
    if (estimateSends(later, at + wait) + 1 <= perMinute) return wait;
  }
  return 2 * MINUTE_MS;
}
