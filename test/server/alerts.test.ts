/**
 * Alerts (issue 21, docs/PROTOCOL.md §Alerts) against a real server over real sockets: priority in
 * popups and records, who may send urgent, acknowledgement with its push to the sender, REPORT.
 */
import t from 'tap';
import { argsToMessage, argsToPopup } from '../../src/protocol/index.js';
import { collectPushes, nextPush, startServer, until } from '../helpers/siar.js';
import { noise, rawUpload, sendDeclared } from '../transfer/helpers.js';

t.test('priority travels in the popup, the inbox, the outbox and READ; urgent asks for acknowledgement', async (t) => {
  const s = await startServer(t);
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  await s.member('itb');
  const popup = nextPush(ugm, 'POPUP');
  const sent = await unhas.send({ to: ['ugm', 'itb'], subject: 'Gempa', body: 'Evakuasi gedung A', priority: 'urgent' });
  t.match(sent, { priority: 'urgent', ack: true }, 'urgent implies ack');
  t.match(argsToPopup(await popup), { id: sent.id, priority: 'urgent', ack: true, subject: 'Gempa' });

  const high = await unhas.send({ to: ['ugm'], subject: 'Rapat', priority: 'high' });
  t.match(high, { priority: 'high', ack: false });
  const noAck = await unhas.send({ to: ['ugm'], subject: 'Info', priority: 'urgent', ack: false });
  t.match(noAck, { priority: 'urgent', ack: false }, 'ack=0 overrides urgent');
  const plain = await unhas.send({ to: ['ugm'], subject: 'Biasa' });
  t.match(plain, { priority: 'normal', ack: false });

  const inbox = await ugm.inbox();
  const byId = new Map(inbox.messages.map((m) => [m.id, m]));
  t.match(byId.get(sent.id), { priority: 'urgent', ack: true, ackedAt: null });
  t.match(byId.get(high.id), { priority: 'high' });
  t.equal(byId.get(high.id)!.ack, undefined);
  t.equal(byId.get(plain.id)!.priority, undefined, 'normal is not spelled');
  t.equal(byId.get(plain.id)!.ackedAt, undefined, 'no acknowledgement state without a request');
  const outbox = await unhas.outbox();
  t.match(outbox.find((m) => m.id === sent.id), { priority: 'urgent', ack: true });
  t.match(await ugm.read(high.id), { priority: 'high' });
  t.match(await unhas.read(sent.id), { priority: 'urgent', ack: true });

  await t.rejects(unhas.request('SEND', { to: 'ugm', subject: 'x', priority: 'loud' }), { code: 'BAD_ARGUMENT' });
  await t.rejects(unhas.request('SEND', { to: 'ugm', subject: 'x', ack: 'yes' }), { code: 'BAD_ARGUMENT' });
});

t.test('--urgent-senders restricts urgent; the administrator may always; missed urgent popups replay with it', async (t) => {
  const s = await startServer(t, { urgentSenders: 'unhas' });
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  await s.member('itb');
  await t.rejects(ugm.send({ to: ['unhas'], subject: 'x', priority: 'urgent' }), { code: 'FORBIDDEN' }, 'ugm is not named');
  t.equal((await unhas.outbox()).length, 0);
  t.match(await ugm.send({ to: ['unhas'], subject: 'high is fine', priority: 'high' }), { priority: 'high' });
  t.match(await unhas.send({ to: ['itb'], subject: 'named', priority: 'urgent' }), { priority: 'urgent' });
  const admin = await s.adminClient();
  const all = await admin.send({ all: true, subject: 'Semua', priority: 'urgent' });
  t.match(all, { priority: 'urgent', ack: true, audience: 'all', recipients: 3 });
  // itb was offline: both urgent popups come at its login, with their priority.
  const itb = await s.client();
  const popups = collectPushes(itb, 'POPUP');
  await itb.login('itb', `own-password-of-itb`);
  await until('two popups replayed', () => popups.length === 2);
  t.strictSame(popups.map((a) => argsToPopup(a).priority), ['urgent', 'urgent']);
  t.strictSame(popups.map((a) => argsToPopup(a).ack), [true, true]);

  const adminOnly = await startServer(t, { urgentSenders: 'admin' });
  const m = await adminOnly.memberClient('m1');
  await adminOnly.member('m2');
  await t.rejects(m.send({ to: ['m2'], subject: 'x', priority: 'urgent' }), { code: 'FORBIDDEN' });
});

t.test('ACK: a recipient acknowledges once, the sender hears it live and sees it in OUTBOX and READ; REPORT counts down', async (t) => {
  const s = await startServer(t);
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  const itb = await s.memberClient('itb');
  await s.member('ui'); // offline: waiting
  const other = await s.memberClient('other');
  const sent = await unhas.send({ to: ['ugm', 'itb', 'ui'], subject: 'Siaga', priority: 'urgent' });

  let report = await unhas.report(sent.id);
  t.match(report, { id: sent.id, recipients: 3, acknowledged: 0, notAcknowledged: 3, ack: true, priority: 'urgent' });
  t.strictSame(report.rows.map((r) => [r.username, r.state]), [['itb', 'delivered'], ['ugm', 'delivered'], ['ui', 'waiting']]);
  t.equal(report.rows[0]!.institution, 'Universitas itb');

  const pushed = nextPush(unhas, 'ACK');
  const acked = await ugm.ack(sent.id);
  t.match(acked, { id: sent.id, already: false });
  const push = await pushed;
  t.strictSame([push.get('id'), push.get('by'), push.get('at')], [String(sent.id), 'ugm', acked.ackedAt], 'the sender hears it');
  const acks = collectPushes(unhas, 'ACK');
  t.match(await ugm.ack(sent.id), { already: true, ackedAt: acked.ackedAt }, 'a second ACK changes nothing');

  report = await unhas.report(sent.id);
  t.match(report, { acknowledged: 1, notAcknowledged: 2, read: 1 });
  t.strictSame(report.rows.map((r) => [r.username, r.state]), [['itb', 'delivered'], ['ui', 'waiting'], ['ugm', 'acknowledged']],
    'non-acknowledgers first');
  t.equal(report.rows[2]!.ackedAt, acked.ackedAt);

  const out = (await unhas.outbox()).find((m) => m.id === sent.id)!;
  t.strictSame(out.acked, [{ username: 'ugm', at: acked.ackedAt }]);
  t.strictSame((await unhas.read(sent.id)).acked, [{ username: 'ugm', at: acked.ackedAt }]);
  t.equal((await ugm.read(sent.id)).ackedAt, acked.ackedAt, 'the recipient sees its own');
  t.equal((await itb.read(sent.id)).ackedAt, null, 'opening is not acknowledging');
  t.match(await unhas.report(sent.id), { read: 2, acknowledged: 1 });

  // The authorisation matrix: a non-recipient cannot ack, a member cannot report on another's message.
  await t.rejects(other.ack(sent.id), { code: 'NOT_FOUND' }, 'a non-recipient cannot acknowledge');
  await t.rejects(unhas.ack(sent.id), { code: 'NOT_FOUND' }, 'nor can the sender');
  await t.rejects(ugm.report(sent.id), { code: 'NOT_FOUND' }, 'a recipient cannot report');
  await t.rejects(other.report(sent.id), { code: 'NOT_FOUND' }, 'nor anyone else');
  await t.rejects(unhas.report(sent.id + 100), { code: 'NOT_FOUND' });
  const admin = await s.adminClient();
  t.match(await admin.report(sent.id), { acknowledged: 1, recipients: 3 }, 'the administrator may');

  await itb.ack(sent.id);
  await until('the second ACK push', () => acks.length === 1);
  t.match(await unhas.report(sent.id), { acknowledged: 2, notAcknowledged: 1 });
  t.equal(argsToMessage(acks[0]!).id, sent.id);
});

t.test('RECALL: online recipients are told, offline ones never get it, the body and attachments are refused, the sender keeps it', async (t) => {
  const s = await startServer(t);
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  await s.member('ui'); // offline
  const other = await s.memberClient('other');
  const data = noise(2048);
  const popped = nextPush(ugm, 'POPUP');
  const { id, attachments } = await sendDeclared(unhas, ['ugm', 'ui'], [{ name: 'jadwal.pdf', data }], { priority: 'high' });
  const { verdict } = await rawUpload(t, unhas, id, attachments[0]!.id, data);
  t.equal(verdict?.kind, 'ok', 'uploaded');
  await popped;
  t.ok((await ugm.openDownload({ messageId: id, attachmentId: attachments[0]!.id })).ticket, 'served before the recall');

  await t.rejects(ugm.recall(id), { code: 'NOT_FOUND' }, 'a recipient cannot recall');
  await t.rejects(other.recall(id), { code: 'NOT_FOUND' }, 'nor anyone else');
  const told = nextPush(ugm, 'RECALLED');
  const out = await unhas.recall(id, 'Jadwal salah');
  t.match(out, { id, undelivered: 1, notified: 1, already: false });
  const notice = await told;
  t.strictSame([notice.get('id'), notice.get('reason'), notice.get('at')], [String(id), 'Jadwal salah', out.recalledAt]);

  const entry = (await ugm.inbox()).messages.find((m) => m.id === id)!;
  t.match(entry, { recalledAt: out.recalledAt, recallReason: 'Jadwal salah', body: '', attachments: [], priority: 'high' }, 'withdrawn in the inbox');
  await t.rejects(ugm.read(id), { code: 'RECALLED', message: /Jadwal salah/ }, 'its body is refused');
  await t.rejects(ugm.openDownload({ messageId: id, attachmentId: attachments[0]!.id }), { code: 'RECALLED' }, 'its attachments too');
  await t.rejects(ugm.ack(id), { code: 'RECALLED' });

  const ui = await s.client();
  const uiPopups = collectPushes(ui, 'POPUP');
  await ui.login('ui', 'own-password-of-ui');
  await ui.ping();
  t.strictSame(uiPopups, [], 'the offline recipient never gets the popup');
  t.strictSame((await ui.inbox()).messages, [], 'nor sees it');

  const mine = await unhas.read(id);
  t.match(mine, { body: 'Lihat lampiran', state: 'recalled', recallReason: 'Jadwal salah' }, 'the sender keeps the original');
  t.equal(mine.attachments.length, 1);
  t.match(await unhas.recall(id, 'again'), { already: true, recalledAt: out.recalledAt });
  const admin = await s.adminClient();
  const audit = await admin.admin.audit({ kind: 'message_recalled' });
  t.equal(audit.length, 1, 'audited once');
  t.match(audit[0], { subject: String(id) });
  const plain = await unhas.send({ to: ['ugm'], subject: 'x' });
  t.match(await admin.recall(plain.id), { id: plain.id }, 'the administrator may recall');
});

t.test('send replaces=: the old one is recalled and points to the correction; recipients see what it replaces', async (t) => {
  const s = await startServer(t);
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  const other = await s.memberClient('other');
  const first = await unhas.send({ to: ['ugm'], subject: 'Rapat Senin', priority: 'high' });
  await t.rejects(other.send({ to: ['ugm'], subject: 'x', replaces: first.id }), { code: 'NOT_FOUND' }, 'not someone else\'s');
  const told = nextPush(ugm, 'RECALLED');
  const popup = nextPush(ugm, 'POPUP', (a) => a.get('subject') === 'Rapat Selasa');
  const fix = await unhas.send({ to: ['ugm'], subject: 'Rapat Selasa', priority: 'high', replaces: first.id });
  t.equal(fix.replaces, first.id);
  t.equal((await told).get('replacedBy'), String(fix.id));
  t.equal(argsToPopup(await popup).replaces, first.id);
  const inbox = new Map((await ugm.inbox()).messages.map((m) => [m.id, m]));
  t.match(inbox.get(first.id), { replacedBy: fix.id, recalledAt: String });
  t.match(inbox.get(fix.id), { replaces: first.id });
  await t.rejects(ugm.read(first.id), { code: 'RECALLED', message: new RegExp(`replaced by message ${fix.id}`) });
});

t.test('expiry: a recipient who logs in after it never gets the popup; the inbox shows it expired', async (t) => {
  const s = await startServer(t);
  const unhas = await s.memberClient('unhas');
  await s.member('ugm'); // offline
  await t.rejects(unhas.send({ to: ['ugm'], subject: 'x', expires: '2020-01-01T00:00Z' }), { code: 'BAD_ARGUMENT' }, 'not in the past');
  await t.rejects(unhas.send({ to: ['ugm'], subject: 'x', expires: 'soon' }), { code: 'BAD_ARGUMENT' });
  const short = await unhas.send({ to: ['ugm'], subject: 'Kilat', expires: '1s' });
  const long = await unhas.send({ to: ['ugm'], subject: 'Lama', expires: '2h' });
  t.ok(short.expiresAt && Date.parse(short.expiresAt) > Date.now() - 5000);
  await new Promise((r) => setTimeout(r, 1200));
  const ugm = await s.client();
  const popups = collectPushes(ugm, 'POPUP');
  await ugm.login('ugm', 'own-password-of-ugm');
  await until('the live popup', () => popups.length >= 1);
  await ugm.ping();
  t.strictSame(popups.map((a) => a.get('subject')), ['Lama'], 'only the one not expired');
  t.equal(argsToPopup(popups[0]!).expiresAt, long.expiresAt);
  const inbox = new Map((await ugm.inbox()).messages.map((m) => [m.id, m]));
  t.match(inbox.get(short.id), { expired: true, expiresAt: short.expiresAt });
  t.equal(inbox.get(long.id)!.expired, undefined);
  t.match((await unhas.outbox()).find((m) => m.id === short.id), { expired: true });
});

/** `username` logs in once, gets its popup, and leaves; resolves once `observer` sees it offline. */
async function popUpOnceAndLeave(s: Awaited<ReturnType<typeof startServer>>, observer: Awaited<ReturnType<Awaited<ReturnType<typeof startServer>>['memberClient']>>, username: string): Promise<void> {
  const once = await s.client();
  const popup = nextPush(once, 'POPUP');
  await once.login(username, `own-password-of-${username}`);
  await popup;
  await once.close();
  await until(`${username} is offline`, async () => !(await observer.directory('member')).some((d) => d.kind === 'member' && d.username === username && d.online));
}

t.test('RECALL counts as told only the recipients online now, not every one who had the popup', async (t) => {
  const s = await startServer(t);
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  await s.member('ui');
  const sent = await unhas.send({ to: ['ugm', 'ui'], subject: 'Rapat' });
  // ui logs in once (gets the popup) and leaves; ugm stays.
  await popUpOnceAndLeave(s, unhas, 'ui');
  await until('both have it', async () => (await unhas.report(sent.id)).delivered === 2);
  const told = nextPush(ugm, 'RECALLED');
  t.match(await unhas.recall(sent.id, 'batal'), { undelivered: 0, notified: 1 }, 'ugm is told; ui, offline, is not counted');
  await told;
});

t.test('REMIND: only the non-acknowledgers get the popup again, marked as a reminder, online at once and offline at next login', async (t) => {
  const s = await startServer(t);
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  const itb = await s.memberClient('itb');
  await s.member('ui');
  const sent = await unhas.send({ to: ['ugm', 'itb', 'ui'], subject: 'Siaga', priority: 'urgent' });
  await until('ugm and itb have it', async () => (await unhas.report(sent.id)).delivered === 2);
  // ui logs in once (gets the popup) and leaves: it is owed the reminder.
  await popUpOnceAndLeave(s, unhas, 'ui');
  await ugm.ack(sent.id);
  const ugmPopups = collectPushes(ugm, 'POPUP');
  const itbPopup = nextPush(itb, 'POPUP');
  const r = await unhas.remind(sent.id);
  t.match(r, { id: sent.id, reminded: 2, online: 1, reminders: 1 });
  t.match(argsToPopup(await itbPopup), { id: sent.id, reminder: 1, priority: 'urgent', ack: true });
  await ugm.ping();
  t.strictSame(ugmPopups, [], 'the acknowledger is not reminded');

  const ui = await s.client();
  const uiPopups = collectPushes(ui, 'POPUP');
  await ui.login('ui', 'own-password-of-ui');
  await until('the owed reminder', () => uiPopups.length === 1);
  t.match(argsToPopup(uiPopups[0]!), { id: sent.id, reminder: 1 });
  await ui.close();
  const again = await s.client();
  const none = collectPushes(again, 'POPUP');
  await again.login('ui', 'own-password-of-ui');
  await again.ping();
  t.strictSame(none, [], 'once');

  await t.rejects(itb.remind(sent.id), { code: 'NOT_FOUND' }, 'a recipient cannot remind');
  const plain = await unhas.send({ to: ['ugm'], subject: 'x' });
  await t.rejects(unhas.remind(plain.id), { code: 'BAD_ARGUMENT' }, 'nothing to acknowledge');
  t.match((await unhas.outbox()).find((m) => m.id === sent.id), { reminders: 1 });
  const admin = await s.adminClient();
  t.equal((await admin.admin.audit({ kind: 'message_reminded' })).length, 1, 'audited');
});

t.test('REMIND counts against the member\'s sending rate: a reminder to everyone is a send, so it cannot go past --max-sends-per-minute', async (t) => {
  const s = await startServer(t, { maxSendsPerMinute: 3 });
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  const popups = collectPushes(ugm, 'POPUP');
  const sent = await unhas.send({ to: ['ugm'], subject: 'Siaga', priority: 'urgent' });
  const reminders = () => popups.filter((p) => p.get('reminder'));
  t.match(await unhas.remind(sent.id), { reminders: 1 });
  t.match(await unhas.remind(sent.id), { reminders: 2 });
  await t.rejects(unhas.remind(sent.id), { code: 'RATE_LIMITED', message: /3 messages or reminders a minute.*no reminder went out\. Try again in \d+ s\./ },
    'the fourth send of the minute, a reminder, is refused');
  await t.rejects(unhas.send({ to: ['ugm'], subject: 'x' }), { code: 'RATE_LIMITED' }, 'and so is a message');
  await until('the two reminders', () => reminders().length >= 2);
  await ugm.ping();
  t.strictSame(reminders().map((p) => p.get('reminder')), ['1', '2'], 'ugm got two reminders, not three');
  t.match((await unhas.outbox()).find((m) => m.id === sent.id), { reminders: 2 });
  const admin = await s.adminClient();
  t.equal((await admin.admin.audit({ kind: 'message_reminded' })).length, 2, 'two audit rows, not one per refused request');
  for (let i = 0; i < 5; i++) await admin.remind(sent.id);
  t.pass('the administrator is not rate-limited');
});
