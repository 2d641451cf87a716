/**
 * One broadcast timed at every harness worker (scale and cluster scenarios): the workers are armed
 * (their clients' next popups, or Redis messages, are timed on the wall clock), the broadcast is
 * fired, and the arrivals gathered. One host, so the workers' clocks are the parent's.
 */
import type { FromWorker, ToWorker } from '../scenarios/scale-worker.js';
import { percentile } from './stats.js';
import type { HarnessWorker } from './worker-pool.js';

export interface WorkerShot {
  /** Fire → the sender's reply (siar's OK after the commit; Redis's integer), ms. */
  replyMs: number;
  firstMs: number;
  medianMs: number;
  lastMs: number;
  received: number;
  expected: number;
  /** Bytes of one delivered line (siar's popup frame with its newline). */
  lineBytes: number;
  /** Message ids seen (siar). */
  ids: string[];
}

/**
 * `fire` sends the broadcast and resolves with the epoch ms just before it was written (t0) and
 * when the reply came.
 */
export async function timedBroadcast(
  pool: HarnessWorker<ToWorker, FromWorker>[],
  opts: { tag: string; source?: 'siar' | 'redis'; timeoutMs?: number; fire: () => Promise<{ t0: number; replyAt: number }> },
): Promise<WorkerShot> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const armed = pool.map((wk) => wk.next('armed'));
  const arrivals = pool.map((wk) => wk.next('arrivals', timeoutMs + 60_000));
  for (const wk of pool) wk.send({ type: 'arm', tag: opts.tag, timeoutMs, source: opts.source });
  await Promise.all(armed);
  const { t0, replyAt } = await opts.fire();
  const got = await Promise.all(arrivals);
  const times = got.flatMap((g) => g.times).sort((a, x) => a - x);
  return {
    replyMs: replyAt - t0,
    firstMs: (times[0] ?? NaN) - t0,
    medianMs: percentile(times, 50) - t0,
    lastMs: (times[times.length - 1] ?? NaN) - t0,
    received: times.length,
    expected: got.reduce((a, g) => a + g.expected, 0),
    lineBytes: Math.max(0, ...got.map((g) => g.lineBytes)),
    ids: [...new Set(got.flatMap((g) => g.ids))],
  };
}
