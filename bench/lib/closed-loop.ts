/**
 * Scenario 3's load: every lean client a sender in a closed loop (`window` SENDs outstanding, the
 * next when an answer comes back), each a direct message to the next client, who is online and
 * must get the popup. Shared by the siar runs and the do-nothing forwarder baseline.
 */
import { decodeServerFrame, encodeRequest } from '../../src/protocol/index.js';
import { cpuSince, progress, sleep } from './env.js';
import type { LeanClient } from './lean-client.js';
import { summarize, type Summary } from './stats.js';

export interface ClosedLoopResult {
  senders: number;
  window: number;
  measuredMs: number;
  /** Acknowledgements inside the measured window, per second. */
  ackedPerSec: number;
  acked: number;
  refused: Record<string, number>;
  delivered: number;
  /** Acknowledged, and never popped up at its recipient. */
  lost: number;
  ack: Summary;
  /** CPU of the process served (its cpuSeconds), % of one core over warm-up and window. */
  serverCpuPercent: number;
  /** CPU of this harness process (every client in it), % of one core over the same span. */
  harnessCpuPercent: number;
}

export async function closedLoop(senders: LeanClient[], opts: {
  window: number; durationMs: number; warmupMs: number; bodyChars: number; label: string; cpuSeconds: () => number;
}): Promise<ClosedLoopResult> {
  const { label } = opts;
  const n = senders.length;
  const body = 'd'.repeat(opts.bodyChars);
  const sendAt: number[] = [];
  const ackAt: number[] = [];
  const popped = new Set<number>();
  const refused: Record<string, number> = {};
  let k = 0;
  let running = true;
  let outstanding = 0;
  for (const c of senders) {
    c.onPopup = (line) => {
      try {
        const f = decodeServerFrame(line);
        const subject = f.kind === 'push' ? f.args.get('subject') ?? '' : '';
        if (subject.startsWith('d')) popped.add(Number(subject.slice(1)));
      } catch { /* not ours */ }
    };
  }
  const sendNext = (i: number): void => {
    if (!running) return;
    const sender = senders[i]!;
    const to = senders[(i + 1) % n]!.username;
    const tag = k++;
    outstanding++;
    sender.requestRaw((id) => {
      sendAt[tag] = performance.now();
      return encodeRequest(id, 'SEND', sender.token, { to, subject: `d${tag}`, body }) + '\n';
    }, (reply) => {
      outstanding--;
      if (reply.ok) ackAt[tag] = performance.now();
      else refused[reply.code] = (refused[reply.code] ?? 0) + 1;
      sendNext(i);
    });
  };
  const start = performance.now();
  const cpu0 = opts.cpuSeconds();
  const harnessCpu = cpuSince();
  for (let i = 0; i < n; i++) for (let w = 0; w < opts.window; w++) sendNext(i);
  const measureFrom = start + opts.warmupMs;
  const measureTo = measureFrom + opts.durationMs;
  while (performance.now() < measureTo) {
    await sleep(1000);
    progress(label, `${ackAt.filter((x) => x !== undefined).length} acknowledged, ${popped.size} popped up`);
  }
  running = false;
  const cpu1 = opts.cpuSeconds();
  const harnessMicros = harnessCpu();
  const drainStart = performance.now();
  let acked = 0;
  while (performance.now() - drainStart < 15_000) {
    acked = ackAt.reduce((a, x) => (x === undefined ? a : a + 1), 0);
    if (outstanding === 0 && popped.size >= acked) break;
    await sleep(50);
  }
  acked = ackAt.reduce((a, x) => (x === undefined ? a : a + 1), 0);
  let inWindow = 0;
  const lat: number[] = [];
  let lost = 0;
  ackAt.forEach((t, tag) => {
    if (t === undefined) return;
    if (t >= measureFrom && t < measureTo) {
      inWindow++;
      lat.push(t - sendAt[tag]!);
    }
    if (!popped.has(tag)) lost++;
  });
  for (const c of senders) c.onPopup = null;
  return {
    senders: n,
    window: opts.window,
    measuredMs: opts.durationMs,
    ackedPerSec: inWindow / (opts.durationMs / 1000),
    acked,
    refused,
    delivered: popped.size,
    lost,
    ack: summarize(lat),
    serverCpuPercent: ((cpu1 - cpu0) / ((opts.warmupMs + opts.durationMs) / 1000)) * 100,
    harnessCpuPercent: (harnessMicros / 1e6 / ((opts.warmupMs + opts.durationMs) / 1000)) * 100,
  };
}
