/** The administrator's verbs through the protocol: refused to members, and each doing its job. */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { RemoteError, type SiarClient } from '../../src/client/connection.js';
import { collectPushes, isMailFile, nextPush, parseEml, passwordFromText, startServer } from '../helpers/siar.js';
import { deadPort, startReceiver } from './mail/helpers.js';

async function refused(t: Test, p: Promise<unknown>, code: string, what: string): Promise<void> {
  await t.rejects(p, { code }, what);
}

/** Polls `check` until it is true (the server works asynchronously), failing after `ms`. */
async function eventually(check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

t.test('every admin verb is refused to a member session and to anonymous connections', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  const help = await admin.request('HELP');
  const adminVerbs = help.items.filter((a) => a.get('access') === 'admin').map((a) => a.get('verb')!);
  for (const verb of ['PENDING', 'APPROVE', 'REJECT', 'MEMBERS', 'SUSPEND', 'REACTIVATE', 'ONLINE', 'STATS', 'MAILQUEUE',
    'MAILRETRY', 'AUDIT', 'BACKUP', 'BACKUPS', 'RESETPASSWORD', 'EXPIRY']) {
    t.ok(adminVerbs.includes(verb), `${verb} is an admin verb`);
  }
  await s.member('korban');
  const member = await s.memberClient('unhas');
  const anon = await s.client();
  const args: Record<string, Record<string, string | number>> = {
    APPROVE: { id: 1 }, REJECT: { id: 1, reason: 'x' }, SUSPEND: { username: 'korban' }, REACTIVATE: { username: 'korban' },
    RESETPASSWORD: { username: 'korban' }, MAILRETRY: {}, BACKUP: { wait: 1 }, EXPIRY: { days: 0.001, run: 1 },
  };
  for (const verb of adminVerbs) {
    await refused(t, member.request(verb, args[verb] ?? {}), 'FORBIDDEN', `${verb} is refused to a member`);
    await refused(t, anon.request(verb, args[verb] ?? {}), 'AUTH_REQUIRED', `${verb} needs a login`);
  }
  // Nothing happened on their behalf.
  t.equal((await s.server.store.getUserByUsername('korban'))?.status, 'active', 'not suspended');
  t.same(await s.server.backups.list(), [], 'no backup was taken');
  t.equal(s.server.config.registrationExpiryDays, 30, 'the expiry setting did not change');
});

t.test('STATS counts messages, popups, bytes and connections, minute by minute', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  const before = await admin.request('STATS');
  t.equal(before.args.get('messages'), '0');
  const a = await s.memberClient('unhas');
  const b = await s.memberClient('ugm');
  for (let i = 0; i < 3; i++) {
    const popup = nextPush(b, 'POPUP');
    await a.request('SEND', { to: 'ugm', subject: `Pesan ${i}`, body: 'x'.repeat(1000) });
    await popup;
  }
  await eventually(async () => (await admin.request('STATS')).args.get('popups') === '3');
  const stats = await admin.request('STATS');
  const n = (k: string) => Number(stats.args.get(k));
  t.equal(n('messages'), 3, 'three messages');
  t.equal(n('popups'), 3, 'three popups delivered');
  t.ok(n('bytesIn') > 3000, 'bytes from the clients are counted');
  t.ok(n('bytesOut') > 3000, 'bytes to the clients are counted');
  t.ok(n('connections') >= 3, 'open connections');
  t.ok(n('connectionsOpened') >= n('connections'), 'connections opened');
  t.equal(stats.args.get('online'), '3', 'admin and two members online');
  t.equal(n('liveListeners'), 0);
  const minutes = stats.items;
  t.ok(minutes.length >= 1, 'at least the running minute');
  const last = minutes[minutes.length - 1]!;
  t.equal(last.get('partial'), '1', 'the last sample is the running minute');
  t.equal(minutes.reduce((sum, m) => sum + Number(m.get('messages')), 0), 3, 'the minutes add up to the total');

  // The ring: closed minutes are kept in order (driven directly, a minute is long for a test).
  const { TrafficStats } = await import('../../src/server/stats.js');
  let now = 0;
  const ring = new TrafficStats({ historyMinutes: 3, now: () => now });
  ring.messageStored();
  now = 60_000;
  ring.catchUp(); // what the minute timer does
  ring.messageStored();
  ring.messageStored();
  now = 3 * 60_000 + 5;
  ring.catchUp();
  ring.messageStored();
  const h = ring.history();
  t.same(h.map((m) => m.messages), [1, 2, 0, 1], 'closed minutes in order, then the running one');
  t.same(h.map((m) => m.partial), [false, false, false, true]);
  now = 4 * 60_000;
  t.same(ring.history().map((m) => m.messages), [2, 0, 1, 0], 'only the last three minutes are kept');
});

t.test('STATS reports how late the server\'s event loop ran', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  // The stall must land in the minute STATS reads as running: not in the last seconds of one.
  const leftOfMinute = 60_000 - (Date.now() % 60_000);
  if (leftOfMinute < 5_000) await new Promise((r) => setTimeout(r, leftOfMinute + 200));
  // The server runs in this process: a busy test blocks its event loop too.
  const until = Date.now() + 120;
  while (Date.now() < until) { /* busy */ }

  const stats = await admin.request('STATS');
  const n = (k: string) => Number(stats.args.get(k));
  const loopKeys = ['loopP50Ms', 'loopP99Ms', 'loopMaxMs', 'loopMaxEverMs'];
  for (const k of loopKeys) t.ok(Number.isFinite(n(k)), `${k}=${stats.args.get(k)} is a number`);
  t.ok(n('loopMaxMs') >= 100, `the running minute's worst lateness shows the 120 ms stall: ${n('loopMaxMs')}`);
  t.ok(n('loopMaxEverMs') >= n('loopMaxMs'), 'and so does the worst since start');
  t.ok(n('loopP50Ms') <= n('loopP99Ms') && n('loopP99Ms') <= n('loopMaxMs'), 'p50 ≤ p99 ≤ max');
  const running = stats.items[stats.items.length - 1]!;
  t.equal(running.get('partial'), '1');
  t.ok(Number(running.get('loopMaxMs')) >= 100, `the running minute's ITEM too: ${running.get('loopMaxMs')}`);
  for (const item of stats.items) {
    for (const k of ['loopP99Ms', 'loopMaxMs']) t.ok(Number.isFinite(Number(item.get(k))), `ITEM ${item.get('at')} ${k}=${item.get(k)}`);
  }
});

t.test('RESETPASSWORD mails a new password, forces a change and closes live sessions', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  const { password: old } = await s.member('unhas');
  const live = await s.memberClient('unhas');
  const closed = new Promise<Error | null>((resolve) => live.once('close', resolve));
  const reply = await admin.request('RESETPASSWORD', { username: 'unhas' });
  t.equal(reply.args.get('connections'), '1', 'the live connection was closed');
  t.ok(Number(reply.args.get('sessions')) >= 1, 'its sessions were closed');
  t.match(await closed, { code: 'SESSION_CLOSED' }, 'the member is told why');

  const mailId = Number(reply.args.get('mailId'));
  await eventually(async () => !!(await s.server.store.getMail(mailId))?.sentAt);
  const file = readdirSync(path.join(s.dataDir, 'mail')).find((f) => isMailFile(f, mailId))!;
  const mail = parseEml(readFileSync(path.join(s.dataDir, 'mail', file), 'utf8'));
  t.match(mail.headers.get('subject'), /password .* has been reset/);
  const fresh = passwordFromText(mail.text, 'unhas');
  t.not(fresh, old);

  const c = await s.client();
  await refused(t, c.login('unhas', old), 'BAD_CREDENTIALS', 'the old password no longer works');
  const login = await c.login('unhas', fresh);
  t.equal(login.mustChangePassword, true, 'the new password must be changed at the next login');
  const audit = await admin.request('AUDIT', { kind: 'password_reset' });
  t.match(audit.items[0]?.toObject(), { kind: 'password_reset', actor: 'admin', subject: 'unhas' });
  await refused(t, admin.request('RESETPASSWORD', { username: 'ghost' }), 'NOT_FOUND', 'unknown member');
  await refused(t, admin.request('RESETPASSWORD', { username: 'admin' }), 'NOT_FOUND', 'not for the admin account');
});

t.test('undecided registration requests expire with a notice to the registrant', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  t.equal((await admin.request('EXPIRY')).args.get('days'), '30', 'the default is 30 days');

  const registrant = await s.client();
  const reg = await registrant.request('REGISTER', {
    institution: 'Universitas Lama', contact: 'Lina', email: 'lina@lama.ac.id', username: 'lama', wait: 1,
  });
  const id = reg.args.get('id')!;
  const fresh = await s.client();
  await fresh.request('REGISTER', { institution: 'Universitas Baru', contact: 'Bima', email: 'bima@baru.ac.id', username: 'baru' });
  t.equal((await admin.request('EXPIRY', { run: 1 })).args.get('expired'), '0', 'nothing is 30 days old');

  // An expiry of 0.000001 days (86 ms): the older request expires once it is that old.
  const decision = nextPush(registrant, 'DECISION');
  const decided = collectPushes(admin, 'DECIDED');
  const set = await admin.request('EXPIRY', { days: '0.000001' });
  t.equal(set.args.get('days'), '0.000001');
  await eventually(async () => Number((await admin.request('EXPIRY', { run: 1 })).args.get('expired')) > 0 || decided.length > 0);
  t.equal((await decision).get('status'), 'expired', 'a waiting registrant hears of it');
  t.ok(decided.some((a) => a.get('id') === id && a.get('status') === 'expired'), 'admin sessions hear of it');
  const expired = await admin.request('PENDING', { status: 'expired' });
  t.ok(expired.items.some((a) => a.get('username') === 'lama'), 'the request is listed as expired');

  await eventually(() => {
    try {
      return readdirSync(path.join(s.dataDir, 'mail')).some((f) => f.endsWith('-expiry.eml'));
    } catch {
      return false;
    }
  });
  const files = readdirSync(path.join(s.dataDir, 'mail')).filter((f) => f.endsWith('-expiry.eml'));
  const mails = files.map((f) => parseEml(readFileSync(path.join(s.dataDir, 'mail', f), 'utf8')));
  const lina = mails.find((m) => m.headers.get('to') === 'lina@lama.ac.id');
  t.ok(lina, 'the registrant got a notice');
  t.match(lina?.headers.get('subject'), /registration request for Universitas Lama has expired/);
  t.match(lina?.text, /username lama\)\s+was\s+not\s+decided/);
  const audit = await admin.request('AUDIT', { kind: 'registration_expired', member: 'lama' });
  t.equal(audit.items.length, 1, 'audited');
  await refused(t, admin.request('APPROVE', { id }), 'ALREADY_DECIDED', 'an expired request cannot be approved');

  // The username is free again.
  const again = await s.client();
  t.ok((await again.request('REGISTER', { institution: 'Universitas Lama', contact: 'Lina', email: 'lina@lama.ac.id', username: 'lama' })).args.get('id'));
  await refused(t, admin.request('EXPIRY', { days: '-1' }), 'BAD_ARGUMENT', 'days must not be negative');
});

t.test('the server expires old requests by itself', async (t) => {
  const s = await startServer(t, { registrationExpiryDays: 0.000001, registrationExpiryCheckMs: 50 });
  const registrant = await s.client();
  const decision = nextPush(registrant, 'DECISION');
  await registrant.request('REGISTER', { institution: 'U', contact: 'C', email: 'c@u.ac.id', username: 'auto', wait: 1 });
  t.equal((await decision).get('status'), 'expired');
});

t.test('mail queue: failed mail shows its error and is retried on demand against a real SMTP server', async (t) => {
  const port = await deadPort();
  const s = await startServer(t, { smtpUrl: `smtp://127.0.0.1:${port}` });
  const admin = await s.adminClient();
  const mailPushes = collectPushes(admin, 'MAIL');
  const anon = await s.client();
  const reg = await anon.request('REGISTER', { institution: 'U', contact: 'C', email: 'first@u.ac.id', username: 'first' });
  const failed = nextPush(admin, 'MAIL', (a) => a.get('status') === 'failed');
  const approved = await admin.request('APPROVE', { id: reg.args.get('id')! });
  const mailId = approved.args.get('mailId')!;
  const push = await failed;
  t.equal(push.get('id'), mailId, 'admin sessions hear that the credentials mail failed');
  t.ok(push.get('error'), 'with the error');

  const queue = await admin.request('MAILQUEUE', { status: 'failed' });
  t.equal(queue.items.length, 1);
  const row = queue.items[0]!.toObject();
  t.match(row, { id: mailId, kind: 'credentials', to: 'first@u.ac.id', status: 'failed', attempts: '1' });
  t.ok(row.lastError, 'the error is shown');
  t.ok(Date.parse(row.nextAttemptAt as string) > Date.now() + 5000, 'the next attempt is backed off');
  t.notOk(JSON.stringify(row).includes('v1.'), 'the sealed text never travels');
  t.equal((await admin.request('MAILQUEUE', { id: mailId })).items.length, 1, 'one mail by id');

  // The SMTP server comes back; the admin retries at once rather than waiting for the back-off.
  const receiver = await startReceiver(port);
  t.teardown(() => receiver.close());
  const sent = nextPush(admin, 'MAIL', (a) => a.get('status') === 'sent' && a.get('id') === mailId);
  const retry = await admin.request('MAILRETRY', { id: mailId });
  t.equal(retry.args.get('count'), '1');
  await sent;
  await receiver.waitFor(1);
  t.same(receiver.received[0]?.to, ['first@u.ac.id'], 'the credentials mail arrived');
  const after = (await admin.request('MAILQUEUE', { id: mailId })).items[0]!.toObject();
  t.match(after, { status: 'sent', attempts: '1' }, 'a retry does not count as an attempt');
  t.same((await admin.request('MAILQUEUE')).items, [], 'nothing unsent');
  await refused(t, admin.request('MAILRETRY', { id: mailId }), 'BAD_ARGUMENT', 'a sent mail is not retried');
  await refused(t, admin.request('MAILRETRY', { id: 999 }), 'NOT_FOUND', 'unknown mail');

  // Retry all: nothing due later is left waiting.
  t.equal((await admin.request('MAILRETRY')).args.get('count'), '0');
  t.ok(mailPushes.some((a) => a.get('status') === 'failed') && mailPushes.some((a) => a.get('status') === 'sent'));
  const audit = await admin.request('AUDIT', { kind: 'mail_retry' });
  t.equal(audit.items.length, 2, 'retries are audited');
});

t.test('AUDIT filters by kind, member, actor and time', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  await s.member('unhas');
  await s.member('ugm');
  // Events carry millisecond stamps: keep `start` strictly between those before it and after it
  // (ugm's password change fell in the same millisecond once, on both sides of since/until).
  const tick = () => new Promise((resolve) => setTimeout(resolve, 3));
  await tick();
  const start = new Date().toISOString();
  await tick();
  const c = await s.client();
  await refused(t, c.login('unhas', 'wrong password'), 'BAD_CREDENTIALS', 'a failed login');
  await refused(t, c.login('ghost', 'wrong password'), 'BAD_CREDENTIALS', 'another');
  await admin.request('SUSPEND', { username: 'ugm' });
  await admin.request('REACTIVATE', { username: 'ugm' });

  const kinds = async (args: Record<string, string>) => (await admin.request('AUDIT', args)).items.map((a) => `${a.get('kind')}:${a.get('subject')}`);
  t.same(await kinds({ kind: 'login_failed' }), ['login_failed:ghost', 'login_failed:unhas'], 'by kind, newest first');
  t.same(await kinds({ member: 'ugm' }), ['member_reactivated:ugm', 'member_suspended:ugm', 'password_changed:ugm', 'registration_approved:ugm', 'registration_requested:ugm'], 'about a member');
  t.same(await kinds({ member: 'ugm', since: start }), ['member_reactivated:ugm', 'member_suspended:ugm'], 'since a time');
  t.same(await kinds({ member: 'ugm', until: start }), ['password_changed:ugm', 'registration_approved:ugm', 'registration_requested:ugm'], 'until a time');
  t.same(await kinds({ actor: 'admin', since: start }), ['member_reactivated:ugm', 'member_suspended:ugm'], 'by actor');
  t.same(await kinds({ kind: 'login_failed', since: '1h' }), ['login_failed:ghost', 'login_failed:unhas'], 'an age as the time');
  t.same(await kinds({ since: '2999-01-01' }), [], 'nothing in the future');
  t.same(await kinds({ kind: 'login_failed', limit: '1' }), ['login_failed:ghost'], 'a page');
  const first = (await admin.request('AUDIT', { kind: 'login_failed', limit: '1' })).items[0]!;
  t.same(await kinds({ kind: 'login_failed', before: first.get('id')! }), ['login_failed:unhas'], 'the next page');
  const row = (await admin.request('AUDIT', { kind: 'member_suspended' })).items[0]!.toObject();
  t.match(row, { actor: 'admin', subject: 'ugm', address: '127.0.0.1' });
  t.ok(!Number.isNaN(Date.parse(row.at as string)));
  await refused(t, admin.request('AUDIT', { since: 'yesterday' }), 'BAD_ARGUMENT', 'a bad time');
  await refused(t, admin.request('AUDIT', { actor: 'nobody' }), 'NOT_FOUND', 'an unknown actor');
});

t.test('a member suspended from the console protocol loses its live session at once', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  const live: SiarClient = await s.memberClient('unhas');
  const closed = new Promise<Error | null>((resolve) => live.once('close', resolve));
  await admin.request('SUSPEND', { username: 'unhas' });
  const reason = await closed;
  t.ok(reason instanceof RemoteError && reason.code === 'SESSION_CLOSED');
  const online = await admin.request('ONLINE');
  t.same(online.items.map((a) => a.get('username')), ['admin'], 'only the admin is online');
});

t.test('STATS shows live shadow listeners and transfers in progress with their progress', async (t) => {
  const { sendDeclared, offer, DataPeer, noise } = await import('../transfer/helpers.js');
  const s = await startServer(t);
  const admin = await s.adminClient();
  await s.member('ugm');
  const sender = await s.memberClient('unhas');
  const data = noise(200_000);
  const sent = await sendDeclared(sender, 'ugm', [{ name: 'laporan tahunan.pdf', data }]);
  const o = await offer(sender, 'UPLOAD', { message: sent.id, attachment: sent.attachments[0]!.id });
  let stats = (await admin.request('STATS')).args;
  t.equal(stats.get('liveListeners'), '1', 'one shadow listener waits for its upload');
  t.equal(stats.get('transfers'), '1', 'one transfer in progress');
  t.match(stats.get('transfer'), new RegExp(`^${o.transfer},up,0,200000,unhas,laporan tahunan\\.pdf$`), 'with its progress');

  // Half the bytes: the progress moves.
  const peer = await DataPeer.connect(t, o);
  peer.write(`${o.ticket}\n`);
  peer.write(data.subarray(0, 100_000));
  await eventually(async () => {
    const tr = (await admin.request('STATS')).args.get('transfer') ?? '';
    return Number(tr.split(',')[2]) >= 100_000;
  });
  peer.end(data.subarray(100_000));
  await peer.closed;
  await eventually(async () => (await admin.request('STATS')).args.get('transfers') === '0');
  stats = (await admin.request('STATS')).args;
  t.equal(stats.get('liveListeners'), '0', 'the listener is gone once the upload is done');
  t.equal(stats.get('messages'), '1', 'the message went out once its attachment was in');
});
