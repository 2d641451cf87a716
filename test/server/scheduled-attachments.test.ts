/**
 * A scheduled message with attachments (issue 21 item 5, docs/PROTOCOL.md §Alerts): uploaded at once,
 * held whole until its time, invisible to recipients (inbox, read, download) before it, across a
 * restart; if its upload is still incomplete at its time it goes out when the upload completes; a
 * recall before its time works even while it uploads. Real servers, real sockets, real uploads.
 */
import t from 'tap';
import { argsToPopup } from '../../src/protocol/index.js';
import type { SiarClient } from '../../src/client/index.js';
import { declareFile, downloadAttachment, sendMessage, uploadFile } from '../../src/client/transfer.js';
import { collectPushes, ownPassword, startServer, tempDir, until, type TestServer } from '../helpers/siar.js';
import { noise, writeFile } from '../transfer/helpers.js';

async function loginAs(s: TestServer, username: string): Promise<SiarClient> {
  const c = await s.client();
  await c.login(username, ownPassword(username));
  return c;
}

const quiet = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('uploaded at once, held until its time across a restart, then delivered once with its files', async (t) => {
  const dataDir = tempDir(t);
  let s = await startServer(t, {}, dataDir);
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  const file = await declareFile(writeFile(tempDir(t), 'jadwal.pdf', noise(300_000, 7)));
  const at = new Date(Date.now() + 5000).toISOString();
  const sent = await sendMessage(unhas, { to: ['ugm'], subject: 'Jadwal', at }, [file]);
  t.equal(sent.state, 'scheduled', 'all uploaded, held for its time');
  t.equal(sent.deliverAt, at);
  t.ok(Date.now() < Date.parse(at), 'the upload finished before its time (else the test proves nothing)');
  t.match((await unhas.outbox())[0], { id: sent.id, state: 'scheduled', deliverAt: at });
  // Recipients: no inbox entry, no READ, no download.
  t.equal((await ugm.inbox()).messages.length, 0);
  await t.rejects(ugm.read(sent.id), { code: 'NOT_FOUND' });
  await t.rejects(downloadAttachment(ugm, { messageId: sent.id, attachmentId: sent.attachments[0]!.id, dir: tempDir(t) }), { code: 'NOT_FOUND' });

  await s.server.stop();
  s = await startServer(t, {}, dataDir);
  const ugm2 = await loginAs(s, 'ugm');
  const popups = collectPushes(ugm2, 'POPUP');
  t.equal((await ugm2.inbox()).messages.length, 0, 'still held after the restart');
  await until('it pops up at its time', () => popups.length === 1, 30_000);
  t.ok(Date.now() >= Date.parse(at), 'not before its time');
  t.match(argsToPopup(popups[0]!), { id: sent.id, subject: 'Jadwal' });
  const got = await downloadAttachment(ugm2, { messageId: sent.id, attachmentId: sent.attachments[0]!.id, dir: tempDir(t) });
  t.equal(got.sha256, file.sha256, 'the file arrives whole');
  await quiet(2500);
  await ugm2.ping();
  t.equal(popups.length, 1, 'delivered once');
  const admin = await s.adminClient();
  t.equal((await admin.admin.audit({ kind: 'message_delivered_scheduled' })).length, 1);
});

t.test('an upload still incomplete at its time: it goes out when the upload completes, not before', async (t) => {
  const s = await startServer(t);
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  const popups = collectPushes(ugm, 'POPUP');
  const file = await declareFile(writeFile(tempDir(t), 'peta.png', noise(100_000, 3)));
  const reply = await unhas.send({ to: ['ugm'], subject: 'Peta', at: '2s', attachments: [{ name: file.name, size: file.size, sha256: file.sha256 }] });
  t.equal(reply.state, 'sending');
  t.ok(reply.deliverAt);
  await quiet(3500); // past its time, with the runner ticking every second
  await ugm.ping();
  t.strictSame(popups, [], 'nothing before its attachments are in');
  t.equal((await ugm.inbox()).messages.length, 0);
  t.match((await unhas.outbox())[0], { id: reply.id, state: 'sending' });
  const up = await uploadFile(unhas, { messageId: reply.id, attachmentId: reply.attachments[0]!.id, path: file.path });
  t.equal(up.sent, true, 'the last upload sends it');
  await until('it pops up once uploaded', () => popups.length === 1);
  t.match(argsToPopup(popups[0]!), { id: reply.id });
  const got = await downloadAttachment(ugm, { messageId: reply.id, attachmentId: reply.attachments[0]!.id, dir: tempDir(t) });
  t.equal(got.sha256, file.sha256);
  await quiet(2500);
  await ugm.ping();
  t.equal(popups.length, 1, 'once');
  t.equal((await s.server.store.getMessage(reply.id))!.recipients.length, 1);
});

t.test('recalled before its time, while uploading or after: never goes out', async (t) => {
  const s = await startServer(t);
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  const popups = collectPushes(ugm, 'POPUP');
  const file = await declareFile(writeFile(tempDir(t), 'a.txt', noise(50_000, 1)));
  // Recalled while its upload is under way; the upload then completes.
  const uploading = await unhas.send({ to: ['ugm'], subject: 'Batal 1', at: '2s', attachments: [{ name: file.name, size: file.size, sha256: file.sha256 }] });
  t.match(await unhas.recall(uploading.id, 'salah'), { undelivered: 1, notified: 0 });
  const up = await uploadFile(unhas, { messageId: uploading.id, attachmentId: uploading.attachments[0]!.id, path: file.path });
  t.equal(up.sent, false);
  // Recalled after its upload, before its time.
  const held = await sendMessage(unhas, { to: ['ugm'], subject: 'Batal 2', at: '3s' }, [file]);
  t.equal(held.state, 'scheduled');
  t.match(await unhas.recall(held.id), { undelivered: 1 });
  await quiet(4500);
  await ugm.ping();
  t.strictSame(popups, [], 'never delivered');
  t.equal((await ugm.inbox()).messages.length, 0);
  const out = await unhas.outbox();
  t.match(out.map((m) => [m.id, m.state]), [[held.id, 'recalled'], [uploading.id, 'recalled']]);
  await t.rejects(downloadAttachment(ugm, { messageId: held.id, attachmentId: held.attachments[0]!.id, dir: tempDir(t) }), { code: 'NOT_FOUND' });
});

t.test('a scheduled correction with an attachment uploaded after its time: held, then released by the runner, which recalls the old one then', async (t) => {
  const s = await startServer(t);
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  const heard: Array<[string, number]> = [];
  ugm.on('push', (e, a) => { if (e === 'RECALLED' || e === 'POPUP') heard.push([e, Number(a.get('id'))]); });
  const old = await unhas.send({ to: ['ugm'], subject: 'Denah lama' });
  await until('ugm has the old notice', () => heard.length === 1);
  const file = await declareFile(writeFile(tempDir(t), 'denah.png', noise(50_000, 5)));
  const reply = await unhas.send({
    to: ['ugm'], subject: 'Denah baru', at: '1s', replaces: old.id, attachments: [{ name: file.name, size: file.size, sha256: file.sha256 }],
  });
  t.equal(reply.state, 'sending');
  // Its time passes while the upload has not started: nothing changes for the recipient.
  await until('its time has passed', () => Date.now() > Date.parse(reply.deliverAt!) + 1000);
  await ugm.ping();
  t.match(await ugm.read(old.id), { id: old.id, subject: 'Denah lama' }, 'the old one is still there');
  const up = await uploadFile(unhas, { messageId: reply.id, attachmentId: reply.attachments[0]!.id, path: file.path });
  t.match(up, { sent: false, held: true }, 'a correction is held for the runner, even past its time');
  await until('the correction goes out', () => heard.length === 3);
  t.strictSame(heard, [['POPUP', old.id], ['RECALLED', old.id], ['POPUP', reply.id]]);
  await t.rejects(ugm.read(old.id), { code: 'RECALLED' });
  const got = await downloadAttachment(ugm, { messageId: reply.id, attachmentId: reply.attachments[0]!.id, dir: tempDir(t) });
  t.equal(got.sha256, file.sha256);
});
