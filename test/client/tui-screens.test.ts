/**
 * The real `siar tui` in a pseudo-terminal at 80×24 and 60×20 (issue 22, item 13), read through a
 * headless xterm the way a person sees it: the footer always shows the help key, a wrong password
 * replaces the "Approved…" notice, a popup at 60 columns covers every column it spans, a long
 * subject is shown in full, sizes are in KiB as in the CLI, and saved attachments say where they
 * went and open with the system's default application (a recording `xdg-open` on PATH).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { declareFile, sendMessage } from '../../src/client/transfer.js';
import { SIAR, waitForMailedPassword } from '../helpers/cli.js';
import { startServer, tempDir } from '../helpers/siar.js';
import { KEY, PtyScreen } from './tui/pty.js';

const STEP = 30_000;
// A dozen screen steps of up to 30 s each on a loaded machine.
t.setTimeout(420_000);

/** The last row of the screen: the footer with the keys. */
function footer(screen: string): string {
  return screen.split('\n').at(-1) ?? '';
}

/** Resolves with what `check` returns once it returns something; fails after STEP. */
async function eventually<T>(what: string, check: () => T | null | undefined): Promise<T> {
  const deadline = Date.now() + STEP;
  for (;;) {
    const v = check();
    if (v !== null && v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${STEP} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

t.test('the TUI at 80×24 and 60×20: footer, notices, popups, long subjects, sizes, opening saved files', async (t) => {
  const s = await startServer(t);
  const server = `127.0.0.1:${s.port}`;
  const home = tempDir(t, 'siar-home-');
  const admin = await s.adminClient();
  const ugm = await s.memberClient('ugm');

  // A stand-in for the desktop's opener: it records its arguments, one per line.
  const bin = path.join(home, 'bin');
  const record = path.join(home, 'opened.txt');
  mkdirSync(bin);
  writeFileSync(path.join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s\\n' "$#" "$@" > '${record}'\n`);
  chmodSync(path.join(bin, 'xdg-open'), 0o755);
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    HOME: home, XDG_CONFIG_HOME: path.join(home, 'config'), TERM: 'xterm-256color', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8',
    PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`,
  };
  delete env.SIAR_SERVER;
  const tui = PtyScreen.spawn(t, process.execPath, [SIAR, 'tui', '--server', server], { cwd: home, env, cols: 80, rows: 24 });

  // Register, get approved: the login form says the password was mailed.
  await tui.waitFor('Register my institution', STEP);
  tui.write('r');
  await tui.waitFor('Register your institution', STEP);
  tui.write(`Universitas Hasanuddin${KEY.tab}Budi${KEY.tab}budi@unhas.ac.id${KEY.tab}${KEY.tab}${KEY.tab}unhas${KEY.enter}`);
  await tui.waitFor('Waiting for the administrator', STEP);
  const pending = await admin.request('PENDING');
  await admin.request('APPROVE', { id: pending.items[0]!.get('id')! });
  await tui.waitFor('Approved!', STEP);
  tui.write(KEY.enter);
  await tui.waitFor('Approved. Your password was e-mailed', STEP);
  // The TUI's footer on a form: the help key, though there "?" would be typed (F1).
  t.match(footer(tui.text()), /F1 help/, 'the login form\'s footer names the help key');

  // A wrong password: the error replaces the notice, which would contradict it.
  tui.write(`not the password${KEY.enter}`);
  const refused = await tui.waitFor('Wrong username or password', STEP);
  t.notMatch(refused, /Approved\. Your password was e-mailed/, 'the "Approved…" notice is gone after a wrong password');

  const mailed = await waitForMailedPassword(s.dataDir, 'unhas');
  tui.write(`${KEY.ctrl('u')}${mailed}${KEY.enter}`);
  await tui.waitFor('Choose your own password', STEP);
  const mine = 'kata sandi rahasia 2025';
  tui.write(`${mine}${KEY.tab}${mine}${KEY.enter}`);
  const main = await tui.waitFor('1 Inbox (0 unread)', STEP);

  // The footer: "? help" and "Q quit" at 80 columns and at 60.
  t.match(footer(main), /\? help\s+Q quit\s*$/, 'at 80 columns the footer ends with ? help and Q quit');
  tui.resize(60, 20);
  await tui.waitFor(/\? help\s+Q quit\s*$/, STEP);
  t.pass('at 60 columns too');

  // A popup at 60×20 covers each column it spans: the box takes the whole width.
  const subject = 'Undangan rapat koordinasi nasional perguruan tinggi negeri se-Indonesia bagian timur, '
    + 'dengan agenda penetapan kalender akademik bersama dan kata penutup';
  await ugm.request('SEND', { to: 'unhas', subject, body: 'Dengan hormat.' });
  const popup = await tui.waitFor('New message', STEP);
  const rows = popup.split('\n');
  const top = rows.findIndex((r) => r.includes('New message'));
  const bottom = rows.findIndex((r, i) => i > top && r.startsWith('└'));
  t.ok(top >= 0 && bottom > top, 'the popup box is on screen');
  for (let i = top; i <= bottom; i++) {
    const r = rows[i]!;
    t.ok(/^[┌│└]/.test(r) && /[┐│┘]$/.test(r) && [...r].length === 60, `popup row ${i - top} spans columns 1-60: ${JSON.stringify(r)}`);
  }

  // Opened, the subject reads in full, wrapped under its label.
  tui.write(KEY.enter);
  const opened = await tui.waitFor(/^ Subject:[\s\S]*Dengan hormat\./m, STEP);
  const lines = opened.split('\n');
  const at = lines.findIndex((l) => l.startsWith(' Subject:'));
  const parts = [lines[at]!.replace(/^ Subject:\s*/, '')];
  for (let i = at + 1; i < lines.length && /^ {10}\S/.test(lines[i]!); i++) parts.push(lines[i]!.trim());
  t.equal(parts.join(' ').replace(/\s+/g, ' ').trim(), subject, 'the whole subject is on screen');
  t.match(footer(opened), /\? help\s+Esc back\s*$/, 'the message screen\'s footer keeps ? help');
  tui.write(KEY.escape);
  await tui.waitFor('1 Inbox (0 unread)', STEP);

  // Attachments: sizes in KiB (as the CLI writes them), saved, the saved path shown, and opened.
  tui.resize(80, 24);
  const src = tempDir(t);
  const poster = path.join(src, 'poster seminar.png');
  writeFileSync(poster, Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(300_000, 7)]));
  const notes = path.join(src, 'catatan rapat.txt');
  writeFileSync(notes, 'agenda\n'.repeat(400));
  await sendMessage(ugm, { to: ['unhas'], subject: 'Berkas rapat', body: 'Terlampir.' }, [await declareFile(poster), await declareFile(notes)]);
  await tui.waitFor('New message', STEP);
  tui.write(KEY.enter);
  const withFiles = await tui.waitFor(/poster seminar\.png\s+293 KiB\s+image\/png/, STEP);
  t.match(withFiles, /catatan rapat\.txt\s+2\.7 KiB/, 'sizes in KiB, as the CLI writes them');
  t.notMatch(withFiles, /\d KB\b/, 'no KB');

  tui.write('o');
  await tui.waitFor('Save poster seminar.png first (S); O then opens it.', STEP);
  const downloads = path.join(home, 'unduhan');
  tui.write('s');
  await tui.waitFor('Save to folder:', STEP);
  tui.write(`${KEY.ctrl('u')}${downloads}${KEY.enter}`);
  const saved = await tui.waitFor(/Saved 2 attachments/, STEP);
  t.match(saved, new RegExp(`→ ${path.join(downloads, 'poster seminar.png').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 'the screen says where the file went');

  // Tab chooses the second file; O opens it with the default application.
  tui.write(KEY.tab);
  await tui.waitFor(/▶ catatan rapat\.txt/, STEP);
  tui.write('o');
  await tui.waitFor(/Opened .*catatan rapat\.txt with xdg-open/, STEP);
  const args = await eventually('record of the opener', () => {
    const text = existsSync(record) ? readFileSync(record, 'utf8') : '';
    return text.endsWith('\n') ? text : null;
  });
  t.equal(args, `1\n${path.join(downloads, 'catatan rapat.txt')}\n`, 'xdg-open got the saved file\'s path as its one argument');

  tui.write(KEY.ctrl('c'));
  const exit = await Promise.race([tui.exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('did not exit')), STEP))]);
  t.equal(exit.exitCode, 0);
});
