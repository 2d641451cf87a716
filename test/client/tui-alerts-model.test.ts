/**
 * The TUI's alert states without a terminal (issue 21): the reducer and the rendering of urgent,
 * high, reminder and withdrawn popups, acknowledgements and the inbox/outbox marks, at 80×24.
 * The real pseudo-terminal against a real server is tui-alerts-pty.test.ts.
 */
import t from 'tap';
import type { MessageRecord, PopupRecord } from '../../src/protocol/index.js';
import { initialState, reduce, type Action, type State } from '../../src/client/tui/model.js';
import { render } from '../../src/client/tui/view.js';

const run = (state: State, ...actions: Action[]): State => actions.reduce(reduce, state);

function popup(id: number, extra: Partial<PopupRecord> = {}): PopupRecord {
  return { id, from: 'ugm', institution: 'Universitas Gadjah Mada', subject: `Subject ${id}`, preview: `Preview ${id}`, sentAt: '2026-12-07T03:04:05Z', attachments: [], via: '', ...extra };
}

function message(id: number, extra: Partial<MessageRecord> = {}): MessageRecord {
  return {
    id, from: 'ugm', to: ['unhas'], audience: 'direct', subject: `Subject ${id}`, body: `Body ${id}`, sentAt: '2026-12-07T03:04:05Z',
    attachments: [], deliveredAt: '2026-12-07T03:04:05Z', readAt: null, ...extra,
  };
}

const plain = (s: string) => s.replace(/\{(\/?)([a-z,-]*)\}/g, (_, slash: string, tag: string) => (slash ? '' : tag === 'open' ? '{' : tag === 'close' ? '}' : ''));
function screenText(state: State): string {
  const f = render(state);
  return [...f.lines, ...(f.overlay ? [f.overlay.title, ...f.overlay.lines] : [])].map(plain).join('\n');
}

const loggedIn = () => run(initialState({ server: '127.0.0.1:7400', firstRun: false, now: 1_000 }),
  { type: 'loggedIn', username: 'unhas', institution: 'Universitas Hasanuddin', unread: 0, mustChangePassword: false });

t.test('an urgent popup covers the whole 80×24 screen, goes before other popups, and is not dismissed with the rest', async (t) => {
  let s = run(loggedIn(), { type: 'popup', popup: popup(1) }, { type: 'popup', popup: popup(2, { priority: 'urgent', ack: true, attachments: ['peta evakuasi.pdf'], preview: 'Gedung A dikosongkan sekarang.' }) });
  t.same(s.popups.map((p) => p.id), [2, 1], 'the urgent one first');
  const f = render(s);
  t.equal(f.overlay?.kind, 'alert');
  t.equal(f.overlay?.width, 80);
  t.equal(f.overlay?.height, 24);
  const text = screenText(s);
  t.match(text, 'URGENT ALERT');
  t.match(text, 'From:    ugm — Universitas Gadjah Mada');
  t.match(text, 'Subject: Subject 2');
  t.match(text, 'Gedung A dikosongkan sekarang.');
  t.match(text, '+ 1 attachment: peta evakuasi.pdf');
  t.match(text, 'Enter open  A acknowledge   (1 more waiting)');
  t.ok(f.overlay!.lines.length <= 22, 'inside the border');
  s = run(s, { type: 'popup/dismissAll' });
  t.same(s.popups.map((p) => p.id), [2], '"dismiss all" leaves the urgent alert');
  s = run(s, { type: 'acked', id: 2, at: '2026-12-07T03:05:00Z' });
  t.same(s.popups, [], 'acknowledging takes it away');
  t.equal(s.inbox.items.find((m) => m.id === 2)?.ackedAt, '2026-12-07T03:05:00Z', 'and the inbox says when');
});

t.test('the urgent alert rings again every 30 s (alert/bell), a high one is marked important', async (t) => {
  let s = run(loggedIn(), { type: 'tick', now: 5_000 }, { type: 'popup', popup: popup(3, { priority: 'urgent' }) });
  t.equal(s.alertBellAt, 5_000, 'its first ring is the new-popup one');
  s = run(s, { type: 'alert/bell', now: 35_000 });
  t.equal(s.bells, 1);
  s = run(loggedIn(), { type: 'popup', popup: popup(4, { priority: 'high' }) });
  t.match(screenText(s), ' Important message ');
  t.equal(render(s).overlay?.kind, 'popup', 'a high popup is a popup box');
});

t.test('a reminder pops again once, marked; a recall turns the open popup into a withdrawn notice with its reason', async (t) => {
  let s = run(loggedIn(), { type: 'popup', popup: popup(5, { ack: true }) }, { type: 'popup/dismiss' });
  s = run(s, { type: 'popup', popup: popup(5, { ack: true }) });
  t.same(s.popups, [], 'a replay of the same popup does not pop');
  s = run(s, { type: 'popup', popup: popup(5, { ack: true, reminder: 1 }) }, { type: 'popup', popup: popup(5, { ack: true, reminder: 1 }) });
  t.equal(s.popups.length, 1, 'the reminder pops once');
  t.match(screenText(s), ' Reminder 1 ');
  t.match(screenText(s), 'A acknowledge', 'a popup asking for acknowledgement offers A');
  s = run(s, { type: 'recalled', id: 5, reason: 'Salah tanggal', at: '2026-12-07T03:06:00Z', replacedBy: 6 });
  const text = screenText(s);
  t.match(text, ' Withdrawn message ');
  t.match(text, 'The sender withdrew this message.');
  t.match(text, 'Reason: Salah tanggal');
  t.match(text, 'A correction follows as message #6.');
  t.notMatch(text, 'Preview 5', 'its text is gone');
  t.equal(s.inbox.items.find((m) => m.id === 5)?.recallReason, 'Salah tanggal');
  t.equal(render(s).overlay?.kind, 'popup');
  // A recalled urgent alert is no longer urgent: it is a notice to dismiss.
  s = run(loggedIn(), { type: 'popup', popup: popup(7, { priority: 'urgent' }) }, { type: 'recalled', id: 7, reason: '', at: '2026-12-07T03:06:00Z' });
  t.equal(render(s).overlay?.kind, 'popup');
  t.same(run(s, { type: 'popup/dismissAll' }).popups, []);
});

t.test('inbox and outbox rows mark priority, withdrawal, expiry, schedule and acknowledgements; the outbox detail counts non-acknowledgers live', async (t) => {
  let s = run(loggedIn(), { type: 'list/loaded', list: 'inbox', unread: 0, items: [
    message(10, { priority: 'urgent', ack: true, ackedAt: null, subject: 'Evakuasi' }),
    message(11, { recalledAt: '2026-12-07T03:00:00Z', recallReason: 'x', subject: 'Lama' }),
    message(12, { expired: true, expiresAt: '2026-12-07T03:30:00Z', subject: 'Basi' }),
  ] });
  let text = screenText(s);
  t.match(text, /!! ack\? Evakuasi/);
  t.match(text, /withdrawn Lama/);
  t.match(text, /expired Basi/);

  const sent = message(20, {
    from: 'unhas', to: ['ugm', 'itb', 'ui'], subject: 'Siaga', priority: 'urgent', ack: true, acked: [{ username: 'itb', at: '2026-12-07T03:10:00Z' }],
    recipients: [{ username: 'ugm', deliveredAt: '2026-12-07T03:05:00Z', readAt: null }, { username: 'itb', deliveredAt: '2026-12-07T03:05:00Z', readAt: '2026-12-07T03:09:00Z' }, { username: 'ui', deliveredAt: null, readAt: null }],
  });
  const later = message(21, { from: 'unhas', subject: 'Besok', state: 'scheduled', deliverAt: '2026-12-24T00:00:00Z', recipients: [{ username: 'ugm', deliveredAt: null, readAt: null }] });
  s = run(s, { type: 'list/loaded', list: 'outbox', items: [sent, later] }, { type: 'tab', tab: 'outbox' });
  text = screenText(s);
  t.match(text, /!! Siaga\s+ack 1\/3/);
  t.match(text, /Besok\s+scheduled/);

  s = run(s, { type: 'message/open', id: 20, box: 'outbox' }, { type: 'message/loaded', record: sent }, { type: 'navigate', screen: 'message' });
  text = screenText(s);
  t.match(text, '2 of 3 have not acknowledged.');
  t.match(text, /ugm\s+delivered .*, not acknowledged/);
  t.match(text, /itb\s+acknowledged/);
  t.ok(text.indexOf('itb ') > text.indexOf('ui '), 'non-acknowledgers first');
  s = run(s, { type: 'ackReceipt', id: 20, by: 'ugm', at: '2026-12-07T03:11:00Z' }, { type: 'ackReceipt', id: 20, by: 'ugm', at: '2026-12-07T03:12:00Z' });
  t.match(screenText(s), '1 of 3 has not acknowledged.', 'live on *|ACK, once per recipient');
  t.equal(s.outbox.items[0]!.acked!.length, 2);
});
