/** Many members uploading and downloading at once, each file verified by sha256, nothing left behind. */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { declareFile, downloadAttachment, sendMessage, type SentMessage } from '../../src/client/transfer.js';
import { startServer, tempDir } from '../helpers/siar.js';
import { assertNothingLeft, noise, sha256, writeFile } from '../transfer/helpers.js';

t.test('concurrent uploads and downloads from many clients do not interfere', async (t) => {
  const s = await startServer(t);
  const senders = ['s1', 's2', 's3', 's4', 's5', 's6'];
  const readers = ['r1', 'r2', 'r3'];
  for (const u of [...senders, ...readers]) await s.member(u);
  const clients = new Map(await Promise.all([...senders, ...readers].map(async (u) => [u, await s.memberClient(u)] as const)));
  const src = tempDir(t);

  // A message already out, which the readers download while the senders upload theirs.
  const seedFiles = await Promise.all([0, 1, 2].map((i) => declareFile(writeFile(src, `seed-${i}.bin`, noise(400_000 + i * 1000, 100 + i)))));
  const seed = await sendMessage(clients.get('s1')!, { to: readers, subject: 'seed' }, seedFiles);

  const expected = new Map<string, string>(); // file name → sha256
  for (const f of seedFiles) expected.set(f.name, f.sha256);
  const outgoing = await Promise.all(senders.map(async (u, i) => {
    const files = await Promise.all([0, 1].map(async (j) => {
      const data = noise(200_000 + 97_531 * (i + j), 1000 + 10 * i + j);
      const f = await declareFile(writeFile(src, `${u}-file-${j}.bin`, data));
      expected.set(f.name, f.sha256);
      return f;
    }));
    return { u, files };
  }));

  const sending = outgoing.map(({ u, files }) => sendMessage(clients.get(u)!, { to: readers, subject: `from ${u}` }, files));
  const downloading = readers.map(async (r) => {
    const dir = tempDir(t);
    const got = [];
    for (const a of seed.attachments) got.push(await downloadAttachment(clients.get(r)!, { messageId: seed.id, attachmentId: a.id, dir }));
    return got;
  });
  const [sent, seedDownloads] = await Promise.all([Promise.all(sending), Promise.all(downloading)]);

  t.ok(sent.every((m: SentMessage) => m.state === 'sent'), 'every message went out');
  for (const list of seedDownloads) {
    for (const d of list) t.equal(sha256(readFileSync(d.path)), expected.get(d.name), `${d.name} downloaded intact during the uploads`);
  }

  // Every reader downloads every new attachment, all readers at once.
  const all = await Promise.all(readers.map(async (r) => {
    const dir = tempDir(t);
    const inbox = await clients.get(r)!.request('INBOX', { limit: 50 });
    t.equal(inbox.items.length, senders.length + 1, `${r} has every message`);
    return Promise.all(sent.flatMap((m) => m.attachments.map((a) =>
      downloadAttachment(clients.get(r)!, { messageId: m.id, attachmentId: a.id, dir }))));
  }));
  let checked = 0;
  for (const list of all) {
    for (const d of list) {
      t.equal(sha256(readFileSync(d.path)), expected.get(d.name), `${d.name} intact`);
      checked++;
    }
  }
  t.equal(checked, readers.length * senders.length * 2);
  await assertNothingLeft(t, s);
});
