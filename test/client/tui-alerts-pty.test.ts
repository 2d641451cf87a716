/**
 * Alerts in the real `siar tui` (issue 21), in a pseudo-terminal at 80×24 against a real server:
 * an urgent alert covers the screen, Esc does not dismiss it, `A` acknowledges it and the sender's
 * own `siar tui` counts it live; a reminder pops up again, marked; a recall turns an open popup into a withdrawn notice with its
 * reason; and the urgent alert rings again every 30 s (the controller with a clock of its own).
 */
import t from 'tap';
import { ConfigStore } from '../../src/client/config-store.js';
import { SiarSession } from '../../src/client/session.js';
import { TuiController } from '../../src/client/tui/controller.js';
import { nextPush, startServer, tempDir, until } from '../helpers/siar.js';
import { KEY } from './tui/pty.js';
import { tuiAs } from './tui/login.js';

t.setTimeout(300_000);
const STEP = 20_000;

t.test('an urgent alert covers the screen until acknowledged with A, the sender\'s siar tui counts it live, a reminder pops up again, and a recall withdraws an open popup', async (t) => {
  const s = await startServer(t);
  const itb = await s.member('itb');
  const unhas = await s.member('unhas');
  const sender = await s.memberClient('unhas');

  const recipient = await tuiAs(t, s, 'itb', itb.password);
  const sent = await sender.send({ to: ['itb'], subject: 'Evakuasi gedung A', body: 'Semua staf keluar melalui tangga darurat.', priority: 'urgent' });
  t.ok(sent.ack, 'urgent asks for acknowledgement');

  const alert = await recipient.waitFor('URGENT ALERT', STEP);
  t.match(alert, 'From:    unhas');
  t.match(alert, 'Subject: Evakuasi gedung A');
  t.match(alert, 'Semua staf keluar melalui tangga darurat.');
  t.match(alert, 'Enter open  A acknowledge');
  t.notMatch(alert, /1 Inbox/, 'it covers the whole screen');
  t.match(recipient.transcript(), '\u0007', 'the bell rang');

  // The sender opens the message in its own siar tui: nobody has acknowledged yet.
  const outbox = await tuiAs(t, s, 'unhas', unhas.password);
  outbox.write('2');
  await outbox.waitFor(/Evakuasi gedung A\s+ack 0\/1/, STEP);
  outbox.write(KEY.enter);
  await outbox.waitFor('1 of 1 has not acknowledged.', STEP);

  recipient.write(KEY.escape);
  await recipient.waitFor('An urgent alert stays until you open it', STEP);
  t.match(recipient.text(), 'URGENT ALERT', 'Esc alone does not dismiss it');

  const acked = nextPush(sender, 'ACK', (a) => a.get('id') === String(sent.id));
  recipient.write('a');
  await recipient.waitFor(`Message #${sent.id} acknowledged`, STEP);
  await recipient.waitGone('URGENT ALERT', STEP);
  t.equal((await acked).get('by'), 'itb', 'the sender gets *|ACK');
  await outbox.waitFor('Everyone acknowledged.', STEP);
  t.match(await outbox.waitFor(/itb\s+acknowledged/, STEP), /itb\s+acknowledged/, 'the sender\'s detail changed live');
  const report = await sender.report(sent.id);
  t.match(report, { acknowledged: 1, notAcknowledged: 0 });

  // A popup asking for acknowledgement, dismissed unacknowledged: REMIND pops it up again, marked.
  const asked = await sender.send({ to: ['itb'], subject: 'Isi formulir', body: 'Batas Jumat', ack: true });
  await recipient.waitFor('Isi formulir', STEP);
  recipient.write(KEY.escape);
  await recipient.waitGone('Batas Jumat', STEP);
  await sender.remind(asked.id);
  t.match(await recipient.waitFor('Reminder 1', STEP), 'Batas Jumat', 'the reminder shows the popup again');
  recipient.write('a');
  await recipient.waitFor(`Message #${asked.id} acknowledged`, STEP);
  await recipient.waitGone('Reminder 1', STEP);

  // A popup asking for acknowledgement is recalled while on screen: it says so, with the reason.
  const second = await sender.send({ to: ['itb'], subject: 'Rapat pukul 10', body: 'Ruang 2', ack: true });
  await recipient.waitFor('Rapat pukul 10', STEP);
  t.match(recipient.text(), 'A acknowledge');
  await sender.recall(second.id, 'Jam salah, lihat koreksi');
  const withdrawn = await recipient.waitFor('The sender withdrew this message.', STEP);
  t.match(withdrawn, 'Withdrawn message');
  t.match(withdrawn, 'Reason: Jam salah, lihat koreksi');
  recipient.write(KEY.escape);
  await recipient.waitGone('The sender withdrew this message.', STEP);
  t.match(await recipient.waitFor(/withdrawn Rapat pukul 10/, STEP), /withdrawn Rapat pukul 10/, 'Esc dismisses the notice; the inbox row says withdrawn');

  for (const [name, tui] of [['recipient', recipient], ['sender', outbox]] as const) {
    tui.write(KEY.ctrl('c'));
    await Promise.race([tui.exited, new Promise((_, reject) => setTimeout(() => reject(new Error(`${name}'s siar tui did not exit:\n${tui.text()}`)), STEP))]);
  }
});

t.test('the urgent alert ignores keys typed as it appears and rings again every 30 s until opened', async (t) => {
  const s = await startServer(t);
  const itb = await s.member('itb');
  const sender = await s.memberClient('unhas');
  let now = Date.parse('2026-12-07T04:00:00Z');
  const session = new SiarSession({ address: `127.0.0.1:${s.port}` });
  const c = new TuiController({ session, config: new ConfigStore(tempDir(t)), server: `127.0.0.1:${s.port}`, firstRun: false, username: 'itb', clock: () => now });
  c.start();
  t.teardown(async () => {
    c.stop();
    await session.close();
  });
  await until('the login screen', () => c.state.screen === 'login' && c.state.conn.status === 'connected', STEP);
  c.type(`${itb.password}\n`);
  await until('logged in', () => c.state.screen === 'main', STEP);

  await sender.send({ to: ['itb'], subject: 'Siaga banjir', priority: 'urgent' });
  await until('the alert', () => c.state.popups[0]?.priority === 'urgent', STEP);
  t.equal(c.state.bells, 0);
  c.type('ka');
  c.key({ name: 'enter' });
  t.equal(c.state.popups[0]?.priority, 'urgent', 'keys typed as it appears (meant for the screen beneath) do not act on it');
  now += 29_000;
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(c.state.bells, 0, 'not before 30 s');
  now += 2_000;
  await until('the second ring', () => c.state.bells === 1, STEP);
  now += 31_000;
  await until('the third ring', () => c.state.bells === 2, STEP);
  c.key({ name: 'enter' });
  t.same(c.state.popups, [], 'Enter opens it');
  t.equal(c.state.screen, 'message');
  now += 60_000;
  await new Promise((r) => setTimeout(r, 1500));
  t.equal(c.state.bells, 2, 'opened: no more rings');
});
