/**
 * Sessions follow the password (issue 20, item 4), on a real server over real sockets: a session
 * opened with the mailed password gains nothing when the member sets its own elsewhere; PASSWD
 * closes the member's other sessions; a connection stops receiving pushes the moment its session
 * ends, however it ends (logged out from elsewhere, expired).
 */
import type { Test } from 'tap';
import t from 'tap';
import type { SiarClient } from '../../src/client/connection.js';
import { argsToPopup } from '../../src/protocol/index.js';
import { collectPushes, sqliteDb, startServer, type TestServer } from '../helpers/siar.js';

/** Resolves with the reason the client's connection closed, or 'still open' after `ms`. */
function closeReason(c: SiarClient, ms: number): Promise<Error | null | 'still open'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('still open'), ms);
    c.once('close', (reason) => { clearTimeout(timer); resolve(reason); });
  });
}

/** Sends a direct message and returns its id once the sender has the OK. */
async function send(from: SiarClient, to: string, subject: string): Promise<number> {
  return Number((await from.request('SEND', { to, subject, body: '' })).args.get('id'));
}

/** Whether the message was written to a live connection of the recipient. */
function delivered(s: TestServer, messageId: number): boolean {
  return sqliteDb(s.server).prepare<[number], string | null>('SELECT delivered_at FROM message_recipients WHERE message_id = ?').pluck().get(messageId) != null;
}

async function settle(ms = 300): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

async function listen(t: Test, s: TestServer, username: string, password: string): Promise<{ client: SiarClient; popups: number[] }> {
  const client = await s.client();
  const pushes = collectPushes(client, 'POPUP');
  await client.login(username, password);
  const popups: number[] = [];
  client.on('push', (event, args) => { if (event === 'POPUP') popups.push(argsToPopup(args).id); });
  t.equal(pushes.length, 0, 'no missed popups at login');
  return { client, popups };
}

t.test('a session opened with the mailed password gains nothing when the member sets its own from another session: it is closed', async (t) => {
  const s = await startServer(t);
  const { mailedPassword } = await s.approvedMember('korban');
  const intruder = await s.client();
  const login = await intruder.login('korban', mailedPassword);
  t.equal(login.mustChangePassword, true);
  await t.rejects(intruder.request('INBOX'), { code: 'PASSWORD_CHANGE_REQUIRED' }, 'restricted while the mailed password is current');
  const token = intruder.token;

  const member = await s.client();
  await member.login('korban', mailedPassword);
  const intruderClosed = closeReason(intruder, 3000);
  const changed = await member.request('PASSWD', { old: mailedPassword, new: 'korban-own-password' });
  t.equal(changed.args.get('sessionsClosed'), '1', 'the other session is closed with the change');
  t.equal((await member.request('INBOX')).args.get('count'), '0', 'the member\'s own session now has full rights');

  const reason = await intruderClosed;
  if (reason === 'still open') {
    // Today's defect, shown plainly: the intruder's session got the member's rights.
    await t.rejects(intruder.request('INBOX'), { code: 'PASSWORD_CHANGE_REQUIRED' }, 'the intruder\'s session must not gain full rights');
  } else {
    t.match(reason, { code: 'SESSION_CLOSED', message: /password was changed/ }, 'the intruder is told its session closed');
  }
  const again = await s.client();
  await t.rejects(again.request('INBOX', {}, token), { code: 'BAD_TOKEN' }, 'its token is dead');
  await t.rejects(again.request('WHOAMI', {}, token), { code: 'BAD_TOKEN' });
});

t.test('PASSWD closes every other session of the member; their connections get SESSION_CLOSED and no more popups', async (t) => {
  const s = await startServer(t);
  const { password } = await s.member('multi');
  await s.member('sender');
  const a = await listen(t, s, 'multi', password);
  const b = await listen(t, s, 'multi', password);
  const changer = await s.memberClient('multi');
  const aClosed = closeReason(a.client, 3000);
  const bClosed = closeReason(b.client, 3000);
  const reply = await changer.request('PASSWD', { old: password, new: 'multi-new-password' });
  // Three: the two listeners and the session s.member() set the password with (never logged out).
  t.equal(reply.args.get('sessionsClosed'), '3', 'every other open session is closed');
  for (const [name, closed] of [['first', aClosed], ['second', bClosed]] as const) {
    t.match(await closed, { code: 'SESSION_CLOSED', message: /password was changed from another session/ }, `the ${name} listener is told`);
  }
  const sender = await s.memberClient('sender');
  const changerPopups = collectPushes(changer, 'POPUP');
  const id = await send(sender, 'multi', 'After the change');
  await settle();
  t.same([...a.popups, ...b.popups].filter((x) => x === id), [], 'the old sessions\' connections got no popup');
  t.equal(changerPopups.length, 1, 'the session that changed the password goes on receiving');
  const audit = (await s.server.store.listAudit({ kind: 'password_changed', subject: 'multi' }, { limit: 5 }))[0];
  t.match(audit?.detail, { sessions: 3 }, 'the change is audited with the sessions it closed');
});

t.test('a connection whose session was logged out from another connection is closed and gets no more popups', async (t) => {
  const s = await startServer(t);
  const { password } = await s.member('leaver');
  await s.member('sender2');
  const listener = await listen(t, s, 'leaver', password);
  const closed = closeReason(listener.client, 2000);
  const other = await s.client();
  await other.request('LOGOUT', {}, listener.client.token);
  const reason = await closed;
  const sender = await s.memberClient('sender2');
  const id = await send(sender, 'leaver', 'After the logout');
  await settle();
  t.same(listener.popups, [], 'no popup after the logout');
  t.notOk(delivered(s, id), 'the popup waits for the member\'s next login instead');
  t.match(reason, { code: 'SESSION_CLOSED', message: /logged out from another connection/ }, 'the connection is told why');
});

t.test('a connection whose session expired is closed with SESSION_EXPIRED and gets no more popups', async (t) => {
  const ttl = 3000;
  const s = await startServer(t, { sessionTtlMs: ttl });
  const { password } = await s.member('expiring');
  await s.member('sender3');
  const started = Date.now();
  const listener = await listen(t, s, 'expiring', password);
  const reason = await closeReason(listener.client, ttl + 3000);
  const closedAfter = Date.now() - started;
  const sender = await s.client();
  await sender.login('sender3', 'own-password-of-sender3');
  const id = await send(sender, 'expiring', 'After the expiry');
  await settle();
  t.same(listener.popups, [], 'no popup after the expiry');
  t.notOk(delivered(s, id), 'the popup waits for the member\'s next login');
  t.match(reason, { code: 'SESSION_EXPIRED' }, 'the connection is told its session expired');
  t.ok(closedAfter >= ttl - 50 && closedAfter < ttl + 2500, `closed when the session expired (${closedAfter} ms after login, lifetime ${ttl} ms)`);
});

t.test('a LOGIN with the mailed password racing the member\'s PASSWD never ends with full rights', async (t) => {
  // The LOGIN reads the member (mailed password current) before the PASSWD commits and opens its
  // session after it: that session must stay restricted. The race is hit or not by timing, so the
  // LOGIN starts at a spread of offsets; every outcome must leave the intruder without rights.
  const s = await startServer(t);
  const outcomes: string[] = [];
  for (const offset of [0, 20, 40, 60, 80, 100, 120, 140, 170, 200]) {
    const { username, mailedPassword } = await s.approvedMember(`race${offset}`);
    const member = await s.client();
    await member.login(username, mailedPassword);
    const intruder = await s.client();
    const closed = closeReason(intruder, 60_000);
    const changing = member.request('PASSWD', { old: mailedPassword, new: `${username}-own-password` });
    await new Promise((r) => setTimeout(r, offset));
    const login = await intruder.login(username, mailedPassword).then(() => 'session', (err: { code: string }) => err.code);
    await changing;
    if (login !== 'session') {
      outcomes.push(login);
      t.equal(login, 'BAD_CREDENTIALS', `offset ${offset} ms: the mailed password was already replaced`);
      continue;
    }
    const inbox = await intruder.request('INBOX').then(() => 'OK', (err: { code: string }) => err.code);
    if (intruder.isClosed) {
      outcomes.push('closed');
      t.match(await closed, { code: 'SESSION_CLOSED' }, `offset ${offset} ms: the session opened before the change was closed by it`);
    } else {
      outcomes.push(`open, INBOX ${inbox}`);
      t.equal(inbox, 'PASSWORD_CHANGE_REQUIRED', `offset ${offset} ms: a session left open (opened after the change) is restricted`);
    }
  }
  t.comment(`outcomes by offset: ${outcomes.join(', ')}`);
});
