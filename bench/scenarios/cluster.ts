/**
 * Scenario 10 — siar on several nodes (issue 19 item 6): three `siar server` nodes on this machine on
 * one PostgreSQL store and one Redis bus, holding together more clients than one process can
 * (harness in several child processes); memory per connection per node; a broadcast to all of them
 * against Redis pub/sub to the same number of subscribers; direct popups from a sender on one node
 * to a recipient on another against a single node; and failover: one node SIGKILLed, its clients
 * resume their sessions on the others (RESUME, no password) and get what was sent meanwhile.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeRequest } from '../../src/protocol/index.js';
import { samplePgActivity, startClusterServices, startNodes, type ClusterServices } from '../lib/cluster.js';
import { runDirectLoad, type DirectLoadResult } from '../lib/direct-load.js';
import { envInt, epochMs, pick, progress, sleep } from '../lib/env.js';
import { timedBroadcast, type WorkerShot } from '../lib/fanout.js';
import { LeanClient } from '../lib/lean-client.js';
import { closeAll, connectMany, keepalive, loopbackAddresses, type LoginStats } from '../lib/pool.js';
import { RedisProcess, RespClient, ensureRedis } from '../lib/redis.js';
import { kib, table } from '../lib/report.js';
import type { Scenario } from '../lib/scenario.js';
import { BENCH_PASSWORD, memberName, seedPostgresMembers } from '../lib/seed.js';
import { makeTempDir, type ServerProcess } from '../lib/server.js';
import { fmt, fmtInt, summarize, type Summary } from '../lib/stats.js';
import { HarnessWorker } from '../lib/worker-pool.js';
import { latencyRun, type LatencyRun } from './latency.js';
import type { FailoverStatus, FromWorker, ToWorker } from './scale-worker.js';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scale-worker.ts');
type Worker = HarnessWorker<ToWorker, FromWorker>;

/** Sums per-port counts from the workers into per-node counts (nodes in order). */
function perNode(nodes: ServerProcess[], parts: Record<string, number>[]): number[] {
  return nodes.map((n) => parts.reduce((a, p) => a + (p[n.port] ?? 0), 0));
}

/** SEND all=1 from `sender`, timed: t0 just before the frame is written, replyAt at the OK. */
function sendToAll(sender: LeanClient, subject: string, body: string): Promise<{ t0: number; replyAt: number; id: string; refusal: string }> {
  return new Promise((resolve) => {
    let t0 = 0;
    sender.requestRaw((id) => {
      const line = encodeRequest(id, 'SEND', sender.token, { all: 1, subject, body }) + '\n';
      t0 = epochMs();
      return line;
    }, (reply) => resolve({ t0, replyAt: epochMs(), id: reply.args?.get('id') ?? '', refusal: reply.ok ? '' : `${reply.code} ${reply.message}` }));
  });
}

function shotsSummary(shots: WorkerShot[]): { reply: Summary; first: Summary; median: Summary; last: Summary; missing: number } {
  return {
    reply: summarize(shots.map((s) => s.replyMs)),
    first: summarize(shots.map((s) => s.firstMs)),
    median: summarize(shots.map((s) => s.medianMs)),
    last: summarize(shots.map((s) => s.lastMs)),
    missing: shots.reduce((a, s) => a + (s.expected - s.received), 0),
  };
}

interface FailoverResult {
  perNodeBefore: number[];
  victim: number;
  victimClients: number;
  lost: number;
  resumed: number;
  resume: Summary;
  /** Kill → the last moved client had the popup sent while its node was down, ms. */
  caughtUpMs: number;
  /** Kill → every moved client resumed and every client had both popups, ms (NaN: not within the wait). */
  allBackMs: number;
  missing: Record<string, number>;
  missingAfter: number;
  duplicates: number;
  errors: Record<string, number>;
}

export const cluster: Scenario = {
  name: 'cluster',
  number: 10,
  title: 'Scenario 10 — three nodes on PostgreSQL and Redis: clients beyond one process, broadcast, cross-node latency, failover',
  async run(ctx) {
    const nodeCount = 3;
    const n = envInt('BENCH_CLUSTER_CLIENTS', pick(900, 51_000));
    // Each worker holds its clients and as many Redis subscribers: under 20,000 open files each.
    const workers = Math.max(envInt('BENCH_CLUSTER_WORKERS', pick(2, 6)), Math.ceil((2 * n) / 18_000));
    const broadcasts = envInt('BENCH_CLUSTER_BROADCASTS', pick(5, 20));
    const realLogins = envInt('BENCH_CLUSTER_REAL_LOGINS', pick(30, 300));
    const latClients = envInt('BENCH_CLUSTER_LATENCY_CLIENTS', pick(200, 1000));
    const latRate = envInt('BENCH_CLUSTER_LATENCY_RATE', pick(200, 1000));
    const latMs = envInt('BENCH_CLUSTER_LATENCY_SECONDS', pick(10, 30)) * 1000;
    const latWarmMs = envInt('BENCH_CLUSTER_LATENCY_WARMUP_SECONDS', pick(2, 5)) * 1000;
    // The killed node's clients must fit on the two others (each capped by its open-files limit).
    const failPerNode = Math.min(envInt('BENCH_CLUSTER_FAILOVER_PER_NODE', 10_000), Math.floor(n / nodeCount));
    const cheap = process.env.BENCH_CLUSTER_REAL_HASH !== '1';
    const bodyChars = envInt('BENCH_BODY_CHARS', 512);
    const body = 'c'.repeat(bodyChars);
    const problems: string[] = [];
    const redisFound = ensureRedis();
    if (redisFound.path === null) throw new Error(`the cluster scenario needs redis-server: ${'reason' in redisFound ? redisFound.reason : ''}`);
    const redisBin = redisFound;

    const base = makeTempDir('cluster');
    let services: ClusterServices | undefined;
    let nodes: ServerProcess[] = [];
    const pool: Worker[] = [];
    const redises: RedisProcess[] = [];
    let sender: LeanClient | undefined;
    let stopKeepalive = (): void => undefined;
    try {
      services = await startClusterServices(base);
      progress('cluster', `seeding ${n} members${cheap ? ' (cheap scrypt, N=1024)' : ''}, ${latClients} latency members, ${realLogins} with the real hash, 1 sender`);
      const t0Seed = performance.now();
      const names = await seedPostgresMembers(services.pg.url, n, 'm', { cheap });
      const latNames = await seedPostgresMembers(services.pg.url, latClients, 'l', { cheap });
      const realNames = await seedPostgresMembers(services.pg.url, realLogins, 'r', { cheap: false });
      await seedPostgresMembers(services.pg.url, 1, 's', { cheap });
      const seedSeconds = (performance.now() - t0Seed) / 1000;
      nodes = await startNodes(nodeCount, services, base, { cpuProfDir: ctx.profileDir });
      await sleep(1000);
      const idle = nodes.map((s) => s.status()!.rssKiB);

      // The real login rate: members with the project's scrypt hash, a third on each node at once.
      progress('cluster', `${realLogins} logins with the real password hash across the nodes`);
      const tReal = performance.now();
      const real = await Promise.all(nodes.map((s, k) => connectMany({
        port: s.port, usernames: realNames.filter((_, i) => i % nodeCount === k), password: BENCH_PASSWORD, concurrency: 16,
        localAddresses: loopbackAddresses(2, 60 + 2 * k), scope: `real-login ${s.label}`,
      })));
      const realWallMs = performance.now() - tReal;
      const realLoggedIn = real.reduce((a, r) => a + r.stats.loggedIn, 0);
      const realRate = realLoggedIn / (realWallMs / 1000);
      for (const r of real) await closeAll(r.clients);
      progress('cluster', `real hash: ${realLoggedIn} logins in ${fmt(realWallMs / 1000, 1)} s = ${fmt(realRate, 1)}/s`);

      sender = await LeanClient.connect({ port: nodes[0]!.port, localAddress: '127.0.0.100' });
      const sl = await sender.login(memberName('s', 1), BENCH_PASSWORD);
      if (!sl.ok) throw new Error(`sender login failed: ${sl.code}`);
      stopKeepalive = keepalive(() => [sender]);
      await sleep(2000);
      const beforeLogins = nodes.map((s) => s.status()!.rssKiB);

      // --- the clients, spread over the nodes by the workers (client i on node i mod 3)
      for (let w = 0; w < workers; w++) pool.push(new HarnessWorker<ToWorker, FromWorker>(w, WORKER, { type: 'close' }));
      const per = Math.ceil(n / workers);
      const ports = nodes.map((s) => s.port);
      const soFar = new Map<number, number>();
      let lastReport = 0;
      const tLogin = performance.now();
      for (const wk of pool) {
        wk.on((m) => {
          if (m.type !== 'progress') return;
          soFar.set(wk.index, m.loggedIn);
          const now = performance.now();
          if (now - lastReport < 10_000) return;
          lastReport = now;
          const total = [...soFar.values()].reduce((a, b) => a + b, 0);
          progress('cluster', `${total}/${n} logged in (${fmt(total / ((now - tLogin) / 1000), 0)}/s); node RSS ${nodes.map((s) => kib(s.status()?.rssKiB ?? NaN)).join(' / ')}`);
        });
      }
      const logins = await Promise.all(pool.map((wk, w) => wk.ask({
        type: 'login', port: ports[0]!, ports, offset: w * per, usernames: names.slice(w * per, (w + 1) * per), password: BENCH_PASSWORD,
        localAddress: `127.0.0.${30 + w}`, concurrency: 16,
      }, 'logged-in', 60 * 60_000)));
      const loginWallMs = performance.now() - tLogin;
      const loggedIn = logins.reduce((a, m) => a + m.loggedIn, 0);
      const loginErrors: Record<string, number> = {};
      for (const m of logins) for (const [k, v] of Object.entries(m.errors)) loginErrors[k] = (loginErrors[k] ?? 0) + v;
      const held = perNode(nodes, logins.map((m) => m.perPort));
      await sleep(3000);
      const heldRss = nodes.map((s) => s.status()!.rssKiB);
      const perConnKB = nodes.map((_, k) => ((heldRss[k]! - beforeLogins[k]!) * 1.024) / Math.max(1, held[k]!));
      progress('cluster', `${loggedIn} logged in in ${fmt(loginWallMs / 1000, 1)} s (${held.join(' / ')} per node); ${perConnKB.map((x) => fmt(x, 2)).join(' / ')} KB per connection; errors ${JSON.stringify(loginErrors)}`);
      if (loggedIn < n) problems.push(`${n - loggedIn} of ${n} clients did not log in: ${JSON.stringify(loginErrors)}`);
      if (n >= 50_000 && loggedIn < 50_000) problems.push(`target ≥ 50,000 logged in: ${fmtInt(loggedIn)}`);

      // --- broadcast to all of them, then Redis pub/sub to as many subscribers
      const siarShots: WorkerShot[] = [];
      const warmup = 1;
      for (let b = 0; b < warmup + broadcasts; b++) {
        let sent: Awaited<ReturnType<typeof sendToAll>> | undefined;
        const shot = await timedBroadcast(pool, {
          tag: `cluster ${b}`,
          fire: async () => (sent = await sendToAll(sender!, `cluster ${b}`, body)),
        });
        if (sent?.refusal) throw new Error(`broadcast refused: ${sent.refusal}`);
        if (shot.ids.length !== 1 || shot.ids[0] !== sent?.id) problems.push(`broadcast ${b}: popups for ids ${shot.ids.join(',')}, expected ${sent?.id}`);
        if (b >= warmup) siarShots.push(shot);
        progress('cluster', `broadcast ${b - warmup + 1}/${broadcasts}${b < warmup ? ' (warm-up)' : ''}: ${shot.received}/${shot.expected}, OK after ${fmt(shot.replyMs)} ms, last after ${fmt(shot.lastMs)} ms`);
        await sleep(1000);
      }
      const siarB = shotsSummary(siarShots);
      if (siarB.missing > 0) problems.push(`broadcast: ${siarB.missing} popups missing`);
      const lineBytes = siarShots[0]?.lineBytes ?? bodyChars + 100;

      progress('cluster', `Redis pub/sub: ${nodeCount} redis-server processes, ${loggedIn} subscribers`);
      for (let k = 0; k < nodeCount; k++) redises.push(await RedisProcess.start(redisBin.path));
      const redisPorts = redises.map((r) => r.port);
      const subscribed = await Promise.all(pool.map((wk, w) => wk.ask({ type: 'redis-subscribe', ports: redisPorts, offset: w * per, channel: 'siar-bench', concurrency: 64 }, 'redis-subscribed', 30 * 60_000)));
      const subscribers = subscribed.reduce((a, m) => a + m.subscribed, 0);
      const publishers = await Promise.all(redisPorts.map((p) => RespClient.connect(p, '127.0.0.100')));
      const redisShots: WorkerShot[] = [];
      for (let b = 0; b < warmup + broadcasts; b++) {
        const tag = `redis ${b}|`;
        const payload = Buffer.from(tag + 'r'.repeat(Math.max(0, lineBytes - 2 - tag.length)));
        const shot = await timedBroadcast(pool, {
          tag, source: 'redis',
          fire: async () => {
            const t0 = epochMs();
            await Promise.all(publishers.map((p) => p.command(['PUBLISH', 'siar-bench', payload])));
            return { t0, replyAt: epochMs() };
          },
        });
        if (b >= warmup) redisShots.push(shot);
        await sleep(1000);
      }
      for (const p of publishers) p.close();
      await Promise.all(pool.map((wk) => wk.ask({ type: 'redis-close' }, 'redis-closed')));
      await Promise.all(redises.splice(0).map((r) => r.stop()));
      const redisB = shotsSummary(redisShots);
      const ratio50 = siarB.last.p50 / redisB.last.p50;
      const ratio99 = siarB.last.p99 / redisB.last.p99;
      progress('cluster', `broadcast to ${loggedIn}: siar last p50/p99 ${fmt(siarB.last.p50)} / ${fmt(siarB.last.p99)} ms, Redis ${fmt(redisB.last.p50)} / ${fmt(redisB.last.p99)} ms (${fmt(ratio99)}×)`);
      if (!(ratio99 <= 1.5)) problems.push(`broadcast to all: p99 ${fmt(ratio99)}× Redis (target ≤ 1.5×)`);

      // --- direct popups, sender and recipient on different nodes, against a single node
      progress('cluster', `cross-node latency: ${latClients} clients on nodes 1 and 2, ${latRate} msg/s`);
      const halves = await Promise.all([0, 1].map((k) => connectMany({
        port: nodes[k]!.port, usernames: latNames.filter((_, i) => i % 2 === k), password: BENCH_PASSWORD, concurrency: 16,
        localAddresses: loopbackAddresses(2, 70 + 2 * k), scope: `latency ${nodes[k]!.label}`,
      })));
      const latActive = halves.flatMap((h, k) => h.clients.filter((c): c is LeanClient => c !== undefined).map((c) => ({ c, k })));
      const groupOf = latActive.map((x) => x.k);
      const latC = latActive.map((x) => x.c);
      // The warm-up has its own tags and is drained before the measured run starts, so none of its
      // backlog is measured (its popups carried the measured run's tags, and arrived during it, before).
      const warm = await runDirectLoad({ scope: 'cross-node warm-up', clients: latC, rate: latRate, durationMs: latWarmMs, bodyChars, seed: 7, drainMs: 60_000, groupOf, tag: 'w' });
      progress('cluster', `cross-node warm-up: ${warm.delivered} of ${warm.acked} acknowledged popups arrived (${warm.lost} still missing) ${fmt(warm.windowMs / 1000, 1)} s after its first send`);
      const cpu0 = nodes.slice(0, 2).map((s) => s.cpuSeconds());
      const pgSampler = samplePgActivity(services.pg.url);
      const cross: DirectLoadResult = await runDirectLoad({ scope: 'cross-node', clients: latC, rate: latRate, durationMs: latMs, bodyChars, seed: 8, groupOf, drainMs: 60_000 });
      const pgDuring = await pgSampler.stop();
      const crossCpu = nodes.slice(0, 2).map((s, k) => ((s.cpuSeconds() - cpu0[k]!) / (cross.windowMs / 1000)) * 100);
      for (const h of halves) await closeAll(h.clients);
      progress('cluster', `cross-node: p50 ${fmt(cross.delay.p50)} ms, p99 ${fmt(cross.delay.p99)} ms, lost ${cross.lost}; now a single node (SQLite) with the same load`);
      const single: LatencyRun = await latencyRun({ n: latClients, rate: latRate, durationMs: latMs, warmupMs: latWarmMs, bodyChars, label: 'cluster-single-node', cpuProfDir: ctx.profileDir });
      const latRatio = cross.delay.p99 / single.delay.p99;
      if (cross.lost > 0) problems.push(`cross-node: ${cross.lost} acknowledged messages had not popped up 60 s after the last send`);
      if (!(latRatio <= 2)) problems.push(`cross-node latency p99 ${fmt(latRatio)}× single-node (target ≤ 2×)`);

      // --- failover: one node killed; its clients resume on the others and catch up
      const keep = Math.ceil((nodeCount * failPerNode) / workers);
      const trimmed = await Promise.all(pool.map((wk) => wk.ask({ type: 'trim', keep }, 'trimmed')));
      const perNodeBefore = perNode(nodes, trimmed.map((m) => m.perPort));
      const victimIndex = nodeCount - 1;
      const victim = nodes[victimIndex]!;
      progress('cluster', `failover: ${perNodeBefore.join(' / ')} clients per node; killing ${victim.label} (pid ${victim.pid})`);
      await Promise.all(pool.map((wk) => wk.ask({ type: 'failover-arm', ports }, 'failover-armed')));
      const before = await sendToAll(sender, 'failover before', body);
      if (before.refusal) throw new Error(`broadcast before the kill refused: ${before.refusal}`);
      const status = async (ids: string[]): Promise<FailoverStatus[]> => Promise.all(pool.map((wk) => wk.ask({ type: 'failover-status', ids }, 'failover-status')));
      const missingOf = (st: FailoverStatus[], id: string): number => st.reduce((a, s) => a + (s.missing[id] ?? 0), 0);
      for (let i = 0; i < 60 && missingOf(await status([before.id]), before.id) > 0; i++) await sleep(500);
      const tKill = epochMs();
      victim.child.kill('SIGKILL');
      const during = await sendToAll(sender, 'failover during', body);
      if (during.refusal) throw new Error(`broadcast during the failover refused: ${during.refusal}`);
      const ids = [before.id, during.id];
      let st: FailoverStatus[] = [];
      let allBackMs = NaN;
      const waitMs = envInt('BENCH_CLUSTER_FAILOVER_WAIT_SECONDS', 120) * 1000;
      for (;;) {
        await sleep(250);
        st = await status(ids);
        const lost = st.reduce((a, s) => a + s.lost, 0);
        const resumed = st.reduce((a, s) => a + s.resumedAt.length, 0);
        const missing = ids.reduce((a, id) => a + missingOf(st, id), 0);
        if (lost >= perNodeBefore[victimIndex]! && resumed >= lost && missing === 0) {
          allBackMs = epochMs() - tKill;
          break;
        }
        if (epochMs() - tKill > waitMs) break;
      }
      // And one more after: a live popup reaches every client where it now is.
      const after = await sendToAll(sender, 'failover after', body);
      let missingAfter = NaN;
      for (let i = 0; i < 60; i++) {
        const s2 = await status([after.id]);
        missingAfter = missingOf(s2, after.id);
        if (missingAfter === 0) break;
        await sleep(500);
      }
      const resumedAt = st.flatMap((s) => s.resumedAt).map((t) => t - tKill).sort((a, x) => a - x);
      const arrivedMoved = st.map((s) => s.lastArrivalMoved[during.id] ?? NaN).filter(Number.isFinite);
      const lastDuring = arrivedMoved.length > 0 ? Math.max(...arrivedMoved) : NaN;
      const errors: Record<string, number> = {};
      for (const s of st) for (const [k, v] of Object.entries(s.errors)) errors[k] = (errors[k] ?? 0) + v;
      const failover: FailoverResult = {
        perNodeBefore, victim: victimIndex + 1, victimClients: perNodeBefore[victimIndex]!,
        lost: st.reduce((a, s) => a + s.lost, 0), resumed: resumedAt.length, resume: summarize(resumedAt),
        caughtUpMs: lastDuring - tKill, allBackMs,
        missing: Object.fromEntries(ids.map((id) => [id, missingOf(st, id)])), missingAfter,
        duplicates: st.reduce((a, s) => a + s.duplicates, 0), errors,
      };
      progress('cluster', `failover: ${failover.resumed}/${failover.lost} resumed (last after ${fmt(failover.resume.max / 1000, 1)} s), all back and caught up after ${fmt(allBackMs / 1000, 1)} s; missing ${JSON.stringify(failover.missing)}, after ${missingAfter}; duplicates ${failover.duplicates}`);
      const missingTotal = Object.values(failover.missing).reduce((a, b) => a + b, 0) + (Number.isFinite(missingAfter) ? missingAfter : 0);
      if (missingTotal > 0) problems.push(`failover: ${missingTotal} popups lost`);
      if (!(allBackMs <= 60_000)) problems.push(`failover: the killed node's clients were not all back and caught up within 60 s (${Number.isFinite(allBackMs) ? `${fmt(allBackMs / 1000, 1)} s` : `not within ${waitMs / 1000} s`})`);

      const login: LoginStats = { requested: n, loggedIn, errors: loginErrors, wallMs: loginWallMs, loginsPerSec: loggedIn / (loginWallMs / 1000) };
      const bRow = (what: string, b: ReturnType<typeof shotsSummary>, count: number): string[] => [
        what, fmtInt(count), fmt(b.reply.p50), fmt(b.first.p50), fmt(b.median.p50), fmt(b.last.p50), fmt(b.last.p99), fmt(b.last.max), fmtInt(b.missing),
      ];
      const latRow = (what: string, r: DirectLoadResult, cpu: string): string[] => [
        what, fmtInt(r.clients), fmt(r.deliveredPerSec, 0), fmtInt(r.lost), fmt(r.delay.p50), fmt(r.delay.p90), fmt(r.delay.p99), fmt(r.delay.p999), fmt(r.delay.max),
        fmt(r.ack.p50), fmt(r.ack.p99), cpu, fmt(r.harnessCpuPercent, 0),
      ];
      const verdict = (ok: boolean, text: string): string => (ok ? `**met** (${text})` : `**missed** (${text})`);
      const md = `
How measured: PostgreSQL ${'(fsync on)'} and Redis started by the scenario (scripts/services.ts, in a temp
directory), then ${nodeCount} \`siar server\` nodes as child processes, each with \`SIAR_STORE=postgres://…\`,
\`SIAR_BUS=redis://…\` and \`SIAR_NODE_ID=node-k\` (log level warn, default connection cap: the open-files
limit minus the server's reserve). Members seeded straight into PostgreSQL (one INSERT … SELECT, ${fmt(seedSeconds, 1)} s)
${cheap ? `with a **cheap scrypt hash (N = 1,024)** for the ${fmtInt(n)} clients, so they log in in minutes rather than the
${fmt(n / Math.max(realRate, 0.1) / 60, 0)} min the real hash would take at the rate measured below` : 'with the real password hash'}; ${fmtInt(realLogins)}
further members with the project's real hash measure the real login rate. ${workers} harness child processes
(127.0.0.30…) log the clients in, client *i* on node *i* mod ${nodeCount}, 16 logins in flight each; the sender is
on node 1. Times are on the machine's wall clock (one host).

## Clients held

${table(['measure', 'value'], [
        ['clients logged in (attempted)', `**${fmtInt(loggedIn)}** (${fmtInt(n)})${Object.keys(loginErrors).length ? `; failures ${JSON.stringify(loginErrors)}` : ''}`],
        ['per node', held.map(fmtInt).join(' / ')],
        ['login phase', `${fmt(loginWallMs / 1000, 1)} s, ${fmt(login.loginsPerSec, 0)} logins/s${cheap ? ' (cheap hash: not siar\'s rate)' : ''}`],
        ['real login rate (project\'s scrypt hash, a third on each node at once)', `**${fmt(realRate, 1)} logins/s** (${realLoggedIn} in ${fmt(realWallMs / 1000, 1)} s)`],
        ['node RSS idle / before the clients / holding them', nodes.map((_, k) => `${kib(idle[k]!)} / ${kib(beforeLogins[k]!)} / ${kib(heldRss[k]!)}`).join('; ')],
        ['memory per connection per node (RSS growth ÷ its clients)', perConnKB.map((x) => `${fmt(x, 2)} KB`).join(' / ')],
      ])}
${Math.min(...held) < 5000 ? `\n*With ${fmtInt(Math.min(...held))} clients on a node the RSS growth is within the heap's own swings (tens of MiB), so the per-connection figure means nothing here; it becomes meaningful at full scale.*\n` : ''}
## Broadcast to all ${fmtInt(loggedIn)} against Redis pub/sub

siar: \`SEND all=1\` (body ${bodyChars} characters) from the sender on node 1, ${warmup} warm-up and ${broadcasts} measured, 1 s
apart: committed to PostgreSQL (the message and one audience snapshot row; the recipient rows follow the pushes), then *message stored* on the bus, and every
node pushes to its own clients. Redis: ${nodeCount} \`redis-server\` processes (${redisBin.version.split(' ').slice(0, 3).join(' ')}; one
Redis process holds at most ≈ 19,000 subscribers under this machine's 20,000 open files, so the comparison
spreads the ${fmtInt(subscribers)} subscribers as siar spreads its clients, client *i*'s subscriber on Redis *i* mod ${nodeCount}),
a \`PUBLISH\` to each at once of a payload as long as siar's popup line (${lineBytes} bytes); the subscribers live in the
same worker processes as the siar clients. p50 / p99 over the broadcasts.

${table(['system', 'recipients', 'reply p50 ms', 'first p50 ms', 'median p50 ms', 'last p50 ms', 'last p99 ms', 'last max ms', 'missing'], [
        bRow('siar, 3 nodes', siarB, loggedIn), bRow(`Redis pub/sub, ${nodeCount} processes`, redisB, subscribers),
      ])}

siar ÷ Redis, last delivery: p50 ${fmt(ratio50)}×, p99 ${fmt(ratio99)}× — target p99 ≤ 1.5×: ${verdict(ratio99 <= 1.5, `${fmt(ratio99)}×`)}.

## Direct popups across nodes against a single node

${latClients} clients, half on node 1 and half on node 2; every message goes from a client on one of them to a
random client on the other (\`BENCH_CLUSTER_LATENCY_*\`), ${latRate} msg/s open loop, ${latWarmMs / 1000} s warm-up, ${latMs / 1000} s measured, body
${bodyChars} characters, while the nodes still hold the clients above. Single node: the latency scenario's run
(one \`siar server\` on SQLite, the same clients and rate), in the same run, right after.

${table(['setup', 'clients', 'msg/s delivered', 'lost', 'delay p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'ack p50 ms', 'ack p99 ms', 'server CPU %', 'harness CPU %'], [
        latRow('cross-node (3-node cluster, PostgreSQL + Redis)', cross, crossCpu.map((c) => fmt(c, 0)).join(' + ')),
        latRow('single node (SQLite)', single, fmt(single.serverCpuPercent, 0)),
      ])}

The nodes' PostgreSQL sessions during the cross-node window (pg_stat_activity every 100 ms, ${pgDuring.samples} samples),
mean number per state: ${Object.entries(pgDuring.meanByState).map(([k, v]) => `${k} ${fmt(v, 2)}`).join(', ')}. Statements seen running most often:

${table(['statement (first 120 characters)', 'samples'], pgDuring.topQueries.map((q) => [`\`${q.query}\``, fmtInt(q.seen)]))}

Cross-node p99 ÷ single-node p99: ${fmt(latRatio)}× — target ≤ 2×: ${verdict(latRatio <= 2, `${fmt(latRatio)}×`)}.

## Failover

The clients were cut to ${fmtInt(failPerNode)} per node (${perNodeBefore.map(fmtInt).join(' / ')}: the killed node's clients must fit on
the two others, each capped at its open-files limit), then: a broadcast (*before*), all received; node ${failover.victim}
SIGKILLed; at once a broadcast from node 1 (*during*: its clients are away). Each of its clients does what
SiarSession does (src/client/session.ts): waits a random moment within the first backoff step (1 s), tries
the next node of its list (the one after at once if that fails), and \`RESUME\`s its session with its token.
*Back and caught up*: every client of the killed node resumed and every client holds both popups.

${table(['measure', 'value'], [
        ['clients on the killed node / connections lost / resumed elsewhere', `${fmtInt(failover.victimClients)} / ${fmtInt(failover.lost)} / ${fmtInt(failover.resumed)}`],
        ['kill → RESUME OK, p50 / p99 / last', `${fmt(failover.resume.p50 / 1000, 2)} / ${fmt(failover.resume.p99 / 1000, 2)} / ${fmt(failover.resume.max / 1000, 2)} s`],
        ['kill → the last moved client had the popup sent while it was away', `${fmt(failover.caughtUpMs / 1000, 2)} s`],
        ['kill → all back and caught up', Number.isFinite(allBackMs) ? `**${fmt(allBackMs / 1000, 2)} s**` : `**not within ${waitMs / 1000} s**`],
        ['popups missing (before / during the failover)', `${failover.missing[before.id]} / ${failover.missing[during.id]}`],
        ['a broadcast after: clients missing it', fmtInt(missingAfter)],
        ['popups received twice by one client (replays; the client deduplicates)', fmtInt(failover.duplicates)],
        ['reconnect failures and RESUME refusals on the way', Object.keys(errors).length ? JSON.stringify(errors) : 'none'],
      ])}

Target: back and caught up within 60 s, none lost — ${verdict(allBackMs <= 60_000 && missingTotal === 0, Number.isFinite(allBackMs) ? `${fmt(allBackMs / 1000, 1)} s, ${missingTotal} lost` : `${missingTotal} lost`)}.
`;
      return {
        scenario: 'cluster', title: this.title, markdown: md, problems,
        data: {
          n, workers, cheapHash: cheap, seedSeconds, realLogin: { count: realLoggedIn, wallMs: realWallMs, perSec: realRate }, login,
          held, rss: { idleKiB: idle, beforeLoginsKiB: beforeLogins, heldKiB: heldRss }, perConnectionKB: perConnKB,
          broadcast: { siar: { ...siarB, shots: siarShots.map(({ ids: _ids, ...s }) => s) }, redis: { ...redisB, subscribers, shots: redisShots.map(({ ids: _ids, ...s }) => s) }, ratio50, ratio99 },
          latency: { cross, crossServerCpuPercent: crossCpu, single, ratioP99: latRatio, pgActivity: pgDuring },
          failover,
        },
      };
    } finally {
      stopKeepalive();
      sender?.close();
      await Promise.all(pool.map((wk) => wk.stop()));
      await Promise.all(redises.map((r) => r.stop()));
      await Promise.all(nodes.map((s) => s.stop()));
      await services?.stop();
      if (process.env.BENCH_KEEP !== '1') rmSync(base, { recursive: true, force: true });
    }
  },
};
