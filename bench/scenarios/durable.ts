/**
 * Scenario 3 — durable message throughput: 100 concurrent senders, closed loop, each SEND
 * acknowledged only after its commit; default durability (synchronous=NORMAL, WAL) and
 * `siar server --synchronous FULL` (power-loss safe).
 */
import path from 'node:path';
import { decodeServerFrame, encodeRequest } from '../../src/protocol/index.js';
import { envInt, monoUs, pick, progress, sleep } from '../lib/env.js';
import type { LeanClient } from '../lib/lean-client.js';
import { closeAll, connectMany, loopbackAddresses } from '../lib/pool.js';
import { kib, table } from '../lib/report.js';
import type { Scenario } from '../lib/scenario.js';
import { BENCH_PASSWORD, countRows, seedMembers } from '../lib/seed.js';
import { ServerProcess, makeTempDir } from '../lib/server.js';
import { fmt, fmtInt, summarize, type Summary } from '../lib/stats.js';

export interface DurableRun {
  synchronous: 'NORMAL' | 'FULL';
  senders: number;
  window: number;
  measuredMs: number;
  /** Acknowledgements inside the measured window, per second. */
  ackedPerSec: number;
  acked: number;
  refused: Record<string, number>;
  delivered: number;
  lost: number;
  ack: Summary;
  committedMessages: number;
  serverCpuPercent: number;
  serverRssKiB: number;
  profile: string | null;
  /** The measured phase, CLOCK_MONOTONIC µs (for the profile summary). */
  profileWindow: [number, number];
}

export async function runDurable(opts: {
  synchronous: 'NORMAL' | 'FULL'; senders: number; window: number; durationMs: number; warmupMs: number;
  bodyChars: number; cpuProfDir?: string; label?: string;
}): Promise<DurableRun> {
  const label = opts.label ?? `durable-${opts.synchronous.toLowerCase()}`;
  const dataDir = path.join(makeTempDir(label), 'data');
  const names = await seedMembers(dataDir, opts.senders);
  const server = await ServerProcess.start({ label, dataDir, synchronous: opts.synchronous, cpuProfDir: opts.cpuProfDir });
  let clients: (LeanClient | undefined)[] = [];
  try {
    const login = await connectMany({
      port: server.port, usernames: names, password: BENCH_PASSWORD, concurrency: 16,
      localAddresses: loopbackAddresses(4), scope: label,
    });
    clients = login.clients;
    const senders = clients.filter((c): c is LeanClient => c !== undefined);
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
    const mono0 = monoUs();
    const cpu0 = server.cpuSeconds();
    for (let i = 0; i < n; i++) for (let w = 0; w < opts.window; w++) sendNext(i);
    const measureFrom = start + opts.warmupMs;
    const measureTo = measureFrom + opts.durationMs;
    while (performance.now() < measureTo) {
      await sleep(1000);
      progress(label, `${ackAt.filter((x) => x !== undefined).length} acknowledged, ${popped.size} popped up`);
    }
    running = false;
    const cpu1 = server.cpuSeconds();
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
    const rss = server.status()?.rssKiB ?? NaN;
    for (const c of senders) c.onPopup = null;
    await closeAll(clients);
    clients = [];
    const { profile } = await server.stop({ keepData: true });
    const rows = countRows(dataDir);
    await server.stop(); // removes the data dir now that it is counted
    return {
      synchronous: opts.synchronous,
      senders: n,
      window: opts.window,
      measuredMs: opts.durationMs,
      ackedPerSec: inWindow / (opts.durationMs / 1000),
      acked,
      refused,
      delivered: popped.size,
      lost,
      ack: summarize(lat),
      committedMessages: rows.messages,
      serverCpuPercent: ((cpu1 - cpu0) / ((opts.warmupMs + opts.durationMs) / 1000)) * 100,
      serverRssKiB: rss,
      profile,
      profileWindow: [mono0 + opts.warmupMs * 1000, mono0 + (opts.warmupMs + opts.durationMs) * 1000],
    };
  } finally {
    await closeAll(clients);
    if (server.alive) await server.stop();
  }
}

export const durable: Scenario = {
  name: 'durable',
  number: 3,
  title: 'Scenario 3 — durable message throughput from 100 concurrent senders',
  async run(ctx) {
    const senders = envInt('BENCH_DURABLE_SENDERS', 100);
    const window = envInt('BENCH_DURABLE_WINDOW', 1);
    const durationMs = envInt('BENCH_DURABLE_SECONDS', pick(5, 30)) * 1000;
    const warmupMs = envInt('BENCH_DURABLE_WARMUP_SECONDS', pick(1, 3)) * 1000;
    const bodyChars = envInt('BENCH_BODY_CHARS', 512);
    const runs: DurableRun[] = [];
    for (const synchronous of ['NORMAL', 'FULL'] as const) {
      progress('durable', `synchronous=${synchronous}: ${senders} senders × window ${window}, ${durationMs / 1000} s measured`);
      const r = await runDurable({ synchronous, senders, window, durationMs, warmupMs, bodyChars, cpuProfDir: ctx.profileDir });
      progress('durable', `synchronous=${synchronous}: ${fmt(r.ackedPerSec, 0)} msg/s, ack p50 ${fmt(r.ack.p50)} ms, lost ${r.lost}`);
      runs.push(r);
    }
    const problems: string[] = [];
    const normal = runs[0]!;
    if (normal.ackedPerSec < 20_000) problems.push(`target ≥ 20,000 durable msg/s at default durability: measured ${fmt(normal.ackedPerSec, 0)}`);
    for (const r of runs) {
      if (r.lost > 0) problems.push(`${r.synchronous}: ${r.lost} acknowledged messages never popped up`);
      if (r.committedMessages < r.acked) problems.push(`${r.synchronous}: ${r.acked} acknowledged but only ${r.committedMessages} in the database`);
    }
    const md = `
How measured: one \`siar server\` child per durability setting, fresh database, log level warn.
${senders} lean clients in one harness process, each a sender in a closed loop with ${window} SEND${window > 1 ? 's' : ''}
outstanding (the next goes out when an \`OK\` comes back), each a direct message (body ${bodyChars}
characters) to the next sender, who is online and gets the popup. ${warmupMs / 1000} s warm-up, then ${durationMs / 1000} s
measured: *msg/s* = OKs read in the window ÷ its length. An \`OK\` to SEND means the message and its
recipient row are committed. Afterwards the server is stopped and the database counted: every
acknowledged message must be there, and every one must have popped up at its recipient.

${table(['synchronous', 'senders × window', 'durable msg/s', 'ack p50 ms', 'ack p99 ms', 'acked', 'in DB', 'popped up', 'lost', 'server CPU %', 'server RSS'], runs.map((r) => [
      r.synchronous, `${r.senders} × ${r.window}`, fmt(r.ackedPerSec, 0), fmt(r.ack.p50), fmt(r.ack.p99), fmtInt(r.acked),
      fmtInt(r.committedMessages), fmtInt(r.delivered), fmtInt(r.lost), fmt(r.serverCpuPercent, 0), kib(r.serverRssKiB),
    ]))}

Target (issue 8): ≥ 20,000 durable msg/s at the default durability — ${normal.ackedPerSec >= 20_000 ? '**met**' : `**missed** (${fmt(normal.ackedPerSec, 0)} msg/s, ${fmt((normal.ackedPerSec / 20_000) * 100, 0)} % of the target)`}.
FULL / NORMAL = ${fmt((runs[1]?.ackedPerSec ?? NaN) / normal.ackedPerSec, 2)}.
`;
    return { scenario: 'durable', title: this.title, markdown: md, data: { runs }, problems };
  },
};
