/**
 * The TUI's behaviour without a terminal: keys go into TuiController, a real server answers, and
 * the state (what the screens render) is checked.
 */
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { ConfigStore } from '../../src/client/config-store.js';
import { PendingUploads } from '../../src/client/pending-uploads.js';
import { SiarSession } from '../../src/client/session.js';
import { TuiController, type Key } from '../../src/client/tui/controller.js';
import { createTransfers } from '../../src/client/tui/transfers.js';
import type { State } from '../../src/client/tui/model.js';
import { render } from '../../src/client/tui/view.js';
import { sendMessage, declareFile } from '../../src/client/transfer.js';
import { startServer, tempDir, type TestServer } from '../helpers/siar.js';
import { DataPeer, noise, offer, sendDeclared, sha256, writeFile } from '../transfer/helpers.js';

const k = (name: string, mods: Partial<Key> = {}): Key => ({ name, ...mods });

/** The screen as a person reads it: blessed tags removed. */
function shown(st: State): string {
  const f = render(st);
  return [...f.lines, ...(f.overlay?.lines ?? [])].join('\n')
    .replace(/\{(\/?)([a-z,-]*)\}/g, (_, slash: string, tag: string) => (slash ? '' : tag === 'open' ? '{' : tag === 'close' ? '}' : ''));
}

async function until(c: TuiController, check: (s: State) => boolean, what: string, ms = 20_000): Promise<State> {
  const deadline = Date.now() + ms;
  while (!check(c.state)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen ${c.state.screen}:\n${shown(c.state)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return c.state;
}

function setup(t: Test, port: number, opts: { firstRun?: boolean; username?: string } = {}) {
  const dir = tempDir(t, 'siar-cfg-');
  const config = new ConfigStore(path.join(dir, 'siar'));
  const session = new SiarSession({ address: `127.0.0.1:${port}`, backoff: { initialMs: 30, maxMs: 200, jitter: 0 } });
  const downloads = path.join(dir, 'downloads');
  const uploads = new PendingUploads(path.join(dir, 'siar', 'uploads'));
  const c = new TuiController({
    session, config, server: `127.0.0.1:${port}`, firstRun: opts.firstRun ?? true, username: opts.username,
    transfers: createTransfers(session, uploads), downloadDir: downloads,
  });
  c.start();
  t.teardown(async () => {
    c.stop();
    await session.close();
  });
  return { c, session, config, downloads, uploads };
}

/**
 * A message of `sender` waiting for its attachment, as an interrupted `send` leaves it: declared,
 * the first `kept` bytes on the server, and (unless `remember` is false) its file remembered
 * where this client's sends remember them.
 */
async function interruptedMessage(t: Test, s: TestServer, sender: string, uploads: PendingUploads | null, kept: number) {
  const client = await s.memberClient(sender);
  const data = noise(1024 * 1024, 5);
  const file = writeFile(tempDir(t), 'laporan.bin', data);
  const sent = await sendDeclared(client, 'ugm', [{ name: 'laporan.bin', data }], { subject: `Laporan ${kept}` });
  const a = sent.attachments[0]!;
  const o = await offer(client, 'UPLOAD', { message: sent.id, attachment: a.id });
  const peer = await DataPeer.connect(t, o);
  peer.write(`${o.ticket}\n`);
  peer.end(data.subarray(0, kept));
  await peer.closed;
  await s.server.transfers.whenIdle();
  uploads?.remember({
    server: `127.0.0.1:${s.port}`, username: sender, messageId: sent.id, uploadDeadline: null,
    files: [{ attachmentId: a.id, path: file, name: a.name, size: a.size, sha256: a.sha256, mtimeMs: statSync(file).mtimeMs }],
  });
  await client.close();
  return { id: sent.id, attachmentId: a.id, data };
}

/** A returning member's TUI, logged in and on the main screen. */
async function loggedIn(t: Test, port: number, member: { username: string; password: string }) {
  const tui = setup(t, port, { firstRun: false, username: member.username });
  await until(tui.c, (st) => st.conn.status === 'connected', 'connected');
  tui.c.type(member.password);
  tui.c.key(k('enter'));
  await until(tui.c, (st) => st.screen === 'main', 'the main screen');
  return tui;
}

t.test('registration: field checks, the server\'s refusals on the right field, and a rejection with its reason', async (t) => {
  const s = await startServer(t);
  await s.member('taken');
  const admin = await s.adminClient();
  const { c, config } = setup(t, s.port);
  await until(c, (st) => st.conn.status === 'connected', 'connected');
  c.key(k('r', { ch: 'r' }));
  t.equal(c.state.screen, 'register');
  t.equal(c.state.register.focus, 1, 'the server is filled in; the institution is next');

  // Enter on an empty form walks through it; sending an incomplete form marks every bad field.
  c.type('Politeknik Negeri Aceh');
  c.key(k('tab'));
  c.key(k('tab'));
  t.match(c.state.register.fields.find((f) => f.name === 'contact')!.error, /contact person/, 'leaving a required field empty says so');
  c.key(k('tab', { shift: true }));
  c.type('Cut Nyak');
  for (let i = 0; i < 5; i++) c.key(k('tab'));
  c.key(k('enter'));
  await until(c, (st) => !st.register.busy, 'the check');
  t.equal(c.state.screen, 'register', 'nothing was sent');
  t.same(c.state.register.fields.filter((f) => f.error).map((f) => f.name), ['email', 'username']);
  t.equal(c.state.register.fields[c.state.register.focus]!.name, 'email', 'the first bad field has the focus');

  c.type('pnl@pnl.ac.id');
  c.key(k('tab'));
  c.key(k('tab'));
  c.key(k('tab'));
  c.type('taken');
  c.key(k('enter'));
  const refused = await until(c, (st) => !st.register.busy && st.register.error !== null, 'the refusal');
  t.match(refused.register.fields.find((f) => f.name === 'username')!.error, /already taken/, 'DUPLICATE_USERNAME lands on the username field');

  c.key(k('backspace'));
  c.key(k('backspace'));
  c.key(k('backspace'));
  c.key(k('backspace'));
  c.key(k('backspace'));
  c.type('pnl');
  c.key(k('enter'));
  const waiting = await until(c, (st) => st.screen === 'waiting', 'the waiting screen');
  t.same(config.load().pendingRegistration, { id: waiting.waiting!.requestId, username: 'pnl', email: 'pnl@pnl.ac.id', server: `127.0.0.1:${s.port}` });

  await admin.request('REJECT', { id: waiting.waiting!.requestId, reason: 'Please register with the official e-mail domain' });
  await until(c, (st) => st.waiting?.status === 'rejected', 'the rejection');
  t.match(shown(c.state), /official e-mail domain/);
  t.equal(config.load().pendingRegistration, undefined, 'a decided request is forgotten');
  c.key(k('enter'));
  t.equal(c.state.screen, 'register', 'Enter goes back to the form to correct it');
  t.equal(c.state.register.fields.find((f) => f.name === 'institution')!.value, 'Politeknik Negeri Aceh', 'with what was typed');
});

t.test('popups queue over any screen, a draft survives opening one, and a reconnection says so', async (t) => {
  const s = await startServer(t);
  const unhas = await s.approvedMember('unhas', 'Universitas Hasanuddin');
  const ugmCreds = await s.member('ugm', 'Universitas Gadjah Mada');
  const ugm = await s.memberClient('ugm');
  const { c, config } = setup(t, s.port, { firstRun: false, username: 'unhas' });
  await until(c, (st) => st.conn.status === 'connected', 'connected');
  t.equal(c.state.screen, 'login');
  c.type(unhas.mailedPassword);
  c.key(k('enter'));
  await until(c, (st) => st.screen === 'passwd', 'the forced password change');
  c.key(k('escape'));
  t.equal(c.state.screen, 'passwd', 'no way past the mailed password but choosing one');
  t.match(c.state.passwd.error, /works only once/);
  const own = 'Hasanuddin-own-2026';
  c.type(own);
  c.key(k('tab'));
  c.type(own);
  c.key(k('enter'));
  await until(c, (st) => st.screen === 'main' && st.directory.loaded, 'the main screen');
  t.same(config.load(), { server: `127.0.0.1:${s.port}`, username: 'unhas' });

  // Start a draft, then two popups arrive together: they queue, one box at a time.
  c.key(k('c', { ch: 'c' }));
  c.key(k('enter'));
  await until(c, (st) => st.directory.items.some((m) => m.username === 'ugm'), 'the directory');
  c.type('gadjah');
  c.key(k('enter'));
  t.same(c.state.compose!.to, ['ugm'], 'Enter in the picker takes the member under the cursor');
  t.equal(c.state.compose!.focus, 'subject');
  c.type('Draft subject');
  const a = await ugm.request('SEND', { to: 'unhas', subject: 'First', body: 'one' });
  const b = await ugm.request('SEND', { to: 'unhas', subject: 'Second', body: 'two' });
  await until(c, (st) => st.popups.length === 2, 'two popups');
  t.equal(render(c.state).overlay?.title, ' New message (1 of 2) ');
  c.type('bcd');
  t.equal(c.state.compose!.subject.value, 'Draft subject', 'keys do not leak into the draft under a popup');
  c.key(k('escape'));
  t.same(c.state.popups.map((p) => p.id), [Number(b.args.get('id'))]);
  c.key(k('enter'));
  await until(c, (st) => st.screen === 'message' && st.message?.record?.body === 'two', 'the opened message');
  t.equal(c.state.popups.length, 0);
  c.key(k('escape'));
  t.equal(c.state.screen, 'compose', 'back to the draft');
  t.equal(c.state.compose!.subject.value, 'Draft subject');
  c.key(k('s', { ctrl: true }));
  await until(c, (st) => st.screen === 'main' && st.toast?.text.startsWith('Sent message') === true, 'sent');
  await until(c, (st) => st.inbox.items.length === 2 && st.unread === 1, 'the inbox: one read, one unread');
  t.same(c.state.inbox.items.map((m) => [m.id, !!m.readAt]), [[Number(b.args.get('id')), true], [Number(a.args.get('id')), false]]);

  // The server restarts; the client says so, comes back, logs in again and shows what it missed.
  const port = s.port;
  await s.server.stop();
  await until(c, (st) => st.conn.status === 'offline', 'offline');
  t.match(shown(c.state), /Connection lost/);
  const s2 = await startServer(t, { port }, s.dataDir);
  await until(c, (st) => st.conn.status === 'online', 'online again');
  await until(c, (st) => /Reconnected/.test(st.toast?.text ?? ''), 'the reconnection toast');
  const ugm2 = await s2.client();
  await ugm2.login('ugm', ugmCreds.password);
  await ugm2.request('SEND', { to: 'unhas', subject: 'After the restart', body: '' });
  await until(c, (st) => st.popups.some((p) => p.subject === 'After the restart'), 'a popup after the restart');
});

t.test('message view: attachments listed with size and type, saved to a folder and verified', async (t) => {
  const s = await startServer(t);
  const unhas = await s.member('unhas');
  const ugm = await s.memberClient('ugm');
  const { c, downloads } = await loggedIn(t, s.port, unhas);

  const src = tempDir(t);
  const poster = path.join(src, 'poster seminar.png');
  const bytes = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(300_000, 7)]);
  writeFileSync(poster, bytes);
  const notes = path.join(src, 'catatan.txt');
  writeFileSync(notes, 'agenda\n');
  await sendMessage(ugm, { to: ['unhas'], subject: 'With files', body: 'see attached' }, [await declareFile(poster), await declareFile(notes)]);
  await until(c, (st) => st.popups.length === 1, 'the popup');
  t.same(c.state.popups[0]!.attachments, ['poster seminar.png', 'catatan.txt']);
  c.key(k('enter'));
  await until(c, (st) => st.message?.record?.attachments[0]?.size === bytes.length, 'the message with its attachments');
  const screen = shown(c.state);
  t.match(screen, /poster seminar\.png\s+293 KiB\s+image\/png/, 'name, size and detected type');
  c.key(k('s', { ch: 's' }));
  t.equal(c.state.message!.savePrompt?.value, downloads, 'the folder is proposed');
  c.key(k('enter'));
  await until(c, (st) => st.message!.downloads.length === 2 && st.message!.downloads.every((d) => d.status === 'done'), 'both saved');
  t.match(c.state.toast?.text, /Saved 2 attachments.*checksums verified/);
  t.same(readFileSync(path.join(downloads, 'poster seminar.png')), bytes, 'byte for byte');
  t.equal(readFileSync(path.join(downloads, 'catatan.txt'), 'utf8'), 'agenda\n');
  t.match(shown(c.state), /saved ✓ sha256/);
});

t.test('channels tab: subscribe with Space, publish to the channel, groups as addressees', async (t) => {
  const s = await startServer(t);
  const unhas = await s.member('unhas');
  const ugm = await s.memberClient('ugm');
  const admin = await s.adminClient();
  await admin.request('CHANNEL_CREATE', { name: 'beasiswa', description: 'Scholarships' });
  await admin.request('GROUP_CREATE', { name: 'ptn', description: 'State universities', members: 'ugm,unhas' });
  await ugm.request('SUBSCRIBE', { name: 'beasiswa' });
  const { c } = await loggedIn(t, s.port, unhas);
  c.key(k('4', { ch: '4' }));
  await until(c, (st) => st.tab === 'channels' && st.channels.items.length === 2, 'channels and groups');
  t.match(shown(c.state), /\[ \] #beasiswa\s+1 subscriber/);

  c.key(k('space', { ch: ' ' }));
  await until(c, (st) => st.channels.items.some((a) => a.kind === 'channel' && a.subscribed), 'subscribed');
  t.match(c.state.toast?.text, /Subscribed to #beasiswa/);

  // A channel message pops up with where it came from.
  await ugm.request('SEND', { channel: 'beasiswa', subject: 'Beasiswa S2', body: 'Pendaftaran dibuka' });
  await until(c, (st) => st.popups.length === 1, 'the channel popup');
  t.match(shown(c.state), /via #beasiswa/);
  c.key(k('escape'));

  // Enter on the channel composes to it; the send reaches its subscribers.
  c.key(k('enter'));
  t.equal(c.state.compose?.channel, 'beasiswa');
  c.type('Info beasiswa');
  const popup = new Promise<string>((resolve) => ugm.on('push', (e, a) => { if (e === 'POPUP' && a.get('subject') === 'Info beasiswa') resolve(a.get('via') ?? ''); }));
  c.key(k('s', { ctrl: true }));
  t.equal(await popup, '#beasiswa');
  await until(c, (st) => st.screen === 'main', 'sent');

  // The group row addresses @ptn.
  c.key(k('down'));
  c.key(k('enter'));
  t.same(c.state.compose?.to, ['@ptn']);
});

t.test('outbox: a message still being sent shows how far it got; U resumes it from the server\'s offset, X withdraws one', async (t) => {
  const s = await startServer(t);
  const unhas = await s.member('unhas');
  const ugm = await s.memberClient('ugm');
  const { c, uploads } = await loggedIn(t, s.port, unhas);
  const first = await interruptedMessage(t, s, 'unhas', uploads, 400_000);
  const second = await interruptedMessage(t, s, 'unhas', uploads, 100_000);
  const unknown = await interruptedMessage(t, s, 'unhas', null, 50_000);
  c.key(k('2', { ch: '2' }));
  await until(c, (st) => st.tab === 'outbox' && st.outbox.items.length === 3, 'the outbox');
  t.match(shown(c.state), /Laporan 400000 \+1\s+sending 38%/, 'the row says how much the server holds');
  t.match(shown(c.state), /U resume upload\s+X withdraw/, 'and the keys to go on');

  // U on a message whose file this computer does not know: it says what to do instead.
  t.equal(c.state.outbox.items[0]!.id, unknown.id);
  c.key(k('u', { ch: 'u' }));
  await until(c, (st) => st.toast?.kind === 'error', 'the refusal');
  t.match(c.state.toast!.text, new RegExp(`does not know which file is "laporan\\.bin" of message ${unknown.id}.*siar resume ${unknown.id} --attach FILE`));

  // U on the first: the upload goes on from byte 400 000; ugm gets the popup once.
  const popups: string[] = [];
  ugm.on('push', (e, a) => { if (e === 'POPUP') popups.push(a.get('id')!); });
  c.key(k('end'));
  t.equal(c.state.outbox.items[c.state.outbox.cursor]!.id, first.id);
  c.key(k('u', { ch: 'u' }));
  await until(c, (st) => st.toast?.text === `Message #${first.id} is sent: its attachments are all in.`, 'resumed and sent');
  t.ok(s.logs.records.some((r) => r.msg === 'transfer listening' && r.offset === 400_000 && r.messageId === first.id), 'the upload continued from the server\'s offset');
  await until(c, (st) => st.outbox.items.find((m) => m.id === first.id)?.state === undefined, 'the outbox shows it sent');
  await until(c, () => popups.length > 0, 'the popup');
  t.same(popups, [String(first.id)]);
  const got = await ugm.request('READ', { id: first.id });
  t.equal(got.args.getAll('attachment')[0]!.split(',')[2], sha256(first.data));
  t.equal(uploads.recall(`127.0.0.1:${s.port}`, 'unhas', first.id), null, 'its files are forgotten once it is out');

  // X on the second, confirmed: withdrawn, its partial upload gone, never delivered.
  c.key(k('up'));
  t.equal(c.state.outbox.items[c.state.outbox.cursor]!.id, second.id);
  c.key(k('x', { ch: 'x' }));
  t.match(render(c.state).overlay?.lines.join('\n'), /Nobody will receive it/);
  c.key(k('y', { ch: 'y' }));
  await until(c, (st) => st.outbox.items.find((m) => m.id === second.id)?.state === 'cancelled', 'withdrawn');
  t.match(c.state.toast?.text, `Message #${second.id} withdrawn`);
  t.same(readdirSync(path.join(s.dataDir, 'tmp')), [`upload-${unknown.attachmentId}.part`], 'only the untouched message\'s partial upload is left');
  t.equal(popups.length, 1, 'the withdrawn message never reached ugm');
});

t.test('a message that reaches nobody says so in a warning, not "sent"', async (t) => {
  const s = await startServer(t);
  const unhas = await s.member('unhas');
  const admin = await s.adminClient();
  await admin.request('CHANNEL_CREATE', { name: 'sepi', description: 'Nobody here yet' });
  const { c } = await loggedIn(t, s.port, unhas);
  c.key(k('4', { ch: '4' }));
  await until(c, (st) => st.tab === 'channels' && st.channels.items.length === 1, 'the channel');
  c.key(k('space', { ch: ' ' }));
  await until(c, (st) => st.channels.items.some((a) => a.kind === 'channel' && a.subscribed), 'subscribed');
  c.key(k('enter'));
  t.equal(c.state.compose?.channel, 'sepi');
  c.type('Halo?');
  c.key(k('s', { ctrl: true }));
  const st = await until(c, (s2) => s2.screen === 'main' && s2.toast !== null && !/Subscribed/.test(s2.toast.text), 'the result of the send');
  t.match(st.toast, { kind: 'warning', text: /^Message #\d+ reached nobody: #sepi has no subscribers besides you\.$/ });
  t.match(render(st).lines.join('\n'), /\{yellow-fg\}\{bold\}Message #\d+ reached nobody/, 'shown in yellow on the status line');
});
