/**
 * Scenario 1 — QoS table in the Pusher paper's terms (seed 000): throughput, loss, delay, jitter
 * at 10 … 10,000 connected, logged-in clients that send and receive real, committed messages.
 */
import { envInt, envList, pick, progress } from '../lib/env.js';
import { runDirectLoad, runTag, type DirectLoadResult } from '../lib/direct-load.js';
import type { LeanClient } from '../lib/lean-client.js';
import { closeAll, connectMany, keepalive, loopbackAddresses } from '../lib/pool.js';
import { kib, resultName, table } from '../lib/report.js';
import type { Scenario } from '../lib/scenario.js';
import { BENCH_PASSWORD, seedMembers } from '../lib/seed.js';
import { ServerProcess, makeTempDir } from '../lib/server.js';
import { fmt, fmtInt } from '../lib/stats.js';
import { lineChart } from '../lib/svg.js';
import path from 'node:path';

/** The Pusher paper's tables 2 (user → server) and 3 (server → user), by virtual users. */
export const PUSHER = [
  { users: 10, upLoss: 0, downLoss: 6.25, upDelay: 1.554, downDelay: 151.47, downJitter: 134.27 },
  { users: 20, upLoss: 0, downLoss: 3.22, upDelay: 0.915, downDelay: 78.47, downJitter: 78.47 },
  { users: 50, upLoss: 0, downLoss: 9.82, upDelay: 0.922, downDelay: 96.16, downJitter: 96.17 },
  { users: 100, upLoss: 1, downLoss: 2.59, upDelay: 0.839, downDelay: 122.2, downJitter: 122.19 },
  { users: 200, upLoss: 13, downLoss: 6.89, upDelay: 1.426, downDelay: 79.31, downJitter: 78.54 },
  { users: 500, upLoss: 35.9, downLoss: 39.24, upDelay: 1.586, downDelay: 89.79, downJitter: 89.73 },
];

interface Level extends DirectLoadResult {
  serverCpuPercent: number;
  serverRssKiB: number;
  loginsPerSec: number;
  loginErrors: Record<string, number>;
}

export const qos: Scenario = {
  name: 'qos',
  number: 1,
  title: 'Scenario 1 — QoS at 10 … 10,000 clients (throughput, loss, delay, jitter)',
  async run(ctx) {
    const levels = envList('BENCH_QOS_LEVELS', pick([10, 20, 50, 100, 200, 500], [10, 20, 50, 100, 200, 500, 1000, 5000, 10000]));
    const perClientRate = Number(process.env.BENCH_QOS_RATE_PER_CLIENT ?? 1);
    const maxRate = envInt('BENCH_QOS_MAX_RATE', 1000);
    const durationMs = envInt('BENCH_QOS_SECONDS', pick(10, 30)) * 1000;
    const bodyChars = envInt('BENCH_BODY_CHARS', 512);
    const maxN = Math.max(...levels);
    const dataDir = path.join(makeTempDir('qos'), 'data');
    progress('qos', `seeding ${maxN} members`);
    const names = await seedMembers(dataDir, maxN);
    const server = await ServerProcess.start({ label: 'qos', dataDir, cpuProfDir: ctx.profileDir });
    const clients: (LeanClient | undefined)[] = [];
    const stopKeepalive = keepalive(() => clients);
    const results: Level[] = [];
    const problems: string[] = [];
    const addrs = loopbackAddresses(8);
    try {
      for (const [levelIndex, n] of levels.entries()) {
        // Connect and log in more clients until exactly n are online.
        const have = clients.length;
        let loginsPerSec = NaN;
        let loginErrors: Record<string, number> = {};
        if (n > have) {
          progress('qos', `logging in clients ${have + 1}…${n}`);
          const { clients: more, stats } = await connectMany({
            port: server.port, usernames: names.slice(have, n), password: BENCH_PASSWORD,
            concurrency: 32, localAddresses: addrs, scope: `qos N=${n}`,
          });
          clients.push(...more);
          loginsPerSec = stats.loginsPerSec;
          loginErrors = stats.errors;
        }
        const active = clients.slice(0, n).filter((c): c is LeanClient => c !== undefined);
        if (active.length < n) problems.push(`N=${n}: only ${active.length} clients logged in (${JSON.stringify(loginErrors)})`);
        const rate = Math.min(n * perClientRate, maxRate);
        progress('qos', `N=${n}: ${rate} msg/s for ${durationMs / 1000} s`);
        const cpu0 = server.cpuSeconds();
        // A tag per level (qa, qb, …): a late popup of one level is never counted in the next.
        const r = await runDirectLoad({ scope: `qos N=${n}`, clients: active, rate, durationMs, bodyChars, seed: n, tag: runTag('q', levelIndex) });
        const cpu1 = server.cpuSeconds();
        const level: Level = {
          ...r,
          serverCpuPercent: ((cpu1 - cpu0) / (r.windowMs / 1000)) * 100,
          serverRssKiB: server.status()?.rssKiB ?? NaN,
          loginsPerSec,
          loginErrors,
        };
        results.push(level);
        progress('qos', `N=${n}: delivered ${r.delivered}/${r.acked}, lost ${r.lost}, delay p50 ${fmt(r.delay.p50)} ms p99 ${fmt(r.delay.p99)} ms, jitter ${fmt(r.jitterMs)} ms`);
        if (r.lost > 0) problems.push(`N=${n}: ${r.lost} acknowledged messages never popped up`);
        if (r.duplicates > 0 || r.misrouted > 0) problems.push(`N=${n}: ${r.duplicates} duplicates, ${r.misrouted} misrouted`);
        if (!server.alive) throw new Error(`server died: ${JSON.stringify(server.exit)}\n${server.logTail()}`);
      }
    } finally {
      stopKeepalive();
      await closeAll(clients);
      const { profile } = await server.stop();
      if (profile) progress('qos', `profile ${profile}`);
    }

    const rows = results.map((r) => [
      fmtInt(r.clients), fmtInt(r.offeredRate), fmtInt(r.acked), fmtInt(r.delivered), fmtInt(r.lost), fmt(r.lossPercent, 2),
      fmt(r.deliveredPerSec, 0), fmt(r.uplinkKbps, 0), fmt(r.downlinkKbps, 0),
      fmt(r.delay.mean), fmt(r.delay.p50), fmt(r.delay.p99), fmt(r.jitterMs), fmt(r.ack.p50),
      fmt(r.serverCpuPercent, 0), fmt(r.harnessCpuPercent, 0), kib(r.serverRssKiB),
    ]);
    const seedsRows = PUSHER.map((p) => {
      const s = results.find((r) => r.clients === p.users);
      return [p.users, fmt(p.upLoss, 2), fmt(p.downLoss, 2), fmt(p.downDelay), fmt(p.downJitter),
        s ? fmt(s.lossPercent, 2) : 'not run', s ? fmt(s.delay.mean) : '—', s ? fmt(s.jitterMs) : '—'];
    });
    const md = `
How measured: one \`siar server\` child process (default durability, log level warn) on loopback; one harness
process holds the clients (lean raw-socket clients on the project's codec), spread over 8 source
addresses 127.0.0.2–9. Members are seeded into a fresh database; each level logs in more clients so
that exactly N are connected and logged in. During a level every client sends direct messages at
${perClientRate} msg/s, capped at ${maxRate} msg/s in total (so from N = ${Math.ceil(maxRate / perClientRate)} up each client
sends less often), for ${durationMs / 1000} s, open loop (on schedule, not waiting for replies), each to a
random other client. Body ${bodyChars} ASCII characters; every SEND is committed before its OK.

Definitions (each message is tracked individually by the tag \`q<level><k>\` in its subject — \`qa0\`, \`qa1\`, … at the first level, \`qb0\`, … at the next —, so a popup of one level arriving late is never counted in the next):

- **Throughput** — popups delivered per second, from the first SEND written to the last popup read;
  *uplink kbps* = bytes of SEND frames written × 8 / that time, *downlink kbps* = bytes of POPUP frames read × 8 / that time.
- **Loss** — messages the server acknowledged (\`OK\` to SEND, i.e. committed) whose popup never reached
  the addressed client within 15 s after the last send, counted one by one; % of acknowledged messages.
  Refused SENDs (an \`ERR\`) would be listed separately; there were ${results.reduce((a, r) => a + Object.values(r.refused).reduce((x, y) => x + y, 0), 0)}.
- **Delay** — from just before the SEND frame is written to the sender's socket to the arrival, at the
  recipient's socket, of the chunk holding its \`*|POPUP\` (same process, one clock). Includes the
  harness's own event-loop lag on both sides.
- **Jitter** — mean absolute difference of consecutive delays, messages taken in send order.
- *ack p50* — SEND written → \`OK\` read (the commit), median.

${table(['clients', 'offered msg/s', 'acked', 'delivered', 'lost', 'loss %', 'throughput msg/s', 'uplink kbps', 'downlink kbps', 'delay mean ms', 'delay p50 ms', 'delay p99 ms', 'jitter ms', 'ack p50 ms', 'server CPU %', 'harness CPU %', 'server RSS'], rows)}

Duplicates: ${results.reduce((a, r) => a + r.duplicates, 0)}, misrouted: ${results.reduce((a, r) => a + r.misrouted, 0)}, popups without an OK: ${results.reduce((a, r) => a + r.deliveredUnacked, 0)}.
Server CPU % and harness CPU % are of one core (100 % = one core busy) over the level's window; a harness
near 100 % means its own event loop, not the server, sets the delays at that level.

## Beside the Pusher paper (seed 000)

The paper drove a Pusher chat with JMeter virtual users and measured with Wireshark; its "uplink"
is user → server, "downlink" server → user. siar's figures are end to end (sender → recipient's popup).

${table(['users', 'Pusher uplink loss %', 'Pusher downlink loss %', 'Pusher downlink delay ms', 'Pusher downlink jitter ms', 'siar loss %', 'siar delay mean ms', 'siar jitter ms'], seedsRows)}

![QoS curve](${resultName('qos', 'svg')})
`;
    const svg = lineChart({
      title: 'siar QoS: send → popup delay and jitter by connected clients',
      subtitle: `${perClientRate} msg/s per client (≤ ${maxRate} msg/s total), ${bodyChars}-char bodies, ${durationMs / 1000} s per level`,
      xLabel: 'connected, logged-in clients (log scale)',
      yLabel: 'milliseconds (log scale)',
      logX: true,
      logY: true,
      series: [
        { name: 'siar delay p99', color: '#c0392b', points: results.map((r) => [r.clients, r.delay.p99]) },
        { name: 'siar delay mean', color: '#2471a3', points: results.map((r) => [r.clients, r.delay.mean]) },
        { name: 'siar jitter', color: '#27ae60', points: results.map((r) => [r.clients, r.jitterMs]) },
        { name: 'Pusher downlink delay', color: '#888', dashed: true, points: PUSHER.map((p) => [p.users, p.downDelay]) },
      ],
    });
    return {
      scenario: 'qos',
      title: this.title,
      markdown: md,
      data: { perClientRate, maxRate, durationMs, bodyChars, levels: results, pusher: PUSHER },
      files: { 'qos.svg': svg },
      problems,
    };
  },
};
