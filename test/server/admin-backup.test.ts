/**
 * Online backup while clients keep sending, and a restore through the real `siar restore` CLI:
 * the copy is a sound SQLite database holding everything acknowledged before the backup began,
 * and a server started on the restored data serves it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import t from 'tap';
import type { SiarClient } from '../../src/client/connection.js';
import { SIAR } from '../helpers/cli.js';
import { collectPushes, startServer, tempDir } from '../helpers/siar.js';



function siar(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SIAR, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

// Thousands of messages, a backup, and the real `siar restore` executable: slower than most files.
t.setTimeout(300_000);

t.test('a backup taken while members send holds every acknowledged message; a restored server serves it', async (t) => {
  // Members send in closed loops through the backup: no sending rate may stop them.
  const s = await startServer(t, { maxSendsPerMinute: 0 });
  const admin = await s.adminClient();
  const progress = collectPushes(admin, 'BACKUP');
  const names = ['unhas', 'ugm', 'itb'];
  const passwords = new Map<string, string>();
  for (const n of names) passwords.set(n, (await s.member(n)).password);
  const users = await Promise.all(names.map((n) => s.server.store.getUserByUsername(n)));
  const [unhas, ugm, itb] = users.map((u) => u!);

  // Enough data that the copy takes many steps, so sends really interleave with it.
  const body = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(40);
  for (let i = 0; i < 3000; i++) {
    await s.server.store.storeMessage({ senderId: unhas!.id, audience: 'list', recipientIds: [ugm!.id, itb!.id], subject: `arsip ${i}`, body });
  }

  // An attachment file in the data directory, as the transfer service stores them.
  const content = Buffer.from('%PDF-1.4 undangan seminar\n');
  const sha = createHash('sha256').update(content).digest('hex');
  const storagePath = `attachments/${sha.slice(0, 2)}/${sha}`;
  mkdirSync(path.join(s.dataDir, path.dirname(storagePath)), { recursive: true });
  writeFileSync(path.join(s.dataDir, storagePath), content);
  const withFile = await s.server.store.storeMessage({ senderId: ugm!.id, audience: 'direct', recipientIds: [unhas!.id], subject: 'Undangan', body: 'lihat lampiran' });
  await s.server.store.addAttachment({ messageId: withFile.id, name: 'undangan.pdf', size: content.length, sha256: sha, mediaType: 'application/pdf', storagePath });

  // Members send all the time, before, during and after the backup.
  const acked: Array<{ id: number; at: number }> = [];
  let sending = true;
  const clients: SiarClient[] = await Promise.all(names.map((n) => s.memberClient(n)));
  const senders = clients.map(async (c, i) => {
    let n = 0;
    while (sending) {
      const reply = await c.request('SEND', { to: names[(i + 1) % names.length]!, subject: `live ${i}-${n++}`, body: 'x'.repeat(500) });
      acked.push({ id: Number(reply.args.get('id')), at: performance.now() });
    }
  });
  while (acked.length < 30) await new Promise((r) => setImmediate(r));

  const startedAt = performance.now();
  const ackedBefore = acked.filter((a) => a.at < startedAt).map((a) => a.id);
  const reply = await admin.request('BACKUP', { wait: 1, attachments: 'copy' });
  const duringCount = acked.filter((a) => a.at >= startedAt).length;
  sending = false;
  await Promise.all(senders);

  const backup = reply.args.toObject();
  t.match(backup, { status: 'done', integrity: 'ok', attachments: '1', attachmentMode: 'copy', attachmentsMissing: '0' });
  t.ok(duringCount > 0, `members kept being served during the backup (${duringCount} sends acknowledged meanwhile)`);
  t.ok(progress.some((p) => p.get('status') === 'running'), 'progress was pushed while it ran');
  t.equal(progress[progress.length - 1]?.get('status'), 'done', 'and the end');
  const file = path.join(s.dataDir, 'backups', backup.file as string);
  t.ok(existsSync(file), 'the backup is in <data>/backups/');
  t.same(readdirSync(path.dirname(file)).filter((f) => /partial|-wal$|-shm$/.test(f)), [], 'and nothing else is left there');
  t.equal(statSync(file).mode & 0o777, 0o600, 'readable by the administrator only');

  // The copy is a sound database whose content is the server's committed state at one moment.
  const db = new Sqlite(file, { readonly: true });
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'PRAGMA integrity_check = ok');
  const ids = new Set(db.prepare<[], number>('SELECT id FROM messages').pluck().all());
  const missing = ackedBefore.filter((id) => !ids.has(id));
  t.same(missing, [], `every message acknowledged before the backup began is in it (${ackedBefore.length} live + 3001 stored)`);
  t.ok(ids.has(withFile.id) && ids.size >= 3001 + ackedBefore.length);
  const committed = new Set(
    (await Promise.all(users.map((u) => s.server.store.outbox(u!.id, { limit: 100_000 })))).flat().map((m) => m.id),
  );
  t.same([...ids].filter((id) => !committed.has(id)), [], 'and nothing the server never committed');
  const torn = db.prepare<[], number>(`SELECT count(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM message_recipients r WHERE r.message_id = m.id)`).pluck().get();
  t.equal(torn, 0, 'no message without its recipients (transactions are whole)');
  db.close();

  const list = await admin.request('BACKUPS');
  t.equal(list.items[0]?.get('name'), backup.name, 'BACKUPS lists it');
  t.equal(list.items[0]?.get('messages'), String(ids.size));
  const audit = await admin.request('AUDIT', { kind: 'backup_created' });
  t.equal(audit.items[0]?.get('subject'), backup.name, 'audited');

  // Restore through the real CLI: refused while a server runs there, and over existing data.
  const running = await siar(['restore', file, '--data', s.dataDir, '--force']);
  t.not(running.code, 0);
  t.match(running.stderr, /restore refused: a siar server \(pid \d+, .*\) is running on/);
  const target = path.join(tempDir(t), 'restored');
  const restored = await siar(['restore', file, '--data', target]);
  t.equal(restored.code, 0, restored.stderr);
  t.match(restored.stdout, new RegExp(`restored .* into ${target}/siar\\.db`));
  t.match(restored.stdout, /1 attachment file\(s\) copied back/);
  t.same(readFileSync(path.join(target, storagePath)), content, 'the attachment file is back');
  const again = await siar(['restore', file, '--data', target]);
  t.not(again.code, 0);
  t.match(again.stderr, /already holds a database; give --force/);
  const notDb = path.join(target, 'not-a-db.db');
  writeFileSync(notDb, 'hello');
  const bad = await siar(['restore', notDb, '--data', path.join(tempDir(t), 'x')]);
  t.not(bad.code, 0);
  t.match(bad.stderr, /is not a siar database/);

  // A server on the restored data starts and serves the content.
  await s.server.stop();
  const r = await startServer(t, {}, target);
  const ugmClient = await r.client();
  await ugmClient.login('ugm', passwords.get('ugm')!);
  const inbox = await ugmClient.request('INBOX', { limit: 500 });
  t.equal(inbox.args.get('unread') !== undefined, true);
  const theirs = new Set(inbox.items.map((a) => Number(a.get('id'))));
  const ugmBefore = (await Promise.all(ackedBefore.map(async (id) => ({ id, m: await r.server.store.getMessage(id) }))))
    .filter((x) => x.m?.recipients.some((rc) => rc.username === 'ugm')).map((x) => x.id);
  t.ok(ugmBefore.length > 0);
  t.same(ugmBefore.filter((id) => !theirs.has(id)), [], 'the restored server serves the messages acknowledged before the backup');
  const unhasClient = await r.client();
  await unhasClient.login('unhas', passwords.get('unhas')!);
  const opened = await unhasClient.request('READ', { id: withFile.id });
  t.match(opened.args.getAll('attachment')[0], /undangan\.pdf$/);
  const restoredAdmin = await r.client();
  await restoredAdmin.login('admin', s.adminPassword());
  t.equal((await restoredAdmin.request('MEMBERS')).items.length, 3, 'the admin of the backup logs in and sees the members');

  // --force keeps the database it replaces.
  await r.server.stop();
  const forced = await siar(['restore', file, '--data', target, '--force', '--json']);
  t.equal(forced.code, 0, forced.stderr);
  const result = JSON.parse(forced.stdout) as { previous: string };
  t.ok(existsSync(result.previous), 'the replaced database is kept beside it');
});

t.test('one backup at a time', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  const first = await admin.request('BACKUP');
  t.equal(first.args.get('status'), 'running', 'without wait=1 the reply comes at once');
  const second = admin.request('BACKUP');
  const outcome = await second.then(() => 'ok', (err: { code: string }) => err.code);
  // The first may already be done on a fast machine; otherwise the second is refused.
  t.ok(outcome === 'ok' || outcome === 'TOO_MANY_REQUESTS', outcome);
  await s.server.backups.running?.done;
  t.ok((await admin.request('BACKUPS')).items.length >= 1);
});
