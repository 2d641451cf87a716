/**
 * Traffic statistics for the administrator (STATS): plain counters bumped on the hot paths, and a
 * ring of per-minute samples for the console's chart. Counting costs one integer increment; bytes
 * are not counted per write at all — they are read from the sockets' own counters when a sample or
 * a snapshot is taken (live connections) or when a connection closes (closed ones). How late the
 * event loop ran comes from a lateness source (loop-lateness.ts), one window a minute.
 */
import type { MinuteSample, TrafficTotals, TransferProgress } from '../protocol/index.js';
import { NO_LATENESS, type LatenessSource, type LatenessWindow } from './loop-lateness.js';
import { COUNTER_FIELDS, NO_COUNTS, addCounts, type CounterValues, type TrafficCounters } from '../core/ports/traffic-counters.js';

/** Every node's counts since it started, and their sum (STATS on several nodes). */
export interface ClusterTraffic {
  /** This node's name. */
  node: string;
  /** In the order the nodes first reported; this node's figures are live, the others' as of their last flush (countsFlushMs). */
  nodes: Array<{ node: string; counters: CounterValues }>;
  total: CounterValues;
}

export type { MinuteSample, TrafficTotals, TransferProgress };

/** What the attachment side (src/transfer) reports: shadow listeners and transfers under way. */
export interface TransferGauge {
  /** Shadow listeners open right now. */
  liveListeners(): number;
  /** Transfers in progress, with how far each has come. */
  inProgress(): TransferProgress[];
}

export interface TrafficStatsOptions {
  /** Completed minutes kept. */
  historyMinutes?: number;
  /** Connections open now. */
  connections?: () => number;
  /** Bytes read and written so far by the connections open now. */
  liveBytes?: () => { bytesIn: number; bytesOut: number };
  /** Length of a sample; a minute except in tests. */
  bucketMs?: number;
  now?: () => number;
  /** How late the event loop runs; without one, lateness reads 0. */
  loopLateness?: LatenessSource;
  /** Where each completed minute goes, under this node's name, so every node reads every node's (traffic-counters port). */
  counters?: { port: TrafficCounters; node: string; onError?: (err: unknown) => void };
  /** How often this node's counts go to the counters port (other nodes' STATS lag by at most this). */
  countsFlushMs?: number;
}

interface Mark {
  at: number;
  messages: number;
  urgent: number;
  freedBytes: number;
  popups: number;
  bytesIn: number;
  bytesOut: number;
  connectionsOpened: number;
}

export class TrafficStats {
  /** Messages stored and handed to delivery. */
  messages = 0;
  /** Messages sent with priority=urgent (issue 21). */
  urgent = 0;
  /** Bytes of expired attachments removed after the grace period (attachment-expiry.ts). */
  freedBytes = 0;
  /** Popups pushed to a recipient's connection (live or replayed at login). */
  popups = 0;
  connectionsOpened = 0;
  connectionsClosed = 0;
  /** Set by the transfer service when there is one. */
  transfers: TransferGauge | null = null;

  private closedBytesIn = 0;
  private closedBytesOut = 0;
  private readonly started: number;
  private readonly historyMinutes: number;
  private readonly bucketMs: number;
  private readonly now: () => number;
  private readonly connectionsNow: () => number;
  private readonly liveBytes: () => { bytesIn: number; bytesOut: number };
  private readonly loopLateness: LatenessSource;
  private readonly counters: TrafficStatsOptions['counters'] | null;
  private loopMaxEverMs = 0;
  private readonly ring: MinuteSample[] = [];
  private mark: Mark;
  private timer: NodeJS.Timeout | null = null;
  private closing: NodeJS.Immediate | null = null;
  private readonly countsFlushMs: number;
  private flushTimer: NodeJS.Timeout | null = null;
  /** What the counters port has of this node's counts already. */
  private flushed: CounterValues = { ...NO_COUNTS };

  constructor(options: TrafficStatsOptions = {}) {
    this.now = options.now ?? Date.now;
    this.historyMinutes = Math.max(1, options.historyMinutes ?? 60);
    this.bucketMs = options.bucketMs ?? 60_000;
    this.connectionsNow = options.connections ?? (() => 0);
    this.liveBytes = options.liveBytes ?? (() => ({ bytesIn: 0, bytesOut: 0 }));
    this.loopLateness = options.loopLateness ?? { window: () => NO_LATENESS };
    this.counters = options.counters ?? null;
    this.countsFlushMs = options.countsFlushMs ?? 5_000;
    this.started = this.now();
    this.mark = this.takeMark(this.bucketStart(this.started));
  }

  messageStored(): void {
    this.messages++;
  }

  urgentSent(): void {
    this.urgent++;
  }

  attachmentsFreed(bytes: number): void {
    this.freedBytes += bytes;
  }

  popupDelivered(count = 1): void {
    this.popups += count;
  }

  connectionOpened(): void {
    this.connectionsOpened++;
  }

  /** A connection ended; its socket's byte counters move to the closed totals. */
  connectionClosed(bytesIn: number, bytesOut: number): void {
    this.connectionsClosed++;
    this.closedBytesIn += bytesIn;
    this.closedBytesOut += bytesOut;
  }

  totals(): TrafficTotals {
    const live = this.liveBytes();
    const loop = this.readLoop(false);
    return {
      startedAt: new Date(this.started).toISOString(),
      messages: this.messages,
      urgent: this.urgent,
      popups: this.popups,
      bytesIn: this.closedBytesIn + live.bytesIn,
      bytesOut: this.closedBytesOut + live.bytesOut,
      connectionsOpened: this.connectionsOpened,
      connectionsClosed: this.connectionsClosed,
      connections: this.connectionsNow(),
      liveListeners: this.safeListeners(),
      transfers: this.safeTransfers().length,
      loopP50Ms: loop.p50Ms,
      loopP99Ms: loop.p99Ms,
      loopMaxMs: loop.maxMs,
      loopMaxEverMs: this.loopMaxEverMs,
      freedBytes: this.freedBytes,
    };
  }

  /**
   * This node's counts and every other node's from the traffic-counters port (without one: this
   * node alone), with their sum. A node that stopped keeps its last counts until it starts again.
   */
  async cluster(): Promise<ClusterTraffic> {
    const own = this.ownCounts();
    const name = this.counters?.node ?? 'local';
    const shared = this.counters ? (await this.counters.port.totals()).nodes : [];
    const nodes = shared.map((n) => (n.node === name ? { node: name, counters: own } : n));
    if (!nodes.some((n) => n.node === name)) nodes.push({ node: name, counters: own });
    return { node: name, nodes, total: nodes.reduce((sum, n) => addCounts(sum, n.counters), { ...NO_COUNTS }) };
  }

  transfersInProgress(): TransferProgress[] {
    return this.safeTransfers();
  }

  /** Completed minutes, oldest first, then the running minute (partial). At most `minutes` + 1. */
  history(minutes = this.historyMinutes): MinuteSample[] {
    this.catchUp();
    const done = minutes > 0 ? this.ring.slice(-minutes) : [];
    return [...done, this.sample(this.mark, this.takeMark(this.mark.at), this.readLoop(false), true)];
  }

  /** Samples each minute on the minute, and sends the counts every countsFlushMs. The timers do not keep the process alive. */
  start(): void {
    if (this.timer) return;
    if (this.counters) {
      this.flushTimer = setInterval(() => this.flushCounts(), this.countsFlushMs);
      this.flushTimer.unref();
    }
    const schedule = (): void => {
      const wait = this.mark.at + this.bucketMs - this.now();
      this.timer = setTimeout(() => {
        // A stall that ran past the minute is recorded by the lateness monitor's own timer, which
        // may come after this one in the same turn: the minute closes once that timer had its turn.
        this.closing = setImmediate(() => {
          this.closing = null;
          this.catchUp();
          schedule();
        }).unref();
      }, Math.max(10, wait));
      this.timer.unref();
    };
    schedule();
  }

  stop(): void {
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = null;
    if (this.timer) clearTimeout(this.timer);
    if (this.closing) clearImmediate(this.closing);
    this.timer = null;
    this.closing = null;
  }

  /** Closes every minute that has ended since the last sample (all traffic goes to the first). */
  catchUp(): void {
    const current = this.bucketStart(this.now());
    if (current <= this.mark.at) return;
    const next = this.takeMark(this.mark.at + this.bucketMs);
    this.push(this.sample(this.mark, next, this.readLoop(true), false));
    this.mark = next;
    // Minutes in which nothing was sampled (the process was busy or asleep) count as empty.
    while (this.mark.at < current) {
      const empty = { ...this.mark, at: this.mark.at + this.bucketMs };
      this.push(this.sample(this.mark, empty, NO_LATENESS, false));
      this.mark = empty;
    }
  }

  private push(sample: MinuteSample): void {
    this.ring.push(sample);
    if (this.ring.length > this.historyMinutes) this.ring.splice(0, this.ring.length - this.historyMinutes);
    if (this.counters) this.report(this.counters, sample);
  }

  /** A completed minute to the shared counters, with the counts so far. */
  private report(counters: NonNullable<TrafficStatsOptions['counters']>, sample: MinuteSample): void {
    const { port, node, onError = () => undefined } = counters;
    port.recordMinute(node, sample).catch(onError);
    this.flushCounts();
  }

  /** This node's counts since it started, as the counters port keeps them. */
  private ownCounts(): CounterValues {
    const t = this.totals();
    const own = { ...NO_COUNTS };
    for (const f of COUNTER_FIELDS) own[f] = t[f];
    return own;
  }

  /** Adds what this node counted since the last flush to its counts in the counters port. */
  flushCounts(): void {
    if (!this.counters) return;
    const { port, node, onError = () => undefined } = this.counters;
    const now = this.ownCounts();
    const was = this.flushed;
    const delta = { ...NO_COUNTS };
    for (const f of COUNTER_FIELDS) delta[f] = now[f] - was[f];
    if (Object.values(delta).every((v) => v === 0)) return;
    this.flushed = now;
    port.add(node, delta).catch((err: unknown) => {
      // Not added (Redis unreachable): the next flush carries it again.
      for (const f of COUNTER_FIELDS) this.flushed[f] -= delta[f];
      onError(err);
    });
  }

  /** The lateness window so far (then a new one when `reset`); every reading feeds the worst ever. */
  private readLoop(reset: boolean): LatenessWindow {
    const loop = this.loopLateness.window(reset);
    this.loopMaxEverMs = Math.max(this.loopMaxEverMs, loop.maxMs);
    return loop;
  }

  private sample(from: Mark, to: Mark, loop: LatenessWindow, partial: boolean): MinuteSample {
    return {
      at: new Date(from.at).toISOString(),
      messages: to.messages - from.messages,
      urgent: to.urgent - from.urgent,
      popups: to.popups - from.popups,
      bytesIn: to.bytesIn - from.bytesIn,
      bytesOut: to.bytesOut - from.bytesOut,
      connectionsOpened: to.connectionsOpened - from.connectionsOpened,
      connections: this.connectionsNow(),
      liveListeners: this.safeListeners(),
      transfers: this.safeTransfers().length,
      loopP99Ms: loop.p99Ms,
      loopMaxMs: loop.maxMs,
      freedBytes: to.freedBytes - from.freedBytes,
      partial,
    };
  }

  private takeMark(at: number): Mark {
    const live = this.liveBytes();
    return {
      at,
      messages: this.messages,
      urgent: this.urgent,
      freedBytes: this.freedBytes,
      popups: this.popups,
      bytesIn: this.closedBytesIn + live.bytesIn,
      bytesOut: this.closedBytesOut + live.bytesOut,
      connectionsOpened: this.connectionsOpened,
    };
  }

  private bucketStart(ms: number): number {
    return Math.floor(ms / this.bucketMs) * this.bucketMs;
  }

  // The transfer service is another area's code: a failure there must not break STATS.
  private safeListeners(): number {
    try {
      return this.transfers?.liveListeners() ?? 0;
    } catch {
      return 0;
    }
  }

  private safeTransfers(): TransferProgress[] {
    try {
      return this.transfers?.inProgress() ?? [];
    } catch {
      return [];
    }
  }
}
