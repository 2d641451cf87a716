/**
 * siar benchmarks (issue 8). `npm run bench` runs every scenario; `npm run bench -- NAME…` some.
 *   BENCH_SCALE=small|full   (default full) — small validates the harness with small N and sizes
 *   --profile                every server started gets --cpu-prof; profiles summarised in bench/results/
 *   --list                   the scenarios
 * Results: bench/results/<scenario>.md/.json (.small.md/.json at small scale). See bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR, SCALE, machineInfo, openFileLimits, progress, waitForQuiet } from './lib/env.js';
import { summarizeProfile } from './lib/profile.js';
import { table, writeResult } from './lib/report.js';
import { fmt } from './lib/stats.js';
import { writeSummary } from './lib/summary.js';
import type { Scenario } from './lib/scenario.js';
import { attachments } from './scenarios/attachments.js';
import { broadcast } from './scenarios/broadcast.js';
import { cluster } from './scenarios/cluster.js';
import { durable } from './scenarios/durable.js';
import { latency } from './scenarios/latency.js';
import { profile } from './scenarios/profile.js';
import { qos } from './scenarios/qos.js';
import { scale } from './scenarios/scale.js';
import { soak } from './scenarios/soak.js';

// The harness holds up to ~10,000 sockets in one process: raise the soft open-files limit to the
// hard one by re-running through a shell that does so.
const limits = openFileLimits();
if (process.env.BENCH_REEXEC !== '1' && limits.soft < Math.min(limits.hard, 20_000)) {
  const r = spawnSync('sh', ['-c', 'ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit', env: { ...process.env, BENCH_REEXEC: '1' },
  });
  process.exit(r.status ?? 1);
}

const SCENARIOS: Scenario[] = [qos, broadcast, durable, attachments, scale, latency, profile, soak, cluster];

const args = process.argv.slice(2);
if (args.includes('--list') || args.includes('--help')) {
  for (const s of SCENARIOS) process.stdout.write(`${s.number}  ${s.name.padEnd(12)} ${s.title}\n`);
  process.exit(0);
}
const wanted = args.filter((a) => !a.startsWith('--'));
const chosen = wanted.length === 0
  ? SCENARIOS
  : wanted.map((w) => {
    const s = SCENARIOS.find((x) => x.name === w || String(x.number) === w);
    if (!s) {
      process.stderr.write(`unknown scenario "${w}"; one of: ${SCENARIOS.map((x) => x.name).join(', ')}\n`);
      process.exit(2);
    }
    return s;
  });
const profileDir = args.includes('--profile') ? path.join(RESULTS_DIR, 'profiles', SCALE) : undefined;
if (profileDir) mkdirSync(profileDir, { recursive: true });

const m = machineInfo();
progress('bench', `scale ${SCALE}; ${m.cores} × ${m.cpu}; load ${m.loadAverageAtStart.join(' ')}; scenarios: ${chosen.map((s) => s.name).join(', ')}`);
const summary: { scenario: string; ok: boolean; seconds: number; problems: string[] }[] = [];
for (const s of chosen) {
  // Full-scale figures are for quoting: each scenario starts on a machine the previous one has left.
  const quiet = SCALE === 'full' ? await waitForQuiet() : null;
  if (quiet) progress('bench', `machine ${quiet.settled ? 'quiet' : 'STILL BUSY'}: CPU ${quiet.cpuBusyPercent} % busy after ${quiet.waitedSeconds} s`);
  const machine = machineInfo(quiet);
  const t0 = performance.now();
  progress('bench', `── ${s.number} ${s.name}: ${s.title}`);
  const profilesBefore = new Set(profileDir && existsSync(profileDir) ? readdirSync(profileDir) : []);
  try {
    const result = await s.run({ profileDir });
    writeResult(result, machine);
    if (profileDir && s.name !== 'profile') summarizeNewProfiles(s.name, profilesBefore);
    summary.push({ scenario: s.name, ok: true, seconds: (performance.now() - t0) / 1000, problems: result.problems ?? [] });
  } catch (err) {
    progress('bench', `${s.name} FAILED: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    summary.push({ scenario: s.name, ok: false, seconds: (performance.now() - t0) / 1000, problems: [String(err)] });
  }
}
/** With --profile: a summary (whole server life, top self time) of every profile a scenario left. */
function summarizeNewProfiles(scenario: string, before: Set<string>): void {
  if (!profileDir) return;
  const parts: string[] = [`# Server CPU profiles of scenario ${scenario} (${SCALE} scale, whole server life: start-up and logins included)\n`];
  for (const sub of readdirSync(profileDir).filter((d) => !before.has(d) && statSync(path.join(profileDir, d)).isDirectory())) {
    const file = readdirSync(path.join(profileDir, sub)).filter((f) => f.endsWith('.cpuprofile')).sort()[0];
    if (!file) continue;
    const sum = summarizeProfile(path.join(profileDir, sub, file), { top: 15 });
    parts.push(`## ${sub}\n\n${fmt(sum.busyMs / 1000, 1)} s busy of ${fmt(sum.totalMs / 1000, 1)} s; GC ${fmt(sum.gcMs, 0)} ms.\n\n` +
      table(['function', 'where', 'self ms', '% of busy'], sum.topSelf.map((e) => [`\`${e.fn}\``, `\`${e.where}\``, fmt(e.ms, 0), fmt(e.percent, 1)])) + '\n');
  }
  const out = path.join(profileDir, `${scenario}-summary.md`);
  writeFileSync(out, parts.join('\n'));
  progress('bench', `profile summary ${path.relative(process.cwd(), out)}`);
}

writeSummary();
progress('bench', 'summary:');
for (const s of summary) {
  progress('bench', `  ${s.ok ? 'ok  ' : 'FAIL'} ${s.scenario.padEnd(12)} ${s.seconds.toFixed(0).padStart(5)} s${s.problems.length ? `  — ${s.problems.join('; ')}` : ''}`);
}
process.exitCode = summary.every((s) => s.ok) ? 0 : 1;
