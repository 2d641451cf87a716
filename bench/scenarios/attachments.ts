/**
 * Scenario 4 — attachments against raw TCP: a 1 GiB upload and download, and 50 concurrent
 * 20 MiB uploads; peak RSS of the receiving process during each.
 *
 * The raw-TCP baseline (bench/lib/raw-tcp-peer.ts: a minimal Node process piping a socket into a
 * file on the same disk, and a file into a socket) runs always. The shadow-socket half needs the
 * attachments client API (src/client/transfer.ts, UPLOAD/DOWNLOAD); it runs when that exists.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { postgresBinDir, startPostgres } from '../../scripts/services.js';
import { ROOT, envInt, pick, progress } from '../lib/env.js';
import { PeerProcess } from '../lib/peer-process.js';
import { kib, table } from '../lib/report.js';
import type { Scenario } from '../lib/scenario.js';
import { makeTempDir, sampleRss } from '../lib/server.js';
import { fmt } from '../lib/stats.js';

const MiB = 1024 * 1024;

export interface TransferFigure {
  what: string;
  system: string;
  bytes: number;
  files: number;
  seconds: number;
  mibPerSec: number;
  peakRssKiB: number;
  ok: boolean;
  note?: string;
}

/** Writes `bytes` of incompressible data (a random 1 MiB block repeated) and returns its sha256. */
export async function makeSourceFile(file: string, bytes: number): Promise<string> {
  const block = randomBytes(MiB);
  const hash = createHash('sha256');
  const out = createWriteStream(file);
  let left = bytes;
  while (left > 0) {
    const piece = left >= MiB ? block : block.subarray(0, left);
    hash.update(piece);
    if (!out.write(piece)) await new Promise<void>((r) => out.once('drain', () => r()));
    left -= piece.length;
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return hash.digest('hex');
}

function rawUpload(port: number, src: string, name: string, size: number, flags: string): Promise<string> {
  return putFile(port, src, `PUT ${name} ${size}${flags ? ` ${flags}` : ''}`, false);
}

/** A PUT to bench/lib/content-peer.ts: the header with the sha256, the bytes, EOF; resolves with the verdict line. */
function contentUpload(port: number, src: string, name: string, size: number, sha256: string): Promise<string> {
  return putFile(port, src, `PUT ${name} ${size} ${sha256}`, true);
}

/** Sends the header line and the file (then EOF if `end`: a shadow socket's peer ends its side); resolves with the reply. */
function putFile(port: number, src: string, header: string, end: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let reply = '';
    socket.on('data', (d) => { reply += d.toString('utf8'); });
    socket.on('end', () => resolve(reply.trim()));
    socket.on('error', reject);
    socket.once('connect', () => {
      socket.write(`${header}\n`);
      createReadStream(src, { highWaterMark: MiB }).on('error', reject).pipe(socket, { end });
    });
  });
}

/**
 * The attachment-content variant (issue 19): the big file up and down through siar's transfer
 * streams into each content adapter — files in a data dir, and chunks in PostgreSQL (a private
 * server in the work dir, fsync on, default settings; BENCH_PG_URL to use another) — in the same
 * run as the raw-TCP figures. Null when PostgreSQL is not installed (the note says so).
 */
async function contentFigures(work: string, big: string, bigBytes: number, bigSha: string): Promise<{ figures: TransferFigure[]; note: string }> {
  const figures: TransferFigure[] = [];
  let pgUrl = process.env.BENCH_PG_URL ?? '';
  let stopPg = async (): Promise<void> => {};
  if (!pgUrl && postgresBinDir()) {
    progress('attachments', 'starting PostgreSQL for the content variant (fsync on)');
    const pg = await startPostgres(path.join(work, 'pg'), { fast: false });
    pgUrl = pg.url;
    stopPg = () => pg.stop();
  }
  const variants: [string, string, string][] = [['fs', path.join(work, 'content-fs'), 'content port: files']];
  if (pgUrl) variants.push(['postgres', pgUrl, 'content port: PostgreSQL']);
  try {
    for (const [kind, where, label] of variants) {
      const peer = await PeerProcess.start('content-peer.ts', [kind, where]);
      try {
        progress('attachments', `${label}: upload ${bigBytes / MiB} MiB`);
        const up = await timed(peer.pid, () => contentUpload(peer.port, big, 'big.bin', bigBytes, bigSha));
        figures.push({ what: `upload 1 × ${bigBytes / MiB} MiB`, system: label, bytes: bigBytes, files: 1, seconds: up.seconds, mibPerSec: bigBytes / MiB / up.seconds, peakRssKiB: up.peakRssKiB, ok: up.value === `OK ${bigSha}` });
        progress('attachments', `${label}: download ${bigBytes / MiB} MiB`);
        const dest = path.join(work, 'big.content.down');
        const down = await timed(peer.pid, () => rawDownload(peer.port, 'big.bin', dest, true));
        figures.push({ what: `download 1 × ${bigBytes / MiB} MiB`, system: label, bytes: bigBytes, files: 1, seconds: down.seconds, mibPerSec: bigBytes / MiB / down.seconds, peakRssKiB: down.peakRssKiB, ok: down.value === bigSha });
        rmSync(dest, { force: true });
      } finally {
        await peer.stop();
      }
    }
  } finally {
    await stopPg();
  }
  const note = pgUrl ? '' : 'The PostgreSQL content variant did not run: PostgreSQL is not installed and BENCH_PG_URL is not set.';
  return { figures, note };
}

async function rawDownload(port: number, name: string, dest: string, hashing: boolean): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  socket.write(`GET ${name}\n`);
  if (!hashing) {
    await pipeline(socket, createWriteStream(dest));
    return '';
  }
  const hash = createHash('sha256');
  await pipeline(socket, new Transform({ transform(chunk: Buffer, _e, cb) { hash.update(chunk); cb(null, chunk); } }), createWriteStream(dest));
  return hash.digest('hex');
}

/**
 * Writes back what earlier runs left in the page cache (sync(1), not timed). Without it a run that
 * does not fsync (raw TCP) leaves up to a GiB dirty, and the kernel flushes it — 30 s later, or
 * past its dirty thresholds — during whichever run comes next, on the same 2 cores and disk.
 */
function settleDisk(): void {
  execFileSync('sync');
}

/** Runs one timed transfer: the disk settled first, the seconds and the server side's peak RSS. */
export async function timed<T>(pid: number, work: () => Promise<T>): Promise<{ seconds: number; peakRssKiB: number; value: T }> {
  settleDisk();
  const sampler = sampleRss(pid, 50);
  const t0 = performance.now();
  const value = await work();
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, peakRssKiB: sampler.stop().peakRssKiB, value };
}

export const attachments: Scenario = {
  name: 'attachments',
  number: 4,
  title: 'Scenario 4 — attachments over shadow sockets against raw TCP',
  async run(ctx) {
    const bigBytes = envInt('BENCH_ATTACH_BIG_MIB', pick(64, 1024)) * MiB;
    const smallCount = envInt('BENCH_ATTACH_CONCURRENT', pick(10, 50));
    const smallBytes = envInt('BENCH_ATTACH_SMALL_MIB', pick(4, 20)) * MiB;
    // BENCH_ATTACH_PARTS=raw,content,shadow (default all three) runs a part of the scenario only.
    const parts = new Set((process.env.BENCH_ATTACH_PARTS ?? 'raw,content,shadow').split(',').map((p) => p.trim()));
    const work = makeTempDir('attach');
    const figures: TransferFigure[] = [];
    const problems: string[] = [];
    try {
      const big = path.join(work, 'big.bin');
      progress('attachments', `writing a ${bigBytes / MiB} MiB source file and ${smallCount} distinct ${smallBytes / MiB} MiB ones`);
      const bigSha = await makeSourceFile(big, bigBytes);
      // Distinct contents: the attachment store keeps one copy per sha256, so equal files would not be 50 uploads.
      const smalls: { path: string; sha256: string }[] = [];
      for (let i = 0; i < smallCount; i++) {
        const file = path.join(work, `small-${i}.bin`);
        smalls.push({ path: file, sha256: await makeSourceFile(file, smallBytes) });
      }

      // --- raw TCP baseline: plain, + sha256, + sha256 + fsync (what an attachment store does)
      const store = path.join(work, 'raw-store');
      mkdirSync(store, { recursive: true });
      const peer = await PeerProcess.start('raw-tcp-peer.ts', [store]);
      try {
        for (const [flags, label] of [['', 'raw TCP'], ['sha256', 'raw TCP + sha256'], ['sha256,fsync', 'raw TCP + sha256 + fsync']] as const) {
          progress('attachments', `${label}: upload ${bigBytes / MiB} MiB`);
          const name = `big-${flags || 'plain'}.bin`;
          const up = await timed(peer.pid, () => rawUpload(peer.port, big, name, bigBytes, flags));
          const intact = statSync(path.join(store, name)).size === bigBytes && (!flags || up.value === `OK ${bigSha}`);
          figures.push({ what: `upload 1 × ${bigBytes / MiB} MiB`, system: label, bytes: bigBytes, files: 1, seconds: up.seconds, mibPerSec: bigBytes / MiB / up.seconds, peakRssKiB: up.peakRssKiB, ok: intact });
          if (flags) rmSync(path.join(store, name), { force: true });
        }
        for (const hashing of [false, true]) {
          const label = hashing ? 'raw TCP + sha256' : 'raw TCP';
          progress('attachments', `${label}: download ${bigBytes / MiB} MiB`);
          const dest = path.join(work, 'big.down');
          const down = await timed(peer.pid, () => rawDownload(peer.port, 'big-plain.bin', dest, hashing));
          const intact = statSync(dest).size === bigBytes && (!hashing || down.value === bigSha);
          figures.push({ what: `download 1 × ${bigBytes / MiB} MiB`, system: label, bytes: bigBytes, files: 1, seconds: down.seconds, mibPerSec: bigBytes / MiB / down.seconds, peakRssKiB: down.peakRssKiB, ok: intact });
          rmSync(dest, { force: true });
        }
        for (const [flags, label] of [['', 'raw TCP'], ['sha256,fsync', 'raw TCP + sha256 + fsync']] as const) {
          progress('attachments', `${label}: ${smallCount} concurrent uploads of ${smallBytes / MiB} MiB`);
          const many = await timed(peer.pid, () => Promise.all(smalls.map((f, i) => rawUpload(peer.port, f.path, `small-${flags || 'plain'}-${i}.bin`, smallBytes, flags))));
          const intact = many.value.every((r, i) => (flags ? r === `OK ${smalls[i]!.sha256}` : r.startsWith('OK')));
          figures.push({ what: `${smallCount} concurrent uploads × ${smallBytes / MiB} MiB`, system: label, bytes: smallBytes * smallCount, files: smallCount, seconds: many.seconds, mibPerSec: (smallBytes * smallCount) / MiB / many.seconds, peakRssKiB: many.peakRssKiB, ok: intact });
        }
      } finally {
        await peer.stop();
        rmSync(store, { recursive: true, force: true });
      }

      // --- the attachment-content adapters (issue 19), same file, same run
      const content = parts.has('content') ? await contentFigures(work, big, bigBytes, bigSha) : { figures: [], note: 'The content variant was left out (BENCH_ATTACH_PARTS).' };
      figures.push(...content.figures);

      // --- shadow sockets (needs the attachments client API)
      const clientApi = path.join(ROOT, 'src', 'client', 'transfer.ts');
      let shadowNote: string;
      if (!parts.has('shadow')) {
        shadowNote = 'The shadow-socket half was left out (BENCH_ATTACH_PARTS).';
      } else if (!existsSync(clientApi)) {
        shadowNote = 'PENDING: src/client/transfer.ts (the attachments client API) does not exist yet in this tree, so only the raw-TCP baseline ran.';
        problems.push('shadow-socket half pending: src/client/transfer.ts not present');
      } else {
        const { shadowFigures } = await import('./attachments-shadow.js');
        const shadow = await shadowFigures({ work, big, bigBytes, bigSha, smalls, smallBytes, cpuProfDir: ctx.profileDir });
        figures.push(...shadow.figures);
        problems.push(...shadow.problems);
        shadowNote = shadow.note;
      }
      for (const f of figures) if (!f.ok) problems.push(`${f.system} ${f.what}: bytes did not arrive intact`);

      const ratioRows: (string | number)[][] = [];
      const contentRows: (string | number)[][] = [];
      for (const what of [...new Set(figures.map((f) => f.what))]) {
        const raw = figures.find((f) => f.what === what && f.system === 'raw TCP');
        const same = figures.find((f) => f.what === what && f.system === (what.startsWith('download') ? 'raw TCP + sha256' : 'raw TCP + sha256 + fsync'));
        const shadow = figures.find((f) => f.what === what && f.system.startsWith('siar'));
        const viaContent = figures.filter((f) => f.what === what && f.system.startsWith('content port'));
        for (const c of raw ? viaContent : []) {
          contentRows.push([what, c.system, fmt(c.mibPerSec, 0), fmt(raw!.mibPerSec, 0), `${fmt((c.mibPerSec / raw!.mibPerSec) * 100, 0)} %`,
            same ? `${fmt(same.mibPerSec, 0)} (${same.system})` : '—', same ? `${fmt((c.mibPerSec / same.mibPerSec) * 100, 0)} %` : '—', kib(c.peakRssKiB)]);
        }
        if (raw && shadow) {
          const ratio = shadow.mibPerSec / raw.mibPerSec;
          const ratioSame = same ? shadow.mibPerSec / same.mibPerSec : NaN;
          ratioRows.push([what, fmt(shadow.mibPerSec, 0), fmt(raw.mibPerSec, 0), `${fmt(ratio * 100, 0)} %`, ratio >= 0.8 ? 'met' : 'missed',
            same ? `${same.system}: ${fmt(same.mibPerSec, 0)}` : '—', Number.isFinite(ratioSame) ? `${fmt(ratioSame * 100, 0)} %` : '—']);
          if (ratio < 0.8) problems.push(`${what}: shadow socket at ${fmt(ratio * 100, 0)} % of raw TCP (target ≥ 80 %)`);
        }
      }
      const md = `
How measured: source files of incompressible bytes (a random 1 MiB block repeated; the ${smallCount} small files
each distinct, since the attachment store keeps one copy per content) in a temp dir on the same disk as the
data dirs. They are in the page cache after being written, so reads cost no disk I/O. Before each timed run
\`sync\` writes back what the runs before it left dirty (not timed), so no run pays for another's writeback. **Raw TCP**: a minimal
Node process (bench/lib/raw-tcp-peer.ts) that pipes an accepted socket into a file, or a file into the
socket; the client streams the file in 1 MiB reads. Variants do what an attachment store must also do:
*+ sha256* hashes the bytes (on the receiving side; for a download, on the client, as siar's client
verifies), *+ fsync* syncs the file before acknowledging. **siar**: a \`siar server\` child (real CLI,
default limits) and the project's client API (src/client/transfer.ts): \`SEND … attach=SIZE,SHA256,NAME\`
first (not timed), then \`uploadFile\` (UPLOAD → shadow listener → ticket → bytes → verdict after the
server's hash check, fsync and commit) is timed; \`downloadAttachment\` by the recipient (DOWNLOAD →
shadow listener → bytes → client-side sha256 check → rename) is timed. Concurrent uploads: one member per
upload (the server allows ${8} live transfers per member), all started together, time until the last verdict.
Peak RSS: the server-side process (raw peer or siar server), sampled every 50 ms during the transfer.

${table(['transfer', 'system', 'seconds', 'MiB/s', 'peak RSS of the server side', 'intact'], figures.map((f) => [
        f.what, f.system, fmt(f.seconds, 2), fmt(f.mibPerSec, 0), kib(f.peakRssKiB), f.ok ? 'yes' : 'NO',
      ]))}

${ratioRows.length ? `## Shadow socket ÷ raw TCP\n\n${table(['transfer', 'siar MiB/s', 'raw TCP MiB/s', 'siar ÷ raw', 'target ≥ 80 %', 'like-for-like raw MiB/s', 'siar ÷ like-for-like'], ratioRows)}\n` : ''}
${contentRows.length ? `## Attachment content ÷ raw TCP (issue 19)\n\nThe same file through siar's transfer streams into each content adapter (bench/lib/content-peer.ts: no control connection, tickets or store; sha256 verified at commit; PostgreSQL: 1 MiB bytea chunk rows, each insert its own durable transaction, on a private server with fsync on), downloads hashed by the client.\n\n${table(['transfer', 'content adapter', 'MiB/s', 'raw TCP MiB/s', '÷ raw', 'like-for-like raw MiB/s', '÷ like-for-like', 'peak RSS of the peer'], contentRows)}\n` : ''}${content.note}

${shadowNote}
`;
      return { scenario: 'attachments', title: this.title, markdown: md, data: { bigBytes, smallBytes, smallCount, figures }, problems };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
};
