/**
 * Traffic counters (issue 18): what src/server/stats.ts counts, kept per node where every node
 * reads them, with the sum. A node counts in its own memory on the hot paths (one integer
 * increment) and hands each completed minute to this port; STATS and the console read the
 * nodes' counters, their totals and their minutes from it. The contract suite is
 * test/contract/counters/.
 *
 * Contract: add and recordMinute accumulate per node; totals lists the nodes in the order they
 * first reported, with their sum; history keeps at most the adapter's historyMinutes completed
 * minutes per node, and sums the nodes' samples of the same minute (lateness: the worst node's).
 */
import type { MinuteSample } from '../../protocol/index.js';

/** Counts since a node started. */
export interface CounterValues {
  messages: number;
  popups: number;
  bytesIn: number;
  bytesOut: number;
  connectionsOpened: number;
  /** Messages sent with priority=urgent (issue 21). */
  urgent: number;
  /** Bytes of expired attachments removed after the grace period. */
  freedBytes: number;
}

/** Every counter, in one order (what an adapter stores field by field). */
export const COUNTER_FIELDS: ReadonlyArray<keyof CounterValues> = ['messages', 'popups', 'bytesIn', 'bytesOut', 'connectionsOpened', 'urgent', 'freedBytes'];

export const NO_COUNTS: Readonly<CounterValues> = { messages: 0, popups: 0, bytesIn: 0, bytesOut: 0, connectionsOpened: 0, urgent: 0, freedBytes: 0 };

export interface TrafficTotals {
  nodes: Array<{ node: string; counters: CounterValues }>;
  total: CounterValues;
}

export interface TrafficCounters {
  /** Adds to the node's counters. */
  add(node: string, deltas: Partial<CounterValues>): Promise<void>;
  /**
   * The node starts (again): its counts start from zero, so every node's are since it started, as
   * its own STATS figures are. Its minutes stay (the chart goes on), and so does its place in the list.
   */
  restart(node: string): Promise<void>;
  /** Keeps a completed minute of the node's. */
  recordMinute(node: string, sample: MinuteSample): Promise<void>;
  totals(): Promise<TrafficTotals>;
  /** The last `minutes` completed minutes, oldest first: of one node, or summed over every node. */
  history(minutes: number, node?: string): Promise<MinuteSample[]>;
  close(): Promise<void>;
}

/** Sums counters (the totals of several nodes). */
export function addCounts(a: CounterValues, b: Partial<CounterValues>): CounterValues {
  const sum = { ...a };
  for (const f of COUNTER_FIELDS) sum[f] = a[f] + (b[f] ?? 0);
  return sum;
}

/** Several nodes' samples of one minute as one: counts and gauges summed, lateness the worst. */
export function sumSamples(samples: readonly MinuteSample[]): MinuteSample {
  const first = samples[0]!;
  return samples.slice(1).reduce((s, x) => ({
    at: s.at,
    messages: s.messages + x.messages,
    // Minutes recorded before a counter existed lack it (a rolling upgrade): read as 0.
    urgent: (s.urgent ?? 0) + (x.urgent ?? 0),
    popups: s.popups + x.popups,
    bytesIn: s.bytesIn + x.bytesIn,
    bytesOut: s.bytesOut + x.bytesOut,
    connectionsOpened: s.connectionsOpened + x.connectionsOpened,
    connections: s.connections + x.connections,
    liveListeners: s.liveListeners + x.liveListeners,
    transfers: s.transfers + x.transfers,
    loopP99Ms: Math.max(s.loopP99Ms, x.loopP99Ms),
    loopMaxMs: Math.max(s.loopMaxMs, x.loopMaxMs),
    freedBytes: (s.freedBytes ?? 0) + (x.freedBytes ?? 0),
    partial: s.partial || x.partial,
  }), { ...first, urgent: first.urgent ?? 0, freedBytes: first.freedBytes ?? 0 });
}
