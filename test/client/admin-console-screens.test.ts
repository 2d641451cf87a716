/**
 * The real `siar admin console` at 80×24 in a pseudo-terminal against a real `siar server` (issue
 * 22, item 12), read through a headless xterm: every screen is named in the tab bar; the ? box
 * lists key → screen and fits; Space marks the row under the cursor and says so in the footer;
 * history shows each request's status; member details read as words; the audit prompt shows its
 * whole question and exactly what is typed; the status line follows a backup to its end.
 */
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { tempDir } from '../helpers/siar.js';
import { SIAR, siar, startSiarServer } from '../helpers/cli.js';
import { KEY, PtyScreen } from './tui/pty.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STEP = 30_000;

// Six CLI runs to set up, then a dozen screen steps of up to 30 s each under load.
t.setTimeout(360_000);

/** The screen's rows. */
const rows = (screen: string) => screen.split('\n');

t.test('the admin console\'s screens at 80×24', async (t) => {
  const data = tempDir(t);
  const server = (await startSiarServer(t, data)).address;
  const admin = ['--server', server, '--data', data];
  const institutions = [
    ['unhas', 'Universitas Hasanuddin'], ['ugm', 'Universitas Gadjah Mada'], ['itb', 'Institut Teknologi Bandung'],
    ['unsrat', 'Universitas Sam Ratulangi'], ['unpad', 'Universitas Padjadjaran'], ['ui', 'Universitas Indonesia'],
  ] as const;
  const register = async (username: string, institution: string) => {
    const r = await siar(['register', '--server', server, '--institution', institution, '--contact', 'Sari Dewi', '--email', `${username}@example.ac.id`, '--username', username]);
    t.equal(r.code, 0, r.stderr);
  };
  // Three decided (one address may have only five requests waiting), three left pending.
  for (const [username, institution] of institutions.slice(0, 3)) await register(username, institution);
  t.equal((await siar(['admin', 'approve', '1', '2', ...admin])).code, 0);
  t.equal((await siar(['admin', 'reject', '3', '--reason', 'Bukan institusi pendidikan', ...admin])).code, 0);
  for (const [username, institution] of institutions.slice(3)) await register(username, institution);

  const tty = PtyScreen.spawn(t, process.execPath, [SIAR, 'admin', 'console', ...admin], {
    cwd: ROOT, env: { ...process.env, TERM: 'xterm-256color' } as Record<string, string>, cols: 80, rows: 24,
  });
  const press = (keys: string, what: string | RegExp) => {
    tty.write(keys);
    return tty.waitFor(what, STEP);
  };

  // The tab bar names every screen, abbreviated to fit 80 columns.
  const first = await tty.waitFor(/6\s+ui\s+Universita/, STEP);
  t.match(first, /1 Regs\s+2 Members\s+3 Online\s+4 Traffic\s+5 Mail\s+6 Audit\s+7 Backups\s+8 Chans\s+9 Groups/, 'every screen is named');
  t.ok(rows(first).every((r) => [...r].length <= 80), 'no line passes 80 columns');
  // The footer says what Space does, and keeps ? help.
  const foot = rows(first).at(-1)!;
  t.match(foot, /Space mark \(stays\)/, 'the footer says Space marks and stays');
  t.match(foot, /\? help {2}q quit\s*$/, 'and ends with ? help and q quit');

  // Space, Down, Space marks the first two rows (4 and 5), not the first and the third.
  tty.write(' ');
  await tty.waitFor(/\*\s+4\s+unsrat/, STEP);
  tty.write(KEY.down);
  tty.write(' ');
  const marked = await tty.waitFor(/\*\s+5\s+unpad/, STEP);
  t.match(marked, /\*\s+4\s+unsrat/, 'row 1 marked');
  t.match(marked, /│\s{2,}6\s+ui/, 'row 3 not marked');

  // ? lists key → screen, and the whole box fits 24 rows: its closing line shows (a taller box
  // would hide it below the screen's edge), and its last entry is above it.
  const help = await press('?', /─ Keys ─[\s\S]*\(Enter or Esc closes\)/);
  for (const [key, title] of [['1', 'Registrations'], ['2', 'Members'], ['3', 'Online'], ['4', 'Traffic'], ['5', 'Mail'], ['6', 'Audit'], ['7', 'Backups'], ['8', 'Channels'], ['9', 'Groups']]) {
    t.match(help, new RegExp(`│${key} ${title} +\\S`), `? names screen ${key}: ${title}`);
  }
  t.match(help, /Forms, lists[\s\S]*\(Enter or Esc closes\)/, 'the last entry is in sight');
  t.notMatch(help, /more line/, 'nothing below to scroll to');
  tty.write(KEY.escape);
  await tty.waitGone(/─ Keys /, STEP);

  // History: approved and rejected requests tell apart.
  const history = await press('h', /Every registration request \(6\)/);
  t.match(history, /\b1\s+unhas\s.*\sapproved\s/, 'unhas approved');
  t.match(history, /\b2\s+ugm\s.*\sapproved\s/, 'ugm approved');
  t.match(history, /\b3\s+itb\s.*\srejected\s/, 'itb rejected');
  t.match(history, /\b4\s+unsrat\s.*\spending\s/, 'unsrat still pending');
  await press('h', /showing pending requests/);

  // A member's details in words.
  await press('2', /Members \(2\)/);
  const member = await press(KEY.enter, /member since/);
  t.match(member, /online now\s+no/);
  t.match(member, /last login\s+never/);
  t.notMatch(member, /createdAt|lastLoginAt|online\s+0/, 'no protocol keys, no 0/1');
  tty.write(KEY.escape);
  await tty.waitGone('member since', STEP);

  // The audit kind prompt: the whole question, and the typed text as typed.
  await press('6', /registration_rejected/);
  const prompt = await press('k', /Kind of event[\s\S]*\(empty: every kind\):/);
  t.match(prompt, /transfer_refused/, 'the question is not clipped');
  // The input: what was typed, the cursor, then the empty rest of the field.
  const typed = await press('login_failed', /login_failed _{5,}/);
  const inputRow = rows(typed).find((r) => /login_failed _/.test(r))!;
  t.match(inputRow, /│> +login_failed _{5,}/, 'the input shows what was typed');
  t.notMatch(inputRow, /[a-z]login_failed/, 'and nothing of the question mixed into it');
  await press(KEY.enter, 'filter: kind=login_failed');
  await tty.waitFor('(no events match)', STEP);

  // A backup: the status line says "started", then "done".
  await press('7', 'Past backups');
  tty.write('b');
  const done = await tty.waitFor(/siar-\S+ done: /, STEP);
  const status = await tty.waitFor(/^ \d\d:\d\d:\d\d backup siar-\S+ done: /m, STEP);
  t.notMatch(rows(status).at(-2), /started/, 'the status line no longer says started');
  t.match(done, /\d+(\.\d)? KiB/, 'sizes in KiB');

  tty.write('q');
  t.equal((await tty.exited).exitCode, 0, 'q quits cleanly');
});
