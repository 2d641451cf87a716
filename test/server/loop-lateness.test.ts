/** Event-loop lateness: the native monitor's figures, and how TrafficStats files them minute by minute. */
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { LoopLatenessMonitor, NO_LATENESS, type LatenessSource, type LatenessWindow } from '../../src/server/loop-lateness.js';
import { TrafficStats } from '../../src/server/stats.js';

/** Keeps this process's event loop (and so every timer in it) from running for `ms`. */
function blockLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) { /* busy */ }
}

function allFinite(w: LatenessWindow): boolean {
  return Object.values(w).every((v) => typeof v === 'number' && Number.isFinite(v));
}

t.test('the monitor reports a stall in ms, 0 with no samples, and stops sampling when stopped', async (t) => {
  const monitor = new LoopLatenessMonitor();
  t.teardown(() => monitor.stop());
  t.same(monitor.window(false), NO_LATENESS, 'nothing sampled yet: zeros, not NaN or 2^63');

  monitor.start();
  await sleep(100);
  blockLoop(80);
  await sleep(40);
  const w = monitor.window(false);
  t.ok(allFinite(w), `finite numbers: ${JSON.stringify(w)}`);
  t.ok(w.samples > 0, 'ticks were sampled');
  t.ok(w.maxMs >= 65 && w.maxMs < 1000, `the 80 ms stall is the max, less the sampling period: ${w.maxMs}`);
  t.ok(w.p50Ms <= w.p99Ms && w.p99Ms <= w.maxMs, 'p50 ≤ p99 ≤ max');
  t.equal(w.maxMs, Math.round(w.maxMs * 100) / 100, 'two decimals');

  t.equal(monitor.window(true).maxMs, w.maxMs, 'reading with reset returns the window so far');
  t.same(monitor.window(false), NO_LATENESS, 'then a new, empty window begins');

  monitor.stop();
  monitor.window(true);
  await sleep(60);
  t.equal(monitor.window(false).samples, 0, 'no sampling after stop');
});

/** A lateness source driven by the test: `next` is what each reset begins. */
function fakeSource(first: LatenessWindow, next: LatenessWindow[]): LatenessSource & { resets: number } {
  let current = first;
  return {
    resets: 0,
    window(reset) {
      const w = current;
      if (reset) {
        this.resets++;
        current = next.shift() ?? NO_LATENESS;
      }
      return w;
    },
  };
}

const late = (p50Ms: number, p99Ms: number, maxMs: number): LatenessWindow => ({ p50Ms, p99Ms, maxMs, samples: 6000 });

t.test('TrafficStats: each minute gets its window, closed at the minute, the running one read without reset', async (t) => {
  let now = 0;
  const source = fakeSource(late(0.1, 5, 40), [late(0.2, 3, 250), late(0.1, 1, 2)]);
  const stats = new TrafficStats({ historyMinutes: 5, now: () => now, loopLateness: source });
  const loop = (s: { loopP99Ms: number; loopMaxMs: number }) => [s.loopP99Ms, s.loopMaxMs];

  now = 30_000;
  t.same(stats.history().map(loop), [[5, 40]], 'the running minute so far');
  t.match(stats.totals(), { loopP50Ms: 0.1, loopP99Ms: 5, loopMaxMs: 40, loopMaxEverMs: 40 });
  t.equal(source.resets, 0, 'reading the running minute does not reset it');

  now = 60_000;
  stats.catchUp();
  t.equal(source.resets, 1, 'closing a minute begins a new window');
  t.same(stats.history().map(loop), [[5, 40], [3, 250]], 'the closed minute kept its figures; the new one has its own');
  t.match(stats.totals(), { loopP99Ms: 3, loopMaxMs: 250, loopMaxEverMs: 250 });

  // Asleep through minutes 2 and 3: minute 1 closes with its window, the skipped ones are empty.
  now = 4 * 60_000 + 5;
  const h = stats.history();
  t.equal(source.resets, 2, 'one window closed for the whole gap');
  t.same(h.map(loop), [[5, 40], [3, 250], [0, 0], [0, 0], [1, 2]]);
  t.same(h.map((m) => m.partial), [false, false, false, false, true]);
  t.match(stats.totals(), { loopP50Ms: 0.1, loopP99Ms: 1, loopMaxMs: 2, loopMaxEverMs: 250 }, 'the worst ever stays');
});

t.test('TrafficStats without a lateness source reports 0', async (t) => {
  const stats = new TrafficStats();
  t.match(stats.totals(), { loopP50Ms: 0, loopP99Ms: 0, loopMaxMs: 0, loopMaxEverMs: 0 });
  t.match(stats.history()[0], { loopP99Ms: 0, loopMaxMs: 0 });
});
