/**
 * Scenario 5 — connection scale: as many idle, logged-in clients as one server process holds
 * (~19,900 attempted: the hard open-files limit is 20,000 per process), spread over several
 * harness child processes and 127.0.0.x source addresses. Server memory per connection, login
 * rate, broadcast latency at that scale, and what the clients beyond the limit are told.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeRequest } from '../../src/protocol/index.js';
import { defaultConfig } from '../../src/server/default-config.js';
import { connectionsAllowed, fdReserve } from '../../src/server/fd-limit.js';
import { envInt, epochMs, openFileLimits, pick, progress, sleep } from '../lib/env.js';
import { LeanClient } from '../lib/lean-client.js';
import { keepalive } from '../lib/pool.js';
import { HarnessWorker } from '../lib/worker-pool.js';
import { timedBroadcast } from '../lib/fanout.js';
import { kib, table } from '../lib/report.js';
import type { Scenario } from '../lib/scenario.js';
import { BENCH_PASSWORD, memberName, seedMembers } from '../lib/seed.js';
import { ServerProcess, makeTempDir, readProcStatus } from '../lib/server.js';
import { fmt, fmtInt } from '../lib/stats.js';
import type { FromWorker, ToWorker } from './scale-worker.js';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scale-worker.ts');

/** A scale-worker child. */
class Worker extends HarnessWorker<ToWorker, FromWorker> {
  constructor(index: number) {
    super(index, WORKER, { type: 'close' });
  }
}

export const scale: Scenario = {
  name: 'scale',
  number: 5,
  title: 'Scenario 5 — connection scale: ~19,900 idle logged-in clients on one server process',
  async run(ctx) {
    const target = envInt('BENCH_SCALE_CLIENTS', pick(450, 19_900));
    const workers = envInt('BENCH_SCALE_WORKERS', pick(2, 5));
    // Small: --max-connections 400, so the refusal path is exercised with a few hundred clients.
    // Full: the server's own default cap.
    const maxConnections = process.env.BENCH_SCALE_MAX_CONNECTIONS
      ? Number(process.env.BENCH_SCALE_MAX_CONNECTIONS)
      : pick<number | undefined>(400, undefined);
    const broadcasts = envInt('BENCH_SCALE_BROADCASTS', pick(3, 5));
    const bodyChars = envInt('BENCH_BODY_CHARS', 512);
    const limits = openFileLimits();
    const dataDir = path.join(makeTempDir('scale'), 'data');
    progress('scale', `seeding ${target} members + 1 sender`);
    const names = await seedMembers(dataDir, target);
    await seedMembers(dataDir, 1, 's');
    const server = await ServerProcess.start({ label: 'scale', dataDir, cpuProfDir: ctx.profileDir, maxConnections });
    const pool: Worker[] = [];
    let sender: LeanClient | undefined;
    let stopKeepalive = (): void => undefined;
    const problems: string[] = [];
    try {
      await sleep(1000);
      const before = server.status()!;
      progress('scale', `server idle RSS ${kib(before.rssKiB)}`);
      // The sender connects first: once the server is full nobody else gets in.
      sender = await LeanClient.connect({ port: server.port, localAddress: '127.0.0.100' });
      const sl = await sender.login(memberName('s', 1), BENCH_PASSWORD);
      if (!sl.ok) throw new Error(`sender login failed: ${sl.code}`);
      // With real scrypt the logins take longer than the server's idle timeout (5 min): the sender
      // PINGs like every other client, or the server closes it and a worker's client takes its slot.
      stopKeepalive = keepalive(() => [sender]);
      const afterSender = server.status()!;

      for (let w = 0; w < workers; w++) pool.push(new Worker(w));
      const per = Math.ceil(target / workers);
      // Warm-up: the first logins grow the heap and scrypt's 16 MiB work areas (one per thread-pool
      // thread) once; the memory per connection is measured from after them (marginal cost).
      const warm = Math.min(envInt('BENCH_SCALE_WARM', 64), Math.floor(per / 2));
      const slices = pool.map((_, w) => names.slice(w * per, (w + 1) * per));
      const warmDone = pool[0]!.next('logged-in', 10 * 60_000);
      pool[0]!.send({ type: 'login', port: server.port, usernames: slices[0]!.slice(0, warm), password: BENCH_PASSWORD, localAddress: '127.0.0.20', concurrency: 8 });
      const warmed = await warmDone;
      await sleep(2000);
      const afterWarm = server.status()!;
      progress('scale', `warm-up: ${warmed.loggedIn} logged in; server RSS ${kib(afterWarm.rssKiB)}`);
      const cpu0 = server.cpuSeconds();
      const loginStart = performance.now();
      const loggedInSoFar = new Map<number, number>();
      let lastReport = 0;
      for (const wk of pool) {
        wk.on((m) => {
          if (m.type !== 'progress') return;
          loggedInSoFar.set(wk.index, m.loggedIn);
          const now = performance.now();
          if (now - lastReport > 10_000) {
            lastReport = now;
            const total = [...loggedInSoFar.values()].reduce((a, b) => a + b, 0);
            const st = readProcStatus(server.pid);
            progress('scale', `${total + warmed.loggedIn}/${target} logged in (${fmt(total / ((now - loginStart) / 1000), 0)}/s), server RSS ${st ? kib(st.rssKiB) : '?'}`);
          }
        });
      }
      const done = pool.map((wk) => wk.next('logged-in', 60 * 60_000));
      pool.forEach((wk, w) => wk.send({
        type: 'login', port: server.port, usernames: w === 0 ? slices[0]!.slice(warm) : slices[w]!, password: BENCH_PASSWORD,
        localAddress: `127.0.0.${20 + w}`, concurrency: 8,
      }));
      const logins = [...(await Promise.all(done)), warmed];
      const loginWallMs = performance.now() - loginStart;
      const loginCpu = server.cpuSeconds() - cpu0;
      const loggedIn = logins.reduce((a, m) => a + m.loggedIn, 0);
      const measuredLogins = loggedIn - warmed.loggedIn;
      const errors: Record<string, number> = {};
      for (const m of logins) for (const [k, v] of Object.entries(m.errors)) errors[k] = (errors[k] ?? 0) + v;
      progress('scale', `${loggedIn} logged in (${measuredLogins} in ${fmt(loginWallMs / 1000, 1)} s after the warm-up); refused/failed: ${JSON.stringify(errors)}`);
      await sleep(3000);
      const held = server.status()!;
      // Marginal memory per connection: growth after the warm-up ÷ the clients logged in after it.
      const rssPerConnKiB = (held.rssKiB - afterWarm.rssKiB) / measuredLogins;
      const rssPerConnTotalKiB = (held.rssKiB - afterSender.rssKiB) / loggedIn;
      const alive1 = server.alive;
      const ping = await sender.request('PING', {}, '');
      progress('scale', `server RSS ${kib(held.rssKiB)} holding ${loggedIn} (+1 sender): ${fmt(rssPerConnKiB * 1.024, 2)} KB per connection; server ${alive1 && ping.ok ? 'alive, answers PING' : 'NOT answering'}`);

      // Broadcasts to everybody, arrival times from every worker (wall clock, one machine).
      const shots: { lastMs: number; medianMs: number; firstMs: number; ackMs: number; received: number; expected: number }[] = [];
      for (let b = 0; b < broadcasts; b++) {
        const tag = `scale ${b}`;
        const body = 's'.repeat(bodyChars);
        const w = await timedBroadcast(pool, {
          tag,
          fire: () => new Promise((resolve) => {
            let t0 = 0;
            sender!.requestRaw((id) => {
              const line = encodeRequest(id, 'SEND', sender!.token, { all: 1, subject: tag, body }) + '\n';
              t0 = epochMs();
              return line;
            }, (reply) => {
              if (!reply.ok) problems.push(`broadcast ${b} refused: ${reply.code}`);
              resolve({ t0, replyAt: epochMs() });
            });
          }),
        });
        const shot = { ackMs: w.replyMs, firstMs: w.firstMs, medianMs: w.medianMs, lastMs: w.lastMs, received: w.received, expected: w.expected };
        shots.push(shot);
        progress('scale', `broadcast ${b + 1}/${broadcasts}: ${shot.received}/${shot.expected} popups, last after ${fmt(shot.lastMs)} ms (OK after ${fmt(shot.ackMs)} ms)`);
        if (shot.received < shot.expected) problems.push(`broadcast ${b}: ${shot.expected - shot.received} popups missing`);
        await sleep(1000);
      }
      const afterBroadcast = server.status()!;
      const statuses = await Promise.all(pool.map((wk) => { const p = wk.next('status'); wk.send({ type: 'status' }); return p; }));
      const stillOpen = statuses.reduce((a, s) => a + s.open, 0);
      const dropped: Record<string, number> = {};
      for (const s of statuses) for (const [k, v] of Object.entries(s.closedCodes)) dropped[k] = (dropped[k] ?? 0) + v;
      if (stillOpen < loggedIn) problems.push(`${loggedIn - stillOpen} logged-in clients were disconnected: ${JSON.stringify(dropped)}`);
      const refusedClearly = errors.TOO_MANY_REQUESTS ?? 0;
      const extra = target - loggedIn;
      const unclear = Object.entries(errors).filter(([k]) => k !== 'TOO_MANY_REQUESTS').reduce((a, [, v]) => a + v, 0);
      if (unclear > 0) problems.push(`${unclear} extra clients failed without the server's TOO_MANY_REQUESTS: ${JSON.stringify(errors)}`);
      const rssTargetOk = rssPerConnKiB * 1.024 <= 8;
      if (!rssTargetOk) problems.push(`target ≤ 8 KB server memory per connection: measured ${fmt(rssPerConnKiB * 1.024, 2)} KB`);
      if (loggedIn < 19_000 && target >= 19_900) problems.push(`held ${loggedIn} logged-in clients (target about 19,900)`);
      const warnings = server.warnings(10);
      const refusalLogged = warnings.some((l) => /full|TOO_MANY|maxConnections|connection limit/i.test(l));
      if (refusedClearly > 0 && !refusalLogged) problems.push('the server refused clients but wrote no log line about it (warn level)');
      const serverAlive = server.alive;
      const lastPing = await sender.request('PING', {}, '');
      if (!serverAlive || !lastPing.ok) problems.push('server not alive / not answering after the run');

      const md = `
How measured: one \`siar server\` child (${maxConnections === undefined ? 'the real CLI, default `maxConnections`: the open-files limit minus the server\'s reserve' : `siar server --max-connections ${maxConnections}, to reach the limit at small scale`};
default durability; log level warn), soft open-files limit raised to the hard limit (${limits.hard}) for
it and for the harness processes. ${target} members + 1 sender seeded. ${workers} harness child processes
each log in ${per} clients (8 connect+LOGIN in flight each) from their own source address
127.0.0.20–${20 + workers - 1}; the sender logs in first, from the parent. Memory: VmRSS from
/proc/<pid>/status: the marginal figure is VmRSS 3 s after the last login minus VmRSS after a warm-up of
the first logins (which grow the heap and scrypt's 16 MiB work areas once), divided by the clients
logged in after the warm-up; the overall figure divides all growth since the sender's login by all clients. Broadcast latency: \`SEND all=1\` (body ${bodyChars} characters) from the sender;
arrival times at every client on the machine's wall clock (performance.timeOrigin + now, one host).

${table(['measure', 'value'], [
        ['server connection cap', maxConnections !== undefined ? fmtInt(maxConnections) : `${fmtInt(connectionsAllowed(limits.hard, defaultConfig()))} (default: open-files limit ${fmtInt(limits.hard)} − reserve ${fdReserve(defaultConfig()).total})`],
        ['clients attempted', fmtInt(target)],
        ['logged in and held', fmtInt(loggedIn)],
        ['refused with TOO_MANY_REQUESTS (clear error)', fmtInt(refusedClearly)],
        ['other failures', unclear > 0 ? JSON.stringify(Object.fromEntries(Object.entries(errors).filter(([k]) => k !== 'TOO_MANY_REQUESTS'))) : '0'],
        ['extra clients beyond the limit', fmtInt(extra)],
        ['login phase wall time', `${fmt(loginWallMs / 1000, 1)} s`],
        ['login rate (after the warm-up)', `${fmt(measuredLogins / (loginWallMs / 1000), 1)} logins/s`],
        ['server CPU during logins', `${fmt(loginCpu, 1)} s (${fmt((loginCpu * 1000) / Math.max(1, measuredLogins), 1)} ms per login, scrypt included)`],
        ['server RSS idle / with sender / after warm-up / holding all', `${kib(before.rssKiB)} / ${kib(afterSender.rssKiB)} / ${kib(afterWarm.rssKiB)} (${warmed.loggedIn} clients) / ${kib(held.rssKiB)}`],
        ['server memory per connection, marginal (RSS growth after the warm-up ÷ clients after it)', `**${fmt(rssPerConnKiB * 1.024, 2)} KB** (${fmt(rssPerConnKiB, 2)} KiB)`],
        ['server memory per connection, overall (RSS growth since the sender ÷ all clients)', `${fmt(rssPerConnTotalKiB * 1.024, 2)} KB`],
        ['server RSS after the broadcasts / peak (VmHWM)', `${kib(afterBroadcast.rssKiB)} / ${kib(afterBroadcast.hwmKiB)}`],
        ['server threads', String(held.threads)],
        ['clients still connected at the end', fmtInt(stillOpen)],
        ['server alive and answering PING at the end', serverAlive && lastPing.ok ? 'yes' : 'NO'],
        ['server log lines at warn or above', fmtInt(server.warningCount())],
      ])}

Broadcast to all ${fmtInt(shots[0]?.expected ?? 0)} online clients (+ the offline seeded members, whose rows are stored):

${table(['broadcast', 'OK to sender ms', 'first popup ms', 'median popup ms', 'last popup ms', 'received / expected'], shots.map((s, i) => [
        String(i + 1), fmt(s.ackMs), fmt(s.firstMs), fmt(s.medianMs), fmt(s.lastMs), `${fmtInt(s.received)} / ${fmtInt(s.expected)}`,
      ]))}

${measuredLogins < 5000 ? `*With only ${measuredLogins} clients the RSS growth is within the heap's own swings (tens of MiB), so the per-connection figure means nothing here; it becomes meaningful at full scale.*\n\n` : ''}Targets (issue 8): about 19,900 concurrent logged-in clients — ${loggedIn >= 19_800 ? '**met**' : `**${fmtInt(loggedIn)} held**${maxConnections === undefined ? ' (the server\'s default cap: the open-files limit minus its reserve)' : ''}`};
≤ 8 KB server memory each — ${rssTargetOk ? '**met**' : '**missed**'} (${fmt(rssPerConnKiB * 1.024, 2)} KB).
Clients beyond the limit: ${refusedClearly} got \`TOO_MANY_REQUESTS\` (\`The server is full\`, or at LOGIN on the last slots, kept for the administrator)${unclear ? `, ${unclear} something else` : ''};
the server ${refusalLogged ? 'logged the refusals' : 'wrote **no log line** about the refusals'}.
${warnings.length ? `\nServer warnings (the first ${warnings.length}):\n\n\`\`\`\n${warnings.join('\n')}\n\`\`\`\n` : ''}`;
      return {
        scenario: 'scale', title: this.title, markdown: md, problems,
        data: {
          target, workers, maxConnections: maxConnections ?? 'default', loggedIn, errors, loginWallMs, loginCpuSeconds: loginCpu,
          rss: { idleKiB: before.rssKiB, withSenderKiB: afterSender.rssKiB, heldKiB: held.rssKiB, afterBroadcastKiB: afterBroadcast.rssKiB, hwmKiB: afterBroadcast.hwmKiB },
          rssPerConnectionKiB: rssPerConnKiB, rssPerConnectionOverallKiB: rssPerConnTotalKiB, warm: warmed.loggedIn, afterWarmKiB: afterWarm.rssKiB, shots, stillOpen, dropped, refusalLogged, warnings, openFileLimits: limits,
        },
      };
    } finally {
      stopKeepalive();
      sender?.close();
      await Promise.all(pool.map((wk) => wk.stop()));
      await server.stop();
    }
  },
};
