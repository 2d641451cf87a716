/**
 * Disk full during an upload (issue 7 item 6). Expected every time: a stable error code to the
 * uploader (DISK_FULL), no attachment committed, no temp file left, the store intact, the
 * server still serving, and uploads working again once there is room.
 *
 * A full disk or a flood of messages loses nothing (issue 20 item 5): the free-space floor holds
 * for SEND and REGISTER too (DISK_FULL before anything is written); when the disk itself runs out,
 * every write fails whole with DISK_FULL and nothing is acknowledged that was not stored (LOGIN
 * used to answer OK with a session that was never committed); and one member cannot fill the
 * server on its own (a sending rate, RATE_LIMITED, and a storage quota, QUOTA_EXCEEDED).
 *
 * - A real small file system: a tmpfs of a few MiB holds the data directory, and the disk is
 *   filled by "another program" in the middle of an upload. Needs root (mount); skipped otherwise,
 *   and failed under CI, which must provide it (test/helpers/capability.ts).
 * - Without root, the kernel's ENOSPC comes from /dev/full: the upload's temp file is made a
 *   symlink to it, so the server's write stream gets the same error a full disk gives.
 * - The free-space floor (--min-free-disk, checked with statfs) refuses an upload before any
 *   byte is accepted.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { RemoteError, SiarClient } from '../../src/client/connection.js';
import { TransferError, downloadAttachment, uploadFile } from '../../src/client/transfer.js';
import { freeBytes } from '../../src/transfer/disk-space.js';
import type { ServerConfig } from '../../src/server/config.js';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { cannotMount, noDevFull, requireCapability } from '../helpers/capability.js';
import { nextPush, ownPassword, startServer, tempDir, type TestServer } from '../helpers/siar.js';
import {
  DataPeer, assertNothingLeft, loginMember, noise, offer, sendDeclared, sha256, storedFiles, writeFile,
} from '../transfer/helpers.js';
import { readStoredMessages } from './faults.js';

const MiB = 1024 * 1024;

function mountTmpfs(dir: string, mib: number): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m,mode=0700`, 'siar-test', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A fresh tmpfs of `mib` MiB, unmounted when the test ends. */
function smallDisk(t: Test, mib: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'siar-small-disk-'));
  if (!mountTmpfs(dir, mib)) throw new Error(`could not mount a tmpfs on ${dir}`);
  // Registered before the server starts, so it runs after the server has stopped (teardowns run last-first).
  t.teardown(() => {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Writes a file until the file system has no byte left, as a runaway log would. */
function fillDisk(file: string): void {
  const fd = openSync(file, 'w');
  try {
    for (const size of [MiB, 64 * 1024, 4096, 512, 1]) {
      const chunk = Buffer.alloc(size, 0x55);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Resolves once `check` holds, looking again every few milliseconds (generous deadline). */
async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function setup(t: Test, overrides: Partial<ServerConfig> = {}, dataDir?: string) {
  const s = await startServer(t, overrides, dataDir);
  const clients: SiarClient[] = [];
  for (const name of ['unhas', 'ugm']) {
    const { password } = await s.member(name);
    const c = await s.client();
    await loginMember(c, name, password);
    clients.push(c);
  }
  return { s, sender: clients[0]!, recipient: clients[1]! };
}

/** What must hold after a failed upload: nothing committed or left over, the store sound, the server serving. */
async function assertCleanFailure(t: Test, s: TestServer, sender: SiarClient, recipient: SiarClient, messageId: number): Promise<void> {
  await assertNothingLeft(t, s, 'after DISK_FULL');
  t.strictSame(storedFiles(s.dataDir), [], 'no attachment file was stored');
  const outbox = (await sender.request('OUTBOX')).items.find((i) => i.get('id') === String(messageId));
  t.equal(outbox?.get('state'), 'sending', 'the message still waits for its attachment (it can be retried or cancelled)');
  await t.rejects(recipient.request('READ', { id: messageId }), { code: 'NOT_FOUND' }, 'and no recipient sees it half-way');
  const report = SqliteStore.inspect(path.join(s.dataDir, 'siar.db'));
  t.equal(report.integrity, 'ok', 'the database passes integrity_check');
  t.equal(report.attachments, 0, 'no attachment is recorded as stored');
  t.equal((await recipient.request('PING')).args.get('pong'), '1', 'the server still answers');
}

t.test('a real small disk fills up in the middle of an upload', async (t) => {
  // Without root the /dev/full test below still covers ENOSPC.
  if (!requireCapability(t, 'root to mount a small tmpfs', cannotMount())) return;
  const disk = smallDisk(t, 24);
  const dataDir = path.join(disk, 'data');
  const { s, sender, recipient } = await setup(t, { minFreeDiskBytes: MiB }, dataDir);
  const data = noise(8 * MiB, 21);
  const sent = await sendDeclared(sender, 'ugm', [{ name: 'rekaman rapat.mp4', data }]);
  const attachmentId = sent.attachments[0]!.id;
  const o = await offer(sender, 'UPLOAD', { message: sent.id, attachment: attachmentId });
  const failed = nextPush(sender, 'TRANSFER_FAILED');

  const peer = await DataPeer.connect(t, o);
  peer.write(`${o.ticket}\n`);
  peer.write(data.subarray(0, 2 * MiB));
  const partial = path.join(dataDir, 'tmp', `upload-${attachmentId}.part`);
  await until(() => existsSync(partial) && statSync(partial).size >= 2 * MiB, 'the first 2 MiB are on disk');
  // Another program takes every byte that is left.
  const ballast = path.join(disk, 'ballast');
  fillDisk(ballast);
  peer.end(data.subarray(2 * MiB));

  const [verdict] = await peer.frames();
  t.match(verdict, { kind: 'err', code: 'DISK_FULL' }, 'the data socket says DISK_FULL');
  const push = await failed;
  t.equal(push.get('code'), 'DISK_FULL', 'the control connection hears TRANSFER_FAILED code=DISK_FULL');
  t.equal(push.get('offset'), '0', 'nothing is kept for a resume: the space is given back');
  await assertCleanFailure(t, s, sender, recipient, sent.id);
  const other = await recipient.request('SEND', { to: 'unhas', subject: 'Masih jalan?', body: 'Pesan tanpa lampiran' });
  t.match(other.args.get('id'), /^\d+$/, 'a message without attachments is still stored and sent');

  // The disk is still nearly full: a new upload is refused before a byte is read.
  const file = writeFile(tempDir(t), 'rekaman rapat.mp4', data);
  const early = await uploadFile(sender, { messageId: sent.id, attachmentId, path: file }).catch((e: unknown) => e);
  t.type(early, TransferError);
  t.equal((early as TransferError).code, 'DISK_FULL', 'UPLOAD itself answers DISK_FULL while there is no room');
  t.strictSame(readdirSync(path.join(dataDir, 'tmp')), [], 'and opens no temp file');

  // Room again: the same message's upload goes through and reaches its recipient.
  rmSync(ballast);
  const popup = nextPush(recipient, 'POPUP');
  const ok = await uploadFile(sender, { messageId: sent.id, attachmentId, path: file });
  t.equal(ok.sent, true, 'once there is room the upload completes and the message goes out');
  t.equal((await popup).get('id'), String(sent.id));
  const got = await downloadAttachment(recipient, { messageId: sent.id, attachmentId, dir: tempDir(t) });
  t.equal(sha256(readFileSync(got.path)), sha256(data), 'byte-identical');
  t.equal(SqliteStore.inspect(path.join(dataDir, 'siar.db')).integrity, 'ok');
  await assertNothingLeft(t, s);
});

t.test('ENOSPC from the kernel while writing an upload (the temp file is /dev/full)', async (t) => {
  if (!requireCapability(t, '/dev/full', noDevFull())) return;
  // No sweep during the test: it would remove the symlink as a stale partial.
  const { s, sender, recipient } = await setup(t, { transferSweepIntervalMs: 3_600_000 });
  const data = noise(300_000, 22);
  const sent = await sendDeclared(sender, 'ugm', [{ name: 'poster.bin', data }]);
  const attachmentId = sent.attachments[0]!.id;
  symlinkSync('/dev/full', path.join(s.dataDir, 'tmp', `upload-${attachmentId}.part`));
  const failed = nextPush(sender, 'TRANSFER_FAILED');
  const o = await offer(sender, 'UPLOAD', { message: sent.id, attachment: attachmentId });
  t.equal(o.offset, 0, 'an empty partial: the upload starts at 0');
  const peer = await DataPeer.connect(t, o);
  peer.write(`${o.ticket}\n`);
  peer.end(data);
  const [verdict] = await peer.frames();
  t.match(verdict, { kind: 'err', code: 'DISK_FULL' }, 'the uploader hears DISK_FULL, not INTERNAL');
  t.equal((await failed).get('code'), 'DISK_FULL');
  await assertCleanFailure(t, s, sender, recipient, sent.id);

  const ok = await uploadFile(sender, { messageId: sent.id, attachmentId, path: writeFile(tempDir(t), 'poster.bin', data) });
  t.equal(ok.sent, true, 'the next upload, with room, goes through');

  // A symbolic link planted at the download's part file is not followed (issue 20 item 7): in a
  // shared directory it could point anywhere. (The client's own full disk is tested on a tmpfs below.)
  const dir = tempDir(t);
  symlinkSync('/dev/full', path.join(dir, `.siar-${sent.id}-${attachmentId}.part`));
  const err = await downloadAttachment(recipient, { messageId: sent.id, attachmentId, dir }).catch((e: unknown) => e);
  t.type(err, TransferError);
  t.equal((err as TransferError).code, 'UNSAFE_PART_FILE', 'a symlink at the part path is refused, not written through');
  t.match((err as Error).message, /symbolic link or not a plain file; the download will not write through it/);
  t.strictSame(readdirSync(dir), [`.siar-${sent.id}-${attachmentId}.part`], 'and nothing else is written there');
  await assertNothingLeft(t, s);
});

t.test('the recipient\'s own disk fills up during a download', async (t) => {
  if (!requireCapability(t, 'root to mount a small tmpfs', cannotMount())) return;
  const { s, sender, recipient } = await setup(t);
  const data = noise(3 * MiB, 24);
  const sent = await sendDeclared(sender, 'ugm', [{ name: 'video.bin', data }]);
  const attachmentId = sent.attachments[0]!.id;
  await uploadFile(sender, { messageId: sent.id, attachmentId, path: writeFile(tempDir(t), 'video.bin', data) });
  const dir = path.join(smallDisk(t, 1), 'downloads');
  const err = await downloadAttachment(recipient, { messageId: sent.id, attachmentId, dir }).catch((e: unknown) => e);
  t.type(err, TransferError);
  t.equal((err as TransferError).code, 'DISK_FULL', 'a full disk on the client side is DISK_FULL too (not retried)');
  t.match((err as Error).message, /this computer's disk/);
  await assertNothingLeft(t, s);
});

t.test('the free-space floor refuses an upload before any byte is accepted', async (t) => {
  const { s, sender, recipient } = await setup(t);
  const data = noise(10_000, 23);
  const sent = await sendDeclared(sender, 'ugm', [{ name: 'x.bin', data }]);
  const attachmentId = sent.attachments[0]!.id;
  // A floor no disk can satisfy stands in for a disk that is nearly full (read at each request).
  s.server.config.minFreeDiskBytes = 2 ** 52;
  await t.rejects(sender.request('UPLOAD', { message: sent.id, attachment: attachmentId }), { code: 'DISK_FULL' },
    'UPLOAD answers DISK_FULL on the control connection');
  const err = await uploadFile(sender, { messageId: sent.id, attachmentId, path: writeFile(tempDir(t), 'x.bin', data) }).catch((e: unknown) => e);
  t.equal((err as TransferError).code, 'DISK_FULL', 'the client library reports it and does not retry');
  t.match(s.logs.output, /upload refused: the data disk is \(nearly\) full/, 'the server logs why');
  await assertCleanFailure(t, s, sender, recipient, sent.id);
});

// --- issue 20 item 5: the database under a full disk or a flood of messages -----------------------

/** The largest body a message may carry (48 KiB): what a member flooding the server would send. */
const BIG_BODY = 'x'.repeat(48 * 1024);

interface Flood {
  /** subject → message id, for every SEND answered OK. */
  acked: Map<string, number>;
  /** How many answers of each kind (OK or an error code). */
  answers: Map<string, number>;
  /** The first refusal's sentence. */
  firstRefusal: string | null;
}

/** Sends 48 KiB messages one after another until `refusals` in a row are refused (or `max` are sent). */
async function flood(c: SiarClient, to: string, tag: string, refusals = 5, max = 3000): Promise<Flood> {
  const out: Flood = { acked: new Map(), answers: new Map(), firstRefusal: null };
  let inARow = 0;
  for (let i = 0; i < max && inARow < refusals; i++) {
    const subject = `${tag}-${i}`;
    try {
      const reply = await c.request('SEND', { to, subject, body: BIG_BODY });
      out.acked.set(subject, Number(reply.args.get('id')));
      out.answers.set('OK', (out.answers.get('OK') ?? 0) + 1);
      inARow = 0;
    } catch (err) {
      const code = err instanceof RemoteError ? err.code : String(err);
      out.answers.set(code, (out.answers.get(code) ?? 0) + 1);
      out.firstRefusal ??= (err as Error).message;
      inARow++;
    }
  }
  return out;
}

/** Every acknowledged message is in the database, once, under its id; none refused is. */
function assertStoredExactly(t: Test, dataDir: string, tag: string, acked: Map<string, number>): void {
  const stored = readStoredMessages(dataDir).filter((m) => m.subject.startsWith(`${tag}-`));
  const byId = new Map(stored.map((m) => [m.id, m.subject]));
  const lost = [...acked].filter(([subject, id]) => byId.get(id) !== subject);
  t.strictSame(lost, [], `every one of the ${acked.size} acknowledged messages is stored`);
  t.equal(stored.length, acked.size, 'and nothing that was refused');
}

function answersOf(f: Flood): string {
  return [...f.answers].map(([k, n]) => `${k} ${n}`).join(', ');
}

/** A LOGIN whose OK carries a token that works, or a clear refusal: never an OK whose session was not stored. */
async function loginOutcome(port: number, username: string, password: string): Promise<string> {
  const c = await SiarClient.connect({ host: '127.0.0.1', port });
  try {
    await c.login(username, password, { popups: false });
    return await c.request('WHOAMI').then(() => 'OK, token works', (err: RemoteError) => `OK, but the token is refused: ${err.code}`);
  } catch (err) {
    return err instanceof RemoteError ? err.code : String(err);
  } finally {
    c.close();
  }
}

t.test('the free-space floor refuses SEND and REGISTER before anything is written; logins and reads go on', async (t) => {
  const { s, sender, recipient } = await setup(t);
  const admin = await s.adminClient();
  await sender.request('SEND', { to: 'ugm', subject: 'before the floor', body: 'ok' });
  s.server.config.minFreeDiskBytes = 2 ** 52; // no disk has that much: stands in for a nearly full one
  const refused = await sender.request('SEND', { to: 'ugm', subject: 'under the floor', body: BIG_BODY }).catch((e: unknown) => e);
  t.type(refused, RemoteError);
  t.equal((refused as RemoteError).code, 'DISK_FULL', 'SEND answers DISK_FULL');
  t.match((refused as Error).message, /disk is nearly full .* kept in reserve\): your message was not stored/, 'in a sentence saying so');
  const anon = await s.client();
  await t.rejects(anon.request('REGISTER', { institution: 'Kampus Baru', contact: 'C', email: 'baru@kampus.ac.id', username: 'baru' }),
    { code: 'DISK_FULL', message: /your registration request was not stored/ }, 'REGISTER answers DISK_FULL');
  t.equal((await admin.request('PENDING')).items.length, 0, 'no request was recorded');
  t.notOk(readStoredMessages(s.dataDir).some((m) => m.subject === 'under the floor'), 'the refused message was not stored');
  t.equal(await loginOutcome(s.port, 'admin', s.adminPassword()), 'OK, token works', 'the administrator can still log in (the reserve is for that)');
  t.ok((await recipient.request('INBOX')).items.some((m) => m.get('subject') === 'before the floor'), 'reads go on');
  t.match(s.logs.output, /"code":"DISK_FULL"/, 'the refusals are logged');
});

t.test('a flood of 48 KiB messages stops at the free-space floor; everything acknowledged is stored', async (t) => {
  if (!requireCapability(t, 'root to mount a small tmpfs', cannotMount())) return;
  const disk = smallDisk(t, 24);
  const dataDir = path.join(disk, 'data');
  const floor = 8 * MiB;
  const { s, sender, recipient } = await setup(t, { minFreeDiskBytes: floor, maxSendsPerMinute: 0, memberQuotaBytes: 0 }, dataDir);
  const f = await flood(sender, 'ugm', 'flood');
  t.comment(`answers: ${answersOf(f)}; first refusal: ${f.firstRefusal}`);
  t.strictSame([...f.answers.keys()].sort(), ['DISK_FULL', 'OK'], 'every SEND is acknowledged or refused with DISK_FULL (never INTERNAL)');
  t.ok(f.acked.size >= 100, `the disk took ${f.acked.size} messages before the floor`);
  const free = await freeBytes(dataDir);
  t.ok(free >= floor / 2, `the floor held: ${(free / MiB).toFixed(1)} MiB still free`);
  t.equal(await loginOutcome(s.port, 'admin', s.adminPassword()), 'OK, token works', 'the administrator logs in');
  t.equal(await loginOutcome(s.port, 'ugm', ownPassword('ugm')), 'OK, token works', 'members log in');
  t.equal((await recipient.request('INBOX', { limit: 1 })).items.length, 1, 'and read');
  assertStoredExactly(t, dataDir, 'flood', f.acked);
  t.equal(SqliteStore.inspect(path.join(dataDir, 'siar.db')).integrity, 'ok', 'integrity_check ok');
});

t.test('the disk itself runs out: every write fails whole with DISK_FULL; nothing unstored is acknowledged', async (t) => {
  if (!requireCapability(t, 'root to mount a small tmpfs', cannotMount())) return;
  const disk = smallDisk(t, 16);
  const dataDir = path.join(disk, 'data');
  // No floor: the writes themselves meet ENOSPC (SQLITE_FULL), as when another program fills the disk.
  const { s, sender } = await setup(t, { minFreeDiskBytes: 0, maxSendsPerMinute: 0, memberQuotaBytes: 0 }, dataDir);
  const room = path.join(disk, 'room');
  writeFileSyncBig(room, 3 * MiB);
  const f = await flood(sender, 'ugm', 'full');
  fillDisk(path.join(disk, 'ballast')); // and whatever bytes were left
  t.comment(`answers: ${answersOf(f)}; first refusal: ${f.firstRefusal}`);
  t.strictSame([...f.answers.keys()].sort(), ['DISK_FULL', 'OK'], 'every SEND is acknowledged or refused with DISK_FULL (never INTERNAL)');
  t.match(f.firstRefusal, /disk is full: nothing was stored/, 'in a sentence saying so');
  // A small message may still fit in a page SQLite has: then it is stored; otherwise refused.
  const small = await sender.request('SEND', { to: 'ugm', subject: 'small after full', body: 'x' })
    .then((r) => Number(r.args.get('id')), (err: RemoteError) => err.code);
  t.ok(small === 'DISK_FULL' || readStoredMessages(dataDir).some((m) => m.id === small && m.subject === 'small after full'),
    `a small message is refused with DISK_FULL or stored (${small})`);
  const anon = await s.client();
  const registered = await anon.request('REGISTER', { institution: 'Kampus Penuh', contact: 'C', email: 'penuh@kampus.ac.id', username: 'penuh' })
    .then((r) => Number(r.args.get('id')), (err: RemoteError) => err.code);
  t.ok(registered === 'DISK_FULL' || (typeof registered === 'number' && (await s.server.store.getRegistration(registered))?.username === 'penuh'),
    `REGISTER answers DISK_FULL, or OK for a request that is stored — never INTERNAL (${registered})`);
  const logins = [];
  for (let i = 0; i < 5; i++) logins.push(await loginOutcome(s.port, 'unhas', ownPassword('unhas')));
  t.comment(`LOGIN on a full disk: ${logins.join('; ')}`);
  t.ok(logins.every((l) => l === 'DISK_FULL' || l === 'OK, token works'),
    'LOGIN answers DISK_FULL, or OK with a token that works: never an OK whose session was not stored');
  assertStoredExactly(t, dataDir, 'full', f.acked);
  t.equal(SqliteStore.inspect(path.join(dataDir, 'siar.db')).integrity, 'ok', 'integrity_check ok');

  // The other program lets go of its space: everything works again.
  rmSync(room);
  rmSync(path.join(disk, 'ballast'));
  const again = await sender.request('SEND', { to: 'ugm', subject: 'full-again', body: 'ruang lagi' });
  t.match(again.args.get('id'), /^\d+$/, 'SEND is acknowledged again');
  t.equal(await loginOutcome(s.port, 'unhas', ownPassword('unhas')), 'OK, token works', 'and LOGIN works');
  t.ok(readStoredMessages(dataDir).some((m) => m.subject === 'full-again'), 'and what was acknowledged is stored');
});

/** A file of `bytes` bytes that another program keeps on the disk (freed later to make room). */
function writeFileSyncBig(file: string, bytes: number): void {
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, Buffer.alloc(bytes, 0x33));
  } finally {
    closeSync(fd);
  }
}

t.test('one member cannot flood the server: a sending rate per member (RATE_LIMITED)', async (t) => {
  const { s, sender, recipient } = await setup(t, { maxSendsPerMinute: 10 });
  for (let i = 0; i < 10; i++) await sender.request('SEND', { to: 'ugm', subject: `rate-${i}`, body: 'b' });
  const refused = await sender.request('SEND', { to: 'ugm', subject: 'rate-10', body: 'b' }).catch((e: unknown) => e);
  t.type(refused, RemoteError);
  t.equal((refused as RemoteError).code, 'RATE_LIMITED', 'the eleventh message in a minute is refused');
  t.match((refused as Error).message, /You may send 10 messages a minute and have reached that; nothing was sent\. Try again in \d+ s\./);
  t.notOk(readStoredMessages(s.dataDir).some((m) => m.subject === 'rate-10'), 'and not stored');
  t.ok((await recipient.request('SEND', { to: 'unhas', subject: 'other member', body: 'b' })).args.get('id'), 'another member still sends');
  const admin = await s.adminClient();
  for (let i = 0; i < 12; i++) await admin.request('SEND', { to: 'ugm', subject: `admin-${i}`, body: 'b' });
  t.pass('the administrator is not rate-limited');
  const unhas = (await admin.request('MEMBERS', { q: 'unhas' })).items[0]!;
  t.equal(unhas.get('sentLastMinute'), '10', 'MEMBERS shows what the member sent in the last minute');
  t.equal(unhas.get('maxSendsPerMinute'), '10', 'against the rate');
});

t.test('one member cannot fill the disk: a storage quota per member (QUOTA_EXCEEDED), kept across restarts', async (t) => {
  const quota = 120_000;
  const { s, sender, recipient } = await setup(t, { memberQuotaBytes: quota });
  for (let i = 0; i < 2; i++) await sender.request('SEND', { to: 'ugm', subject: `quota-${i}`, body: BIG_BODY });
  const refused = await sender.request('SEND', { to: 'ugm', subject: 'quota-2', body: BIG_BODY }).catch((e: unknown) => e);
  t.type(refused, RemoteError);
  t.equal((refused as RemoteError).code, 'QUOTA_EXCEEDED', 'the message that would pass the quota is refused');
  t.match((refused as Error).message, /Your messages and attachments take 96 KiB of your 117 KiB quota; this one \(48 KiB\) does not fit, so nothing was sent/);
  t.notOk(readStoredMessages(s.dataDir).some((m) => m.subject === 'quota-2'), 'and not stored');
  t.ok((await recipient.request('SEND', { to: 'unhas', subject: 'other member', body: BIG_BODY })).args.get('id'), 'another member still sends');
  const admin = await s.adminClient();
  const used = (await admin.request('MEMBERS', { q: 'unhas' })).items[0]!;
  const expected = 2 * (BIG_BODY.length + 'quota-0'.length);
  t.equal(used.get('storedBytes'), String(expected), 'MEMBERS shows the bytes the member\'s messages take');
  t.equal(used.get('quotaBytes'), String(quota), 'against the quota');

  // Attachments count (declared at SEND); a cancelled message gives its files' bytes back.
  const small = await sendDeclared(sender, 'ugm', [{ name: 'kecil.bin', data: noise(10_000, 25) }]);
  await t.rejects(sendDeclared(sender, 'ugm', [{ name: 'besar.bin', data: noise(20_000, 26) }]), { code: 'QUOTA_EXCEEDED' }, 'an attachment past the quota is refused at SEND');
  await sender.request('CANCEL', { id: small.id });
  const afterCancel = (await admin.request('MEMBERS', { q: 'unhas' })).items[0]!;
  t.equal(afterCancel.get('storedBytes'), String(expected + 'Undangan'.length + 'Lihat lampiran'.length),
    'a cancelled message\'s attachments no longer count');

  // The usage is stored with the messages: a restart keeps it.
  await s.server.stop();
  const again = await startServer(t, { memberQuotaBytes: quota }, s.dataDir);
  const c = await again.client();
  await c.login('unhas', ownPassword('unhas'));
  await t.rejects(c.request('SEND', { to: 'ugm', subject: 'quota-3', body: BIG_BODY }), { code: 'QUOTA_EXCEEDED' }, 'still refused after a restart');
});

t.test('the store on a full disk: a write whose commit fails is refused, never resolved as done', async (t) => {
  if (!requireCapability(t, 'root to mount a small tmpfs', cannotMount())) return;
  // The root cause of LOGIN answering OK with a session that was never stored: an INSERT … RETURNING
  // read with .get() commits when better-sqlite3 resets the statement, and a failure there was lost.
  const disk = smallDisk(t, 4);
  const file = path.join(disk, 'data', 'siar.db');
  const store = SqliteStore.open(file);
  t.teardown(() => store.close());
  await store.ensureAdmin('hash');
  const admin = (await store.getUserByUsername('admin'))!;
  fillDisk(path.join(disk, 'ballast'));
  const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
  const outcomes: string[] = [];
  for (let i = 0; i < 50; i++) {
    const tokenHash = `hash-${i}-${'t'.repeat(200)}`;
    const outcome = await store.createSession({ userId: admin.id, tokenHash, address: null, expiresAt })
      .then(async () => ((await store.findSession(tokenHash)) ? 'stored' : 'resolved but not stored'), (err: { code?: string }) => err.code ?? 'error');
    outcomes.push(outcome);
  }
  const tally = [...new Set(outcomes)].map((o) => `${o} ×${outcomes.filter((x) => x === o).length}`).join(', ');
  t.comment(`50 sessions on a full disk: ${tally}`);
  t.notOk(outcomes.includes('resolved but not stored'), 'no session is reported stored that was not');
  t.ok(outcomes.includes('SQLITE_FULL'), 'the full disk is reported (SQLITE_FULL, which the server answers as DISK_FULL)');
  await t.rejects(store.enqueueMail({ kind: 'test', to: 'a@example.ac.id', subject: 's', sealedText: 'x'.repeat(8000) }), { code: 'SQLITE_FULL' },
    'a queued mail likewise');
  rmSync(path.join(disk, 'ballast'));
  const session = await store.createSession({ userId: admin.id, tokenHash: 'after', address: null, expiresAt });
  t.equal((await store.findSession('after'))?.id, session.id, 'with room again, writes are stored');
});
