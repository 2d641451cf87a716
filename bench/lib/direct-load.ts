/**
 * Open-loop direct-message load among logged-in clients, message by message.
 *
 * Message k (k = 0, 1, …) is due at start + k / rate. Its sender is client k mod N (so every client
 * sends at rate / N), its recipient another client picked at random, its subject `<tag><k>` (the
 * tag the popup carries back: `q` unless told; a warm-up uses another, so its late popups are not
 * taken for the measured run's). For each message the harness records:
 *   sendAt    performance.now() just before the SEND frame is written to the sender's socket
 *   ackAt     when the sender read `OK` (the server's reply after the commit) — or the ERR code
 *   arriveAt  when the recipient's socket delivered the chunk holding the `*|POPUP` with that tag
 * Sender and recipients live in this process, so the three times share one clock.
 */
import { decodeServerFrame, encodeRequest } from '../../src/protocol/index.js';
import { LoopLatenessMonitor } from '../../src/server/loop-lateness.js';
import { cpuSince, progress, sleep } from './env.js';
import type { LeanClient } from './lean-client.js';
import { jitter, rng, summarize, type Summary } from './stats.js';

export interface DirectLoadOptions {
  scope: string;
  clients: LeanClient[];
  /** Offered messages per second, over all clients. */
  rate: number;
  durationMs: number;
  /** Characters of message body (ASCII filler). */
  bodyChars: number;
  /** After the last send, wait at most this long for outstanding acks and popups. */
  drainMs?: number;
  seed?: number;
  /**
   * A group per client (e.g. the cluster node it is connected to): when given, every message goes to
   * a random client of another group than its sender's (cross-node traffic only).
   */
  groupOf?: ArrayLike<number>;
  /**
   * The subject's prefix (default `q`). Runs on the same clients one after another need different
   * ones: a popup of the earlier run still arriving would otherwise count as the later run's
   * message with the same number (early, and its real popup then as a duplicate).
   */
  tag?: string;
}

/**
 * The tag of run `index` among runs on the same clients (`prefix` then a, b, …, z, ba, bb, …): one
 * per run, so a late popup of one run is never taken for the next run's message with that number.
 */
export function runTag(prefix: string, index: number): string {
  if (!Number.isInteger(index) || index < 0) throw new Error(`direct load: a run index is a whole number from 0, not ${index}`);
  let letters = '';
  let n = index;
  do {
    letters = String.fromCharCode(97 + (n % 26)) + letters;
    n = Math.floor(n / 26);
  } while (n > 0);
  return `${prefix}${letters}`;
}

/**
 * The message number a popup's subject carries under `tag` (the subject is exactly the tag and
 * digits), or null when it is another run's or not the harness's.
 */
export function messageNumber(tag: string, subject: string | undefined): number | null {
  if (!subject?.startsWith(tag)) return null;
  const digits = subject.slice(tag.length);
  return /^\d+$/.test(digits) ? Number(digits) : null;
}

export interface DirectLoadResult {
  clients: number;
  offeredRate: number;
  durationMs: number;
  bodyChars: number;
  sent: number;
  acked: number;
  refused: Record<string, number>;
  delivered: number;
  /** Acknowledged (committed) but no popup reached the recipient: the loss the issue counts. */
  lost: number;
  lossPercent: number;
  duplicates: number;
  /** Popups that reached a client other than the addressed one. */
  misrouted: number;
  /** Popups for messages whose SEND was never acknowledged. */
  deliveredUnacked: number;
  /** First send → last popup, in ms. */
  windowMs: number;
  deliveredPerSec: number;
  uplinkKbps: number;
  downlinkKbps: number;
  /** Send → popup, ms. */
  delay: Summary;
  /** Mean |d(k) − d(k−1)| over delivered messages in send order, ms. */
  jitterMs: number;
  /** Send → OK, ms. */
  ack: Summary;
  /** How far behind its schedule the sender fell at worst, ms (the harness's own lag). */
  maxScheduleLagMs: number;
  /** CPU of this harness process over the window, % of one core: near 100 % the harness, not the server, sets the delays. */
  harnessCpuPercent: number;
  /**
   * How late this process's event loop ran, ms: the server's lateness monitor (loop-lateness.ts) on a
   * 1 ms timer here, so a tick's lateness is the interval between ticks less 1 ms. A popup or OK read
   * in a late turn is late by that much whatever the server did.
   */
  harnessLoopDelay: { p50: number; p99: number; max: number };
}


export async function runDirectLoad(opts: DirectLoadOptions): Promise<DirectLoadResult> {
  const { clients, rate, durationMs, bodyChars } = opts;
  const n = clients.length;
  if (n < 2) throw new Error('direct load needs at least two clients');
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  const sendAt = new Float64Array(total).fill(NaN);
  const ackAt = new Float64Array(total).fill(NaN);
  const arriveAt = new Float64Array(total).fill(NaN);
  const recipientOf = new Int32Array(total);
  const random = rng(opts.seed ?? 42);
  const groups = opts.groupOf;
  if (groups && new Set(Array.from(groups)).size < 2) throw new Error('direct load across groups needs at least two groups');
  for (let k = 0; k < total; k++) {
    const s = k % n;
    let r = Math.floor(random() * (n - 1));
    if (r >= s) r++;
    if (groups) {
      while (groups[r] === groups[s]) r = Math.floor(random() * n);
    }
    recipientOf[k] = r;
  }
  const body = 'x'.repeat(bodyChars);
  const tag = opts.tag ?? 'q';
  if (!/^[a-z]+$/.test(tag)) throw new Error(`direct load: the tag must be lower-case letters, not ${JSON.stringify(tag)}`);
  const refused: Record<string, number> = {};
  let acked = 0;
  let delivered = 0;
  let duplicates = 0;
  let misrouted = 0;
  let deliveredUnacked = 0;
  let uplinkBytes = 0;
  let downlinkBytes = 0;
  let lastArrival = NaN;

  clients.forEach((c, idx) => {
    c.onPopup = (line, at) => {
      downlinkBytes += Buffer.byteLength(line) + 1;
      let subject: string | undefined;
      try {
        const frame = decodeServerFrame(line);
        if (frame.kind === 'push') subject = frame.args.get('subject');
      } catch { return; }
      const k = messageNumber(tag, subject);
      if (k === null || k >= total) return;
      if (!Number.isNaN(arriveAt[k]!)) {
        duplicates++;
        return;
      }
      if (recipientOf[k] !== idx) misrouted++;
      arriveAt[k] = at;
      delivered++;
      if (!(at <= lastArrival)) lastArrival = at;
    };
  });

  let sent = 0;
  let maxLag = 0;
  const harnessCpu = cpuSince();
  const loopLateness = new LoopLatenessMonitor(1);
  loopLateness.start();
  const started = performance.now();
  const sendOne = (k: number): void => {
    const sender = clients[k % n]!;
    const to = clients[recipientOf[k]!]!.username;
    sender.requestRaw((id) => {
      const line = encodeRequest(id, 'SEND', sender.token, { to, subject: `${tag}${k}`, body }) + '\n';
      uplinkBytes += Buffer.byteLength(line);
      sendAt[k] = performance.now();
      return line;
    }, (reply) => {
      if (reply.ok) {
        ackAt[k] = performance.now();
        acked++;
      } else {
        refused[reply.code] = (refused[reply.code] ?? 0) + 1;
      }
    });
  };

  await new Promise<void>((resolve) => {
    let lastReport = started;
    const tick = (): void => {
      const now = performance.now();
      const due = Math.min(total, Math.floor(((now - started) * rate) / 1000) + 1);
      if (due - sent > 1) maxLag = Math.max(maxLag, ((due - sent - 1) * 1000) / rate);
      while (sent < due) sendOne(sent++);
      if (now - lastReport > 5000) {
        lastReport = now;
        progress(opts.scope, `sent ${sent}/${total}, acked ${acked}, popups ${delivered}`);
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
    tick();
  });

  // Drain: every acknowledged message must pop up; wait until they all did or the drain time ran out.
  const drainMs = opts.drainMs ?? 15_000;
  const drainStart = performance.now();
  while (performance.now() - drainStart < drainMs) {
    const answered = acked + Object.values(refused).reduce((a, b) => a + b, 0);
    if (answered >= total && delivered >= acked) break;
    await sleep(20);
  }
  for (const c of clients) c.onPopup = null;
  const loop = loopLateness.window(false);
  loopLateness.stop();
  const harnessCpuPercent = (harnessCpu() / 1000 / (performance.now() - started)) * 100;

  let lost = 0;
  const delays: number[] = [];
  const acks: number[] = [];
  for (let k = 0; k < total; k++) {
    const a = arriveAt[k]!;
    const acknowledged = !Number.isNaN(ackAt[k]!);
    if (acknowledged) acks.push(ackAt[k]! - sendAt[k]!);
    if (!Number.isNaN(a)) {
      delays.push(a - sendAt[k]!); // send order: k is the send order
      if (!acknowledged) deliveredUnacked++;
    } else if (acknowledged) lost++;
  }
  const windowMs = (Number.isNaN(lastArrival) ? performance.now() : lastArrival) - sendAt[0]!;
  return {
    clients: n,
    offeredRate: rate,
    durationMs,
    bodyChars,
    sent,
    acked,
    refused,
    delivered,
    lost,
    lossPercent: acked > 0 ? (lost / acked) * 100 : NaN,
    duplicates,
    misrouted,
    deliveredUnacked,
    windowMs,
    deliveredPerSec: delivered / (windowMs / 1000),
    uplinkKbps: (uplinkBytes * 8) / windowMs, // bits per ms = kbit/s
    downlinkKbps: (downlinkBytes * 8) / windowMs,
    delay: summarize(delays),
    jitterMs: jitter(delays),
    ack: summarize(acks),
    harnessLoopDelay: { p50: loop.p50Ms, p99: loop.p99Ms, max: loop.maxMs },
    maxScheduleLagMs: maxLag,
    harnessCpuPercent,
  };
}
