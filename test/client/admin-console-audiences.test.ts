/**
 * The real `siar admin console` at 80×24 in a pseudo-terminal against a real `siar server`: the
 * administrator creates a channel and a group from the console's forms (meeting the form's own
 * checks and the server's refusal on the way), chooses the channel's named members and
 * publishers and the group's institutions from pick-lists (never typing a username), describes,
 * opens and archives the channel, changes the group's description and deletes another group;
 * `siar admin channel|group … --json` then shows exactly that state.
 */
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { tempDir } from '../helpers/siar.js';
import { SIAR, jsonLines, siar, startSiarServer } from '../helpers/cli.js';
import { KEY, PtyScreen } from './tui/pty.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// Three CLI runs to set up, a dozen screen steps of up to 20 s each under load, then CLI checks.
t.setTimeout(300_000);

t.test('channels and groups are created and managed from the admin console at 80×24', async (t) => {
  const data = tempDir(t);
  const server = (await startSiarServer(t, data)).address;
  const admin = ['--server', server, '--data', data];

  // Three member institutions, registered and approved through the CLI.
  const institutions = [['unhas', 'Universitas Hasanuddin'], ['unsrat', 'Universitas Sam Ratulangi'], ['ugm', 'Universitas Gadjah Mada']] as const;
  for (const [username, institution] of institutions) {
    const r = await siar(['register', '--server', server, '--institution', institution, '--contact', 'Sari', '--email', `${username}@example.ac.id`, '--username', username]);
    t.equal(r.code, 0, r.stderr);
  }
  const approved = await siar(['admin', 'approve', '1', '2', '3', ...admin]);
  t.equal(approved.code, 0, approved.stderr);

  const tty = PtyScreen.spawn(t, process.execPath, [SIAR, 'admin', 'console', ...admin], {
    cwd: ROOT, env: { ...process.env, TERM: 'xterm-256color' } as Record<string, string>, cols: 80, rows: 24,
  });
  await tty.waitFor('logged in as admin');
  /** Presses keys, then waits for the screen to show `what`. */
  const press = (keys: string, what: string | RegExp) => {
    tty.write(keys);
    return tty.waitFor(what);
  };
  /** Types a form's inputs, Tab between them, and presses Enter. */
  const fill = (inputs: string[], what: string | RegExp) => press(inputs.join(KEY.tab) + KEY.enter, what);

  // --- channels
  /** In an open pick-list: types each name as the filter and chooses (or unchooses) the one row it leaves. */
  const choose = async (...names: string[]) => {
    for (const name of names) {
      tty.write(KEY.ctrl('u') + name);
      await tty.waitFor(new RegExp(`Filter: ${name}[\\s\\S]*▶ \\[[ x]\\] ${name} `));
      tty.write(' ');
    }
  };

  const screen = await press('8', 'no channels yet');
  t.match(screen, /1 Regs\s+2 Members\s+3 Online\s+4 Traffic\s+5 Mail\s+6 Audit\s+7 Backups\s+8 Chans\s+9 Groups/, 'the header names every screen at 80 columns');
  t.match(screen, /n new {2}e edit {2}r access {2}x archive {2}m members {2}p publishers {3}\? help {2}q quit/, 'the help line shows the screen\'s keys and ? help');

  await press('n', 'New channel');
  await fill(['Dekanat!'], 'A channel name is 2-32 characters');
  t.pass('the form refuses a bad name before sending');
  // → makes the channel restricted, space makes its publishers named; Space on Members opens the pick-list.
  await press([KEY.ctrl('u') + 'dekanat', 'Rapat dekan', '\x1b[C', ' ', ' '].join(KEY.tab), /┌─ Members ─[\s\S]*\[ \] ugm\s+Universitas Gadjah Mada[\s\S]*\[ \] unhas\s+Universitas Hasanuddin/);
  t.pass('Space on the Members input lists every member with its institution');
  await choose('unhas', 'unsrat');
  await press(KEY.enter, /Members\s+unhas, unsrat/);
  await press(KEY.tab + ' ', /┌─ Publishers ─/);
  await choose('unhas');
  await press(KEY.enter, /Publishers\s+unhas/);
  await press(KEY.enter, /created #dekanat \(restricted, named publish\)/);
  await tty.waitFor(/#dekanat\s+restricted\s+named\s+0\s/);
  t.pass('the new channel is in the table');
  await tty.waitFor(/members\s+unhas, unsrat/);
  await tty.waitFor(/publishers\s+unhas/);
  t.pass('the roster panel shows its named members and publishers');

  // The server's refusal is shown in the form: a name already taken.
  await press('n', 'New channel');
  await fill(['dekanat'], 'There is already a channel named dekanat. (DUPLICATE_NAME)');
  t.pass('the form shows the server\'s sentence on refusal');
  tty.write(KEY.escape);
  await tty.waitGone('New channel');

  // Named members from a pick-list with the current ones ticked: ugm in, unsrat out.
  await press('m', /Members of #dekanat[\s\S]*2 chosen: unhas, unsrat[\s\S]*\[x\] unhas/);
  await choose('ugm', 'unsrat');
  await press(KEY.enter, '#dekanat: 1 member(s) added, 1 removed');
  await tty.waitFor(/members\s+unhas, ugm|members\s+ugm, unhas/);
  await press('p', 'Publishers of #dekanat');
  await choose('ugm');
  await press(KEY.enter, '#dekanat: 1 publisher(s) added, 0 removed');
  // Esc leaves the list as it was.
  await press('p', 'Publishers of #dekanat');
  await choose('unhas');
  tty.write(KEY.escape);
  await tty.waitGone('Publishers of #dekanat');
  // The description, edited in the rules form.
  await press('e', 'Describe #dekanat');
  await fill([KEY.ctrl('u') + 'Rapat para dekan'], 'updated #dekanat');

  const shown = jsonLines((await siar(['admin', 'channel', 'show', 'dekanat', '--json', ...admin])).stdout)[0] as {
    access: string; publish: string; description: string; roster: Array<{ username: string; member: boolean; publisher: boolean }>;
  };
  t.match(shown, { access: 'restricted', publish: 'named', description: 'Rapat para dekan' }, 'siar admin channel show: the rules set in the forms');
  t.same(shown.roster.filter((r) => r.member).map((r) => r.username).sort(), ['ugm', 'unhas'], 'the named members');
  t.same(shown.roster.filter((r) => r.publisher).map((r) => r.username).sort(), ['ugm', 'unhas'], 'the named publishers');

  // Open it again, then archive it.
  await press('r', 'Open #dekanat to every member?');
  await press('y', '#dekanat is now open');
  await press('x', 'Archive #dekanat?');
  await press('y', '#dekanat archived');
  await tty.waitFor(/#dekanat\s+open\s+named\s+0\s+\d{4}-\d\d-\d\d/);
  t.pass('the table shows the archive date');

  const channels = jsonLines((await siar(['admin', 'channel', 'list', '--json', ...admin])).stdout);
  t.match(channels, [{ name: 'dekanat', access: 'open', publish: 'named', archived: true }], 'siar admin channel list: the one channel, open and archived');

  // --- groups
  await press('9', 'no groups yet');
  await press('n', 'New group');
  await press(['ptn-sulawesi', 'PTN Sulawesi', ' '].join(KEY.tab), /┌─ Institutions ─/);
  await choose('unhas', 'unsrat');
  await press(KEY.enter, /Institutions\s+unhas, unsrat/);
  await press(KEY.enter, 'created @ptn-sulawesi with 2 institution(s)');
  await tty.waitFor(/institutions\s+unhas, unsrat/);

  await press('m', /Institutions in @ptn-sulawesi[\s\S]*2 chosen: unhas, unsrat/);
  await choose('ugm', 'unsrat');
  await press(KEY.enter, '@ptn-sulawesi: 1 institution(s) added, 1 removed');
  await tty.waitFor(/institutions\s+ugm, unhas/);
  await press('e', 'Describe @ptn-sulawesi');
  await fill([KEY.ctrl('u') + 'PTN di Sulawesi'], 'described @ptn-sulawesi');

  // A second group, created and deleted.
  await press('n', 'New group');
  await fill(['sementara'], 'created @sementara with 0 institution(s)');
  await press('d', 'Delete @sementara');
  await press('y', 'deleted @sementara');

  // Another administrator's change (a GROUP push) shows up without a refresh.
  const other = await siar(['admin', 'group', 'create', 'dari-cli', '--members', 'ugm', ...admin]);
  t.equal(other.code, 0, other.stderr);
  await tty.waitFor(/@dari-cli\s+1\s/);
  t.pass('a group created elsewhere appears live');

  const groups = jsonLines((await siar(['admin', 'group', 'list', '--json', ...admin])).stdout);
  t.same(groups.map((g) => g.name).sort(), ['dari-cli', 'ptn-sulawesi'], 'siar admin group list: sementara is gone');
  t.match(groups.find((g) => g.name === 'ptn-sulawesi'), { description: 'PTN di Sulawesi', members: 2 }, 'ptn-sulawesi as the console left it');
  const group = jsonLines((await siar(['admin', 'group', 'show', 'ptn-sulawesi', '--json', ...admin])).stdout)[0] as { institutions: Array<{ username: string }> };
  t.same(group.institutions.map((m) => m.username).sort(), ['ugm', 'unhas'], 'siar admin group show: the institutions chosen in the console');

  tty.write('q');
  t.equal((await tty.exited).exitCode, 0, 'q quits cleanly');
});
