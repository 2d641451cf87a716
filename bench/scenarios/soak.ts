/**
 * Soak (issue 7 §8): at least ten minutes of mixed load against one `siar server` process —
 * direct messages, broadcasts, messages with attachments uploaded (and some downloaded) over
 * shadow sockets, members logging in and out, and connections sending bad frames — while the
 * server's RSS, open file descriptors (/proc/PID/fd) and live shadow listeners (admin STATS) are
 * sampled every few seconds. The verdict: do they stay flat, and do they return to their idle
 * level once the load stops?
 *
 *   BENCH_SOAK_SECONDS         load duration (default 600; 60 at BENCH_SCALE=small)
 *   BENCH_SOAK_SENDERS         members sending in closed loops (default 30)
 *   BENCH_SOAK_SAMPLE_SECONDS  sampling interval (default 5)
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { SiarClient } from '../../src/client/connection.js';
import { declareFile, downloadAttachment, encodeDeclaration, uploadFile, type LocalFile } from '../../src/client/transfer.js';
import { decodeAttachment, type AttachmentInfo } from '../../src/protocol/index.js';
import { adminSession } from '../lib/admin.js';
import { envInt, pick, progress, sleep } from '../lib/env.js';
import { kib, resultName, table } from '../lib/report.js';
import type { Scenario } from '../lib/scenario.js';
import { BENCH_PASSWORD, seedMembers } from '../lib/seed.js';
import { ServerProcess, makeTempDir } from '../lib/server.js';
import { fmt, fmtInt, rng } from '../lib/stats.js';
import { lineChart } from '../lib/svg.js';

interface Sample {
  /** Seconds since the load started (negative: before it). */
  t: number;
  phase: 'idle' | 'load' | 'after';
  rssKiB: number;
  fds: number;
  listeners: number;
  transfers: number;
  connections: number;
}

interface Counters {
  direct: number;
  broadcasts: number;
  withAttachments: number;
  uploads: number;
  downloads: number;
  reads: number;
  logins: number;
  badFrames: number;
  badReplies: number;
  popups: number;
  errors: Record<string, number>;
}

const BAD_FRAMES: Buffer[] = [
  Buffer.from('no bars at all\n'),
  Buffer.from('1|BOGUS\n'),
  Buffer.from('2|PING||not-a-pair\n'),
  Buffer.from('3|INBOX|\\x\n'),
  Buffer.from([0x34, 0x7c, 0x50, 0x49, 0x4e, 0x47, 0xff, 0xfe, 0x0a]), // invalid UTF-8
  Buffer.from('5|SEND|bad-token|to=m00001|subject=x\n'),
  Buffer.from('|||\n'),
];

export const soak: Scenario = {
  name: 'soak',
  number: 9,
  title: 'Soak — at least ten minutes of mixed load: RSS, open files and shadow listeners over time',
  async run() {
    const seconds = envInt('BENCH_SOAK_SECONDS', pick(60, 600));
    const senders = envInt('BENCH_SOAK_SENDERS', 30);
    const churners = 2;
    const sampleMs = envInt('BENCH_SOAK_SAMPLE_SECONDS', 5) * 1000;
    const root = makeTempDir('soak');
    const dataDir = path.join(root, 'data');
    const names = await seedMembers(dataDir, senders + churners * 4);
    const senderNames = names.slice(0, senders);
    const churnNames = names.slice(senders);
    const files = await filePool(root, 8);
    const server = await ServerProcess.start({ label: 'soak', dataDir });
    const random = rng(20261126);
    const counters: Counters = { direct: 0, broadcasts: 0, withAttachments: 0, uploads: 0, downloads: 0, reads: 0, logins: 0, badFrames: 0, badReplies: 0, popups: 0, errors: {} };
    const fail = (code: string): void => { counters.errors[code] = (counters.errors[code] ?? 0) + 1; };
    const samples: Sample[] = [];
    const clients: SiarClient[] = [];
    let admin: SiarClient | undefined;
    try {
      admin = await adminSession(server.port, dataDir);
      for (const username of senderNames) {
        const c = await SiarClient.connect({ host: '127.0.0.1', port: server.port, requestTimeoutMs: 120_000 });
        c.on('push', (event) => { if (event === 'POPUP') counters.popups++; });
        await c.login(username, BENCH_PASSWORD);
        clients.push(c);
      }
      const t0 = performance.now();
      const sample = async (phase: Sample['phase']): Promise<Sample> => {
        const stats = (await admin!.request('STATS', { minutes: 1 })).args;
        const s: Sample = {
          t: Math.round((performance.now() - t0) / 100) / 10, phase, rssKiB: server.status()?.rssKiB ?? NaN, fds: openFds(server.pid),
          listeners: Number(stats.get('liveListeners')), transfers: Number(stats.get('transfers')), connections: Number(stats.get('connections')),
        };
        samples.push(s);
        return s;
      };
      const idle = await sample('idle');
      progress('soak', `idle with ${senders} members online: RSS ${kib(idle.rssKiB)}, ${idle.fds} fds; ${seconds} s of load follow`);

      let running = true;
      // Direct messages must pop up at their (always online) recipients: counted to prove nothing was lost.
      const directExpected = { popups: 0 };
      const workers: Promise<void>[] = [];
      clients.forEach((c, i) => workers.push((async () => {
        const me = senderNames[i]!;
        const others = senderNames.filter((u) => u !== me);
        const downloads = path.join(root, `dl-${i}`);
        while (running) {
          const roll = random();
          try {
            if (roll < 0.75) {
              const to = pickSome(others, 1 + Math.floor(random() * 3), random);
              await c.request('SEND', { to, subject: `soak ${me}`, body: 'x'.repeat(Math.floor(random() * 2000)) });
              counters.direct++;
              directExpected.popups += to.length;
            } else if (roll < 0.77) {
              await c.request('SEND', { all: 1, subject: `soak broadcast ${me}`, body: 'to everyone' });
              counters.broadcasts++;
            } else if (roll < 0.9) {
              await sendWithAttachments(c, pickSome(others, 1, random), pickSome(files, 1 + Math.floor(random() * 2), random), downloads, random, counters);
            } else {
              await c.request(random() < 0.5 ? 'INBOX' : 'OUTBOX', { limit: 20 });
              counters.reads++;
            }
          } catch (err) {
            fail(codeOf(err));
          }
          await sleep(50 + Math.floor(random() * 200));
        }
      })()));
      for (let w = 0; w < churners; w++) {
        workers.push((async () => {
          while (running) {
            const username = churnNames[Math.floor(random() * churnNames.length)]!;
            try {
              const c = await SiarClient.connect({ host: '127.0.0.1', port: server.port });
              try {
                await c.login(username, BENCH_PASSWORD);
                counters.logins++;
                await c.request('INBOX', { limit: 20 });
                await c.request('LOGOUT');
              } finally {
                await c.close();
              }
            } catch (err) {
              fail(codeOf(err));
            }
            await sleep(300 + Math.floor(random() * 400));
          }
        })());
      }
      workers.push((async () => {
        while (running) {
          try {
            const r = await badFrameSession(server.port, random);
            counters.badFrames += r.sent;
            counters.badReplies += r.errors;
          } catch (err) {
            fail(codeOf(err));
          }
          await sleep(200 + Math.floor(random() * 300));
        }
      })());

      const end = t0 + seconds * 1000;
      let nextReport = t0 + 60_000;
      while (performance.now() < end) {
        await sleep(Math.min(sampleMs, Math.max(0, end - performance.now())));
        const s = await sample('load');
        if (performance.now() >= nextReport) {
          nextReport += 60_000;
          progress('soak', `${fmt(s.t, 0)} s: RSS ${kib(s.rssKiB)}, ${s.fds} fds, ${s.listeners} listeners, ${s.connections} connections; ` +
            `${counters.direct} direct, ${counters.uploads} uploads, ${counters.logins} logins, ${counters.badFrames} bad frames`);
        }
      }
      running = false;
      await Promise.all(workers);
      // Quiet again: the listeners close, the popups of the last sends arrive.
      const quietBy = performance.now() + 30_000;
      while (performance.now() < quietBy) {
        const s = await sample('after');
        if (s.listeners === 0 && counters.popups >= directExpected.popups) break;
        await sleep(500);
      }
      await sleep(2000);
      const after = await sample('after');
      const lostPopups = Math.max(0, directExpected.popups - counters.popups);
      return report({ seconds, senders, churners, sampleMs, samples, idle, after, counters, directPopups: directExpected.popups, lostPopups, warnings: server.warnings(10) });
    } finally {
      for (const c of clients) await c.close();
      await admin?.close();
      await server.stop();
      rmSync(root, { recursive: true, force: true });
    }
  },
};

/** One SEND with attachments, each uploaded over its shadow listener; every other one downloaded back. */
async function sendWithAttachments(c: SiarClient, to: string[], chosen: LocalFile[], dir: string, random: () => number, counters: Counters): Promise<void> {
  const reply = await c.request('SEND', { to, subject: 'soak with attachments', body: 'see the files', attach: chosen.map(encodeDeclaration) });
  counters.withAttachments++;
  const id = Number(reply.args.get('id'));
  const declared = reply.args.getAll('attachment').map(decodeAttachment).filter((a): a is AttachmentInfo => a !== null);
  for (const a of declared) {
    const file = chosen.find((f) => f.name === a.name)!;
    await uploadFile(c, { messageId: id, attachmentId: a.id, path: file.path });
    counters.uploads++;
  }
  if (random() < 0.5 && declared[0]) {
    const got = await downloadAttachment(c, { messageId: id, attachmentId: declared[0].id, dir });
    counters.downloads++;
    rmSync(got.path, { force: true });
  }
}

/** A connection that sends a few bad frames (never the 10 that close it), reads the errors, and goes. */
async function badFrameSession(port: number, random: () => number): Promise<{ sent: number; errors: number }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  let text = '';
  socket.on('data', (d: Buffer) => { text += d.toString('latin1'); });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const n = 1 + Math.floor(random() * 6);
  for (let i = 0; i < n; i++) socket.write(BAD_FRAMES[Math.floor(random() * BAD_FRAMES.length)]!);
  // Each bad frame is answered with one ERR line; the greeting is one more line.
  const deadline = Date.now() + 30_000;
  while (text.split('\n').length - 1 < n + 1 && Date.now() < deadline && !socket.destroyed) await sleep(20);
  const errors = text.split('\n').filter((l) => l.includes('|ERR|')).length;
  socket.destroy();
  return { sent: n, errors };
}

async function filePool(root: string, count: number): Promise<LocalFile[]> {
  const out: LocalFile[] = [];
  for (let i = 0; i < count; i++) {
    const file = path.join(root, `soak-${i}.bin`);
    writeFileSync(file, randomBytes(4096 * 2 ** (i % 9)));
    out.push(await declareFile(file));
  }
  return out;
}

function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

function pickSome<T>(from: readonly T[], n: number, random: () => number): T[] {
  const pool = [...from];
  const out: T[] = [];
  while (out.length < n && pool.length > 0) out.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
  return out;
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : err instanceof Error ? err.message.slice(0, 60) : String(err);
}

// --- the verdict ---------------------------------------------------------------------------------

interface Trend {
  /** Median of the first, the middle and the last fifth of the load samples after the warm-up. */
  early: number;
  middle: number;
  late: number;
  /** Least-squares slope over the load samples after the warm-up, per minute. */
  slopePerMin: number;
  max: number;
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
}

function trend(samples: Sample[], value: (s: Sample) => number): Trend {
  const load = samples.filter((s) => s.phase === 'load');
  // The first fifth (at least one minute when there is time for it) is the warm-up: caches fill, the heap settles.
  const warm = load.filter((s) => s.t >= Math.min(60, load.at(-1)!.t / 5));
  const fifth = Math.max(1, Math.floor(warm.length / 5));
  const xs = warm.map((s) => s.t / 60);
  const ys = warm.map(value);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  const sxy = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0);
  const sxx = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  return {
    early: median(ys.slice(0, fifth)), middle: median(ys.slice(2 * fifth, 3 * fifth)), late: median(ys.slice(-fifth)), slopePerMin: sxx > 0 ? sxy / sxx : 0, max: Math.max(...load.map(value)),
  };
}

/** Medians of the load samples in consecutive windows of `seconds`. */
function windows(samples: Sample[], seconds: number): Array<{ from: number; to: number; rssKiB: number; fds: number; listeners: number; connections: number }> {
  const load = samples.filter((s) => s.phase === 'load');
  const out = [];
  for (let from = 0; from < (load.at(-1)?.t ?? 0); from += seconds) {
    const w = load.filter((s) => s.t >= from && s.t < from + seconds);
    if (w.length === 0) continue;
    out.push({
      from, to: from + seconds, rssKiB: median(w.map((s) => s.rssKiB)), fds: median(w.map((s) => s.fds)),
      listeners: median(w.map((s) => s.listeners)), connections: median(w.map((s) => s.connections)),
    });
  }
  return out;
}

function report(r: {
  seconds: number; senders: number; churners: number; sampleMs: number; samples: Sample[]; idle: Sample; after: Sample;
  counters: Counters; directPopups: number; lostPopups: number; warnings: string[];
}) {
  const rss = trend(r.samples, (s) => s.rssKiB);
  const fds = trend(r.samples, (s) => s.fds);
  const listeners = trend(r.samples, (s) => s.listeners);
  const c = r.counters;
  const problems: string[] = [];
  // Flat: RSS not still growing — the late level within 10 % of the early one, or, for a level that
  // stepped up and then held (the heap settling after the warm-up), within 5 % of the middle one;
  // a leak grows through both halves. And fds back to idle once the load stops.
  const rssGrowth = (rss.late - rss.early) / rss.early;
  const rssLateGrowth = (rss.late - rss.middle) / rss.middle;
  if (rssGrowth > 0.1 && rssLateGrowth > 0.05) {
    problems.push(`RSS grew ${fmt(rssGrowth * 100, 0)} % from the early to the late samples (${kib(rss.early)} → ${kib(rss.late)}), ${fmt(rssLateGrowth * 100, 0)} % of it in the second half`);
  }
  if (r.after.fds > r.idle.fds + 2) problems.push(`open fds ${r.after.fds} after the load, ${r.idle.fds} before it`);
  if (r.after.listeners !== 0) problems.push(`${r.after.listeners} shadow listeners still live after the load`);
  if (r.lostPopups > 0) problems.push(`${r.lostPopups} popups of acknowledged direct messages never arrived`);
  const unexpected = Object.entries(c.errors).filter(([code]) => code !== 'TRANSFER_BUSY');
  if (unexpected.length > 0) problems.push(`errors: ${unexpected.map(([k, v]) => `${k} ×${v}`).join(', ')}`);
  if (c.badReplies < c.badFrames) problems.push(`${c.badFrames - c.badReplies} bad frames got no error reply`);
  const flat = problems.length === 0;
  const minutes = r.seconds / 60;
  const svg = lineChart({
    title: 'siar soak: server RSS, open files and shadow listeners',
    subtitle: `${fmt(minutes, 0)} min mixed load; sampled every ${r.sampleMs / 1000} s`,
    xLabel: 'seconds since the load started', yLabel: 'MiB / count',
    series: [
      { name: 'RSS (MiB)', color: '#1f77b4', points: r.samples.map((s) => [s.t, s.rssKiB / 1024]) },
      { name: 'open fds', color: '#d62728', points: r.samples.map((s) => [s.t, s.fds]) },
      { name: 'shadow listeners', color: '#2ca02c', points: r.samples.map((s) => [s.t, s.listeners]) },
      { name: 'connections', color: '#9467bd', dashed: true, points: r.samples.map((s) => [s.t, s.connections]) },
    ],
  });
  const perSec = (n: number): string => fmt(n / r.seconds, 1);
  const md = `
How measured: one \`siar server\` child (log level warn, fresh database). ${r.senders} members stay logged in and
run closed loops with a 50–250 ms pause: 75 % direct messages to 1–3 others (body up to 2,000
characters), 2 % broadcasts to every member, 13 % messages with 1–2 attachments (4 KiB – 1 MiB)
uploaded over shadow sockets, half of them downloaded back, 10 % INBOX/OUTBOX reads. ${r.churners} more
workers log members in and out (connect, LOGIN, INBOX, LOGOUT, close) and one opens connections that
send 1–6 bad frames each (garbage, unknown commands, bad escapes, invalid UTF-8, bad tokens).
Every ${r.sampleMs / 1000} s: VmRSS (/proc/PID/status), open descriptors (/proc/PID/fd) and the live shadow
listeners, transfers and connections from admin \`STATS\`. The first minute (or fifth) of the load is the
warm-up; *early*, *middle* and *late* are the medians of the first, middle and last fifth of the rest.
Flat means RSS is not still growing: late within 10 % of early, or (a level that stepped up once and
held) within 5 % of middle; open files and listeners back to their idle level after the load.

**Verdict: ${flat ? 'flat** — RSS, open files and listeners level off under load and return to their idle level afterwards.' : `not flat** — ${problems.join('; ')}.`}

${table(['gauge', 'idle before', 'early', 'middle', 'late', 'slope / min', 'max under load', 'after the load'], [
    ['RSS', kib(r.idle.rssKiB), kib(rss.early), kib(rss.middle), kib(rss.late), `${fmt(rss.slopePerMin / 1024, 2)} MiB`, kib(rss.max), kib(r.after.rssKiB)],
    ['open fds', r.idle.fds, fmt(fds.early, 0), fmt(fds.middle, 0), fmt(fds.late, 0), fmt(fds.slopePerMin, 2), fds.max, r.after.fds],
    ['shadow listeners', r.idle.listeners, fmt(listeners.early, 0), fmt(listeners.middle, 0), fmt(listeners.late, 0), fmt(listeners.slopePerMin, 3), listeners.max, r.after.listeners],
  ])}

Medians per window of the load, to see where a level settles:

${table(['window (s)', 'RSS', 'open fds', 'shadow listeners', 'connections'], windows(r.samples, Math.max(60, r.seconds / 10)).map((w) => [
    `${fmt(w.from, 0)}–${fmt(w.to, 0)}`, kib(w.rssKiB), fmt(w.fds, 0), fmt(w.listeners, 0), fmt(w.connections, 0),
  ]))}

${table([`load (${fmt(minutes, 1)} min)`, 'count', 'per second'], [
    ['direct messages', fmtInt(c.direct), perSec(c.direct)],
    ['broadcasts', fmtInt(c.broadcasts), perSec(c.broadcasts)],
    ['messages with attachments', fmtInt(c.withAttachments), perSec(c.withAttachments)],
    ['uploads / downloads (shadow listeners)', `${fmtInt(c.uploads)} / ${fmtInt(c.downloads)}`, perSec(c.uploads + c.downloads)],
    ['logins (churn)', fmtInt(c.logins), perSec(c.logins)],
    ['bad frames / error replies', `${fmtInt(c.badFrames)} / ${fmtInt(c.badReplies)}`, perSec(c.badFrames)],
    ['popups received', fmtInt(c.popups), perSec(c.popups)],
    ['popups of direct messages expected / missing', `${fmtInt(r.directPopups)} / ${fmtInt(r.lostPopups)}`, ''],
  ])}

Errors by code: ${Object.keys(c.errors).length ? Object.entries(c.errors).map(([k, v]) => `${k} ×${v}`).join(', ') : 'none'}.
Server warnings: ${r.warnings.length ? `\n\n\`\`\`\n${r.warnings.join('\n')}\n\`\`\`` : 'none'}.

![soak](${resultName('soak', 'svg')})
`;
  return {
    scenario: 'soak', title: soak.title, markdown: md, files: { 'soak.svg': svg }, problems,
    data: { seconds: r.seconds, senders: r.senders, churners: r.churners, counters: c, directPopups: r.directPopups, lostPopups: r.lostPopups, rss, fds, listeners, idle: r.idle, after: r.after, flat, samples: r.samples },
  };
}
