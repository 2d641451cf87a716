/**
 * A correction with attachments and no `at=` (SEND replaces= attachment=…, docs/PROTOCOL.md
 * §Alerts): the message it replaces stays with its recipients while the correction's files upload,
 * and is recalled when the correction goes out — in the transaction of its last upload — so the
 * recipients never see neither. A correction cancelled, or whose upload window ends, never recalls
 * it. Real server, real sockets, real uploads.
 */
import t, { type Test } from 'tap';
import type { SiarClient } from '../../src/client/index.js';
import { declareFile, uploadFile } from '../../src/client/transfer.js';
import { startServer, tempDir, until } from '../helpers/siar.js';
import { noise, writeFile } from '../transfer/helpers.js';

/** What `ugm` hears: popups and recalls, by message id, in order. */
function listen(c: SiarClient): Array<[string, number]> {
  const heard: Array<[string, number]> = [];
  c.on('push', (e, a) => { if (e === 'RECALLED' || e === 'POPUP') heard.push([e, Number(a.get('id'))]); });
  return heard;
}

async function correctionOf(t: Test, unhas: SiarClient, oldId: number, name: string) {
  const file = await declareFile(writeFile(tempDir(t), name, noise(40_000, 9)));
  const reply = await unhas.send({
    to: ['ugm'], subject: 'Denah baru', replaces: oldId, attachments: [{ name: file.name, size: file.size, sha256: file.sha256 }],
  });
  return { file, reply };
}

t.test('the old notice stays until the correction\'s last upload, then is withdrawn just before the correction pops up', async (t) => {
  const s = await startServer(t);
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  const heard = listen(ugm);
  const old = await unhas.send({ to: ['ugm'], subject: 'Denah lama' });
  await until('ugm has the old notice', () => heard.length === 1);

  const { file, reply } = await correctionOf(t, unhas, old.id, 'denah.png');
  t.equal(reply.state, 'sending', 'waiting for its attachment');
  t.equal(reply.replaces, old.id);
  await ugm.ping();
  t.match(await ugm.read(old.id), { id: old.id, subject: 'Denah lama' }, 'the old one is still there while the file uploads');
  t.strictSame(heard, [['POPUP', old.id]], 'no RECALLED before the correction goes out');
  const admin = await s.adminClient();
  t.strictSame(await admin.admin.audit({ kind: 'message_recalled' }), [], 'nothing recalled yet');

  const up = await uploadFile(unhas, { messageId: reply.id, attachmentId: reply.attachments[0]!.id, path: file.path });
  t.equal(up.sent, true, 'the last upload sends it');
  await until('the correction goes out', () => heard.length === 3);
  t.strictSame(heard, [['POPUP', old.id], ['RECALLED', old.id], ['POPUP', reply.id]], 'withdrawn, then the correction');
  await t.rejects(ugm.read(old.id), { code: 'RECALLED', message: new RegExp(`replaced by message ${reply.id}`) });
  t.match(await ugm.read(reply.id), { id: reply.id, replaces: old.id });
  const audited = await admin.admin.audit({ kind: 'message_recalled' });
  t.equal(audited.length, 1, 'the recall is audited once');
  t.match(audited[0], { subject: String(old.id), actor: 'unhas', detail: { replacedBy: reply.id, delivered: 1 } });
});

t.test('a correction cancelled, or whose upload window ends, never recalls the message it replaces', async (t) => {
  const s = await startServer(t, { uploadWindowMs: 1500, transferSweepIntervalMs: 500 });
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  const heard = listen(ugm);
  const old = await unhas.send({ to: ['ugm'], subject: 'Denah lama' });
  await until('ugm has the old notice', () => heard.length === 1);

  const cancelled = await correctionOf(t, unhas, old.id, 'a.png');
  t.match(await unhas.cancel(cancelled.reply.id), { state: 'cancelled' });
  const expired = await correctionOf(t, unhas, old.id, 'b.png');
  await until('its upload window ends', async () => (await unhas.outbox()).find((m) => m.id === expired.reply.id)?.state === 'expired');
  await t.rejects(uploadFile(unhas, { messageId: expired.reply.id, attachmentId: expired.reply.attachments[0]!.id, path: expired.file.path }),
    { code: 'MESSAGE_CLOSED' }, 'a late upload changes nothing');

  await ugm.ping();
  t.strictSame(heard, [['POPUP', old.id]], 'no RECALLED, no correction');
  t.match(await ugm.read(old.id), { id: old.id, subject: 'Denah lama' }, 'the old notice stays');
  t.notOk((await unhas.outbox()).find((m) => m.id === old.id)?.recalledAt, 'not recalled in the sender\'s outbox either');
  t.strictSame(await (await s.adminClient()).admin.audit({ kind: 'message_recalled' }), []);
});
