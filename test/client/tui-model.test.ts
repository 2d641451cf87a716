/** The TUI's pure parts: text editing, validation, the state reducer and the rendering, no terminal. */
import t from 'tap';
import type { MessageRecord, PopupRecord } from '../../src/protocol/index.js';
import { editArea, editLine, field, stripControls, textArea, textOf } from '../../src/client/tui/editor.js';
import { clip, line, strWidth, wrap } from '../../src/client/tui/format.js';
import { initialState, pickerRows, reduce, type Action, type State } from '../../src/client/tui/model.js';
import { validateNewPassword, validateRegistrationField } from '../../src/client/tui/validation.js';
import { MIN_COLS, MIN_ROWS, render } from '../../src/client/tui/view.js';

function run(state: State, ...actions: Action[]): State {
  return actions.reduce(reduce, state);
}

function popup(id: number, subject = `Subject ${id}`): PopupRecord {
  return { id, from: 'ugm', institution: 'Universitas Gadjah Mada', subject, preview: `Preview ${id}\nsecond line`, sentAt: '2025-01-02T03:04:05Z', attachments: ['poster.png'], via: '' };
}

function message(id: number, extra: Partial<MessageRecord> = {}): MessageRecord {
  return {
    id, from: 'ugm', to: ['unhas'], audience: 'direct', subject: `Subject ${id}`, body: `Body ${id}`, sentAt: '2025-01-02T03:04:05Z',
    attachments: [], deliveredAt: '2025-01-02T03:04:05Z', readAt: null, ...extra,
  };
}

/** Blessed tags removed: what a person sees. */
function plain(s: string): string {
  return s.replace(/\{(\/?)([a-z,-]*)\}/g, (_, slash: string, tag: string) => (slash ? '' : tag === 'open' ? '{' : tag === 'close' ? '}' : ''));
}

function screenText(state: State): string {
  const f = render(state);
  return [...f.lines, ...(f.overlay ? [f.overlay.title, ...f.overlay.lines] : [])].map(plain).join('\n');
}

const loggedIn = () => run(initialState({ server: '127.0.0.1:7400', firstRun: false }),
  { type: 'loggedIn', username: 'unhas', institution: 'Universitas Hasanuddin', unread: 0, mustChangePassword: false });

t.test('line editing: insert, move, delete, control characters stripped, max length', async (t) => {
  let f = field('x', 'X', { maxChars: 8 });
  f = editLine(f, { kind: 'insert', text: 'héllo' });
  t.equal(f.value, 'héllo');
  f = editLine(editLine(f, { kind: 'home' }), { kind: 'insert', text: '>' });
  t.same([f.value, f.cursor], ['>héllo', 1]);
  f = editLine(editLine(f, { kind: 'end' }), { kind: 'backspace' });
  t.equal(f.value, '>héll');
  f = editLine(f, { kind: 'insert', text: '\x1b[31mRED' });
  t.equal(f.value, '>héll[31', 'escape removed and the field stops at maxChars');
  f = editLine(editLine(f, { kind: 'left' }), { kind: 'killEnd' });
  t.equal(f.value, '>héll[3');
  f = editLine(f, { kind: 'killStart' });
  t.same([f.value, f.cursor], ['', 0]);
  t.equal(stripControls('a\tb\u0085c\u0007'), 'a    bc');
});

t.test('text area editing: new lines, joining lines, cursor moves, paste with CRLF', async (t) => {
  let a = textArea();
  a = editArea(a, { kind: 'insert', text: 'Dear all' });
  a = editArea(a, { kind: 'newline' });
  a = editArea(a, { kind: 'insert', text: 'line two\r\nline three' });
  t.equal(textOf(a), 'Dear all\nline two\nline three');
  t.same([a.row, a.col], [2, 10]);
  a = editArea(editArea(a, { kind: 'home' }), { kind: 'backspace' });
  t.equal(textOf(a), 'Dear all\nline twoline three', 'backspace at column 0 joins lines');
  a = editArea(a, { kind: 'up' });
  t.same([a.row, a.col], [0, 8]);
  a = editArea(editArea(a, { kind: 'end' }), { kind: 'delete' });
  t.equal(textOf(a), 'Dear allline twoline three');
  t.equal(textOf(editArea(textArea('abc'), { kind: 'insert', text: 'defgh' }, 5)), 'abcde', 'a body limit holds');
});

t.test('registration fields are checked with the server\'s own rules', async (t) => {
  t.equal(validateRegistrationField('institution', ''), 'The institution name is required.');
  t.equal(validateRegistrationField('institution', 'Universitas Hasanuddin'), null);
  t.match(validateRegistrationField('email', 'budi@unhas'), /not an e-mail/);
  t.equal(validateRegistrationField('email', 'Budi@Unhas.ac.id'), null);
  t.match(validateRegistrationField('username', '1abc'), /lower-case letter first/);
  t.match(validateRegistrationField('username', 'a'), /2-32/);
  t.equal(validateRegistrationField('username', 'unhas.ac_1-x'), null);
  t.match(validateRegistrationField('username', 'admin'), /reserved/);
  t.equal(validateRegistrationField('phone', ''), null, 'phone is optional');
  t.equal(validateRegistrationField('phone', '+62 (411) 586-200'), null);
  t.match(validateRegistrationField('phone', 'call me'), /Digits/);
  t.match(validateRegistrationField('server', 'host:99999'), /invalid port/);
  t.same(validateNewPassword('short', 'short'), { field: 'new', error: 'At least 10 characters.' });
  t.same(validateNewPassword('long enough!', 'long enough?'), { field: 'repeat', error: 'The two passwords differ.' });
  t.same(validateNewPassword('same as old!', 'same as old!', 'same as old!')?.field, 'new');
  t.equal(validateNewPassword('long enough!', 'long enough!', 'old'), null);
});

t.test('popups queue up in arrival order, once per message, and show in the inbox at once', async (t) => {
  let s = loggedIn();
  s = run(s, { type: 'popup', popup: popup(1) }, { type: 'popup', popup: popup(2) }, { type: 'popup', popup: popup(1) });
  t.same(s.popups.map((p) => p.id), [1, 2], 'the repeated popup 1 (a replay) is ignored');
  t.equal(s.unread, 2);
  t.same(s.inbox.items.map((m) => m.id), [2, 1], 'newest first');
  let text = screenText(s);
  t.match(text, /New message \(1 of 2\)/);
  t.match(text, /Subject 1/);
  t.match(text, /\+ 1 attachment: poster\.png/);
  s = run(s, { type: 'popup/dismiss' });
  text = screenText(s);
  t.match(text, /New message/);
  t.notMatch(text, /1 of/);
  t.match(text, /Subject 2/);
  s = run(s, { type: 'popup/dismiss' });
  t.equal(render(s).overlay, null, 'no popup left');
  s = run(s, { type: 'popup', popup: popup(3) }, { type: 'popup', popup: popup(4) }, { type: 'popup/dismissAll' });
  t.same(s.popups, []);
});

t.test('opening a message marks it read and lowers the unread count', async (t) => {
  let s = run(loggedIn(), { type: 'list/loaded', list: 'inbox', items: [message(2), message(1, { readAt: '2025-01-02T04:00:00Z' })], unread: 1 });
  s = run(s, { type: 'message/open', id: 2, box: 'inbox' });
  t.equal(s.screen, 'message');
  t.same(s.history, ['main']);
  s = run(s, { type: 'message/loaded', record: message(2, { readAt: '2025-01-02T05:00:00Z', body: 'The whole body' }) });
  t.equal(s.unread, 0);
  t.ok(s.inbox.items[0]!.readAt);
  t.match(screenText(s), /The whole body/);
  s = run(s, { type: 'back' });
  t.equal(s.screen, 'main');
  t.equal(s.message, null);
});

t.test('read receipts update the outbox and the open message live', async (t) => {
  const sent = message(7, { from: 'unhas', to: ['ugm', 'itb'], recipients: [
    { username: 'ugm', deliveredAt: '2025-01-02T03:04:05Z', readAt: null },
    { username: 'itb', deliveredAt: null, readAt: null },
  ] });
  let s = run(loggedIn(), { type: 'list/loaded', list: 'outbox', items: [sent] }, { type: 'tab', tab: 'outbox' });
  t.match(screenText(s), /read 0\/2 · got 1\/2/);
  s = run(s, { type: 'message/open', id: 7, box: 'outbox' }, { type: 'message/loaded', record: sent });
  s = run(s, { type: 'readReceipt', id: 7, by: 'itb', at: '2025-01-02T06:00:00Z' });
  t.match(screenText(s), /itb\s+read/);
  t.same(s.outbox.items[0]!.recipients!.map((r) => !!r.readAt), [false, true]);
  t.ok(s.outbox.items[0]!.recipients![1]!.deliveredAt, 'read implies delivered');
});

t.test('an outbox row tells a broadcast as "all members", a message being sent by how far its upload got, and a withdrawn one by its state', async (t) => {
  const attachment = { id: 3, name: 'data.bin', size: 1000, sha256: 'ab', type: 'application/octet-stream' };
  const sending = message(9, { from: 'unhas', to: ['ugm'], subject: 'Data', state: 'sending', attachments: [{ ...attachment, uploaded: 250 }], recipients: [] });
  const all = message(8, { from: 'unhas', to: ['*'], audience: 'all', subject: 'Pengumuman', recipients: [{ username: 'ugm', deliveredAt: null, readAt: null }] });
  let s = run(loggedIn(), { type: 'list/loaded', list: 'outbox', items: [sending, all] }, { type: 'tab', tab: 'outbox' });
  t.match(screenText(s), /ugm\s+Data \+1\s+sending 25%/);
  t.match(screenText(s), /all members\s+Pengumuman/);
  t.match(screenText(s), /U resume upload/, 'the keys for a message being sent');
  s = run(s, { type: 'outbox/uploaded', id: 9, attachmentId: 3, uploaded: 800 });
  t.match(screenText(s), /sending 80%/, 'a resumed upload moves the row');
  s = run(s, { type: 'list/moveTo', index: 1 });
  t.notMatch(screenText(s), /U resume upload/, 'not offered for a message that is out');
  s = run(s, { type: 'list/loaded', list: 'outbox', items: [{ ...sending, state: 'cancelled' }, all] });
  t.match(screenText(s), /Data \+1\s+cancelled/);
  s = run(s, { type: 'confirm', confirm: { kind: 'cancel', id: 9, subject: 'Data' } });
  t.match(screenText(s), /Withdraw #9 "Data"\?[\s\S]*Y withdraw/);
});

t.test('registration flow: waiting screen changes with the decision', async (t) => {
  let s = initialState({ server: '127.0.0.1:7400', firstRun: true });
  t.equal(s.screen, 'welcome');
  t.match(screenText(s), /Register my institution/);
  s = run(s, { type: 'navigate', screen: 'register', push: true }, { type: 'registered', requestId: 3, username: 'unhas', email: 'budi@unhas.ac.id' });
  t.match(screenText(s), /Waiting for the administrator/);
  const approved = run(s, { type: 'decision', status: 'approved', reason: null });
  t.match(screenText(approved), /Approved![\s\S]*Check your e-mail \(budi@unhas\.ac\.id\)/);
  const rejected = run(s, { type: 'decision', status: 'rejected', reason: 'Unknown institution' });
  t.match(screenText(rejected), /Reason: Unknown institution/);
  const lost = run(s, { type: 'waiting/lost' });
  t.match(screenText(lost), /stays pending/);
  t.equal(run(approved, { type: 'waiting/lost' }).waiting!.status, 'approved', 'a decided request is not "lost"');
});

t.test('login with the mailed password leads to the forced password change', async (t) => {
  const s = run(initialState({ server: 'x:1', firstRun: false, username: 'unhas' }),
    { type: 'loggedIn', username: 'unhas', institution: 'U', unread: 0, mustChangePassword: true });
  t.equal(s.screen, 'passwd');
  t.ok(s.passwd.forced);
  t.same(s.passwd.fields.map((f) => f.name), ['new', 'repeat'], 'the mailed password is not asked again');
  t.match(screenText(s), /first login only/);
});

t.test('compose: recipients, channels exclude other addressing, picker filter', async (t) => {
  let s = run(loggedIn(),
    { type: 'list/loaded', list: 'directory', items: [{ username: 'unhas', institution: 'Universitas Hasanuddin', online: true }, { username: 'ugm', institution: 'Universitas Gadjah Mada', online: true }, { username: 'itb', institution: 'Institut Teknologi Bandung', online: false }] },
    { type: 'list/loaded', list: 'channels', items: [
      { kind: 'channel', name: 'beasiswa', description: 'Scholarships', access: 'open', publish: 'subscribers', archived: false, archivedAt: null, createdAt: '', subscribers: 3, subscribed: true, canSubscribe: true, canPublish: true },
      { kind: 'channel', name: 'rektor', description: 'Rector', access: 'open', publish: 'named', archived: false, archivedAt: null, createdAt: '', subscribers: 3, subscribed: true, canSubscribe: true, canPublish: false },
      { kind: 'group', name: 'ptn', description: 'State universities', members: 2, createdAt: '', isMember: true },
    ] },
    { type: 'compose/open' });
  t.equal(s.screen, 'compose');
  t.equal(s.compose!.focus, 'to');
  const rows = pickerRows(s, s.compose!);
  t.same(rows.map((r) => (r.kind === 'member' ? r.member.username : r.kind === 'all' ? '*' : `${r.kind}:${r.name}`)),
    ['*', 'channel:beasiswa', 'group:ptn', 'ugm', 'itb'], 'oneself and unpublishable channels are not offered');
  s = run(s, { type: 'compose/toggle', username: 'ugm' }, { type: 'compose/toggle', username: '@ptn' });
  t.same(s.compose!.to, ['ugm', '@ptn']);
  s = run(s, { type: 'compose/toggleChannel', name: 'beasiswa' });
  t.same([s.compose!.to, s.compose!.channel], [[], 'beasiswa'], 'a channel replaces other recipients');
  s = run(s, { type: 'compose/toggleAll' });
  t.same([s.compose!.all, s.compose!.channel], [true, null]);
  s = run(s, { type: 'compose/picker', open: true }, { type: 'compose/pickerFilter', key: { kind: 'insert', text: 'band' } });
  t.same(pickerRows(s, s.compose!).map((r) => (r.kind === 'member' ? r.member.username : r.kind)), ['itb'], 'filter matches institutions');
  t.match(screenText(s), /Choose recipients/);
});

t.test('rendering fits any size and never throws, even with hostile server text', async (t) => {
  const hostile = message(9, {
    from: 'x{bold}', subject: '{red-fg}sub\x1b[2J\u0007ject{/red-fg} 漢字 🎉', body: `${'long '.repeat(200)}\n\x1b]0;title\x07{/}`,
    attachments: [{ id: 1, name: 'a{b}.png', size: 1234567, sha256: 'ab', type: 'image/png' }],
  });
  const base = run(loggedIn(),
    { type: 'list/loaded', list: 'inbox', items: Array.from({ length: 60 }, (_, i) => message(100 - i)).concat(hostile), unread: 61 },
    { type: 'popup', popup: { ...popup(500), subject: hostile.subject, preview: hostile.body } });
  const screens: State[] = [
    base,
    run(base, { type: 'popup/dismissAll' }, { type: 'message/open', id: 9, box: 'inbox' }, { type: 'message/loaded', record: hostile }),
    run(base, { type: 'popup/dismissAll' }, { type: 'compose/open', to: ['ugm'] }),
    run(base, { type: 'popup/dismissAll' }, { type: 'help', open: true }),
    run(initialState({ server: 'x:1', firstRun: true }), { type: 'navigate', screen: 'register' }),
  ];
  for (const s of screens) {
    for (const [cols, rows] of [[80, 24], [40, 12], [200, 60], [39, 11], [1, 1], [10, 3]] as const) {
      const f = render(reduce(s, { type: 'resize', cols, rows }));
      t.equal(f.lines.length, rows, `${s.screen} at ${cols}x${rows}: one line per row`);
      const tooWide = f.lines.map(plain).filter((l) => strWidth(l) > cols);
      t.same(tooWide, [], `${s.screen} at ${cols}x${rows}: no line wider than the terminal`);
      const all = [...f.lines, ...(f.overlay?.lines ?? [])].join('\n');
      t.notMatch(all, /[\x00-\x08\x0b-\x1f\x7f]/, 'no control characters reach the terminal');
      t.notMatch(all, /\{red-fg\}sub|\{bold\}\}/, 'server text cannot inject blessed tags');
      if (f.overlay) t.ok(f.overlay.width <= Math.max(10, cols) && f.overlay.height <= Math.max(3, rows), 'the overlay fits');
    }
  }
  const small = render(reduce(base, { type: 'resize', cols: MIN_COLS - 1, rows: MIN_ROWS }));
  t.match(plain(small.lines.join('\n')), /Terminal too small/);
});

t.test('text helpers: clip, wrap and wide characters', async (t) => {
  t.equal(clip('abcdef', 4), 'abc…');
  t.equal(strWidth('漢字a'), 5);
  t.equal(clip('漢字漢字', 5), '漢字…');
  t.same(wrap('one two three', 7), ['one two', 'three']);
  t.same(wrap('abcdefghij', 4), ['abcd', 'efgh', 'ij']);
  t.same(wrap('a\n\nb', 10), ['a', '', 'b']);
  t.equal(plain(line(['{x}', { t: 'bold', s: 'bold' }], 20)), '{x}bold');
});

t.test('the config store: XDG or ~/.config, mode 0600, known keys only, no password', async (t) => {
  const { ConfigStore, configDir } = await import('../../src/client/config-store.js');
  const { mkdtempSync, readFileSync, statSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  t.equal(configDir({ XDG_CONFIG_HOME: '/x/cfg', HOME: '/home/u' }), '/x/cfg/siar');
  t.equal(configDir({ XDG_CONFIG_HOME: 'relative', HOME: '/home/u' }), '/home/u/.config/siar', 'a relative XDG path is ignored, as the spec says');
  t.equal(configDir({ HOME: '/home/u' }), '/home/u/.config/siar');
  const root = mkdtempSync(path.join(tmpdir(), 'siar-cfg-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const store = new ConfigStore(path.join(root, 'siar'));
  t.same(store.load(), {}, 'nothing yet');
  store.save({ server: 'siar.unhas.ac.id:7400', username: 'unhas', password: 'secret' } as never);
  t.same(store.load(), { server: 'siar.unhas.ac.id:7400', username: 'unhas' });
  t.notMatch(readFileSync(store.file, 'utf8'), /secret/, 'a password is never written');
  t.equal(statSync(store.file).mode & 0o777, 0o600);
  store.save({ pendingRegistration: { id: 3, username: 'unhas', email: 'b@u.ac.id', server: 'x:1' } });
  store.save({ pendingRegistration: undefined });
  t.same(store.load(), { server: 'siar.unhas.ac.id:7400', username: 'unhas' }, 'a key set to undefined is removed');
  writeFileSync(store.file, '{not json');
  t.same(store.load(), {}, 'a broken file reads as empty');
});

t.test('the footer keeps the help and quit keys at every width, and overlays never leave one column of the screen beside them', async (t) => {
  const screens: State[] = [
    loggedIn(),
    run(loggedIn(), { type: 'tab', tab: 'directory' }),
    run(loggedIn(), { type: 'message/open', id: 1, box: 'inbox' }, { type: 'message/loaded', record: message(1, { attachments: [
      { id: 1, name: 'a.png', size: 10, type: 'image/png', sha256: '' }, { id: 2, name: 'b.png', size: 10, type: 'image/png', sha256: '' },
    ] }) }),
  ];
  for (const base of screens) {
    const missing: string[] = [];
    for (let cols = MIN_COLS; cols <= 120; cols++) {
      const lines = render(run(base, { type: 'resize', cols, rows: 24 })).lines;
      const foot = plain(lines[lines.length - 1]!);
      if (!/\? help/.test(foot) || !/(Q quit|Esc back)$/.test(foot)) missing.push(`${cols}: ${foot}`);
    }
    t.same(missing, [], `${base.screen} (${base.tab}): ? help and the way out at 40-120 columns`);
  }
  const login = render(run(initialState({ server: '127.0.0.1:7400', firstRun: false }), { type: 'navigate', screen: 'login' }));
  t.match(plain(login.lines.at(-1)!), /F1 help/, 'forms name F1, since "?" is typed there');

  for (const cols of [MIN_COLS, 50, 60, 66, 67, 68, 80, 120]) {
    const o = render(run(loggedIn(), { type: 'resize', cols, rows: 20 }, { type: 'popup', popup: popup(1) })).overlay!;
    const margin = (cols - o.width) / 2;
    t.ok(margin === 0 || margin >= 2, `popup at ${cols} columns: ${o.width} wide`);
  }
});

t.test('an error on the login form replaces its notice', async (t) => {
  let s = run(initialState({ server: '127.0.0.1:7400', firstRun: false }),
    { type: 'form/reset', form: 'login', server: '127.0.0.1:7400', username: 'unhas', notice: 'Approved. Your password was e-mailed to a@b.id.' });
  t.equal(s.login.notice, 'Approved. Your password was e-mailed to a@b.id.');
  s = run(s, { type: 'form/status', form: 'login', busy: true, error: null });
  t.ok(s.login.notice, 'kept while logging in');
  s = run(s, { type: 'form/status', form: 'login', busy: false, error: 'Wrong username or password.' });
  t.equal(s.login.notice, null);
  t.notMatch(screenText(run(s, { type: 'navigate', screen: 'login' })), /Approved/);
});
