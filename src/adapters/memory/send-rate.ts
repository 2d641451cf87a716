/**
 * The sending rate counted in this process (src/core/ports/send-rate.ts): one node's sends only,
 * for the single node. Nothing is stored (a restart forgets the counts).
 */
import {
  advanceWindow, estimateSends, minuteOf, retryAfterMs, type SendRate, type SendVerdict, type SendWindow,
} from '../../core/ports/send-rate.js';

/** Members remembered before the ones idle for two minutes are dropped. */
const SWEEP_ABOVE = 1_000;

export class MemorySendRate implements SendRate {
  private readonly windows = new Map<number, SendWindow>();

  /** `perMinute` 0: no limit (nothing is counted either). */
  constructor(readonly perMinute: number, private readonly now: () => number = Date.now) {}

  take(userId: number): Promise<SendVerdict> {
    return Promise.resolve(this.takeNow(userId));
  }

  lastMinute(userIds: readonly number[]): Promise<Map<number, number>> {
    const at = this.now();
    const counts = new Map<number, number>();
    for (const id of userIds) {
      const w = this.windows.get(id);
      counts.set(id, w ? Math.round(estimateSends(advanceWindow({ ...w }, at), at)) : 0);
    }
    return Promise.resolve(counts);
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  private takeNow(userId: number): SendVerdict {
    if (this.perMinute <= 0) return { ok: true };
    const at = this.now();
    const w = this.windowOf(userId, at);
    if (estimateSends(w, at) + 1 > this.perMinute) return { ok: false, retryAfterMs: retryAfterMs(w, at, this.perMinute) };
    w.current++;
    return { ok: true };
  }

  private windowOf(userId: number, at: number): SendWindow {
    let w = this.windows.get(userId);
    if (!w) {
      if (this.windows.size >= SWEEP_ABOVE) this.sweep(at);
      w = { minute: minuteOf(at), current: 0, previous: 0 };
      this.windows.set(userId, w);
    }
    return advanceWindow(w, at);
  }

  private sweep(at: number): void {
    const minute = minuteOf(at);
    for (const [id, w] of this.windows) if (w.minute < minute - 1) this.windows.delete(id);
  }
}
