import t from 'tap';
import { argsToMessage, argsToPopup, argsToRegistration } from '../../src/protocol/index.js';
import { SiarClient } from '../../src/client/connection.js';
import { collectPushes, credentialsFromMail, nextPush, ownPassword, startServer } from '../helpers/siar.js';

t.test('register → approve → mailed credentials → login → popups, inbox and outbox', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();

  // A registrant waits on its connection; the admin sees the request arrive live.
  const registrant = await s.client();
  const seen = nextPush(admin, 'REGISTRATION');
  const reg = await registrant.request('REGISTER', {
    institution: 'Universitas Hasanuddin', contact: 'Budi', email: 'Budi@Unhas.ac.id', phone: '+62 411 586200',
    address: 'Jl. Perintis Kemerdekaan, Makassar', username: 'unhas', wait: 1,
  });
  const requestId = Number(reg.args.get('id'));
  const pushed = argsToRegistration(await seen);
  t.equal(pushed.id, requestId, 'the admin session got the new request pushed');
  t.equal(pushed.email, 'budi@unhas.ac.id', 'e-mail addresses are lower-cased');

  const pending = await admin.request('PENDING');
  t.same(pending.items.map((a) => a.get('username')), ['unhas'], 'the request is pending');

  const decision = nextPush(registrant, 'DECISION');
  const approved = await admin.request('APPROVE', { id: requestId });
  t.equal((await decision).get('status'), 'approved', 'the waiting registrant hears the decision');
  const password = await credentialsFromMail(s.server, s.dataDir, Number(approved.args.get('mailId')), 'unhas');
  t.match(password, /^[A-Za-z0-9]{20}$/, 'a strong generated password was mailed');
  t.same((await admin.request('PENDING')).items, [], 'nothing is pending any more');

  const unhas = await s.client();
  const login = await unhas.login('unhas', password);
  t.equal(login.role, 'member');
  t.equal(login.mustChangePassword, true, 'the mailed password is flagged for change');
  t.ok(unhas.token.length >= 22, 'a session token of at least 128 bits');

  // The mailed password is single-use: nothing but PASSWD (and WHOAMI, LOGOUT) until it is replaced.
  await t.rejects(unhas.request('INBOX'), { code: 'PASSWORD_CHANGE_REQUIRED' }, 'the mailed password reads nothing');
  await t.rejects(unhas.request('SEND', { to: 'unhas', subject: 'x' }), { code: 'PASSWORD_CHANGE_REQUIRED' }, 'and sends nothing');
  t.equal((await unhas.request('WHOAMI')).args.get('mustChangePassword'), '1');
  await unhas.request('PASSWD', { old: password, new: 'Hasanuddin-own-2026' });
  t.equal((await unhas.request('WHOAMI')).args.get('mustChangePassword'), '0', 'the session goes on with the new password');
  const again = await SiarClient.connect({ host: '127.0.0.1', port: s.port });
  t.teardown(() => again.close());
  await t.rejects(again.login('unhas', password), { code: 'BAD_CREDENTIALS' }, 'the mailed password does not work a second time');
  t.equal((await again.login('unhas', 'Hasanuddin-own-2026')).mustChangePassword, false);

  // Two more members, one online and one offline.
  await s.member('ugm', 'Universitas Gadjah Mada');
  await s.member('itb', 'Institut Teknologi Bandung');
  const ugm = await s.memberClient('ugm');
  const ugmPopups = collectPushes(ugm, 'POPUP');

  const direct = nextPush(ugm, 'POPUP');
  const sent = await unhas.request('SEND', { to: 'ugm', subject: 'Seminar nasional', body: 'Line one\nline | two' });
  const popup = argsToPopup(await direct);
  t.equal(popup.id, Number(sent.args.get('id')), 'the popup carries the message id');
  t.equal(popup.from, 'unhas');
  t.equal(popup.institution, 'Universitas Hasanuddin');
  t.equal(popup.preview, 'Line one\nline | two', 'line breaks and bars survive');

  const listPopup = nextPush(ugm, 'POPUP');
  const list = await unhas.request('SEND', { to: ['ugm', 'itb'], subject: 'Rapat', body: 'Agenda' });
  t.equal(list.args.get('audience'), 'list');
  t.equal(list.args.get('recipients'), '2');
  await listPopup;

  const broadcastPopup = nextPush(ugm, 'POPUP');
  const all = await unhas.request('SEND', { all: 1, subject: 'Pengumuman', body: 'Untuk semua' });
  t.equal(all.args.get('audience'), 'all');
  t.equal(all.args.get('recipients'), '2', 'a broadcast reaches every other member');
  await broadcastPopup;
  t.equal(ugmPopups.length, 3, 'the online member got each popup exactly once');

  // The offline member gets its three popups at its next login, oldest first.
  const itb = await s.client();
  const itbPopups = collectPushes(itb, 'POPUP');
  const third = nextPush(itb, 'POPUP', (a) => a.get('id') === all.args.get('id'));
  await itb.login('itb', ownPassword('itb'));
  await third;
  t.same(itbPopups.map((a) => a.get('subject')), ['Rapat', 'Pengumuman'], 'store-and-forward at login, in order');

  // Inbox and read state.
  const inbox = await ugm.request('INBOX');
  t.same(inbox.items.map((a) => a.get('subject')), ['Pengumuman', 'Rapat', 'Seminar nasional'], 'newest first');
  t.equal(inbox.args.get('unread'), '3');
  const readPush = nextPush(unhas, 'READ');
  const opened = argsToMessage((await ugm.request('READ', { id: sent.args.get('id')! })).args);
  t.equal(opened.body, 'Line one\nline | two');
  t.ok(opened.readAt, 'reading marks it read');
  t.equal((await readPush).get('by'), 'ugm', 'the sender hears of the read at once');
  t.equal((await ugm.request('INBOX')).args.get('unread'), '2');

  const outbox = (await unhas.request('OUTBOX')).items.map(argsToMessage);
  t.equal(outbox.length, 3);
  const first = outbox.find((m) => m.id === Number(sent.args.get('id')))!;
  t.same(first.recipients!.map((r) => [r.username, !!r.deliveredAt, !!r.readAt]), [['ugm', true, true]]);
  const rapat = outbox.find((m) => m.subject === 'Rapat')!;
  t.same(rapat.recipients!.map((r) => [r.username, !!r.deliveredAt, !!r.readAt]).sort(), [['itb', true, false], ['ugm', true, false]]);

  // Deleting hides it from this inbox only.
  await ugm.request('DELETE', { id: rapat.id });
  t.same((await ugm.request('INBOX')).items.map((a) => a.get('subject')), ['Pengumuman', 'Seminar nasional']);
  t.ok((await itb.request('INBOX')).items.some((a) => a.get('subject') === 'Rapat'), 'the other recipient still has it');

  const directory = await itb.request('DIRECTORY');
  t.same(directory.items.map((a) => [a.get('username'), a.get('online')]), [['itb', '1'], ['ugm', '1'], ['unhas', '1']]);
});

t.test('a popup reaches every online connection of a member, and a reconnect gets nothing twice', async (t) => {
  const s = await startServer(t);
  await s.member('aa');
  await s.member('bb');
  const a = await s.memberClient('aa');
  const b1 = await s.memberClient('bb');
  const b2 = await s.memberClient('bb');
  const p1 = nextPush(b1, 'POPUP');
  const p2 = nextPush(b2, 'POPUP');
  await a.request('SEND', { to: 'bb', subject: 'hi' });
  await Promise.all([p1, p2]);
  const b3 = await s.client();
  const later = collectPushes(b3, 'POPUP');
  await b3.login('bb', ownPassword('bb'));
  await b3.request('PING');
  t.same(later, [], 'a delivered popup is not replayed at the next login');
});

t.test('a rejected registrant hears the reason, and its username is free again', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  const registrant = await s.client();
  const reg = await registrant.request('REGISTER', { institution: 'X', contact: 'Y', email: 'x@example.org', username: 'xuniv', wait: 1 });
  const decision = nextPush(registrant, 'DECISION');
  await admin.request('REJECT', { id: reg.args.get('id')!, reason: 'Not an institution' });
  const d = await decision;
  t.equal(d.get('status'), 'rejected');
  t.equal(d.get('reason'), 'Not an institution');
  const again = await (await s.client()).request('REGISTER', { institution: 'X', contact: 'Y', email: 'x@example.org', username: 'xuniv' });
  t.ok(Number(again.args.get('id')) > 0, 'a new request with the same username is accepted');
});

t.test('suspending a member closes its live sessions at once and refuses its login', async (t) => {
  const s = await startServer(t);
  const { password } = await s.member('susp');
  const member = await s.memberClient('susp');
  const admin = await s.adminClient();
  const closed = new Promise<Error | null>((resolve) => member.once('close', resolve));
  const r = await admin.request('SUSPEND', { username: 'susp' });
  t.equal(r.args.get('connections'), '1');
  const reason = (await closed) as Error & { code?: string };
  t.equal(reason.code, 'SESSION_CLOSED', 'the client is told why');
  const again = await s.client();
  await t.rejects(again.login('susp', password), { code: 'ACCOUNT_SUSPENDED' });
  await admin.request('REACTIVATE', { username: 'susp' });
  await again.login('susp', password);
  t.pass('a reactivated member logs in again');
});

t.test('the admin account is created once, with its password in a 0600 file', async (t) => {
  const s = await startServer(t);
  const { statSync } = await import('node:fs');
  const mode = statSync(`${s.dataDir}/admin-password`).mode & 0o777;
  t.equal(mode, 0o600);
  const before = s.adminPassword();
  await s.server.stop();
  const again = await startServer(t, {}, s.dataDir);
  t.equal(again.adminPassword(), before, 'a restart keeps the same admin password');
  const admin = await again.adminClient();
  t.equal((await admin.request('WHOAMI')).args.get('role'), 'admin');
});

t.test('a one-shot login (popups=0) leaves missed popups for the next interactive login', async (t) => {
  const s = await startServer(t);
  await s.member('src');
  await s.member('dst');
  const src = await s.memberClient('src');
  const sent = await src.request('SEND', { to: 'dst', subject: 'while away' });
  const script = await s.client();
  const scriptPopups = collectPushes(script, 'POPUP');
  await script.login('dst', ownPassword('dst'), { popups: false });
  t.equal((await script.request('INBOX')).items.length, 1, 'the script sees the message in the inbox');
  await src.request('SEND', { to: 'dst', subject: 'live' });
  await script.request('PING');
  t.same(scriptPopups, [], 'no popups pushed to the script, replayed or live');
  const outbox = (await src.request('OUTBOX')).items.map(argsToMessage);
  t.ok(outbox.every((m) => m.recipients!.every((r) => !r.deliveredAt)), 'nothing marked delivered');
  const desk = await s.client();
  const first = nextPush(desk, 'POPUP', (a) => a.get('id') === sent.args.get('id'));
  await desk.login('dst', ownPassword('dst'));
  t.equal((await first).get('subject'), 'while away', 'the interactive login still gets the missed popup');
});
