/** `siar admin channel …`, `siar admin group …` and the channel/group errors, from the command line. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { tempDir } from '../helpers/siar.js';
import { jsonLines, ok, setOwnPassword, siar, startSiarServer } from './channels-helpers.js';

// Each step is a new `siar` process (about twenty of them, plus servers and listeners): on a busy
// machine that is more than the default per-file budget.
t.setTimeout(300_000);

t.test('admin commands and their errors from the command line', async (t) => {
  const data = tempDir(t);
  const server = await startSiarServer(t, data);
  const env = { SIAR_SERVER: server };
  const admin = { ...env, SIAR_USER: 'admin', SIAR_PASSWORD: readFileSync(path.join(data, 'admin-password'), 'utf8').trim() };
  await ok(t, ['register', '--institution', 'A', '--contact', 'B', '--email', 'a@b.ac.id', '--username', 'aa'], env);
  await ok(t, ['register', '--institution', 'C', '--contact', 'D', '--email', 'c@d.ac.id', '--username', 'cc'], env);
  await ok(t, ['admin', 'approve', '1', '2'], admin);
  const aa = { ...env, SIAR_USER: 'aa', SIAR_PASSWORD: await setOwnPassword(server, data, 'aa') };

  await ok(t, ['admin', 'channel', 'create', 'dekanat', '--restricted', '--members', 'cc', '--publish', 'named', '--publishers', 'cc'], admin);
  // Each refusal exits non-zero with the catalogue code.
  const [restricted, unknown, noGroup, dup, both] = await Promise.all([
    siar(['subscribe', 'dekanat'], aa),
    siar(['send', '--channel', 'nope', '--subject', 'x'], aa),
    siar(['send', '--to', '@nope', '--subject', 'x'], aa),
    siar(['admin', 'channel', 'create', 'dekanat'], admin),
    siar(['send', '--channel', 'dekanat', '--all', '--subject', 'x'], aa),
  ]);
  t.not(restricted.code, 0);
  t.match(restricted.stderr, /\(CHANNEL_RESTRICTED\)/);
  t.match(unknown.stderr, /\(UNKNOWN_CHANNEL\)/);
  t.match(noGroup.stderr, /\(UNKNOWN_GROUP\)/);
  t.match(dup.stderr, /\(DUPLICATE_NAME\)/);
  t.match(both.stderr, /exactly one of --to or --all, or --channel/);

  t.equal(await ok(t, ['admin', 'channel', 'grant', 'dekanat', 'aa'], admin), '1 new member(s) of #dekanat\n');
  await ok(t, ['subscribe', 'dekanat'], aa);
  t.match(await ok(t, ['admin', 'channel', 'revoke', 'dekanat', 'aa'], admin), /1 member\(s\) removed from #dekanat; 1 subscription\(s\) dropped/);
  t.match(jsonLines(await ok(t, ['admin', 'channel', 'describe', 'dekanat', '--description', 'Deans only', '--json'], admin)), [{ description: 'Deans only', dropped: 0 }]);

  await ok(t, ['admin', 'group', 'create', 'g1'], admin);
  t.equal(await ok(t, ['admin', 'group', 'add', 'g1', 'aa', 'cc'], admin), '2 institution(s) added to @g1\n');
  t.equal(await ok(t, ['admin', 'group', 'remove', 'g1', 'cc'], admin), '1 institution(s) removed from @g1\n');
  t.match(jsonLines(await ok(t, ['group', 'g1', '--json'], aa)), [{ name: 'g1', members: 1, isMember: true, institutions: [{ username: 'aa' }] }]);
  t.equal(await ok(t, ['admin', 'group', 'delete', 'g1'], admin), 'deleted @g1\n');
  t.equal(await ok(t, ['groups'], aa), '(no groups)\n');
  const member = await siar(['admin', 'group', 'create', 'g2'], aa);
  t.match(member.stderr, /\(FORBIDDEN\)/, 'members cannot manage groups');
});
