/**
 * Scenario 7 — profile: the broadcast, durable-throughput and direct-latency workloads again with
 * the server under `node --cpu-prof`, and each profile summarised (top self time, top inclusive
 * time, time by area). `npm run bench -- --profile` profiles the servers of any other scenario too.
 */
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR, SCALE, envInt, pick, progress } from '../lib/env.js';
import { summarizeProfile, type FunctionTime, type ProfileSummary } from '../lib/profile.js';
import { table } from '../lib/report.js';
import type { Scenario } from '../lib/scenario.js';
import { fmt } from '../lib/stats.js';
import { siarFanout } from './broadcast.js';
import { runDurable } from './durable.js';
import { latencyRun } from './latency.js';

function fnTable(list: FunctionTime[], withWhere = true): string {
  return table(withWhere ? ['function', 'where', 'ms', '% of busy'] : ['area', 'ms', '% of busy'],
    list.map((e) => (withWhere ? [`\`${e.fn}\``, `\`${e.where}\``, fmt(e.ms, 0), fmt(e.percent, 1)] : [e.fn, fmt(e.ms, 0), fmt(e.percent, 1)])));
}

function section(title: string, how: string, s: ProfileSummary | null, figure: string): string {
  if (!s) return `## ${title}\n\n${how}\n\nNo profile was written (the server did not exit cleanly?).\n`;
  return `## ${title}

${how}

${figure}

Profile \`${path.relative(process.cwd(), s.file)}\`, main thread, measured phase only: ${fmt(s.totalMs / 1000, 1)} s sampled,
${fmt(s.busyMs / 1000, 1)} s busy (${fmt((s.busyMs / s.totalMs) * 100, 0)} % of one core), garbage collector ${fmt(s.gcMs, 0)} ms.

### Time by area (self time)

${fnTable(s.byArea, false)}

### Top functions by self time

${fnTable(s.topSelf)}

### Top functions by inclusive time (each function once per sample)

${fnTable(s.topInclusive)}
`;
}

export const profile: Scenario = {
  name: 'profile',
  number: 7,
  title: 'Scenario 7 — server CPU profiles of the broadcast, throughput and latency workloads',
  async run(ctx) {
    const dir = ctx.profileDir ?? path.join(RESULTS_DIR, 'profiles', SCALE);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(RESULTS_DIR, 'profiles', '.gitignore'), '*\n');
    const n = envInt('BENCH_PROFILE_BROADCAST_N', pick(500, 5_000));
    const broadcasts = envInt('BENCH_PROFILE_BROADCASTS', pick(5, 10));
    const bodyChars = envInt('BENCH_BODY_CHARS', 512);
    progress('profile', `broadcast to ${n} under --cpu-prof`);
    const b = await siarFanout({ n, broadcasts, warmup: 1, bodyChars, cpuProfDir: dir, label: 'profile-broadcast' });
    const seconds = envInt('BENCH_PROFILE_SECONDS', pick(5, 15));
    progress('profile', `durable throughput (NORMAL) ${seconds} s under --cpu-prof`);
    const d = await runDurable({ synchronous: 'NORMAL', senders: 100, window: 1, durationMs: seconds * 1000, warmupMs: 1000, bodyChars, cpuProfDir: dir, label: 'profile-durable' });
    const ln = envInt('BENCH_PROFILE_LATENCY_CLIENTS', pick(500, 1000));
    progress('profile', `direct latency ${ln} clients ${ln} msg/s ${seconds} s under --cpu-prof`);
    const l = await latencyRun({ n: ln, rate: ln, durationMs: seconds * 1000, warmupMs: 0, bodyChars, cpuProfDir: dir, label: 'profile-latency' });
    // The broadcast run's profile: siarFanout stops its server; find the file it left.
    const find = (prefix: string): string | null => {
      const subs = readdirSync(dir).filter((f) => f.startsWith(`${prefix}-`))
        .sort((a, x) => statSync(path.join(dir, x)).mtimeMs - statSync(path.join(dir, a)).mtimeMs); // newest first
      for (const sub of subs) {
        const files = readdirSync(path.join(dir, sub)).filter((f) => f.endsWith('.cpuprofile')).sort();
        if (files[0]) return path.join(dir, sub, files[0]);
      }
      return null;
    };
    const bp = find('profile-broadcast');
    const dp = d.profile ?? find('profile-durable');
    const lp = l.profile ?? find('profile-latency');
    // Only the measured phase of each run counts (not start-up, module loading or the logins).
    const sb = bp ? summarizeProfile(bp, { window: b.profileWindow }) : null;
    const sd = dp ? summarizeProfile(dp, { window: d.profileWindow }) : null;
    const sl = lp ? summarizeProfile(lp, { window: l.profileWindow }) : null;
    const md = `
How measured: the same harness as scenarios 2, 3 and 6, the server started as
\`node --cpu-prof --cpu-prof-dir=… bin/siar.js server …\`; V8 writes the profile when the server exits
on SIGTERM. Self time = sampled time in the function itself; "% of busy" is of the non-idle samples.
Sources are TypeScript loaded through tsx, so line numbers are of the transformed code.

${section(`Broadcast: SEND all=1 to ${b.n} online clients`, `${broadcasts} broadcasts (+1 warm-up), body ${bodyChars} characters.`, sb,
      `Last delivery p50 ${fmt(b.last.p50)} ms, p99 ${fmt(b.last.p99)} ms; server CPU ${fmt(b.serverCpuMsPerBroadcast, 1)} ms per broadcast.`)}
${section('Durable throughput: 100 senders, closed loop, synchronous=NORMAL', `${seconds} s measured (+1 s warm-up).`, sd,
      `${fmt(d.ackedPerSec, 0)} durable msg/s; ack p50 ${fmt(d.ack.p50)} ms, p99 ${fmt(d.ack.p99)} ms.`)}
${section(`Direct latency: ${l.clients} clients, ${ln} msg/s`, `${seconds} s, open loop.`, sl,
      `Delay p50 ${fmt(l.delay.p50)} ms, p99 ${fmt(l.delay.p99)} ms; server CPU ${fmt(l.serverCpuPercent, 0)} %.`)}
`;
    return {
      scenario: 'profile', title: this.title, markdown: md,
      data: { broadcast: { run: b, summary: sb }, durable: { run: d, summary: sd }, latency: { run: l, summary: sl } },
    };
  },
};
