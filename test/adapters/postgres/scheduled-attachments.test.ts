/**
 * A scheduled message with attachments on PostgreSQL (issue 21 item 5): a real `siar server --store
 * postgres://…` process and the real `siar` executable. Sent with `--at --attach`, it is uploaded at
 * once and held, complete, in PostgreSQL; the server restarts before its time; it goes out at its time
 * with its file. One whose upload is still incomplete at its time goes out when the upload completes;
 * one recalled while uploading never goes out (the store's commit path, on PostgreSQL's SQL).
 *
 * Runs on SIAR_TEST_PG_URL (CI) or a private PostgreSQL (test/contract/store/adapters.ts); without
 * PostgreSQL it is skipped, except under CI.
 */
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { SiarClient } from '../../../src/client/connection.js';
import { declareFile, uploadFile } from '../../../src/client/transfer.js';
import { freshPostgresDatabase, postgresMissing } from '../../contract/store/adapters.js';
import { requireCapability } from '../../helpers/capability.js';
import { siar, startSiarServer, startWithMembers } from '../../helpers/cli.js';
import { collectPushes, tempDir, until } from '../../helpers/siar.js';

t.setTimeout(300_000);

t.test('send --at --attach on PostgreSQL: held complete across a restart, out at its time; late uploads and recalls', async (t) => {
  if (!requireCapability(t, 'PostgreSQL', postgresMissing())) return;
  const url = await freshPostgresDatabase(t, { empty: true });
  const dataDir = tempDir(t, 'siar-pg-sched-');
  const first = await startWithMembers(t, dataDir, [['unhas', 'Universitas Hasanuddin'], ['ugm', 'Universitas Gadjah Mada']], { args: ['--store', url] });
  const { as } = first;
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  t.teardown(() => db.end());
  const file = path.join(tempDir(t), 'undangan.txt');
  writeFileSync(file, 'Undangan wisuda, Sabtu 08:00\n'.repeat(3000));

  const before = Date.now();
  const sent = await siar(['send', '--to', 'ugm', '--subject', 'Wisuda', '--at', '30s', '--attach', file], as.unhas!);
  t.equal(sent.code, 0, sent.stderr);
  const id = Number(sent.stdout.trim());
  const row = await db.query<{ state: string; held: boolean; due: boolean }>(
    `SELECT m.state, m.pending_recipients IS NOT NULL AS held, a.release_due_at IS NOT NULL AS due FROM messages m JOIN message_alerts a ON a.message_id = m.id WHERE m.id = $1`, [id]);
  t.strictSame(row.rows, [{ state: 'sent', held: true, due: true }], 'uploaded and held in PostgreSQL');
  t.notMatch((await siar(['inbox'], as.ugm!)).stdout, /Wisuda/, 'not in the inbox before its time');
  t.not((await siar(['download', String(id), '--to', tempDir(t)], as.ugm!)).code, 0, 'nothing to download before its time');
  t.ok(Date.now() < before + 30_000, 'checked before its time');

  const exited = once(first.child, 'exit');
  first.child.kill('SIGTERM');
  await exited;
  const second = await startSiarServer(t, dataDir, ['--store', url]);
  const ugm = { ...as.ugm!, SIAR_SERVER: second.address };
  await until('it is in the inbox at its time, after the restart', async () => /Wisuda/.test((await siar(['inbox'], ugm)).stdout), 60_000);
  t.ok(Date.now() >= before + 30_000 - 1000, 'not before its time');
  const into = tempDir(t);
  const got = await siar(['download', String(id), '--to', into], ugm);
  t.equal(got.code, 0, got.stderr);
  t.equal(readFileSync(path.join(into, 'undangan.txt'), 'utf8'), readFileSync(file, 'utf8'), 'the file arrives whole');

  // Through the client library on the same server: an upload incomplete at its time, and a recall while uploading.
  const sender = await SiarClient.connect({ host: '127.0.0.1', port: second.port });
  t.teardown(() => sender.close());
  await sender.login('unhas', as.unhas!.SIAR_PASSWORD!);
  const reader = await SiarClient.connect({ host: '127.0.0.1', port: second.port });
  t.teardown(() => reader.close());
  await reader.login('ugm', as.ugm!.SIAR_PASSWORD!);
  const popups = collectPushes(reader, 'POPUP');
  const f = await declareFile(file);
  const decl = [{ name: f.name, size: f.size, sha256: f.sha256 }];
  const late = await sender.send({ to: ['ugm'], subject: 'Terlambat', at: '2s', attachments: decl });
  const recalled = await sender.send({ to: ['ugm'], subject: 'Batal', at: '2s', attachments: decl });
  t.match(await sender.recall(recalled.id, 'salah'), { undelivered: 1 });
  await new Promise((r) => setTimeout(r, 3500));
  await reader.ping();
  t.strictSame(popups, [], 'nothing before the uploads complete');
  t.equal((await uploadFile(sender, { messageId: recalled.id, attachmentId: recalled.attachments[0]!.id, path: file })).held, true, 'recalled: held for good');
  t.equal((await uploadFile(sender, { messageId: late.id, attachmentId: late.attachments[0]!.id, path: file })).sent, true, 'late: out with its last upload');
  await until('the late one pops up', () => popups.length === 1);
  await new Promise((r) => setTimeout(r, 2500));
  await reader.ping();
  t.strictSame(popups.map((p) => p.get('subject')), ['Terlambat'], 'the late one once, the recalled one never');
});
