/**
 * How late the main thread's event loop runs (STATS, docs/PROTOCOL-admin.md): Node's native
 * event-loop-delay histogram (perf_hooks monitorEventLoopDelay) ticks a timer every few
 * milliseconds and records each interval between ticks; the part of an interval beyond the timer's
 * period is how long some work kept the loop from running it. Nothing is counted per message.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * The sampling period: 100 ticks a second cost nothing measurable, and a stall that matters to a
 * popup (tens of milliseconds and up) is still seen whole.
 */
export const LOOP_SAMPLE_MS = 10;

/** Lateness over a window, in milliseconds (2 decimals); all 0 when nothing was sampled. */
export interface LatenessWindow {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Ticks sampled in the window. */
  samples: number;
}

/** What TrafficStats reads: the window so far, then (reset) a new window begins. */
export interface LatenessSource {
  window(reset: boolean): LatenessWindow;
}

export const NO_LATENESS: LatenessWindow = Object.freeze({ p50Ms: 0, p99Ms: 0, maxMs: 0, samples: 0 });

/** The real monitor: sampling only between start() and stop() (its timer is the only cost). */
export class LoopLatenessMonitor implements LatenessSource {
  private readonly histogram: IntervalHistogram;

  constructor(private readonly sampleMs = LOOP_SAMPLE_MS) {
    this.histogram = monitorEventLoopDelay({ resolution: sampleMs });
  }

  start(): void {
    this.histogram.enable();
  }

  stop(): void {
    this.histogram.disable();
  }

  window(reset: boolean): LatenessWindow {
    const h = this.histogram;
    // An empty histogram answers NaN, 2^63 or a stray bucket value: no samples, no lateness.
    const figures = h.count === 0 ? NO_LATENESS : {
      p50Ms: this.lateMs(h.percentile(50)),
      p99Ms: this.lateMs(h.percentile(99)),
      maxMs: this.lateMs(h.max),
      samples: h.count,
    };
    if (reset) h.reset();
    return figures;
  }

  /** An interval between ticks (ns) less the period the timer was asked for, in ms. */
  private lateMs(intervalNs: number): number {
    const ms = intervalNs / 1e6 - this.sampleMs;
    return Number.isFinite(ms) && ms > 0 ? Math.round(ms * 100) / 100 : 0;
  }
}
