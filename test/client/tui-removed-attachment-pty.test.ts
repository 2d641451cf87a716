/**
 * An attachment the server removed (its message expired longer ago than --expired-attachment-grace,
 * issue 21) in the real `siar tui`, in a pseudo-terminal at 80×24 against a real server: the inbox
 * marks it removed, the message view says so instead of offering it, and S (save) says why nothing
 * can be saved instead of trying a download the server refuses.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { declareFile, sendMessage } from '../../src/client/transfer.js';
import { startServer, tempDir, until } from '../helpers/siar.js';
import { KEY } from './tui/pty.js';
import { tuiAs } from './tui/login.js';

t.setTimeout(300_000);
const STEP = 20_000;

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
