/**
 * A locked or busy database (issue 7 §6, issue 20 item 8): another process holds `BEGIN EXCLUSIVE`
 * on a real `siar server`'s database, as a backup script or an sqlite3 shell left open would.
 *
 *   - the server's event loop never waits for the lock: of the PINGs sent every 10 ms meanwhile,
 *     99 % are answered in under 50 ms and none waits (all under 250 ms; before issue 20 one waited
 *     the whole 5 s busy timeout);
 *   - a write that meets the lock waits (up to 5 s, off the event loop) and succeeds once the lock
 *     is released within that time, acknowledged only after its commit;
 *   - past the wait the request gets `ERR|BUSY` (not INTERNAL) and nothing is stored, the
 *     connection stays, reads still work (WAL readers are not blocked), and the same request
 *     succeeds after the release;
 *   - the mail worker, caught by the lock between sending a mail and recording it, survives and
 *     records the mail on a later pass (the mail may go out twice: at least once, never lost).
 */
import path from 'node:path';
import t, { type Test } from 'tap';
import { RemoteError, SiarClient } from '../../src/client/connection.js';
import { collectPushes, parseEml, passwordFromText, tempDir } from '../helpers/siar.js';
import { DatabaseLock, adminClient, gatedSmtp, readStoredMessages } from './faults.js';
import { ChildServer, freePort, loggedIn, seedMembers, sleep, waitFor } from './helpers.js';

const PASSWORD = 'busy-password-0123456789';
/** A PING never waits on the database: answered in under 50 ms (SQLite's own wait was 5 s). */
const PING_BOUND_MS = 50;
/**
 * On this shared 2-core machine the scheduler alone sometimes delays a round trip past 50 ms (one
 * run: 66 ms), lock or no lock; a wait on the database is a gap of seconds. So 99 % of the PINGs must
 * be under 50 ms and every one under 250 ms.
 */
const PING_STALL_MS = 250;

/** The checks on PINGs sent while another process held the lock. */
function assertPingsFast(t: Test, times: number[], when: string): void {
  const sorted = [...times].sort((x, y) => x - y);
  const p99 = sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))]!;
  t.ok(p99 < PING_BOUND_MS, `${when}: 99 % of the PINGs answered in under ${PING_BOUND_MS} ms (p99 ${p99.toFixed(1)} ms)`);
  t.ok(sorted.at(-1)! < PING_STALL_MS, `${when}: no PING waited on the database (max ${sorted.at(-1)!.toFixed(1)} ms)`);
}

/** PINGs `client` every 10 ms until `stop` resolves; returns each round trip in ms. */
async function pingEvery10ms(client: SiarClient, stop: Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  let stopped = false;
  void stop.finally(() => { stopped = true; });
  while (!stopped) {
    const started = performance.now();
    await client.request('PING');
    times.push(performance.now() - started);
    await sleep(10);
  }
  return times;
}

function describePings(times: number[]): string {
  const sorted = [...times].sort((x, y) => x - y);
  const at = (q: number): string => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
  return `${times.length} PINGs: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`;
}

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

  t.test('a lock released within the busy timeout only delays the write; the server answers meanwhile', async (t) => {
    lock.hold();
    const sending = a.request('SEND', { to: 'busyb', subject: 'during a short lock' }).then((r) => ({ r, at: Date.now() }));
    const pings = pingEvery10ms(b, sleep(3000));
    const times = await pings;
    const releasedAt = Date.now();
    t.equal(readStoredMessages(dataDir).filter((m) => m.subject === 'during a short lock').length, 0,
      'while the lock is held the message is not stored (and not acknowledged)');
    lock.release();
    const { r, at } = await sending;
    t.comment(`while another process held the lock for 3 s: ${describePings(times)}`);
    t.ok(times.length >= 30, `the PINGs kept coming (${times.length})`);
    assertPingsFast(t, times, 'while the lock was held');
    t.ok(Number(r.args.get('id')) > 0, 'SEND acknowledged');
    t.ok(at >= releasedAt, 'the acknowledgement came after the release: the commit waited for the lock');
    t.ok(readStoredMessages(dataDir).some((m) => m.id === Number(r.args.get('id')) && m.subject === 'during a short lock'),
      'and what was acknowledged is committed');
    t.ok(await waitFor(() => popups.some((p) => p.get('subject') === 'during a short lock'), 30_000), 'the popup went out');
  });

  t.test('past the busy timeout the request gets BUSY; reads go on; the retry succeeds', async (t) => {
    lock.hold();
    const sentAt = Date.now();
    const refusing = a.request('SEND', { to: 'busyb', subject: 'during a long lock' }).then(() => null, (err: unknown) => err);
    const times = await pingEvery10ms(b, refusing);
    const refused = await refusing;
    const waited = Date.now() - sentAt;
    t.comment(`the SEND was refused after ${waited} ms; meanwhile ${describePings(times)}`);
    assertPingsFast(t, times, 'while the write waited');
    t.type(refused, RemoteError);
    t.equal((refused as RemoteError).code, 'BUSY', 'ERR|BUSY, not INTERNAL');
    t.ok(waited >= 4_500 && waited < 30_000, `after the documented wait of 5 s (${waited} ms)`);
    const inbox = await b.request('INBOX', { limit: 5 });
    t.ok(inbox.items.some((m) => m.get('subject') === 'during a short lock'), 'reads are served while the lock is held');
    t.equal((await a.request('PING')).args.get('pong'), '1', 'the refused connection stays open');
    lock.release();
    const retry = await a.request('SEND', { to: 'busyb', subject: 'after the long lock' });
    t.ok(Number(retry.args.get('id')) > 0, 'the same request succeeds after the release');
    t.ok(await waitFor(() => popups.some((p) => p.get('subject') === 'after the long lock'), 30_000), 'its popup went out');
    t.notOk(popups.some((p) => p.get('subject') === 'during a long lock'), 'the refused message was not delivered');
    t.notOk(readStoredMessages(dataDir).some((m) => m.subject === 'during a long lock'), 'nor stored');
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
