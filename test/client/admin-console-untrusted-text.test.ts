/**
 * Text from outside (a registrant's institution and contact, anyone's before approval) in the
 * tables of the real `siar admin console`, in a pseudo-terminal: its control characters and bidi
 * overrides never reach the terminal. blessed drops most control characters itself but lets SGR
 * sequences through (hidden, blinking or recoloured text) and C1 controls and bidi overrides too.
 */
import t from 'tap';
import { tempDir } from '../helpers/siar.js';
import { SIAR, siar, startSiarServer } from '../helpers/cli.js';
import { PtyScreen } from './tui/pty.js';

t.setTimeout(120_000);

const STEP = 30_000;

t.test('a registrant\'s escape sequences show as text in the console\'s registration table, and are not obeyed', async (t) => {
  const data = tempDir(t);
  const server = (await startSiarServer(t, data)).address;
  const reg = await siar([
    'register', '--institution', 'Univ \u001b[8mRahasia\u001b[0m X\u202e', '--contact', 'Budi \u009b5mkedip',
    '--email', 'budi@unhas.ac.id', '--username', 'unhas',
  ], { SIAR_SERVER: server });
  t.equal(reg.code, 0, reg.stderr);

  const env: Record<string, string> = { ...(process.env as Record<string, string>), TERM: 'xterm-256color', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };
  delete env.SIAR_SERVER;
  const console = PtyScreen.spawn(t, process.execPath, [SIAR, 'admin', 'console', '--server', server, '--data', data], { cwd: data, env, cols: 150, rows: 40 });
  const screen = await console.waitFor(/\bunhas\s+Univ/, STEP);
  t.match(screen, /unhas\s+Univ \[8mRahasia\[0m X\s+Budi 5mkedip\s+budi@unhas\.ac\.id/, 'the row shows the sequences as text, without their escape characters');
  // eslint-disable-next-line no-control-regex
  t.notMatch(console.transcript(), /\u001b\[8m|\u202e|\u009b/, 'neither the hiding SGR, the C1 CSI nor the right-to-left override reached the terminal');
  console.write('q');
  t.match(await console.exited, { exitCode: 0 });
});
