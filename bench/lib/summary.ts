/**
 * The headline table: every scenario's key figure for this scale, beside the seeds' figures and the
 * issue's targets, from whatever result JSON files exist (bench/results/summary[.small].md).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR, SCALE, progress } from './env.js';
import { machineLine, resultName, table } from './report.js';
import { fmt, fmtInt } from './stats.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

function load(scenario: string): Json | null {
  const file = path.join(RESULTS_DIR, resultName(scenario, 'json'));
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** Each scenario's load at its start, server commit and login cost: the figures carry them. */
function runConditions(results: Array<Json | null>): string {
  const parts = results.filter(Boolean).map((r: Json) => {
    const quiet = r.machine.quietBeforeStart;
    const busy = quiet ? `CPU ${fmt(quiet.cpuBusyPercent, 0)} %${quiet.settled ? '' : ' (never settled)'}` : '';
    const extras = [busy, r.serverCommit ? `server ${r.serverCommit}` : '', r.cheapHash ? 'cheap scrypt cost' : ''].filter(Boolean).join(', ');
    return `${r.scenario} ${fmt(r.machine.loadAverageAtStart[0], 1)}${extras ? ` (${extras})` : ''}`;
  });
  return `Load average (1 min) at the start of each scenario, on 2 cores, and where measured the CPU busy (both cores, every process) just before it: ${parts.join('; ')}.`;
}

const verdict = (ok: boolean | null): string => (ok === null ? '—' : ok ? 'met' : '**missed**');

export function writeSummary(): string | null {
  const qos = load('qos');
  const bc = load('broadcast');
  const du = load('durable');
  const at = load('attachments');
  const sc = load('scale');
  const la = load('latency');
  if (![qos, bc, du, at, sc, la].some(Boolean)) return null;
  const rows: string[][] = [];
  const level = (n: number): Json | undefined => qos?.data.levels.find((l: Json) => l.clients === n);
  const maxLevel: Json | undefined = qos ? qos.data.levels[qos.data.levels.length - 1] : undefined;
  const l500 = level(500);
  if (qos) {
    const anyLoss = qos.data.levels.some((l: Json) => l.lost > 0);
    rows.push(['Loss at 500 clients (1)', 'Pusher: 35.9 % uplink, 39.2 % downlink', l500 ? `${fmt(l500.lossPercent, 2)} % (${fmtInt(l500.lost)} of ${fmtInt(l500.acked)})` : 'not run', '0 at every level', verdict(!anyLoss)]);
    if (maxLevel && maxLevel.clients !== 500) {
      rows.push([`Loss at ${fmtInt(maxLevel.clients)} clients (1)`, '—', `${fmt(maxLevel.lossPercent, 2)} % (${fmtInt(maxLevel.lost)} of ${fmtInt(maxLevel.acked)})`, '0', verdict(maxLevel.lost === 0)]);
    }
    rows.push(['Delay at 500 clients, send → popup (1)', 'Pusher downlink: 89.8 ms (78–151 ms over 10–500 users)', l500 ? `mean ${fmt(l500.delay.mean)} ms, p50 ${fmt(l500.delay.p50)} ms, p99 ${fmt(l500.delay.p99)} ms` : 'not run', '—', '—']);
    rows.push(['Jitter at 500 clients (1)', 'Pusher downlink: 89.7 ms', l500 ? `${fmt(l500.jitterMs)} ms` : 'not run', '—', '—']);
    if (maxLevel && maxLevel.clients !== 500) rows.push([`Delay at ${fmtInt(maxLevel.clients)} clients (1)`, '—', `mean ${fmt(maxLevel.delay.mean)} ms, p99 ${fmt(maxLevel.delay.p99)} ms, jitter ${fmt(maxLevel.jitterMs)} ms; server ${fmt(maxLevel.serverCpuPercent, 0)} % CPU, ${fmt(maxLevel.serverRssKiB / 1024, 0)} MiB`, '—', '—']);
  }
  if (bc) {
    for (const s of bc.data.runs.filter((r: Json) => r.system === 'siar')) {
      const r = bc.data.runs.find((x: Json) => x.system === 'redis' && x.n === s.n);
      const ratio = r ? s.last.p99 / r.last.p99 : NaN;
      rows.push([`Broadcast to ${fmtInt(s.n)} online, last delivery p99 (2)`, 'Redis pub/sub (seed 002), same run', `${fmt(s.last.p99)} ms vs Redis ${r ? `${fmt(r.last.p99)} ms` : 'skipped'} = ${fmt(ratio, 2)}×`, '≤ 1.5× Redis (at 10,000)', Number.isFinite(ratio) && s.n >= 10_000 ? verdict(ratio <= 1.5) : '— (target is at 10,000)']);
    }
  }
  if (du) {
    const normal = du.data.runs.find((r: Json) => r.synchronous === 'NORMAL');
    const full = du.data.runs.find((r: Json) => r.synchronous === 'FULL');
    const fwd = du.data.forwarder;
    const alone = du.data.storeAlone?.find((r: Json) => r.synchronous === 'NORMAL');
    const ceiling = fwd && alone ? `; ceiling here: a do-nothing forwarder ${fmtInt(fwd.ackedPerSec)}, the store alone ${fmtInt(alone.messagesPerSec)}` : '';
    if (normal) rows.push(['Durable direct messages/s, 100 senders (3)', '—', `${fmtInt(normal.ackedPerSec)} (NORMAL), ${full ? fmtInt(full.ackedPerSec) : '—'} (FULL)${ceiling}`, '≥ 20,000 at default durability', verdict(normal.ackedPerSec >= 20_000)]);
  }
  if (at) {
    for (const what of [...new Set<string>(at.data.figures.map((f: Json) => f.what))]) {
      const raw = at.data.figures.find((f: Json) => f.what === what && f.system === 'raw TCP');
      const siar = at.data.figures.find((f: Json) => f.what === what && String(f.system).startsWith('siar'));
      rows.push([`Attachments: ${what} (4)`, '—', siar && raw ? `${fmt(siar.mibPerSec, 0)} MiB/s = ${fmt((siar.mibPerSec / raw.mibPerSec) * 100, 0)} % of raw TCP (${fmt(raw.mibPerSec, 0)})` : `raw TCP ${raw ? fmt(raw.mibPerSec, 0) : '—'} MiB/s; shadow socket pending`, '≥ 80 % of raw TCP', siar && raw ? verdict(siar.mibPerSec / raw.mibPerSec >= 0.8) : '—']);
    }
  }
  if (sc) {
    const d = sc.data;
    const big = d.loggedIn >= 5000;
    rows.push(['Concurrent logged-in clients, one process (5)', 'seed 001 cites 1,015 for a comparable server', `${fmtInt(d.loggedIn)} held of ${fmtInt(d.target)} attempted; ${fmtInt(d.errors.TOO_MANY_REQUESTS ?? 0)} refused with TOO_MANY_REQUESTS`, 'about 19,900', d.target >= 19_000 ? verdict(d.loggedIn >= 19_800) : '— (small N)']);
    rows.push(['Server memory per connection (5)', '—', big ? `${fmt(d.rssPerConnectionKiB * 1.024, 2)} KB` : 'not meaningful below 5,000 clients (heap noise)', '≤ 8 KB', big ? verdict(d.rssPerConnectionKiB * 1.024 <= 8) : '—']);
    const lastShot = d.shots[d.shots.length - 1];
    rows.push(['Login rate; broadcast at scale (5)', '—', `${fmt((d.loggedIn - (d.warm ?? 0)) / (d.loginWallMs / 1000), 1)} logins/s${sc.cheapHash ? ' (cheap scrypt cost: not siar\'s login rate)' : ''}; broadcast to ${fmtInt(lastShot?.expected ?? 0)}: last popup after ${fmt(lastShot?.lastMs ?? NaN)} ms`, '—', '—']);
  }
  if (la) {
    const d = la.data;
    rows.push([`Direct latency, ${fmtInt(d.clients)} clients at ${fmtInt(d.offeredRate)} msg/s (6)`, 'seed 001: ≈ 0.1 s per notification', `p50 ${fmt(d.delay.p50)} ms, p99 ${fmt(d.delay.p99)} ms, lost ${fmtInt(d.lost)}`, 'p50 ≤ 1 ms, p99 ≤ 5 ms', verdict(d.delay.p50 <= 1 && d.delay.p99 <= 5)]);
  }
  const machine = (qos ?? bc ?? du ?? at ?? sc ?? la).machine;
  const banner = SCALE === 'small'
    ? '> **SMALL SCALE, MACHINE SHARED.** Reduced N and sizes, other work competing for the two cores: these check the harness, they are not the figures to quote.\n\n'
    : '';
  const md = `# siar benchmarks — headline (${SCALE} scale)

${banner}Machine: ${machineLine(machine)}. Numbers in brackets are issue 8's scenarios; details in each scenario's file.

${runConditions([qos, bc, du, at, sc, la])}

${table(['measure', 'seed figure', 'siar (this run)', 'target', SCALE === 'small' ? 'verdict (small run: indicative only)' : 'verdict'], rows, ['l', 'l', 'l', 'l', 'l'])}
`;
  const file = path.join(RESULTS_DIR, resultName('summary', 'md'));
  writeFileSync(file, md);
  progress('bench', `wrote ${path.relative(process.cwd(), file)}`);
  updateReadme(md);
  return file;
}

/**
 * Puts the headline into bench/README.md between its markers: a full run's always, a small run's
 * only while no full summary exists. Not for results moved elsewhere (BENCH_RESULTS_DIR).
 */
function updateReadme(summaryMd: string): void {
  if (process.env.BENCH_RESULTS_DIR) return;
  if (SCALE === 'small' && existsSync(path.join(RESULTS_DIR, 'summary.md'))) return;
  const readme = path.join(RESULTS_DIR, '..', 'README.md');
  if (!existsSync(readme)) return;
  const text = readFileSync(readme, 'utf8');
  const start = '<!-- headline:start -->';
  const end = '<!-- headline:end -->';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i === -1 || j < i) return;
  const body = summaryMd.replace(/^# .*\n+/, '').trim();
  writeFileSync(readme, `${text.slice(0, i + start.length)}\n${body}\n${text.slice(j)}`);
  progress('bench', 'updated the headline in bench/README.md');
}
