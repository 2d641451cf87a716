/**
 * The documented `nc` sessions, replayed against a real server (one fresh server and data
 * directory per document). Each scene types exactly the lines the docs show; the replies are
 * whatever the server says. Members the documents take for granted are created out of view with
 * the client library, the way `siar register` / `siar admin approve` / `siar passwd` would.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { SiarClient } from '../../src/client/connection.js';
import { createLogger } from '../../src/server/logger.js';
import { listMailFiles, mailFolder, readMailFile } from '../../src/server/mail/mail-folder.js';
import { SiarServer } from '../../src/server/server.js';
import type { ServerConfig } from '../../src/server/config.js';
import { declareFile, sendMessage } from '../../src/client/transfer.js';
import { writeFile } from 'node:fs/promises';
import { redisServerPath, startRedis } from '../services.js';
import { Block, Recording } from './recorder.js';

export interface Scene {
  /** The document, relative to the repository. */
  file: string;
  /** What the machine must have to record it (Redis), or false (test/helpers/capability.ts). */
  missing?: () => { name: string; reason: string | false };
  /** Records the blocks; returns them by name, rendered. */
  record(): Promise<Map<string, string[]>>;
}

/** The passwords members choose in the transcripts (not secrets: examples). */
const OWN = { unhas: 'Hasanuddin-2026-sendiri', ugm: 'GadjahMada-2026-sendiri', unsrat: 'SamRatulangi-2026-sendiri', pnl: 'Lhokseumawe-2026-sendiri' };
type Member = keyof typeof OWN;
const INSTITUTIONS: Record<Member, string> = {
  unhas: 'Universitas Hasanuddin', ugm: 'Universitas Gadjah Mada', unsrat: 'Universitas Sam Ratulangi', pnl: 'Politeknik Negeri Lhokseumawe',
};

/** A fresh server on a fresh data directory, and a recording of it, for the length of `body`. */
async function withServer<T>(
  body: (rec: Recording, server: SiarServer, dataDir: string) => Promise<T>, config: Partial<ServerConfig> = {},
): Promise<T> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'siar-transcripts-'));
  const server = await SiarServer.start({ host: '127.0.0.1', port: 0, dataDir, ...config }, { logger: createLogger('silent') });
  const rec = new Recording(server.address().port);
  try {
    return await body(rec, server, dataDir);
  } finally {
    rec.close();
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** A session of `username` (its own password) recorded in `block`, logged in; its token shown as TOKEN. */
async function signedIn(rec: Recording, block: Block, username: keyof typeof OWN) {
  const s = await rec.session(block);
  await rec.step(s, `1|LOGIN||username=${username}|password=${OWN[username]}`);
  rec.secret(s.token, 'TOKEN');
  return s;
}

function adminPassword(dataDir: string): string {
  return readFileSync(path.join(dataDir, 'admin-password'), 'utf8').trim();
}

/** The password in the mail `mailId`, read from the embedded mail folder once the worker wrote it. */
async function mailedPassword(dataDir: string, mailId: number): Promise<string> {
  const deadline = Date.now() + 20_000;
  const dir = mailFolder(dataDir);
  for (;;) {
    const entry = (await listMailFiles(dir))?.find((e) => e.id === mailId);
    if (entry) {
      const line = (await readMailFile(path.join(dir, entry.name))).text.split('\n').find((l) => l.startsWith('Password: '));
      if (line) return line.slice('Password: '.length);
    }
    if (Date.now() > deadline) throw new Error(`mail ${mailId} was not written`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Registers, approves and sets the own password of members, out of view. */
async function createMembers(server: SiarServer, dataDir: string, members: Member[]): Promise<void> {
  const { port } = server.address();
  const admin = await SiarClient.connect({ host: '127.0.0.1', port });
  await admin.login('admin', adminPassword(dataDir), { popups: false });
  for (const m of members) {
    const c = await SiarClient.connect({ host: '127.0.0.1', port });
    const reg = await c.request('REGISTER', { institution: INSTITUTIONS[m], contact: `Contact ${m}`, email: `admin@${m}.ac.id`, username: m });
    const approved = await admin.request('APPROVE', { id: reg.args.get('id')! });
    const mailed = await mailedPassword(dataDir, Number(approved.args.get('mailId')));
    await c.login(m, mailed, { popups: false });
    await c.request('PASSWD', { old: mailed, new: OWN[m] });
    await c.close();
  }
  await admin.close();
}

function rendered(rec: Recording, blocks: Block[]): Map<string, string[]> {
  return new Map(blocks.map((b) => [b.name, rec.render(b)]));
}

/** docs/PROTOCOL.md: registration, approval, first login, messages, mistakes. */
export const protocolScene: Scene = {
  file: 'docs/PROTOCOL.md',
  record: () => withServer(async (rec, server, dataDir) => {
    const registration = new Block('registration');
    const approval = new Block('approval');
    const firstLogin = new Block('first-login');
    const recipient = new Block('recipient');
    const sender = new Block('sender');
    const resume = new Block('resume');
    const mistakes = new Block('mistakes');
    const admin0 = adminPassword(dataDir);
    rec.secret(admin0, 'ADMIN-PASSWORD');

    const registrant = await rec.session(registration);
    await rec.step(registrant, '1|REGISTER||institution=Universitas Hasanuddin|contact=Budi Santoso|email=budi@unhas.ac.id|phone=+62 411 586200|address=Jl. Perintis Kemerdekaan KM.10\\nMakassar|username=unhas|wait=1');
    registration.note('  … later, when the administrator approves:');

    const admin = await rec.session(approval);
    await rec.step(admin, `1|LOGIN||username=admin|password=${admin0}`);
    rec.secret(admin.token, 'ADMINTOKEN');
    await rec.step(admin, `2|PENDING|${admin.token}`);
    await rec.step(admin, `3|APPROVE|${admin.token}|id=1`, [[admin, /^\*\|MAIL\|id=1\|status=sent/]]);
    await rec.step(admin, `4|APPROVE|${admin.token}|id=1`);
    await rec.step(admin, `5|REJECT|${admin.token}|id=9|reason=x`);
    registrant.close();
    admin.close();

    const mailed = await mailedPassword(dataDir, 1);
    rec.secret(mailed, 'MAILED-PASSWORD');
    const first = await rec.session(firstLogin);
    await rec.step(first, `1|LOGIN||username=unhas|password=${mailed}`);
    rec.secret(first.token, 'TOKEN');
    await rec.step(first, `2|INBOX|${first.token}`);
    await rec.step(first, `3|PASSWD|${first.token}|old=${mailed}|new=${OWN.unhas}`);
    await rec.step(first, `4|INBOX|${first.token}`);
    first.close();
    firstLogin.note('', '(later, on a new connection: the mailed password no longer works)', '');
    const later = await rec.session(firstLogin);
    await rec.step(later, `1|LOGIN||username=unhas|password=${mailed}`);
    later.close();

    await createMembers(server, dataDir, ['ugm']);
    const ugm = await rec.session(recipient);
    await rec.step(ugm, `1|LOGIN||username=ugm|password=${OWN.ugm}`);
    rec.secret(ugm.token, 'TOKEN');
    const unhas = await rec.session(sender);
    await rec.step(unhas, `1|LOGIN||username=unhas|password=${OWN.unhas}`);
    rec.secret(unhas.token, 'TOKEN');
    const t = unhas.token;
    await rec.step(unhas, `2|SEND|${t}|to=ugm|subject=Seminar nasional|body=Hadirilah seminar kami.\\nTempat: Aula \\| Waktu: 09.00`);
    await rec.step(ugm, `2|INBOX|${ugm.token}|limit=1`);
    await rec.step(ugm, `3|READ|${ugm.token}|id=1`);
    await rec.step(unhas, `3|SEND|${t}|all=1|subject=Pengumuman`);
    await rec.step(unhas, `4|SEND|${t}|to=ugm,ghost|subject=x`);
    await rec.step(unhas, `5|OUTBOX|${t}|limit=2`);
    await rec.step(unhas, `6|DIRECTORY|${t}`);
    await rec.step(unhas, `7|LOGOUT|${t}`);
    await rec.step(unhas, `8|INBOX|${t}`);
    ugm.close();
    unhas.close();

    const before = await rec.session(resume);
    await rec.step(before, `1|LOGIN||username=ugm|password=${OWN.ugm}`);
    rec.secret(before.token, 'TOKEN');
    before.close();
    resume.note('', '(the connection drops; meanwhile unhas sends ugm a message; a new connection, to this node or another, with the token)', '');
    const quiet = await SiarClient.connect({ host: '127.0.0.1', port: server.address().port });
    await quiet.login('unhas', OWN.unhas, { popups: false });
    await quiet.send({ to: ['ugm'], subject: 'Rapat', body: 'Senin, 09.00' });
    await quiet.close();
    const after = await rec.session(resume);
    await rec.step(after, `1|RESUME||token=${before.token}`, [[after, /^\*\|POPUP\|/]]);
    await rec.step(after, `2|RESUME||token=not-a-token`);
    after.close();

    const m = await rec.session(mistakes);
    await rec.step(m, `1|LOGIN||username=unhas|password=${OWN.unhas}`);
    rec.secret(m.token, 'TOKEN');
    await rec.step(m, '2|BOGUS');
    await rec.step(m, 'xx');
    await rec.step(m, '3|INBOX');
    await rec.step(m, `4|SEND|${m.token}|to=ugm|subject=x|body=a | b`);
    m.close();

    // Alerts (issue 21): urgent with acknowledgement, ACK, REPORT, a correction, RECALL.
    const alertRecipient = new Block('alert-recipient');
    const alertSender = new Block('alert-sender');
    const r = await signedIn(rec, alertRecipient, 'ugm');
    const a = await signedIn(rec, alertSender, 'unhas');
    await rec.step(a, `2|SEND|${a.token}|to=ugm|subject=Gempa: keluar gedung|body=Berkumpul di lapangan.|priority=urgent|expires=2h`, [[r, /^\*\|POPUP\|id=4\|/]]);
    await rec.step(a, `3|REPORT|${a.token}|id=4`);
    await rec.step(r, `2|ACK|${r.token}|id=4`, [[a, /^\*\|ACK\|id=4\|/]]);
    await rec.step(r, `3|ACK|${r.token}|id=1`);
    await rec.step(a, `4|REPORT|${a.token}|id=4`);
    await rec.step(a, `5|SEND|${a.token}|to=ugm|subject=Gempa: latihan|body=Hanya latihan.|priority=high|replaces=4`,
      [[r, /^\*\|RECALLED\|id=4\|/], [r, /^\*\|POPUP\|id=5\|/]]);
    await rec.step(r, `4|READ|${r.token}|id=4`);
    await rec.step(r, `5|RECALL|${r.token}|id=5`);
    await rec.step(a, `6|RECALL|${a.token}|id=5|reason=Latihan selesai`, [[r, /^\*\|RECALLED\|id=5\|/]]);
    await rec.step(r, `6|INBOX|${r.token}|limit=1`);
    r.close();
    a.close();

    // Scheduled delivery and automatic reminders (issue 21): stored and acknowledged at once, out at its time.
    const laterSender = new Block('scheduled-sender');
    const laterRecipient = new Block('scheduled-recipient');
    const sr = await signedIn(rec, laterRecipient, 'ugm');
    const sa = await signedIn(rec, laterSender, 'unhas');
    await rec.step(sa, `2|SEND|${sa.token}|to=ugm|subject=Apel pagi|body=Pukul 08.00 di lapangan.|at=3s|ack=1|remind=15m|remindMax=4`);
    await rec.step(sa, `3|OUTBOX|${sa.token}|limit=1`);
    await rec.step(sr, `2|READ|${sr.token}|id=6`);
    await rec.step(sr, `3|INBOX|${sr.token}|limit=1`, [[sr, /^\*\|POPUP\|id=6\|/]]);
    await rec.step(sr, `4|ACK|${sr.token}|id=6`, [[sa, /^\*\|ACK\|id=6\|/]]);
    await rec.step(sa, `4|SEND|${sa.token}|to=ugm|subject=Rapat dibatalkan|at=1h`);
    await rec.step(sa, `5|RECALL|${sa.token}|id=7|reason=Salah tanggal`);
    sr.close();
    sa.close();

    // A scheduled correction (replaces= with at=): the old notice stays until the correction goes out,
    // and is recalled then; a correction recalled before its time leaves the old one alone.
    const fixSender = new Block('scheduled-correction-sender');
    const fixRecipient = new Block('scheduled-correction-recipient');
    const fr = await signedIn(rec, fixRecipient, 'ugm');
    const fa = await signedIn(rec, fixSender, 'unhas');
    await rec.step(fa, `2|SEND|${fa.token}|to=ugm|subject=Rapat Senin|body=Pukul 09.00 di aula.`, [[fr, /^\*\|POPUP\|id=8\|/]]);
    await rec.step(fa, `3|SEND|${fa.token}|to=ugm|subject=Rapat Senin (ralat)|body=Pukul 10.00 di aula.|at=3s|replaces=8`);
    await rec.step(fr, `2|READ|${fr.token}|id=8`, [[fa, /^\*\|READ\|id=8\|/]]);
    await rec.step(fr, `3|INBOX|${fr.token}|limit=1`, [[fr, /^\*\|RECALLED\|id=8\|/], [fr, /^\*\|POPUP\|id=9\|/]]);
    await rec.step(fr, `4|READ|${fr.token}|id=8`);
    await rec.step(fa, `4|SEND|${fa.token}|to=ugm|subject=Rapat Senin (ralat kedua)|at=1h|replaces=9`);
    await rec.step(fa, `5|RECALL|${fa.token}|id=10|reason=Ralat pertama sudah benar`);
    await rec.step(fr, `5|INBOX|${fr.token}|limit=1`);
    fr.close();
    fa.close();
    return rendered(rec, [
      registration, approval, firstLogin, recipient, sender, resume, mistakes, alertRecipient, alertSender, laterSender, laterRecipient,
      fixSender, fixRecipient,
    ]);
  }),
};

/** docs/PROTOCOL-transfer.md: an upload and a resumed download over shadow sockets. */
export const transferScene: Scene = {
  file: 'docs/PROTOCOL-transfer.md',
  record: () => withServer(async (rec, server, dataDir) => {
    await createMembers(server, dataDir, ['unhas', 'ugm']);
    const block = new Block('transfer');
    const file = Buffer.from('Undangan seminar, 12 Mei.\n');
    const sha = createHash('sha256').update(file).digest('hex');
    rec.secret(OWN.unhas, 'PASSWORD');
    block.note('# control connection: `nc 127.0.0.1 7400` (> typed, < received); data connections: the $ lines');
    const c = await rec.session(block);
    await rec.step(c, `1|LOGIN||username=unhas|password=${OWN.unhas}`);
    rec.secret(c.token, 'TOKEN');
    const t = c.token;
    await rec.step(c, `2|SEND|${t}|to=ugm|subject=Undangan|body=Lihat lampiran|attach=${file.length},${sha},undangan.txt`);
    const up = await rec.step(c, `3|UPLOAD|${t}|message=1|attachment=1`);
    const upload = shadow(rec, up, 'TICKET1');
    await rec.dataConnection(block, `echo WRONG-TICKET | nc -N 127.0.0.1 ${upload.port}`, upload.port, 'WRONG-TICKET\n');
    await rec.dataConnection(block, `(echo ${upload.ticket}; cat undangan.txt) | nc -N 127.0.0.1 ${upload.port}`, upload.port,
      Buffer.concat([Buffer.from(`${upload.ticket}\n`), file]), [[c, /^\*\|UPLOADED\|/], [c, /^\*\|SENT\|/]]);
    await rec.step(c, `4|UPLOAD|${t}|message=1|attachment=1`);
    const down = await rec.step(c, `5|DOWNLOAD|${t}|message=1|attachment=1|offset=9`);
    const download = shadow(rec, down, 'TICKET2');
    await rec.dataConnection(block, `echo ${download.ticket} | nc -N 127.0.0.1 ${download.port}`, download.port, `${download.ticket}\n`,
      [[c, /^\*\|DOWNLOADED\|/]]);
    await rec.step(c, '6|QUIT|');
    return rendered(rec, [block]);
  }),
};

/** The shadow listener of an UPLOAD or DOWNLOAD reply; its ticket and port get placeholders. */
function shadow(rec: Recording, reply: string, ticketName: string): { port: number; ticket: string } {
  const port = Number(/\|addr=127\.0\.0\.1:(\d+)/.exec(reply)?.[1]);
  const ticket = /\|ticket=([^|]+)/.exec(reply)?.[1];
  if (!port || !ticket) throw new Error(`not a transfer reply: ${reply}`);
  rec.shadowPort(port);
  rec.secret(ticket, ticketName);
  return { port, ticket };
}

/** docs/PROTOCOL-channels.md: channels, groups, publishing, archiving. */
export const channelsScene: Scene = {
  file: 'docs/PROTOCOL-channels.md',
  record: () => withServer(async (rec, server, dataDir) => {
    await createMembers(server, dataDir, ['unhas', 'unsrat', 'ugm', 'pnl']);
    const create = new Block('channels-create');
    const rules = new Block('channels-rules');
    const directory = new Block('channels-directory');
    const publish = new Block('channels-publish');
    const groupSend = new Block('channels-group-send');
    const roster = new Block('channels-roster');
    const archived = new Block('channels-archived');
    rec.secret(adminPassword(dataDir), 'ADMIN-PASSWORD');
    const admin = await rec.session(create);
    await rec.step(admin, `1|LOGIN||username=admin|password=${adminPassword(dataDir)}`);
    rec.secret(admin.token, 'ADMINTOKEN');
    const a = admin.token;
    await rec.step(admin, `2|CHANNEL_CREATE|${a}|name=beasiswa|description=Scholarship calls`);
    await rec.step(admin, `3|CHANNEL_CREATE|${a}|name=pengumuman-rektor|publish=named|publishers=unhas`);
    await rec.step(admin, `4|CHANNEL_CREATE|${a}|name=dekanat|access=restricted|members=unhas,unsrat`);
    await rec.step(admin, `5|GROUP_CREATE|${a}|name=ptn-sulawesi|description=Public universities of Sulawesi|members=unhas,unsrat`);
    await rec.step(admin, `6|CHANNEL_CREATE|${a}|name=beasiswa`);
    admin.bind(null);

    const ugm = await rec.session(rules);
    await rec.step(ugm, `1|LOGIN||username=ugm|password=${OWN.ugm}`);
    rec.secret(ugm.token, 'TOKEN');
    const g = ugm.token;
    await rec.step(ugm, `2|CHANNELS|${g}`);
    await rec.step(ugm, `3|SUBSCRIBE|${g}|name=beasiswa`);
    await rec.step(ugm, `4|SUBSCRIBE|${g}|name=dekanat`);
    await rec.step(ugm, `5|SEND|${g}|channel=pengumuman-rektor|subject=x`);
    await rec.step(ugm, `6|SEND|${g}|channel=nope|subject=x`);
    ugm.bind(directory);
    await rec.step(ugm, `7|DIRECTORY|${g}`);
    await rec.step(ugm, `8|GROUP|${g}|name=ptn-sulawesi`);

    const pnl = await rec.session(null);
    await rec.step(pnl, `1|LOGIN||username=pnl|password=${OWN.pnl}`);
    rec.secret(pnl.token, 'TOKEN');
    pnl.bind(publish, 'pnl');
    ugm.bind(publish, 'ugm');
    await rec.step(pnl, `2|SUBSCRIBE|${pnl.token}|name=beasiswa`);
    await rec.step(pnl, `3|SEND|${pnl.token}|channel=beasiswa|subject=Beasiswa LPDP 2025|body=Pendaftaran dibuka`);

    pnl.bind(groupSend, 'pnl');
    ugm.bind(groupSend, 'ugm');
    await rec.step(ugm, `9|SEND|${g}|to=@ptn-sulawesi,unhas,pnl|subject=Rapat koordinasi`);
    await rec.step(ugm, `10|OUTBOX|${g}|limit=1`);

    pnl.bind(null);
    ugm.bind(archived, 'ugm');
    admin.bind(roster);
    await rec.step(admin, `7|CHANNEL|${a}|name=dekanat`);
    await rec.step(admin, `8|CHANNEL_GRANT|${a}|name=dekanat|username=ugm`);
    await rec.step(admin, `9|CHANNEL_UPDATE|${a}|name=beasiswa|description=Scholarship calls (S2/S3)`);
    await rec.step(admin, `10|CHANNEL_ARCHIVE|${a}|name=beasiswa`);
    admin.bind(null);
    await rec.step(ugm, `11|SEND|${g}|channel=beasiswa|subject=late`);
    await rec.step(ugm, `12|CHANNEL_HISTORY|${g}|name=beasiswa`);
    return rendered(rec, [create, rules, directory, publish, groupSend, roster, archived]);
  }),
};

/**
 * docs/PROTOCOL-admin.md: STATS, with this node's figures, every node's counts and their total; the
 * administrator's all-members alert counted in STATS and audited, and an expired message's
 * attachment refused once the sweep removed it (a grace of one second). Two servers, one after the other.
 */
export const adminScene: Scene = {
  file: 'docs/PROTOCOL-admin.md',
  record: async () => {
    // The server's start and STATS in one minute, so STATS shows one (running) minute: well before its end.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 40_000) await new Promise((r) => setTimeout(r, 60_000 - intoMinute + 100));
    const stats = await statsRecording();
    const online = await onlineWithoutRedisRecording();
    return new Map([...stats, ...online, ...await alertRecording()]);
  },
  missing: () => ({ name: 'Redis', reason: redisServerPath() ? false : 'Redis is not installed (apt-get install redis-server)' }),
};

/** ONLINE on a node whose Redis (--bus) is down: its own members, partial=1 and the sentence (adminScene). */
async function onlineWithoutRedisRecording(): Promise<Map<string, string[]>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'siar-transcripts-redis-'));
  const redis = await startRedis(path.join(dir, 'redis'));
  try {
    return await withServer(async (rec, server, dataDir) => {
      await createMembers(server, dataDir, ['unhas']);
      const { port } = server.address();
      const unhas = await SiarClient.connect({ host: '127.0.0.1', port });
      await unhas.login('unhas', OWN.unhas, { popups: false });
      await redis.stop();
      const block = new Block('online-partial');
      block.note('# `nc 127.0.0.1 7401` as admin on node-1 of a cluster whose Redis is down');
      const admin = await rec.session(block);
      const password = adminPassword(dataDir);
      rec.secret(password, 'ADMIN-PASSWORD');
      await rec.step(admin, `1|LOGIN||username=admin|password=${password}|popups=0`);
      rec.secret(admin.token, 'ADMINTOKEN');
      await rec.step(admin, `2|ONLINE|${admin.token}`);
      await rec.step(admin, `3|MEMBERS|${admin.token}`);
      await rec.step(admin, '4|QUIT|');
      await unhas.close();
      return rendered(rec, [block]);
    }, { nodeId: 'node-1', bus: redis.url });
  } finally {
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function statsRecording(): Promise<Map<string, string[]>> {
  return withServer(async (rec, server, dataDir) => {
    await createMembers(server, dataDir, ['unhas', 'ugm']);
    const block = new Block('stats');
    // Bytes depend on the passwords' and tokens' lengths only, but how late the loop ran is measured.
    rec.varies(/(loop\w*Ms)=[\d.]+/g, '$1=…');
    block.note('# `nc 127.0.0.1 7400` as admin on node-1, a single node (on several, a node= line each)');
    const sender = await SiarClient.connect({ host: '127.0.0.1', port: server.address().port });
    await sender.login('unhas', OWN.unhas, { popups: false });
    await sender.request('SEND', { to: 'ugm', subject: 'Undangan', body: 'Seminar, 12 Mei' });
    await sender.close();
    const admin = await rec.session(block);
    const password = adminPassword(dataDir);
    rec.secret(password, 'ADMIN-PASSWORD');
    await rec.step(admin, `1|LOGIN||username=admin|password=${password}|popups=0`);
    rec.secret(admin.token, 'ADMINTOKEN');
    await rec.step(admin, `2|STATS|${admin.token}|minutes=1`);
    await rec.step(admin, '3|QUIT|');
    return rendered(rec, [block]);
  }, { nodeId: 'node-1' });
}

/** The alert and the removed attachment (adminScene). */
function alertRecording(): Promise<Map<string, string[]>> {
  return withServer(async (rec, server, dataDir) => {
    const alert = new Block('admin-alert');
    const removed = new Block('attachment-removed');
    // STATS shows the running minute: the scene starts early enough in one to end in it too.
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 30_000) await new Promise((r) => setTimeout(r, left + 100));
    await createMembers(server, dataDir, ['unhas', 'ugm']);
    // The connections createMembers closed are gone on the server's side too (STATS counts the open ones).
    while (server.router.connectionCount() > 0) await new Promise((r) => setTimeout(r, 20));
    const password = adminPassword(dataDir);
    rec.secret(password, 'ADMIN-PASSWORD');
    const admin = await rec.session(alert);
    await rec.step(admin, `1|LOGIN||username=admin|password=${password}`);
    rec.secret(admin.token, 'ADMINTOKEN');
    const a = admin.token;
    await rec.step(admin, `2|SEND|${a}|all=1|subject=Gempa: keluar gedung|body=Berkumpul di lapangan.|priority=urgent|expires=2h`);
    await rec.step(admin, `3|STATS|${a}|minutes=0`);
    await rec.step(admin, `4|AUDIT|${a}|kind=alert_sent`);

    // unhas sends ugm a file with a message expiring in a second, out of view; the sweep removes it.
    const { port } = server.address();
    const unhas = await SiarClient.connect({ host: '127.0.0.1', port });
    await unhas.login('unhas', OWN.unhas, { popups: false });
    const file = path.join(dataDir, 'jadwal.txt');
    await writeFile(file, 'Jadwal ujian\n');
    const sent = await sendMessage(unhas, { to: ['ugm'], subject: 'Jadwal', body: 'Lampiran', expires: '1s' }, [await declareFile(file)]);
    await unhas.close();
    const deadline = Date.now() + 30_000;
    while ((await server.store.listAudit({ kind: 'attachments_removed' }, { limit: 1 })).length === 0) {
      if (Date.now() > deadline) throw new Error('the expired attachment was not removed');
      await new Promise((r) => setTimeout(r, 100));
    }
    const ugm = await rec.session(removed);
    await rec.step(ugm, `1|LOGIN||username=ugm|password=${OWN.ugm}`);
    rec.secret(ugm.token, 'TOKEN');
    await rec.step(ugm, `2|DOWNLOAD|${ugm.token}|message=${sent.id}|attachment=${sent.attachments[0]!.id}`);
    await rec.step(ugm, `3|READ|${ugm.token}|id=${sent.id}`);
    admin.bind(removed);
    await rec.step(admin, `5|AUDIT|${a}|kind=attachments_removed`);
    return rendered(rec, [alert, removed]);
  }, { expiredAttachmentGraceMs: 1000, transferSweepIntervalMs: 1000, nodeId: 'node-1' });
}

export const SCENES: Scene[] = [protocolScene, transferScene, channelsScene, adminScene];

