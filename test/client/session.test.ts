/**
 * SiarSession against real servers: a server stopped and restarted on the same data dir and port,
 * backoff while it is down, automatic re-login, missed popups replayed, credentials refused.
 */
import t from 'tap';
import { SiarClient, type ConnectOptions } from '../../src/client/connection.js';
import { OfflineError, SiarSession, backoffDelay, type SessionState } from '../../src/client/session.js';
import { argsToPopup, type Args } from '../../src/protocol/index.js';
import { freePort, startServer, tempDir } from '../helpers/siar.js';

/** Collects pushes of one event from the session. */
function pushes(session: SiarSession, event: string): Args[] {
  const out: Args[] = [];
  session.on('push', (e, a) => { if (e === event) out.push(a); });
  return out;
}

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('backoff grows by the factor up to the maximum, shortened by at most the jitter', async (t) => {
  const opts = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 };
  t.same([0, 1, 2, 3, 4, 10].map((n) => backoffDelay(n, opts, () => 0)), [100, 200, 400, 800, 1000, 1000]);
  t.equal(backoffDelay(2, opts, () => 1), 200, 'full jitter halves it');
  t.equal(backoffDelay(0, {}, () => 0), 1000, 'defaults: 1 s first');
  t.ok(backoffDelay(0) > 790 && backoffDelay(0) <= 1000, 'default jitter: up to 20 % shorter');
  t.ok(backoffDelay(30) <= 30_000);
});

t.test('a restarted server: the session reconnects with backoff, logs in again, gets the popups it missed', async (t) => {
  const port = await freePort();
  const dataDir = tempDir(t);
  const s1 = await startServer(t, { port }, dataDir);
  const alice = await s1.member('alice');
  const bobCreds = await s1.member('bob');

  // Connection attempts pass through a gate the test can close, to decide when the session may come back.
  let gate: Promise<void> = Promise.resolve();
  let attempts = 0;
  const session = new SiarSession({
    address: `127.0.0.1:${port}`,
    backoff: { initialMs: 50, maxMs: 400, factor: 2, jitter: 0 },
    connect: async (o: ConnectOptions) => {
      await gate;
      attempts++;
      return SiarClient.connect(o);
    },
  });
  t.teardown(() => session.close());
  const states: SessionState[] = [];
  session.on('state', (s) => states.push(s));
  const logins: boolean[] = [];
  session.on('login', (_, how) => logins.push(how.resumed));
  const popups = pushes(session, 'POPUP');

  t.throws(() => session.connection(), OfflineError, 'no connection before start');
  session.start();
  await session.waitFor((s) => s.status === 'connected');
  const info = await session.login('alice', alice.password);
  t.equal(info.username, 'alice');
  t.equal(info.mustChangePassword, false, 'member() has already replaced the mailed password');
  t.equal(session.state.status, 'online');
  t.same((await session.request('WHOAMI')).args.get('username'), 'alice');

  // The server goes away: the session says so and keeps trying, with growing delays.
  const before = attempts;
  await s1.server.stop();
  await session.waitFor((s) => s.status === 'offline');
  await until(() => attempts >= before + 3, 'three failed attempts');
  const offline = states.filter((s) => s.status === 'offline');
  const waits = offline.slice(1).map((s) => s.attempt);
  t.ok(waits.length >= 2 && waits.every((a, i) => i === 0 || a > waits[i - 1]!), `attempts count up (${waits.join(',')})`);
  t.match(session.state.error ?? '', /ECONNREFUSED|reach/, 'the reason is kept for the UI');
  await t.rejects(session.request('INBOX'), OfflineError, 'requests fail fast while offline');

  // Hold the session back, bring the server up on the same port and data, and send while the member is away.
  let open!: () => void;
  gate = new Promise<void>((resolve) => { open = resolve; });
  const s2 = await startServer(t, { port }, dataDir);
  const bob = await s2.client();
  await bob.login('bob', bobCreds.password);
  const sent = await bob.request('SEND', { to: 'alice', subject: 'While you were away', body: 'missed' });
  const id = Number(sent.args.get('id'));
  open();

  await session.waitFor((s) => s.status === 'online', 20_000);
  t.ok(states.some((s) => s.status === 'authenticating'), 'it logged in again by itself');
  t.same(logins, [false, true], 'a resumed login was reported');
  t.equal(session.state.reconnects, 1);
  await until(() => popups.some((p) => argsToPopup(p).id === id), 'the missed popup');
  t.equal(argsToPopup(popups.find((p) => argsToPopup(p).id === id)!).subject, 'While you were away');
  const inbox = await session.request('INBOX');
  t.same(inbox.items.map((a) => a.get('subject')), ['While you were away'], 'requests work again');

  // A live popup on the new connection, exactly once.
  const live = await bob.request('SEND', { to: 'alice', subject: 'Live again', body: '' });
  await until(() => popups.some((p) => argsToPopup(p).id === Number(live.args.get('id'))), 'the live popup');
  t.equal(popups.filter((p) => argsToPopup(p).id === id).length, 1, 'no popup twice');
});

t.test('an expired session: its connection is closed (SESSION_EXPIRED), the session logs in again and popups go on', async (t) => {
  // Every session here lives 4 s, the sender's too: long enough for one SEND on a loaded machine.
  const s = await startServer(t, { sessionTtlMs: 4000 });
  const dana = await s.member('dana');
  await s.member('eko');
  const session = new SiarSession({ address: `127.0.0.1:${s.port}`, backoff: { initialMs: 20, maxMs: 100, jitter: 0 } });
  t.teardown(() => session.close());
  const logins: boolean[] = [];
  session.on('login', (_, how) => logins.push(how.resumed));
  const lost: Error[] = [];
  session.on('authLost', (err) => lost.push(err));
  const popups = pushes(session, 'POPUP');
  const errors: string[] = [];
  session.on('state', (st) => { if (st.status === 'offline' && st.error) errors.push(st.error); });
  session.start();
  await session.waitFor((st) => st.status === 'connected');
  await session.login('dana', dana.password);
  await until(() => logins.includes(true), 'the re-login after the expiry');
  t.match(errors[0], /SESSION_EXPIRED/, 'the connection was lost to the expiry');
  t.same(lost, [], 'the credentials were kept');
  const eko = await s.memberClient('eko');
  const sent = await eko.request('SEND', { to: 'dana', subject: 'After the expiry', body: '' });
  await until(() => popups.some((p) => argsToPopup(p).id === Number(sent.args.get('id'))), 'the popup on the new session');
  t.pass('the popup arrived on the new session');
});

t.test('a session the server closes (logged out elsewhere, password changed, suspension) ends in authLost with the server\'s reason, without a re-login', async (t) => {
  const s = await startServer(t, { sessionTtlMs: 60 * 60_000 });
  const carol = await s.member('carol');
  const admin = await s.adminClient();
  const session = new SiarSession({ address: `127.0.0.1:${s.port}`, backoff: { initialMs: 20, maxMs: 100, jitter: 0 } });
  t.teardown(() => session.close());
  const logins: boolean[] = [];
  session.on('login', (_, how) => logins.push(how.resumed));
  session.start();
  await session.waitFor((st) => st.status === 'connected');
  const closedBy = async (act: () => Promise<unknown>): Promise<Error> => {
    const lost = new Promise<Error>((resolve) => session.once('authLost', resolve));
    await act();
    const err = await lost;
    await session.waitFor((st) => st.status === 'connected');
    t.equal(session.state.username, null, 'the remembered credentials are gone');
    await t.rejects(session.request('WHOAMI'), { code: 'AUTH_REQUIRED' }, 'logged out');
    return err;
  };

  // The token is closed on the server (LOGOUT with it from another connection).
  await session.login('carol', carol.password);
  const other = await s.client();
  t.match(await closedBy(() => other.request('LOGOUT', {}, session.connection().token)),
    { code: 'SESSION_CLOSED', message: /logged out from another connection/ });

  // The member changes its password from another session.
  await session.login('carol', carol.password);
  const elsewhere = await s.memberClient('carol');
  t.match(await closedBy(() => elsewhere.request('PASSWD', { old: carol.password, new: 'carol-new-password' })),
    { code: 'SESSION_CLOSED', message: /password was changed/ });

  // The administrator suspends the member.
  await session.login('carol', 'carol-new-password');
  t.match(await closedBy(() => admin.request('SUSPEND', { username: 'carol' })), { code: 'SESSION_CLOSED', message: /suspended/ });
  t.same(logins, [false, false, false], 'never an automatic re-login');
  t.equal((await admin.request('AUDIT', { kind: 'login_failed' })).items.length, 0, 'so no failed login with a stale password');

  // Moving to another address drops the connection and connects there.
  const s2 = await startServer(t);
  session.setAddress(`127.0.0.1:${s2.port}`);
  await session.waitFor((st) => st.status === 'connected' && st.address === `127.0.0.1:${s2.port}`);
  t.pass('connected to the new address');
});

