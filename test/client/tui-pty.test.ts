/**
 * The real `siar tui` in a pseudo-terminal (node-pty, screen read by @xterm/headless) against a
 * real server, as a new institution uses it: register, get approved through `siar admin approve`,
 * log in with the mailed password and change it, receive a popup on the inbox screen, open it,
 * compose and send a message with an attachment, survive a tiny terminal, quit.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { downloadAttachment } from '../../src/client/transfer.js';
import { argsToMessage } from '../../src/protocol/index.js';
import { PendingUploads } from '../../src/client/pending-uploads.js';
import { nextPush, parseEml, passwordFromText, startServer, tempDir } from '../helpers/siar.js';
import { DataPeer, noise, offer, sendDeclared, writeFile } from '../transfer/helpers.js';
import { KEY, PtyScreen } from './tui/pty.js';
import { SIAR } from '../helpers/cli.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const STEP = 20_000;
// Each step may take seconds on a loaded machine (every siar process loads TypeScript through tsx).
t.setTimeout(360_000);

function siar(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SIAR, ...args], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function mailedPassword(dataDir: string, username: string): Promise<string> {
  const deadline = Date.now() + STEP;
  for (;;) {
    const dir = path.join(dataDir, 'mail');
    for (const f of existsSync(dir) ? readdirSync(dir) : []) {
      const text = parseEml(readFileSync(path.join(dir, f), 'utf8')).text;
      if (text.split('\n').includes(`Username: ${username}`)) return passwordFromText(text, username);
    }
    if (Date.now() > deadline) throw new Error(`no credentials mail for ${username}`);
    await new Promise((r) => setTimeout(r, 50)); // the mail worker writes the file right after the approval
  }
}

t.test('a new institution registers, logs in, gets a popup, opens it and sends a message with an attachment', async (t) => {
  const s = await startServer(t);
  const server = `127.0.0.1:${s.port}`;
  const home = tempDir(t, 'siar-home-');
  const config = path.join(home, 'config');
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    HOME: home, XDG_CONFIG_HOME: config, TERM: 'xterm-256color', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8',
  };
  delete env.SIAR_SERVER;
  const ugm = await s.memberClient('ugm');

  const tui = PtyScreen.spawn(t, process.execPath, [SIAR, 'tui', '--server', server], { cwd: home, env });

  // First run: the welcome screen, then the registration form, checked field by field.
  await tui.waitFor('Register my institution', STEP);
  tui.write('r');
  await tui.waitFor('Register your institution', STEP);
  tui.write(`Universitas Hasanuddin${KEY.tab}Budi Santoso${KEY.tab}budi@unhas${KEY.tab}`);
  await tui.waitFor('This is not an e-mail address', STEP);
  tui.write(`${KEY.shiftTab}.ac.id${KEY.tab}`);
  await tui.waitGone('This is not an e-mail address', STEP);
  tui.write(`+62 411 586200${KEY.tab}Jl. Perintis Kemerdekaan, Makassar${KEY.tab}unhas${KEY.enter}`);
  await tui.waitFor('Waiting for the administrator', STEP);

  // The administrator approves with the real CLI; the waiting screen changes by itself.
  const pending = await siar(['admin', 'pending', '--json', '--data', s.dataDir, '--server', server], {});
  t.equal(pending.code, 0, pending.stderr);
  const request = JSON.parse(pending.stdout.trim().split('\n')[0]!) as { id: number; username: string; institution: string; phone: string };
  t.match(request, { username: 'unhas', institution: 'Universitas Hasanuddin', phone: '+62 411 586200' });
  const approve = await siar(['admin', 'approve', String(request.id), '--data', s.dataDir, '--server', server], {});
  t.equal(approve.code, 0, approve.stderr);
  await tui.waitFor('Approved!', STEP);
  await tui.waitFor('Check your e-mail', STEP);

  // Log in with the mailed password; it must be changed at once.
  const mailed = await mailedPassword(s.dataDir, 'unhas');
  tui.write(KEY.enter);
  await tui.waitFor('Password', STEP);
  tui.write(`${mailed}${KEY.enter}`);
  await tui.waitFor('Choose your own password', STEP);
  const mine = 'kata sandi rahasia 2025';
  tui.write(`${mine}${KEY.tab}${mine}${KEY.enter}`);
  await tui.waitFor('Password changed', STEP);
  await tui.waitFor('1 Inbox (0 unread)', STEP);
  const check = await s.client();
  await check.login('unhas', mine);
  await check.close();
  t.pass('the new password works');

  // Remembered: the server and the username, never a password.
  const saved = readFileSync(path.join(config, 'siar', 'client.json'), 'utf8');
  t.same(JSON.parse(saved), { server, username: 'unhas' });
  t.notMatch(saved, mailed);
  t.notMatch(saved, mine);

  // A popup arrives while the inbox is on screen.
  const sent = await ugm.request('SEND', { to: 'unhas', subject: 'Undangan seminar nasional', body: 'Dengan hormat,\nkami mengundang Bapak/Ibu.\nBaris tiga' });
  const messageId = Number(sent.args.get('id'));
  const popupScreen = await tui.waitFor('New message', STEP);
  t.match(popupScreen, /Undangan seminar nasional/);
  t.match(popupScreen, /Universitas ugm/, 'the sender\'s institution');
  t.match(popupScreen, /kami mengundang/, 'the first lines');
  t.match(popupScreen, /1 Inbox \(1 unread\)/, 'the inbox counts it');

  // Open it from the popup: the full message, and the sender learns it was read.
  const receipt = nextPush(ugm, 'READ', (a) => a.get('id') === String(messageId));
  tui.write(KEY.enter);
  await tui.waitFor('Baris tiga', STEP);
  t.equal((await receipt).get('by'), 'unhas', 'the READ push reached the sender');
  tui.write(KEY.escape);
  await tui.waitFor('1 Inbox (0 unread)', STEP);

  // Compose to ugm with an attachment; upload progress, then a clear result.
  const file = path.join(home, 'undangan balasan.txt');
  const content = 'Terima kasih atas undangannya.\n'.repeat(2000);
  writeFileSync(file, content);
  const incoming = nextPush(ugm, 'POPUP', (a) => a.get('subject') === 'Konfirmasi kehadiran');
  tui.write('c');
  await tui.waitFor('To:', STEP);
  tui.write(KEY.enter);
  await tui.waitFor('Choose recipients', STEP);
  tui.write('ugm');
  await tui.waitFor(/\[ \] (● )?\s*ugm\s+Universitas ugm/, STEP);
  tui.write(KEY.enter);
  await tui.waitGone('Choose recipients', STEP);
  tui.write(`Konfirmasi kehadiran${KEY.tab}Kami akan hadir.${KEY.enter}Salam,${KEY.enter}Unhas${KEY.tab}`);
  await tui.waitFor('Enter: add a file', STEP);
  tui.write(KEY.enter);
  await tui.waitFor('File path:', STEP);
  tui.write(`${file}${KEY.enter}`);
  await tui.waitFor('undangan balasan.txt', STEP);
  tui.write(KEY.ctrl('s'));
  await tui.waitFor(/Sent message #\d+ to 1 recipient with 1 attachment/, STEP);

  const popup = await incoming;
  t.same(popup.getAll('attachment'), ['undangan balasan.txt'], 'the popup names the attachment');
  const read = argsToMessage((await ugm.request('READ', { id: popup.get('id')! })).args);
  t.equal(read.body, 'Kami akan hadir.\nSalam,\nUnhas');
  t.equal(read.attachments[0]?.sha256, createHash('sha256').update(content).digest('hex'));
  const got = await downloadAttachment(ugm, { messageId: read.id, attachmentId: read.attachments[0]!.id, dir: tempDir(t) });
  t.equal(readFileSync(got.path, 'utf8'), content, 'the recipient gets the file byte for byte');

  // The outbox shows the recipient's state.
  tui.write('2');
  await tui.waitFor(/Konfirmasi kehadiran \+1\s+read 1\/1/, STEP);

  // A terminal too small is said so, and the screen comes back when it grows.
  tui.resize(30, 8);
  await tui.waitFor('Terminal too small', STEP);
  tui.resize(80, 24);
  await tui.waitFor('2 Outbox', STEP);

  // Quit.
  tui.write('q');
  await tui.waitFor('Quit siar?', STEP);
  tui.write('y');
  const exit = await Promise.race([tui.exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('did not exit')), STEP))]);
  t.equal(exit.exitCode, 0, 'clean exit');
});

t.test('the next start remembers the server and username and goes straight to the password', async (t) => {
  const s = await startServer(t);
  const member = await s.member('itb', 'Institut Teknologi Bandung');
  const home = tempDir(t, 'siar-home-');
  const config = path.join(home, 'config');
  const dir = path.join(config, 'siar');
  await import('node:fs').then((fs) => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'client.json'), JSON.stringify({ server: `127.0.0.1:${s.port}`, username: 'itb' }));
  });
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    HOME: home, XDG_CONFIG_HOME: config, TERM: 'xterm-256color', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8',
  };
  delete env.SIAR_SERVER;
  const tui = PtyScreen.spawn(t, process.execPath, [SIAR, 'tui'], { cwd: home, env });
  const login = await tui.waitFor('Log in', STEP);
  t.match(login, new RegExp(`127\\.0\\.0\\.1:${s.port}`));
  t.match(login, /Username\s+itb/);
  tui.write(`wrong password${KEY.enter}`);
  await tui.waitFor('Wrong username or password', STEP);
  tui.write(`${KEY.ctrl('u')}${member.password}${KEY.enter}`);
  await tui.waitFor('1 Inbox (0 unread)', STEP);
  tui.write(KEY.ctrl('c'));
  const exit = await Promise.race([tui.exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('did not exit')), STEP))]);
  t.equal(exit.exitCode, 0);
});

t.test('the outbox offers U to resume and X to withdraw a message whose upload was interrupted', async (t) => {
  const s = await startServer(t);
  const member = await s.member('unhas');
  const ugm = await s.memberClient('ugm');
  const home = tempDir(t, 'siar-home-');
  const config = path.join(home, 'config');
  const dir = path.join(config, 'siar');
  const fs = await import('node:fs');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'client.json'), JSON.stringify({ server: `127.0.0.1:${s.port}`, username: 'unhas' }));

  // Two messages as an interrupted `siar send --attach` leaves them: part of the file on the
  // server, the path remembered in the TUI's own settings folder.
  const sender = await s.memberClient('unhas');
  const uploads = new PendingUploads(path.join(dir, 'uploads'));
  const ids: number[] = [];
  for (const subject of ['Laporan tahunan', 'Draf lama']) {
    const data = noise(2 * 1024 * 1024, ids.length + 1);
    const file = writeFile(tempDir(t), 'laporan.bin', data);
    const sent = await sendDeclared(sender, 'ugm', [{ name: 'laporan.bin', data }], { subject });
    const a = sent.attachments[0]!;
    const o = await offer(sender, 'UPLOAD', { message: sent.id, attachment: a.id });
    const peer = await DataPeer.connect(t, o);
    peer.write(`${o.ticket}\n`);
    peer.end(data.subarray(0, 1024 * 1024));
    await peer.closed;
    await s.server.transfers.whenIdle();
    uploads.remember({
      server: `127.0.0.1:${s.port}`, username: 'unhas', messageId: sent.id, uploadDeadline: null,
      files: [{ attachmentId: a.id, path: file, name: a.name, size: a.size, sha256: a.sha256, mtimeMs: fs.statSync(file).mtimeMs }],
    });
    ids.push(sent.id);
  }
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    HOME: home, XDG_CONFIG_HOME: config, TERM: 'xterm-256color', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8',
  };
  delete env.SIAR_SERVER;
  const tui = PtyScreen.spawn(t, process.execPath, [SIAR, 'tui'], { cwd: home, env, cols: 100 });
  await tui.waitFor('Log in', STEP);
  tui.write(`${member.password}${KEY.enter}`);
  await tui.waitFor('1 Inbox (0 unread)', STEP);
  tui.write('2');
  const outbox = await tui.waitFor(/Draf lama \+1\s+sending 50%/, STEP);
  t.match(outbox, /Laporan tahunan \+1\s+sending 50%/, 'each row says how far its upload got');
  t.match(outbox, /U resume upload\s+X withdraw/, 'the help bar offers both');
  tui.write('?');
  t.match(await tui.waitFor('Keys (main)', STEP), /U \/ X\s+resume \/ withdraw an unsent message \(outbox\)/, 'and so does the help');
  tui.write(KEY.escape);
  await tui.waitGone('Keys (main)', STEP);

  // The newest ("Draf lama") is selected: X, then Y, withdraws it.
  tui.write('x');
  await tui.waitFor('Nobody will receive it', STEP);
  tui.write('y');
  await tui.waitFor(`Message #${ids[1]} withdrawn`, STEP);
  await tui.waitFor(/Draf lama \+1\s+cancelled/, STEP);

  // Down to "Laporan tahunan": U resumes it and ugm gets the popup.
  const popup = nextPush(ugm, 'POPUP', (a) => a.get('id') === String(ids[0]));
  tui.write(KEY.down);
  tui.write('u');
  await tui.waitFor(`Message #${ids[0]} is sent`, STEP);
  t.equal((await popup).get('subject'), 'Laporan tahunan', 'the recipient got it');
  t.same(fs.readdirSync(path.join(s.dataDir, 'tmp')), [], 'no partial upload is left on the server');
  t.same(fs.readdirSync(path.join(dir, 'uploads')), [], 'nor a remembered path on this computer');
  tui.write(KEY.ctrl('c'));
  const exit = await Promise.race([tui.exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('did not exit')), STEP))]);
  t.equal(exit.exitCode, 0);
});
