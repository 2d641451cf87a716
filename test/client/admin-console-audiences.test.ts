/**
 * The real `siar admin console` at 80×24 in a pseudo-terminal against a real `siar server`: the
 * administrator creates a channel and a group from the console's forms (meeting the form's own
 * checks and the server's refusal on the way), manages the channel's named members and
 * publishers, describes, opens and archives it, changes the group's institutions and description
 * and deletes another group; `siar admin channel|group … --json`
 * then shows exactly that state.
 */
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { tempDir } from '../helpers/siar.js';
import { SIAR, jsonLines, siar, startSiarServer } from '../helpers/cli.js';
import { KEY, PtyScreen } from './tui/pty.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

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
  const screen = await press('8', 'no channels yet');
  t.match(screen, /8 Channels/, 'the header names the current screen at 80 columns');
  t.match(screen, /n new {2}e edit {2}r restrict\/open/, 'the help line shows the screen\'s keys');

  await press('n', 'New channel');
  await fill(['Dekanat!'], 'A channel name is 2-32 characters');
  t.pass('the form refuses a bad name before sending');
  // → makes the channel restricted, space makes its publishers named.
  await fill([KEY.ctrl('u') + 'dekanat', 'Rapat dekan', '\x1b[C', ' ', 'unhas, unsrat, ghost', 'unhas'], 'No member named ghost.');
  t.pass('the form refuses a username that is not a member');
  // The focus went to the refused input, with the cursor at its end.
  await press(KEY.backspace.repeat(', ghost'.length) + KEY.enter, /created #dekanat \(restricted, named publish\)/);
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

  // Named members as one list: ugm in, unsrat out.
  await press('m', 'Members of #dekanat');
  await fill([KEY.ctrl('u') + 'unhas ugm'], '#dekanat: 1 member(s) added, 1 removed');
  await tty.waitFor(/members\s+unhas, ugm|members\s+ugm, unhas/);
  await press('p', 'Publishers of #dekanat');
  await fill([KEY.ctrl('u') + 'unhas,ugm'], '#dekanat: 1 publisher(s) added, 0 removed');
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
  await fill(['ptn-sulawesi', 'PTN Sulawesi', 'unhas,unsrat'], 'created @ptn-sulawesi with 2 institution(s)');
  await tty.waitFor(/institutions\s+unhas, unsrat/);

  await press('a', 'Add institutions to @ptn-sulawesi');
  await fill(['ugm'], '1 institution(s) added to @ptn-sulawesi');
  await press('r', 'Remove institutions from @ptn-sulawesi');
  await fill(['ugm2'], 'Not in the group: ugm2.');
  await fill([KEY.ctrl('u') + 'unsrat'], '1 institution(s) removed from @ptn-sulawesi');
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
