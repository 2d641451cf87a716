/**
 * A popup recorded delivered at commit (delivery.ts) but never written — the server was killed in
 * between — must not be lost: a server that finds the lock of a dead process (no clean stop)
 * reopens its last deliveries recorded at commit, and the recipient gets the popup at its next
 * login. A clean stop leaves no lock, and nothing is replayed. Real server, real store file.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import t, { type Test } from 'tap';
import { SiarClient } from '../../src/client/connection.js';
import { writeServerLock } from '../../src/server/backup.js';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { nextPush, startServer, tempDir } from '../helpers/siar.js';

/** Members alice and bob; then, with the server stopped, a message to bob "committed" delivered but never pushed. */
async function popupCommittedButNeverWritten(t: Test, dataDir: string) {
  const s = await startServer(t, {}, dataDir);
  await s.member('alice');
  const bob = await s.member('bob');
  await s.server.stop();
  const store = SqliteStore.open(path.join(dataDir, 'siar.db'));
  try {
    const [a, b] = [await store.getUserByUsername('alice'), await store.getUserByUsername('bob')];
    const older = await store.deliveredAtCommit!(() => true).storeMessage({ senderId: a!.id, audience: 'direct', recipientIds: [b!.id], subject: 'pushed long ago', body: 'x' });
    // A mark from two minutes before the newest message is outside the doubted window (5 s).
    store.db.prepare('UPDATE messages SET sent_at = ? WHERE id = ?').run(new Date(Date.parse(older.sentAt) - 120_000).toISOString(), older.id);
    store.db.prepare('UPDATE message_recipients SET delivered_at = ? WHERE message_id = ?').run(new Date(Date.parse(older.sentAt) - 120_000).toISOString(), older.id);
    const lost = await store.deliveredAtCommit!(() => true).storeMessage({ senderId: a!.id, audience: 'direct', recipientIds: [b!.id], subject: 'killed before the push', body: 'x' });
    t.equal(lost.recipients[0]!.deliveredAt, lost.sentAt);
    t.strictSame(await store.listUndelivered(b!.id, 10), [], 'the store says delivered');
  } finally {
    store.close();
  }
  return { bobPassword: bob.password };
}

function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim());
}

t.test('after a kill, the last popups recorded at commit are replayed at the next login', async (t) => {
  const dataDir = tempDir(t);
  const { bobPassword } = await popupCommittedButNeverWritten(t, dataDir);
  await writeServerLock(dataDir, { pid: deadPid(), host: '127.0.0.1', port: 1, startedAt: new Date().toISOString() });
  const s = await startServer(t, {}, dataDir);
  const warning = s.logs.records.find((r) => String(r.msg).includes('did not stop cleanly'));
  t.match(warning, { reopened: 1 }, 'logged, with how many');
  const bob = await SiarClient.connect({ host: '127.0.0.1', port: s.port });
  t.teardown(() => bob.close());
  const popup = nextPush(bob, 'POPUP');
  await bob.login('bob', bobPassword);
  t.equal((await popup).get('subject'), 'killed before the push');
  t.equal((await bob.request('INBOX')).args.get('count'), '2', 'both messages are in the inbox either way');
});

t.test('after a clean stop nothing is replayed', async (t) => {
  const dataDir = tempDir(t);
  const { bobPassword } = await popupCommittedButNeverWritten(t, dataDir);
  const s = await startServer(t, {}, dataDir);
  t.notOk(s.logs.records.some((r) => String(r.msg).includes('did not stop cleanly')));
  const bob = await SiarClient.connect({ host: '127.0.0.1', port: s.port });
  t.teardown(() => bob.close());
  const popups: string[] = [];
  bob.on('push', (event, args) => { if (event === 'POPUP') popups.push(args.get('subject') ?? ''); });
  await bob.login('bob', bobPassword);
  await bob.request('WHOAMI'); // the replay would have come right after the login's OK
  await new Promise((r) => setTimeout(r, 200));
  t.strictSame(popups, []);
});
