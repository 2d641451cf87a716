/**
 * Automatic reminders and scheduled delivery (issue 21, docs/PROTOCOL.md §Alerts) against real
 * servers over real sockets, SQLite files in temp dirs, and real restarts on the same data dir.
 * The reminder period is lowered with --remind-min-interval (remindMinIntervalMs) so a test takes
 * seconds; what is asserted is who gets what, and once, never how fast.
 */
import t from 'tap';
import { argsToPopup } from '../../src/protocol/index.js';
import type { SiarClient } from '../../src/client/index.js';
import { collectPushes, nextPush, ownPassword, startServer, tempDir, until, type TestServer } from '../helpers/siar.js';

const FAST = { remindMinIntervalMs: 1000 };

/** A member logged in on a server it already knows (after a restart the helper's passwords are gone). */
async function loginAs(s: TestServer, username: string): Promise<SiarClient> {
  const c = await s.client();
  await c.login(username, ownPassword(username));
  return c;
}

const reminderOf = (id: number) => (a: { get(k: string): string | undefined }) => a.get('id') === String(id) && !!a.get('reminder');

t.test('SEND remind=: refused below --remind-min-interval, without ack, or with a bad remindMax', async (t) => {
  const s = await startServer(t);
  const unhas = await s.memberClient('unhas');
  await s.member('ugm');
  await t.rejects(unhas.send({ to: ['ugm'], subject: 'x', ack: true, remindEvery: '30s' }), { code: 'BAD_ARGUMENT', message: /at least 60 seconds.*--remind-min-interval/ });
  await t.rejects(unhas.send({ to: ['ugm'], subject: 'x', remindEvery: '15m' }), { code: 'BAD_ARGUMENT', message: /needs ack=1/ });
  await t.rejects(unhas.send({ to: ['ugm'], subject: 'x', ack: true, remindEvery: '15m', remindMax: 101 }), { code: 'BAD_ARGUMENT', message: /remindMax/ });
  await t.rejects(unhas.send({ to: ['ugm'], subject: 'x', ack: true, remindEvery: 'often' }), { code: 'BAD_ARGUMENT', message: /duration/ });
  t.equal((await unhas.outbox()).length, 0, 'nothing was sent');
  const ok = await unhas.send({ to: ['ugm'], subject: 'x', priority: 'urgent', remindEvery: '15m' });
  t.match(ok, { remind: 900, remindMax: 8 }, 'the default count');
  t.match((await unhas.outbox())[0], { remind: 900, remindMax: 8 });
});

t.test('automatic reminders reach only the non-acknowledgers, online at once and offline at next login, and survive a restart', async (t) => {
  const dataDir = tempDir(t);
  let s = await startServer(t, FAST, dataDir);
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  const itb = await s.memberClient('itb');
  await s.member('ui'); // offline throughout, until it logs in
  const sent = await unhas.send({ to: ['ugm', 'itb', 'ui'], subject: 'Siaga', ack: true, remindEvery: 1, remindMax: 4 });
  t.match(sent, { remind: 1, remindMax: 4 });
  await until('ugm and itb have it', async () => (await unhas.report(sent.id)).delivered === 2);
  await ugm.ack(sent.id);
  const ugmPopups = collectPushes(ugm, 'POPUP');
  const itbFirst = await nextPush(itb, 'POPUP', reminderOf(sent.id));
  t.match(argsToPopup(itbFirst), { id: sent.id, ack: true, subject: 'Siaga' });
  t.ok(argsToPopup(itbFirst).reminder! >= 1, 'marked as a reminder');
  await ugm.ping();
  t.strictSame(ugmPopups, [], 'the acknowledger is not reminded');

  // Restart: the next reminder is in the store, not in a timer of the process that stopped.
  const before = (await s.server.store.alertsOf([sent.id])).get(sent.id)!;
  t.ok(before.nextRemindAt, 'a next reminder is due');
  await s.server.stop();
  s = await startServer(t, FAST, dataDir);
  const itb2 = await loginAs(s, 'itb');
  const after = await nextPush(itb2, 'POPUP', reminderOf(sent.id));
  t.ok(argsToPopup(after).reminder! > argsToPopup(itbFirst).reminder!, 'the next reminder came after the restart');

  // ui was never delivered: at its login the popup itself, then it acknowledges.
  const ui = await s.client();
  const uiPopup = nextPush(ui, 'POPUP', (a) => a.get('id') === String(sent.id));
  await ui.login('ui', ownPassword('ui'));
  t.match(argsToPopup(await uiPopup), { id: sent.id });
  await ui.ack(sent.id);
  await itb2.ack(sent.id);
  await until('the reminders stop once everyone acknowledged', async () => !(await s.server.store.alertsOf([sent.id])).get(sent.id)!.nextRemindAt);
  const admin = await s.adminClient();
  const audited = await admin.admin.audit({ kind: 'message_reminded' });
  t.ok(audited.length >= 2, 'each automatic reminder is audited');
  t.ok(audited.every((a) => (a.detail as { manual?: boolean }).manual === false), 'as automatic');
});

t.test('automatic reminders stop at remindMax, at a recall and at expiry', async (t) => {
  const s = await startServer(t, FAST);
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  const popups = collectPushes(ugm, 'POPUP');
  const capped = await unhas.send({ to: ['ugm'], subject: 'Dua kali', ack: true, remindEvery: 1, remindMax: 2 });
  const recalled = await unhas.send({ to: ['ugm'], subject: 'Ditarik', ack: true, remindEvery: 1, remindMax: 50 });
  const expiring = await unhas.send({ to: ['ugm'], subject: 'Kedaluwarsa', ack: true, remindEvery: 1, remindMax: 50, expires: '3s' });
  await unhas.recall(recalled.id, 'keliru');
  const alert = async (id: number) => (await s.server.store.alertsOf([id])).get(id)!;
  t.equal((await alert(recalled.id)).nextRemindAt, null, 'a recall ends the reminders at once');
  await until('the capped one has had its two', async () => (await alert(capped.id)).nextRemindAt === null, 30_000);
  t.equal((await alert(capped.id)).autoReminders, 2);
  await until('the expired one stops', async () => (await alert(expiring.id)).nextRemindAt === null, 30_000);
  const reminders = (id: number) => popups.filter((a) => a.get('id') === String(id) && a.get('reminder')).length;
  t.equal(reminders(capped.id), 2, 'exactly remindMax reminders');
  t.equal(reminders(recalled.id), 0, 'none after the recall');
  const expired = await alert(expiring.id);
  t.ok(reminders(expiring.id) <= expired.autoReminders && Date.parse(expired.expiresAt!) <= Date.now(), 'none after the expiry');
});

t.test('automatic reminders stop once everyone still holding the message acknowledged: one deleted without acknowledging is not waited for', async (t) => {
  const s = await startServer(t, FAST);
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  const itb = await s.memberClient('itb');
  const sent = await unhas.send({ to: ['ugm', 'itb'], subject: 'Dihapus', ack: true, remindEvery: 1, remindMax: 100 });
  await until('both have it', async () => (await unhas.report(sent.id)).delivered === 2);
  await ugm.deleteMessage(sent.id);
  await itb.ack(sent.id);
  const alert = async () => (await s.server.store.alertsOf([sent.id])).get(sent.id)!;
  await until('the reminders end', async () => (await alert()).nextRemindAt === null, 30_000);
  const after = await alert();
  t.ok(after.autoReminders < after.remindMax, `ended with ${after.autoReminders} of ${after.remindMax}, not by the cap`);
  t.match(await unhas.report(sent.id), { acknowledged: 1, notAcknowledged: 1 }, 'REPORT still names it as not acknowledged');
});

t.test('a reminder never reaches a session opened with a mailed password (it takes no popups until PASSWD)', async (t) => {
  const s = await startServer(t);
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  const fresh = await s.approvedMember('ui'); // logs in with the mailed password: a restricted session
  const ui = await s.client();
  const uiPopups = collectPushes(ui, 'POPUP');
  await ui.login('ui', fresh.mailedPassword);
  const sent = await unhas.send({ to: ['ugm', 'ui'], subject: 'Siaga', priority: 'urgent' });
  await nextPush(ugm, 'POPUP');
  const ugmReminder = nextPush(ugm, 'POPUP', reminderOf(sent.id));
  const r = await unhas.remind(sent.id);
  t.match(r, { reminded: 2, online: 2 }, 'presence counts the restricted session as online');
  t.match(argsToPopup(await ugmReminder), { reminder: 1 });
  await ui.ping();
  await ugm.ping();
  t.strictSame(uiPopups, [], 'neither the popup nor the reminder reached the restricted session');
});

t.test('scheduled delivery: stored and acknowledged at once, invisible to recipients until its time, then delivered once, across a restart', async (t) => {
  const dataDir = tempDir(t);
  let s = await startServer(t, {}, dataDir);
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  await s.member('itb'); // offline: gets it at its next login after the time
  const ugmPopups = collectPushes(ugm, 'POPUP');
  // Far enough ahead that the checks and a restart on a busy machine come before it (4 s did not, once).
  const at = new Date(Date.now() + 15_000).toISOString();
  const sent = await unhas.send({ to: ['ugm', 'itb'], subject: 'Upacara', body: 'Besok pagi', at, ack: true });
  t.match(sent, { state: 'scheduled', deliverAt: at, recipients: 2 });
  // Before its time: the sender sees it scheduled; for its recipients it does not exist.
  t.match((await unhas.outbox())[0], { id: sent.id, state: 'scheduled', deliverAt: at });
  t.match(await unhas.read(sent.id), { state: 'scheduled' });
  t.equal((await ugm.inbox()).messages.length, 0, 'not in the inbox');
  t.equal((await ugm.inbox()).unread, 0);
  await t.rejects(ugm.read(sent.id), { code: 'NOT_FOUND' }, 'READ as if it did not exist');
  await t.rejects(ugm.ack(sent.id), { code: 'NOT_FOUND' });
  await t.rejects(unhas.remind(sent.id), { code: 'BAD_ARGUMENT', message: /scheduled/ });
  const admin = await s.adminClient();
  t.match(await admin.admin.audit({ kind: 'message_scheduled' }), [{ subject: String(sent.id), detail: { deliverAt: at } }]);

  // A restart before its time: it still goes out, once.
  await s.server.stop();
  s = await startServer(t, {}, dataDir);
  const ugm2 = await loginAs(s, 'ugm');
  const popups2 = collectPushes(ugm2, 'POPUP');
  t.equal((await ugm2.inbox()).messages.length, 0, 'still not there after the restart');
  await until('it pops up at its time', () => popups2.length === 1, 30_000);
  t.ok(Date.now() >= Date.parse(at), 'not before its time');
  t.match(argsToPopup(popups2[0]!), { id: sent.id, subject: 'Upacara', ack: true });
  t.strictSame(ugmPopups, [], 'the connection of the stopped server got nothing');
  t.match((await ugm2.inbox()).messages, [{ id: sent.id, body: 'Besok pagi', deliverAt: at }]);
  const sender = await loginAs(s, 'unhas');
  const out = (await sender.outbox())[0]!;
  t.equal(out.state, undefined, 'sent now');
  t.equal(out.deliverAt, at);
  const itb = await s.client();
  const itbPopups = collectPushes(itb, 'POPUP');
  await itb.login('itb', ownPassword('itb'));
  await until('itb gets it at login', () => itbPopups.length === 1);
  // Once: a few more ticks of the runner change nothing.
  await new Promise((r) => setTimeout(r, 2500));
  await ugm2.ping();
  t.equal(popups2.length, 1, 'delivered once');
  t.equal((await s.server.store.getMessage(sent.id))!.recipients.length, 2);
  const admin2 = await s.adminClient();
  t.equal((await admin2.admin.audit({ kind: 'message_delivered_scheduled' })).length, 1, 'its going out is audited once');
});

t.test('scheduled delivery: recalled before its time it never goes out; bad times are refused', async (t) => {
  const s = await startServer(t);
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  const popups = collectPushes(ugm, 'POPUP');
  const sent = await unhas.send({ to: ['ugm'], subject: 'Batal', at: '2s' });
  t.equal(sent.state, 'scheduled');
  const r = await unhas.recall(sent.id, 'dibatalkan');
  t.match(r, { undelivered: 1, notified: 0 });
  t.match((await unhas.outbox())[0], { id: sent.id, state: 'recalled' });
  await new Promise((res) => setTimeout(res, 3500));
  await ugm.ping();
  t.strictSame(popups, [], 'never delivered');
  t.equal((await ugm.inbox()).messages.length, 0);

  await t.rejects(unhas.send({ to: ['ugm'], subject: 'x', at: '2020-01-01T00:00Z' }), { code: 'BAD_ARGUMENT', message: /not in the future/ });
  await t.rejects(unhas.send({ to: ['ugm'], subject: 'x', at: '400d' }), { code: 'BAD_ARGUMENT', message: /366 days/ });
  await t.rejects(unhas.send({ to: ['ugm'], subject: 'x', at: 'tomorrow' }), { code: 'BAD_ARGUMENT', message: /ISO time/ });
  await t.rejects(unhas.send({ to: ['ugm'], subject: 'x', at: '2h', expires: '1h' }), { code: 'BAD_ARGUMENT', message: /after at/ });
  t.equal((await unhas.outbox()).length, 1, 'nothing more was stored');
});

t.test('a scheduled channel message is not in the channel history before its time', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  await admin.request('CHANNEL_CREATE', { name: 'umum' });
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  await ugm.request('SUBSCRIBE', { name: 'umum' });
  await unhas.request('SUBSCRIBE', { name: 'umum' }); // publishing is for subscribers
  const sent = await unhas.send({ channel: 'umum', subject: 'Nanti', at: '3s' });
  const history = async () => (await ugm.request('CHANNEL_HISTORY', { name: 'umum' })).items.length;
  t.equal(await history(), 0, 'not yet');
  const popup = await nextPush(ugm, 'POPUP');
  t.equal(argsToPopup(popup).id, sent.id);
  t.equal(await history(), 1, 'there once it went out');
});

t.test('a scheduled correction (replaces= at=): the old notice stays until the correction goes out, then is recalled with it; one recalled first recalls nothing', async (t) => {
  // The runner's clock is the test's: the correction is due in an hour, and "an hour later" is when the test says.
  let now = Date.now();
  const s = await startServer(t, {}, tempDir(t), { dueJobsClock: { now: () => now } });
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  await s.member('itb'); // offline throughout: it never had the old notice
  const heard: Array<[string, number]> = [];
  ugm.on('push', (e, a) => { if (e === 'RECALLED' || e === 'POPUP') heard.push([e, Number(a.get('id'))]); });
  const first = await unhas.send({ to: ['ugm', 'itb'], subject: 'Rapat Senin', priority: 'high' });
  await until('ugm has the first notice', () => heard.length === 1);

  const fix = await unhas.send({ to: ['ugm', 'itb'], subject: 'Rapat Selasa', priority: 'high', at: '1h', replaces: first.id });
  t.match(fix, { state: 'scheduled', replaces: first.id });
  // Until it goes out, the old notice is as it was: readable, not withdrawn, nobody told.
  t.match(await ugm.read(first.id), { id: first.id, subject: 'Rapat Senin' });
  t.notOk((await ugm.inbox()).messages.find((m) => m.id === first.id)!.recalledAt, 'not withdrawn in the inbox');
  t.notOk((await unhas.outbox()).find((m) => m.id === first.id)!.recalledAt, 'nor in the sender\'s outbox');
  await ugm.ping();
  t.strictSame(heard, [['POPUP', first.id]], 'no RECALLED yet');
  const admin = await s.adminClient();
  t.strictSame(await admin.admin.audit({ kind: 'message_recalled' }), [], 'no recall audited yet');

  now = Date.parse(fix.deliverAt!) + 1000;
  await until('the correction goes out', () => heard.length === 3);
  t.strictSame(heard, [['POPUP', first.id], ['RECALLED', first.id], ['POPUP', fix.id]], 'the old one withdrawn, then the correction, together');
  await t.rejects(ugm.read(first.id), { code: 'RECALLED', message: new RegExp(`replaced by message ${fix.id}`) });
  t.match((await ugm.inbox()).messages.find((m) => m.id === fix.id), { replaces: first.id });
  t.match(await admin.admin.audit({ kind: 'message_recalled' }), [{ actor: 'unhas', subject: String(first.id), detail: { replacedBy: fix.id, delivered: 1, undelivered: 1 } }]);
  t.match(await admin.admin.audit({ kind: 'message_delivered_scheduled' }), [{ subject: String(fix.id), detail: { replaced: first.id } }]);
  // itb, offline all along, gets only the correction at its login.
  const itb = await s.client();
  const itbPopups = collectPushes(itb, 'POPUP');
  await itb.login('itb', ownPassword('itb'));
  await until('itb gets its popups', () => itbPopups.length >= 1);
  await itb.ping();
  t.strictSame(itbPopups.map((p) => argsToPopup(p)).map((p) => [p.id, p.replaces]), [[fix.id, first.id]]);

  // A correction of the correction, recalled before its time: the correction stays.
  const second = await unhas.send({ to: ['ugm'], subject: 'Rapat Rabu', at: '1h', replaces: fix.id });
  t.match(await unhas.recall(second.id, 'tidak jadi'), { undelivered: 1, notified: 0 });
  // A plain scheduled message due after it marks when the runner has gone past the recalled one's time.
  const marker = await unhas.send({ to: ['ugm'], subject: 'Penanda', at: '2h' });
  now = Date.parse(marker.deliverAt!) + 1000;
  await until('the marker goes out', () => heard.some(([e, id]) => e === 'POPUP' && id === marker.id));
  t.strictSame(heard.slice(3), [['POPUP', marker.id]], 'no RECALLED of the correction, no popup of the recalled one');
  t.match(await ugm.read(fix.id), { id: fix.id, subject: 'Rapat Selasa' });
  t.notOk((await ugm.read(fix.id)).recalledAt, 'the correction is not withdrawn');
});
