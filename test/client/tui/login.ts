/**
 * `siar tui` for a member that exists already, in a pseudo-terminal (pty.ts): its server and
 * username remembered in a fresh HOME, the password typed on the login screen, on the inbox.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { SIAR } from '../../helpers/cli.js';
import { tempDir, type TestServer } from '../../helpers/siar.js';
import { KEY, PtyScreen } from './pty.js';

export async function tuiAs(t: Test, s: TestServer, username: string, password: string, stepMs = 20_000): Promise<PtyScreen> {
  const home = tempDir(t, 'siar-home-');
  const config = path.join(home, 'config');
  mkdirSync(path.join(config, 'siar'), { recursive: true });
  writeFileSync(path.join(config, 'siar', 'client.json'), JSON.stringify({ server: `127.0.0.1:${s.port}`, username }));
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>), HOME: home, XDG_CONFIG_HOME: config, TERM: 'xterm-256color', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8',
  };
  delete env.SIAR_SERVER;
  const tui = PtyScreen.spawn(t, process.execPath, [SIAR, 'tui'], { cwd: home, env });
  await tui.waitFor('Log in', stepMs);
  tui.write(`${password}${KEY.enter}`);
  await tui.waitFor(/1 Inbox \(\d+ unread\)/, stepMs);
  return tui;
}
