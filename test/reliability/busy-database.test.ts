/**
 * A locked or busy database (issue 7 §6): another connection holds `BEGIN EXCLUSIVE` on a real
 * `siar server`'s database, as a backup script or an sqlite3 shell left open would.
 *
 *   - a write that meets the lock waits (SQLite's busy timeout, 5 s) and succeeds once the lock
 *     is released within that time;
 *   - past the timeout the request gets `ERR|BUSY` (not INTERNAL), the connection stays, reads
 *     still work (WAL readers are not blocked), and the same request succeeds after the release;
 *   - the mail worker, caught by the lock between sending a mail and recording it, survives and
 *     records the mail on a later pass (the mail may go out twice: at least once, never lost).
 */
import path from 'node:path';
import t from 'tap';
import { RemoteError, SiarClient } from '../../src/client/connection.js';
import { collectPushes, parseEml, passwordFromText, tempDir } from '../helpers/siar.js';
import { DatabaseLock, adminClient, gatedSmtp } from './faults.js';
import { ChildServer, freePort, loggedIn, seedMembers, sleep, waitFor } from './helpers.js';

const PASSWORD = 'busy-password-0123456789';

t.test('a busy database is waited for, then refused with BUSY, and the server keeps serving', async (t) => {
  const root = tempDir(t, 'siar-busy-');
  const dataDir = path.join(root, 'data');
  await seedMembers(dataDir, ['busya', 'busyb'], PASSWORD);
  const smtp = await gatedSmtp();
  t.teardown(() => smtp.close());
  const server = await ChildServer.start({ dataDir, port: await freePort(), args: ['--smtp', smtp.url] });
  t.teardown(async () => { await server.kill('SIGKILL'); });
  const port = server.opts.port;
  const a = await loggedIn(port, 'busya', PASSWORD);
  const b = await loggedIn(port, 'busyb', PASSWORD);
  const admin = await adminClient(port, dataDir);
  t.teardown(() => { for (const c of [a, b, admin]) void c.close(); });
  const popups = collectPushes(b, 'POPUP');
  const lock = new DatabaseLock(path.join(dataDir, 'siar.db'));
  t.teardown(() => lock.close());

  t.test('a lock released within the busy timeout only delays the write', async (t) => {
    lock.hold();
    const sending = a.request('SEND', { to: 'busyb', subject: 'during a short lock' }).then((r) => ({ r, at: Date.now() }));
    await sleep(1000);
    const releasedAt = Date.now();
    lock.release();
    const { r, at } = await sending;
    t.ok(Number(r.args.get('id')) > 0, 'SEND acknowledged');
    t.ok(at >= releasedAt, 'the acknowledgement came after the release: the commit waited for the lock');
    t.ok(await waitFor(() => popups.some((p) => p.get('subject') === 'during a short lock'), 30_000), 'the popup went out');
  });

  t.test('past the busy timeout the request gets BUSY; reads go on; the retry succeeds', async (t) => {
    lock.hold();
    const refusing = a.request('SEND', { to: 'busyb', subject: 'during a long lock' }).then(() => null, (err: unknown) => err);
    // better-sqlite3 waits inside the call: the whole server waits with it (a figure, not a verdict).
    const pingStart = Date.now();
    await b.request('PING');
    t.comment(`a PING sent while the write waited for the lock was answered after ${Date.now() - pingStart} ms`);
    const refused = await refusing;
    t.type(refused, RemoteError);
    t.equal((refused as RemoteError).code, 'BUSY', 'ERR|BUSY, not INTERNAL');
    const inbox = await b.request('INBOX', { limit: 5 });
    t.ok(inbox.items.some((m) => m.get('subject') === 'during a short lock'), 'reads are served while the lock is held');
    t.equal((await a.request('PING')).args.get('pong'), '1', 'the refused connection stays open');
    lock.release();
    const retry = await a.request('SEND', { to: 'busyb', subject: 'after the long lock' });
    t.ok(Number(retry.args.get('id')) > 0, 'the same request succeeds after the release');
    t.ok(await waitFor(() => popups.some((p) => p.get('subject') === 'after the long lock'), 30_000), 'its popup went out');
    t.notOk(popups.some((p) => p.get('subject') === 'during a long lock'), 'the refused message was not stored');
    t.ok(server.alive, 'the server is still running');
  });

  t.test('the mail worker survives a lock between sending a mail and recording it', async (t) => {
    const anon = await SiarClient.connect({ host: '127.0.0.1', port });
    t.teardown(() => anon.close());
    const reg = await anon.request('REGISTER', { institution: 'Universitas Sibuk', contact: 'C', email: 'sibuk@example.ac.id', username: 'sibuk' });
    const approved = await admin.request('APPROVE', { id: reg.args.get('id')! });
    const mailId = approved.args.get('mailId')!;
    // The worker has handed the mail to SMTP and waits for its answer; now the database gets locked.
    t.ok(await waitFor(() => smtp.received.length >= 1, 30_000), 'the credentials mail reached SMTP');
    lock.hold();
    smtp.open();
    t.ok(await waitFor(() => server.logTail(200).includes('could not be marked sent'), 60_000), 'the worker met the lock when recording the mail');
    lock.release();
    t.ok(await waitFor(async () => (await admin.request('MAILQUEUE', { id: mailId })).items[0]?.get('sentAt') !== '', 60_000, 200),
      'a later pass of the worker recorded the mail as sent');
    const password = passwordFromText(parseEml(smtp.received.at(-1)!).text, 'sibuk');
    const member = await loggedIn(port, 'sibuk', password);
    t.teardown(() => member.close());
    t.equal((await member.request('WHOAMI')).args.get('username'), 'sibuk', 'the mailed password works');
    t.ok(server.alive, 'the server is still running');
  });
});
