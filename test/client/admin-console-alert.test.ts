/**
 * The real `siar admin console` in a pseudo-terminal at 80×24 against a real server: `a` on the
 * Traffic screen sends an urgent alert to all members, checked first, and a member gets it as an
 * urgent popup that asks for acknowledgement; the screen counts urgent messages and open
 * acknowledgements (issue 21).
 */
import t from 'tap';
import { SIAR } from '../helpers/cli.js';
import { nextPush, startServer, tempDir } from '../helpers/siar.js';
import { KEY, PtyScreen } from './tui/pty.js';

t.setTimeout(180_000);
const STEP = 20_000;

t.test('the console sends an urgent all-members alert from the Traffic screen', async (t) => {
  const s = await startServer(t);
  const ugm = await s.memberClient('ugm');
  const home = tempDir(t, 'siar-home-');
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>), HOME: home, XDG_CONFIG_HOME: home, TERM: 'xterm-256color', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8',
  };
  const tty = PtyScreen.spawn(t, process.execPath, [SIAR, 'admin', 'console', '--server', `127.0.0.1:${s.port}`, '--data', s.dataDir], { cwd: home, env });
  await tty.waitFor('logged in as admin', STEP);
  tty.write('4');
  await tty.waitFor('a alert to all members', STEP);
  tty.write('a');
  await tty.waitFor('Alert to all members', STEP);

  // Enter with no subject: the form's own check, nothing sent.
  tty.write(KEY.enter);
  await tty.waitFor('An alert needs a subject.', STEP);
  const popup = nextPush(ugm, 'POPUP');
  tty.write(`Gempa: keluar gedung${KEY.tab}Berkumpul di lapangan.${KEY.tab}`);
  await tty.waitFor('urgent: a full-screen alert until acknowledged', STEP);
  tty.write(KEY.enter);
  const said = await tty.waitFor(/alert #\d+ \(urgent, acknowledgement asked\) sent to 1 member/, STEP);
  t.notMatch(said, 'Alert to all members', 'the form closed');
  const p = await popup;
  t.equal(p.get('subject'), 'Gempa: keluar gedung');
  t.equal(p.get('from'), 'admin');
  t.equal(p.get('priority'), 'urgent');
  t.equal(p.get('ack'), '1', 'urgent asks for acknowledgement');

  // The Traffic screen counts it (refreshed every 2 s), on one line within 80 columns: one urgent
  // message, one acknowledgement open on it; ugm acknowledges and the count goes to 0.
  const counted = await tty.waitFor(/urgent\s+1\s+1\s+open acks 1 on 1 message\b/, STEP);
  t.ok(counted.split('\n').every((row) => row.length <= 80), 'every row fits 80 columns');
  t.match(counted, /freed\s+0 B\s+expired attachments removed since start/, 'and the space the expired-attachment sweep freed');
  const id = /alert #(\d+)/.exec(said)![1]!;
  await ugm.ack(Number(id));
  await tty.waitFor(/urgent\s+1\s+1\s+open acks 0 on 0 messages/, STEP);
  tty.write('q');
  await Promise.race([tty.exited, new Promise((_, reject) => setTimeout(() => reject(new Error('did not exit')), STEP))]);
});
