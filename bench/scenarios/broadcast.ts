/**
 * Scenario 2 — broadcast fan-out against Redis pub/sub. One popup to every online client
 * (SEND all=1) vs one PUBLISH to N subscribers, same harness process holding the N connections,
 * same payload size. Time from the send to the last delivery; p50 and p99 over the broadcasts.
 */
import path from 'node:path';
import { argsToPopup, decodeServerFrame, encodeRequest } from '../../src/protocol/index.js';
import { envInt, envList, monoUs, pick, progress, sleep } from '../lib/env.js';
import { LeanClient } from '../lib/lean-client.js';
import { closeAll, connectMany, keepalive, loopbackAddresses } from '../lib/pool.js';
import { RedisProcess, RespClient, ensureRedis } from '../lib/redis.js';
import { kib, table } from '../lib/report.js';
import type { Scenario } from '../lib/scenario.js';
import { BENCH_PASSWORD, memberName, seedMembers } from '../lib/seed.js';
import { ServerProcess, makeTempDir } from '../lib/server.js';
import { fmt, fmtInt, percentile, summarize, type Summary } from '../lib/stats.js';

/** One broadcast's timings, ms from the send. */
export interface Shot {
  /** Reply to the sender: siar's OK (after the commit of N recipient rows) / Redis's integer reply. */
  replyMs: number;
  firstMs: number;
  medianMs: number;
  lastMs: number;
  received: number;
}

export interface FanoutRun {
  system: 'siar' | 'redis';
  n: number;
  broadcasts: number;
  payloadBytes: number;
  shots: Shot[];
  last: Summary;
  reply: Summary;
  first: Summary;
  median: Summary;
  lost: number;
  serverCpuMsPerBroadcast: number;
  serverRssKiB: number;
  notes: string[];
  /** The measured broadcasts, CLOCK_MONOTONIC µs (for the profile summary). */
  profileWindow?: [number, number];
}

function summarizeShots(shots: Shot[]): Pick<FanoutRun, 'last' | 'reply' | 'first' | 'median'> {
  return {
    last: summarize(shots.map((s) => s.lastMs)),
    reply: summarize(shots.map((s) => s.replyMs)),
    first: summarize(shots.map((s) => s.firstMs)),
    median: summarize(shots.map((s) => s.medianMs)),
  };
}

/** Waits until `count()` reaches `target` or `timeoutMs` passes. */
async function waitFor(count: () => number, target: number, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (count() < target && performance.now() < until) await sleep(2);
}

export async function siarFanout(opts: {
  n: number; broadcasts: number; warmup: number; bodyChars: number; cpuProfDir?: string; label?: string;
  gapMs?: number;
}): Promise<FanoutRun & { popupBytes: number }> {
  const label = opts.label ?? `broadcast-${opts.n}`;
  const dataDir = path.join(makeTempDir(label), 'data');
  const names = await seedMembers(dataDir, opts.n);
  await seedMembers(dataDir, 1, 's'); // the sender: s00001
  const server = await ServerProcess.start({ label, dataDir, cpuProfDir: opts.cpuProfDir });
  let clients: (LeanClient | undefined)[] = [];
  const stopKeepalive = keepalive(() => clients);
  let sender: LeanClient | undefined;
  const notes: string[] = [];
  try {
    progress(label, `logging in ${opts.n} recipients`);
    const login = await connectMany({
      port: server.port, usernames: names, password: BENCH_PASSWORD, concurrency: 32,
      localAddresses: loopbackAddresses(8), scope: label,
    });
    clients = login.clients;
    const recipients = clients.filter((c): c is LeanClient => c !== undefined);
    if (recipients.length < opts.n) notes.push(`only ${recipients.length} of ${opts.n} recipients logged in: ${JSON.stringify(login.stats.errors)}`);
    sender = await LeanClient.connect({ port: server.port, localAddress: '127.0.0.10' });
    const sl = await sender.login(memberName('s', 1), BENCH_PASSWORD);
    if (!sl.ok) throw new Error(`sender login failed: ${sl.code}`);

    // Arrival times of the current broadcast; any popup while it runs belongs to it (nothing else is sent).
    let arrivals: number[] = [];
    const ids = new Map<string, number>();
    const seen: { sample: string | null } = { sample: null };
    for (const c of recipients) {
      c.onPopup = (line, at) => {
        arrivals.push(at);
        // `*|POPUP|id=N|…`: the id is the first argument (records.ts popupToArgs).
        const end = line.indexOf('|', 11);
        const id = line.slice(11, end);
        ids.set(id, (ids.get(id) ?? 0) + 1);
        seen.sample ??= line;
      };
    }
    const body = 'b'.repeat(opts.bodyChars);
    const shots: Shot[] = [];
    let lost = 0;
    let popupBytes = 0;
    let cpu = 0;
    const total = opts.warmup + opts.broadcasts;
    let windowFrom = 0;
    for (let b = 0; b < total; b++) {
      if (b === opts.warmup) windowFrom = monoUs();
      arrivals = [];
      ids.clear();
      seen.sample = null;
      const cpu0 = server.cpuSeconds();
      let replyAt = NaN;
      let ackId = '';
      let refusal = '';
      let t0 = 0;
      const acked = new Promise<void>((resolve) => {
        sender!.requestRaw((id) => {
          const line = encodeRequest(id, 'SEND', sender!.token, { all: 1, subject: `broadcast ${b}`, body }) + '\n';
          t0 = performance.now();
          return line;
        }, (reply) => {
          replyAt = performance.now();
          if (!reply.ok) refusal = `${reply.code} ${reply.message}`;
          ackId = reply.args?.get('id') ?? '';
          resolve();
        });
      });
      await acked;
      if (refusal) throw new Error(`broadcast SEND refused: ${refusal}`);
      await waitFor(() => arrivals.length, recipients.length, 60_000);
      const cpu1 = server.cpuSeconds();
      const got = arrivals.length;
      const sorted = [...arrivals].sort((a, x) => a - x);
      const sample = seen.sample as string | null; // set by the popup handlers meanwhile
      if (sample !== null) {
        // Check one popup in full with the project's codec: the right message, the right sender.
        const f = decodeServerFrame(sample);
        const p = f.kind === 'push' ? argsToPopup(f.args) : null;
        if (!p || String(p.id) !== ackId || p.from !== memberName('s', 1)) notes.push(`broadcast ${b}: unexpected popup ${sample.slice(0, 80)}`);
        popupBytes = Buffer.byteLength(sample) + 1;
      }
      if (ids.size !== 1 || !ids.has(ackId)) notes.push(`broadcast ${b}: popups for ids ${[...ids.keys()].join(',')}, expected ${ackId}`);
      if (b >= opts.warmup) {
        lost += recipients.length - got;
        cpu += cpu1 - cpu0;
        shots.push({
          replyMs: replyAt - t0,
          firstMs: (sorted[0] ?? NaN) - t0,
          medianMs: percentile(sorted, 50) - t0,
          lastMs: (sorted[sorted.length - 1] ?? NaN) - t0,
          received: got,
        });
        progress(label, `broadcast ${b - opts.warmup + 1}/${opts.broadcasts}: last delivery ${fmt(shots[shots.length - 1]!.lastMs)} ms (${got}/${recipients.length})`);
      }
      await sleep(opts.gapMs ?? 300);
    }
    const windowTo = monoUs();
    const rss = server.status()?.rssKiB ?? NaN;
    return {
      profileWindow: [windowFrom, windowTo],
      system: 'siar', n: recipients.length, broadcasts: opts.broadcasts, payloadBytes: popupBytes, popupBytes, shots,
      ...summarizeShots(shots), lost, serverCpuMsPerBroadcast: (cpu * 1000) / opts.broadcasts, serverRssKiB: rss, notes,
    };
  } finally {
    stopKeepalive();
    sender?.close();
    await closeAll(clients);
    await server.stop();
  }
}

export async function redisFanout(opts: { bin: string; n: number; broadcasts: number; warmup: number; payloadBytes: number; gapMs?: number }): Promise<FanoutRun> {
  const redis = await RedisProcess.start(opts.bin);
  const subs: RespClient[] = [];
  let pub: RespClient | undefined;
  const notes: string[] = [];
  try {
    progress('redis', `redis-server pid ${redis.pid} on port ${redis.port}; subscribing ${opts.n} clients`);
    const addrs = loopbackAddresses(8);
    let next = 0;
    let arrivals: number[] = [];
    const worker = async (): Promise<void> => {
      for (;;) {
        const i = next++;
        if (i >= opts.n) return;
        const c = await RespClient.connect(redis.port, addrs[i % addrs.length]);
        c.onMessage = (_payload, at) => { arrivals.push(at); };
        await c.subscribe('siar-bench');
        subs.push(c);
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    pub = await RespClient.connect(redis.port, '127.0.0.10');
    const shots: Shot[] = [];
    let lost = 0;
    let cpu = 0;
    for (let b = 0; b < opts.warmup + opts.broadcasts; b++) {
      arrivals = [];
      // Same size as siar's popup line: a tag, then filler.
      const tag = `broadcast ${b}|`;
      const payload = Buffer.from(tag + 'r'.repeat(Math.max(0, opts.payloadBytes - tag.length)));
      const cpu0 = redis.cpuSeconds();
      const t0 = performance.now();
      const receivers = await pub.command(['PUBLISH', 'siar-bench', payload]);
      const replyAt = performance.now();
      if (receivers !== subs.length) notes.push(`PUBLISH reached ${String(receivers)} of ${subs.length}`);
      await waitFor(() => arrivals.length, subs.length, 60_000);
      const cpu1 = redis.cpuSeconds();
      const sorted = [...arrivals].sort((a, x) => a - x);
      if (b >= opts.warmup) {
        lost += subs.length - arrivals.length;
        cpu += cpu1 - cpu0;
        shots.push({
          replyMs: replyAt - t0,
          firstMs: (sorted[0] ?? NaN) - t0,
          medianMs: percentile(sorted, 50) - t0,
          lastMs: (sorted[sorted.length - 1] ?? NaN) - t0,
          received: arrivals.length,
        });
      }
      await sleep(opts.gapMs ?? 300);
    }
    progress('redis', `N=${opts.n}: last delivery p50 ${fmt(percentile(shots.map((s) => s.lastMs).sort((a, x) => a - x), 50))} ms`);
    return {
      system: 'redis', n: subs.length, broadcasts: opts.broadcasts, payloadBytes: opts.payloadBytes, shots, ...summarizeShots(shots),
      lost, serverCpuMsPerBroadcast: (cpu * 1000) / opts.broadcasts, serverRssKiB: redis.rssKiB(), notes,
    };
  } finally {
    pub?.close();
    for (const s of subs) s.close();
    await sleep(200);
    await redis.stop();
  }
}

export const broadcast: Scenario = {
  name: 'broadcast',
  number: 2,
  title: 'Scenario 2 — broadcast fan-out: siar against Redis pub/sub',
  async run(ctx) {
    const levels = envList('BENCH_BROADCAST_LEVELS', pick([100, 500], [1000, 10000]));
    // 100 at full scale: the p99 of 20 is nearly their maximum, so one stall on the shared cores decided it.
    const broadcasts = envInt('BENCH_BROADCASTS', pick(10, 100));
    const warmup = envInt('BENCH_BROADCAST_WARMUP', 2);
    const bodyChars = envInt('BENCH_BODY_CHARS', 512);
    const redisBin = ensureRedis();
    const runs: FanoutRun[] = [];
    const problems: string[] = [];
    for (const n of levels) {
      progress('broadcast', `siar: ${n} online recipients, ${broadcasts} broadcasts (+${warmup} warm-up)`);
      const s = await siarFanout({ n, broadcasts, warmup, bodyChars, cpuProfDir: ctx.profileDir });
      runs.push(s);
      if (redisBin.path) {
        progress('broadcast', `redis: ${n} subscribers, payload ${s.popupBytes} bytes`);
        runs.push(await redisFanout({ bin: redisBin.path, n, broadcasts, warmup, payloadBytes: s.popupBytes }));
      }
    }
    const rows = runs.map((r) => [
      fmtInt(r.n), r.system, fmtInt(r.payloadBytes), fmt(r.reply.p50), fmt(r.first.p50), fmt(r.median.p50),
      fmt(r.last.p50), fmt(r.last.p99), fmt(r.last.max), fmtInt(r.lost), fmt(r.serverCpuMsPerBroadcast, 1), kib(r.serverRssKiB),
    ]);
    const ratioRows: (string | number)[][] = [];
    for (const n of levels) {
      const s = runs.find((r) => r.system === 'siar' && r.n <= n && r.n >= n * 0.99);
      const r = runs.find((x) => x.system === 'redis' && x.n === s?.n);
      if (!s) continue;
      const ratio50 = r ? s.last.p50 / r.last.p50 : NaN;
      const ratio99 = r ? s.last.p99 / r.last.p99 : NaN;
      ratioRows.push([fmtInt(n), fmt(s.last.p50), r ? fmt(r.last.p50) : 'skipped', fmt(ratio50), fmt(s.last.p99), r ? fmt(r.last.p99) : 'skipped', fmt(ratio99),
        Number.isFinite(ratio99) ? (ratio99 <= 1.5 ? 'met' : `missed (${fmt(ratio99, 1)}×)`) : '—']);
      if (Number.isFinite(ratio99) && ratio99 > 1.5) problems.push(`N=${n}: broadcast p99 ${fmt(ratio99, 1)}× Redis (target ≤ 1.5×)`);
      if (s.lost > 0) problems.push(`N=${n}: ${s.lost} popups missing`);
    }
    for (const r of runs) for (const note of r.notes) problems.push(`${r.system} N=${r.n}: ${note}`);
    const md = `
How measured: for each N, a fresh \`siar server\` child (default durability, log level warn) with N + 1
seeded members; one harness process holds N logged-in lean clients (8 source addresses) and a sender.
The sender sends \`SEND all=1\` (body ${bodyChars} characters), ${warmup} warm-up broadcasts not counted, then
${broadcasts} measured, one at a time, ${300} ms apart. Then, in the same run, a \`redis-server\`
(${'reason' in redisBin ? `skipped: ${redisBin.reason}` : redisBin.version}) on a free loopback port with no
persistence (\`--save '' --appendonly no\`), N subscribers on one channel held by the same harness
process, and \`PUBLISH\` of a payload as long as siar's popup line. Times are from just before the send is
written to the arrival (chunk read) at each recipient, one clock; *last* is the broadcast's last
delivery. p99 over ${broadcasts} broadcasts is their maximum but one at most (nearest rank).
Redis keeps nothing; siar commits one row per recipient before its \`OK\`, then pushes.

${table(['N', 'system', 'payload bytes', 'reply p50 ms', 'first p50 ms', 'median p50 ms', 'last p50 ms', 'last p99 ms', 'last max ms', 'missing', 'server CPU ms / broadcast', 'server RSS'], rows)}

*reply* is siar's \`OK\` (after the commit) or Redis's integer reply; *first* / *median* / *last* are the
first, median and last recipient's delivery, each a p50 over the broadcasts.

## siar / Redis

${table(['N', 'siar last p50 ms', 'Redis last p50 ms', 'ratio p50', 'siar last p99 ms', 'Redis last p99 ms', 'ratio p99', 'target p99 ≤ 1.5×'], ratioRows)}
`;
    return { scenario: 'broadcast', title: this.title, markdown: md, data: { redis: redisBin, runs }, problems };
  },
};
