/**
 * An attachment the server removed (its message expired longer ago than --expired-attachment-grace,
 * issue 21) in the real `siar tui`, in a pseudo-terminal at 80×24 against a real server: the inbox
 * marks it removed, the message view says so instead of offering it, and S (save) says why nothing
 * can be saved instead of trying a download the server refuses.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { declareFile, sendMessage } from '../../src/client/transfer.js';
import { SIAR } from '../helpers/cli.js';
import { startServer, tempDir, until, type TestServer } from '../helpers/siar.js';
import { KEY, PtyScreen } from './tui/pty.js';

t.setTimeout(300_000);
const STEP = 20_000;

/** `siar tui` for `username` (remembered server and name), logged in, on the inbox. */
async function tuiAs(t: Test, s: TestServer, username: string, password: string): Promise<PtyScreen> {
  const home = tempDir(t, 'siar-home-');
  const config = path.join(home, 'config');
  mkdirSync(path.join(config, 'siar'), { recursive: true });
  writeFileSync(path.join(config, 'siar', 'client.json'), JSON.stringify({ server: `127.0.0.1:${s.port}`, username }));
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>), HOME: home, XDG_CONFIG_HOME: config, TERM: 'xterm-256color', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8',
  };
  delete env.SIAR_SERVER;
  const tui = PtyScreen.spawn(t, process.execPath, [SIAR, 'tui'], { cwd: home, env });
  await tui.waitFor('Log in', STEP);
  tui.write(`${password}${KEY.enter}`);
  await tui.waitFor(/1 Inbox \(\d+ unread\)/, STEP);
  return tui;
}

t.test('a removed attachment is shown removed in the inbox and the message, and S says it cannot be saved', async (t) => {
  const s = await startServer(t, { expiredAttachmentGraceMs: 1000, transferSweepIntervalMs: 1000 });
  const ugm = await s.member('ugm');
  const unhas = await s.memberClient('unhas');
  const dir = tempDir(t);
  const file = path.join(dir, 'jadwal.txt');
  writeFileSync(file, 'Jadwal ujian semester ganjil\n');
  const sent = await sendMessage(unhas, { to: ['ugm'], subject: 'Jadwal ujian', body: 'Lihat lampiran', expires: '1s' }, [await declareFile(file)]);
  await until('the sweep removes its attachment', async () => !!(await s.server.store.getMessage(sent.id))!.attachments[0]!.removedAt);

  const tui = await tuiAs(t, s, 'ugm', ugm.password);
  t.match(await tui.waitFor(/Jadwal ujian.*\+1 removed/, STEP), /Jadwal ujian.*\+1 removed/, 'the inbox marks it removed');
  tui.write(KEY.enter);
  const view = await tui.waitFor(/jadwal\.txt.*removed \(expired\)/, STEP);
  t.match(view, 'Lihat lampiran', 'the message itself is there');
  t.notMatch(view, /S save files/, 'no save offered');
  tui.write('s');
  await tui.waitFor('The server removed the attachment', STEP);
  t.notMatch(tui.text(), 'Save to folder', 'no download attempted');
});
