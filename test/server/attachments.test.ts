/** Attachments through the real server: all-or-nothing delivery, who may download, storage by content. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { argsToMessage, argsToPopup } from '../../src/protocol/index.js';
import { collectPushes, nextPush, startServer, ownPassword } from '../helpers/siar.js';
import {
  DataPeer, assertNothingLeft, mp4Bytes, noise, offer, pngBytes, rawUpload, sendDeclared, sha256, storedFiles, wavBytes,
} from '../transfer/helpers.js';

t.test('a message with attachments pops up only when its last attachment is in, with their names, and never half-way', async (t) => {
  const s = await startServer(t);
  await s.member('unhas', 'Universitas Hasanuddin');
  await s.member('ugm');
  await s.member('itb');
  const sender = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  const popups = collectPushes(ugm, 'POPUP');
  const files = [
    { name: 'poster.png', data: pngBytes() },
    { name: 'sambutan rektor.wav', data: wavBytes() },
    { name: 'video kegiatan.mp4', data: mp4Bytes(100_000) },
  ];
  const sent = await sendDeclared(sender, ['ugm', 'itb'], files);
  t.equal(sent.args.get('state'), 'sending', 'SEND commits the message as sending');
  t.equal(sent.args.get('recipients'), '2');
  t.ok(Date.parse(sent.args.get('uploadDeadline')!) > Date.now(), 'with a deadline for its uploads');
  t.strictSame(sent.attachments.map((a) => [a.name, a.size, a.type]), [
    ['poster.png', files[0]!.data.length, 'image/png'],
    ['sambutan rektor.wav', files[1]!.data.length, 'audio/wav'],
    ['video kegiatan.mp4', files[2]!.data.length, 'video/mp4'],
  ], 'declared attachments come back with ids and a type guessed from the name');

  // While sending: only the sender sees it.
  t.strictSame((await ugm.request('INBOX')).items, [], 'not in a recipient\'s inbox');
  t.equal((await ugm.request('INBOX')).args.get('unread'), '0', 'not counted as unread');
  await t.rejects(ugm.request('READ', { id: sent.id }), { code: 'NOT_FOUND' }, 'a recipient cannot open it');
  const outbox = argsToMessage((await sender.request('OUTBOX')).items[0]!);
  t.equal(outbox.state, 'sending', 'the sender\'s outbox shows it as sending');
  t.strictSame(outbox.to, ['itb', 'ugm'], 'with the recipients it will go to');

  const uploaded = nextPush(sender, 'UPLOADED');
  const first = await rawUpload(t, sender, sent.id, sent.attachments[0]!.id, files[0]!.data);
  t.match(first.verdict, { kind: 'ok' }, 'the data socket says OK');
  t.equal(first.verdict?.kind === 'ok' && first.verdict.args.get('missing'), '2');
  t.equal((await uploaded).get('missing'), '2', 'the control connection hears UPLOADED');
  await rawUpload(t, sender, sent.id, sent.attachments[1]!.id, files[1]!.data);
  t.strictSame(popups, [], 'no popup while an attachment is missing');

  const sentPush = nextPush(sender, 'SENT');
  const popup = nextPush(ugm, 'POPUP');
  const last = await rawUpload(t, sender, sent.id, sent.attachments[2]!.id, files[2]!.data);
  t.equal(last.verdict?.kind === 'ok' && last.verdict.args.get('sent'), '1', 'the last upload says the message went out');
  t.equal((await sentPush).get('id'), String(sent.id), 'and the sender hears SENT');
  const p = argsToPopup(await popup);
  t.equal(p.id, sent.id);
  t.equal((await popup).get('attachments'), '3', 'the popup counts the attachments');
  t.strictSame(p.attachments, ['poster.png', 'sambutan rektor.wav', 'video kegiatan.mp4'], 'and names them');

  const inbox = argsToMessage((await ugm.request('INBOX')).items[0]!);
  t.strictSame(inbox.attachments.map((a) => [a.name, a.size, a.sha256, a.type]), files.map((f, i) => [
    f.name, f.data.length, sha256(f.data), ['image/png', 'audio/wav', 'video/mp4'][i],
  ]), 'the inbox lists name, size, sha256 and the type detected from the content');
  const read = argsToMessage((await ugm.request('READ', { id: sent.id })).args);
  t.equal(read.attachments.length, 3, 'READ lists them too');
  const out = argsToMessage((await sender.request('OUTBOX')).items[0]!);
  t.equal(out.state, undefined, 'a sent message carries no state in the outbox');
  t.equal(out.attachments.length, 3);

  // The offline recipient gets the popup, attachments and all, at its next login.
  const itb = await s.client();
  const later = nextPush(itb, 'POPUP');
  await itb.login('itb', ownPassword('itb'));
  t.strictSame(argsToPopup(await later).attachments.length, 3, 'store-and-forward keeps the attachments');

  // The stored files are the bytes that were sent.
  for (const a of read.attachments) {
    const stored = readFileSync(path.join(s.dataDir, 'attachments', a.sha256.slice(0, 2), a.sha256));
    t.equal(sha256(stored), a.sha256, `${a.name} is stored under its sha256`);
  }
  await assertNothingLeft(t, s);
});

t.test('SEND refuses malformed, oversized, too many or duplicate attachment declarations and stores nothing', async (t) => {
  const s = await startServer(t, { maxAttachmentBytes: 1000, maxMessageAttachmentBytes: 1500, maxAttachmentsPerMessage: 3 });
  await s.member('aa');
  await s.member('bb');
  const a = await s.memberClient('aa');
  const h = 'ab'.repeat(32);
  const attempts: Array<[string | string[], string]> = [
    ['12,xyz,name.txt', 'BAD_ARGUMENT'],
    [`1,${h},`, 'BAD_ARGUMENT'],
    [`1,${h},../../etc/passwd`, 'BAD_ARGUMENT'],
    [`1,${h},line\nbreak.txt`, 'BAD_ARGUMENT'],
    [`1001,${h},big.bin`, 'TOO_LARGE'],
    [[`900,${h},a.bin`, `900,${h},b.bin`], 'TOO_LARGE'],
    [[`1,${h},a`, `1,${h},b`, `1,${h},c`, `1,${h},d`], 'BAD_ARGUMENT'],
    [[`1,${h},Same.txt`, `2,${h},same.txt`], 'BAD_ARGUMENT'],
  ];
  for (const [attach, code] of attempts) {
    await t.rejects(a.request('SEND', { to: 'bb', subject: 's', attach }), { code }, JSON.stringify(attach));
  }
  t.strictSame((await a.request('OUTBOX')).items, [], 'nothing was stored');
  const ok = await a.request('SEND', { to: 'bb', subject: 's', attach: [`1000,${h},exactly the limit.bin`] });
  t.equal(ok.args.get('state'), 'sending', 'an attachment of exactly the limit is accepted');
});

t.test('UPLOAD is for the sender\'s own declared attachments, once', async (t) => {
  const s = await startServer(t);
  await s.member('aa');
  await s.member('bb');
  const a = await s.memberClient('aa');
  const b = await s.memberClient('bb');
  const data = Buffer.from('hello');
  const sent = await sendDeclared(a, 'bb', [{ name: 'hello.txt', data }]);
  const attachment = sent.attachments[0]!.id;
  await t.rejects(b.request('UPLOAD', { message: sent.id, attachment }), { code: 'NOT_FOUND' }, 'not a recipient');
  await t.rejects(a.request('UPLOAD', { message: sent.id + 1, attachment }), { code: 'NOT_FOUND' }, 'not with another message id');
  await t.rejects(a.request('UPLOAD', { message: sent.id }), { code: 'MISSING_ARGUMENT' });
  await t.rejects(a.request('DOWNLOAD', { message: sent.id, attachment }), { code: 'NOT_READY' }, 'nothing to download yet');
  await rawUpload(t, a, sent.id, attachment, data);
  await t.rejects(a.request('UPLOAD', { message: sent.id, attachment }), { code: 'ALREADY_UPLOADED' });
  await assertNothingLeft(t, s);
});

t.test('downloads are for the message\'s sender and recipients only, from any offset', async (t) => {
  const s = await startServer(t);
  for (const m of ['aa', 'bb', 'cc']) await s.member(m);
  const a = await s.memberClient('aa');
  const b = await s.memberClient('bb');
  const c = await s.memberClient('cc');
  const data = noise(300_000);
  const sent = await sendDeclared(a, 'bb', [{ name: 'data.bin', data }]);
  const attachment = sent.attachments[0]!.id;
  await rawUpload(t, a, sent.id, attachment, data);

  await t.rejects(c.request('DOWNLOAD', { message: sent.id, attachment }), { code: 'NOT_FOUND' }, 'neither sender nor recipient');
  t.equal(s.server.transfers.liveListeners(), 0, 'a refused DOWNLOAD opens no listener');

  for (const [who, client] of [['the recipient', b], ['the sender', a]] as const) {
    const o = await offer(client, 'DOWNLOAD', { message: sent.id, attachment, offset: 1000 });
    t.equal(o.offset, 1000);
    const peer = await DataPeer.connect(t, o);
    peer.write(`${o.ticket}\n`);
    await peer.closed;
    t.ok(peer.received.equals(data.subarray(1000)), `${who} gets the bytes from the offset to the end`);
  }
  await t.rejects(b.request('DOWNLOAD', { message: sent.id, attachment, offset: data.length + 1 }), { code: 'BAD_ARGUMENT' }, 'not past the end');
  await b.request('DELETE', { id: sent.id });
  await t.rejects(b.request('DOWNLOAD', { message: sent.id, attachment }), { code: 'NOT_FOUND' }, 'not after deleting it from the inbox');
  await assertNothingLeft(t, s);
});

t.test('the same content is stored once, and removed only when no attachment refers to it', async (t) => {
  const s = await startServer(t);
  await s.member('aa');
  await s.member('bb');
  const a = await s.memberClient('aa');
  const shared = { name: 'logo.png', data: pngBytes() };
  const one = await sendDeclared(a, 'bb', [shared]);
  await rawUpload(t, a, one.id, one.attachments[0]!.id, shared.data);
  const two = await sendDeclared(a, 'bb', [{ ...shared, name: 'same logo.png' }]);
  await rawUpload(t, a, two.id, two.attachments[0]!.id, shared.data);
  t.strictSame(storedFiles(s.dataDir), [`${sha256(shared.data).slice(0, 2)}/${sha256(shared.data)}`], 'sent twice, stored once');

  // A third message with the shared file and a file of its own, given up before it is complete.
  const own = { name: 'draft.txt', data: Buffer.from('draft only') };
  const three = await sendDeclared(a, 'bb', [{ ...shared, name: 'logo again.png' }, own, { name: 'never.bin', data: noise(10) }]);
  await rawUpload(t, a, three.id, three.attachments[0]!.id, shared.data);
  await rawUpload(t, a, three.id, three.attachments[1]!.id, own.data);
  t.equal(storedFiles(s.dataDir).length, 2);
  const cancelled = nextPush(a, 'SEND_FAILED');
  t.match((await a.request('CANCEL', { id: three.id })).args.toObject(), { id: String(three.id), state: 'cancelled' });
  t.match((await cancelled).toObject(), { id: String(three.id), state: 'cancelled' }, 'the sender hears it');
  t.strictSame(storedFiles(s.dataDir), [`${sha256(shared.data).slice(0, 2)}/${sha256(shared.data)}`],
    'the cancelled message\'s own file is removed; the shared one stays for the messages that were sent');
  t.equal(argsToMessage((await a.request('READ', { id: three.id })).args).state, 'cancelled');
  await t.rejects(a.request('CANCEL', { id: one.id }), { code: 'NOT_FOUND' }, 'a sent message cannot be cancelled');
  await assertNothingLeft(t, s);
});

t.test('an empty file and a file larger than the socket buffers travel intact, names with spaces and non-ASCII too', async (t) => {
  const s = await startServer(t);
  await s.member('aa');
  await s.member('bb');
  const a = await s.memberClient('aa');
  const b = await s.memberClient('bb');
  const files = [
    { name: 'kosong.txt', data: Buffer.alloc(0) },
    { name: 'Laporan Tahunan — ñ 日本語.bin', data: noise(8 * 1024 * 1024, 7) },
  ];
  const sent = await sendDeclared(a, 'bb', files);
  for (const [i, f] of files.entries()) {
    const r = await rawUpload(t, a, sent.id, sent.attachments[i]!.id, f.data);
    t.equal(r.verdict?.kind, 'ok', `${f.name} uploaded`);
  }
  const listed = argsToMessage((await b.request('READ', { id: sent.id })).args).attachments;
  t.strictSame(listed.map((x) => x.name), files.map((f) => f.name), 'names come back exactly');
  for (const [i, f] of files.entries()) {
    const o = await offer(b, 'DOWNLOAD', { message: sent.id, attachment: listed[i]!.id });
    const peer = await DataPeer.connect(t, o);
    peer.write(`${o.ticket}\n`);
    await peer.closed;
    t.equal(sha256(peer.received), sha256(f.data), `${f.name}: ${f.data.length} bytes, byte-identical`);
  }
  await assertNothingLeft(t, s);
});

t.test('the administrator sees live transfers; a member may not', async (t) => {
  const s = await startServer(t);
  await s.member('aa');
  await s.member('bb');
  const a = await s.memberClient('aa');
  const admin = await s.adminClient();
  const sent = await sendDeclared(a, 'bb', [{ name: 'x.bin', data: noise(100) }]);
  const o = await offer(a, 'UPLOAD', { message: sent.id, attachment: sent.attachments[0]!.id });
  const listed = await admin.request('TRANSFERS');
  t.equal(listed.args.get('listeners'), '1');
  t.match(listed.items[0]!.toObject(), { transfer: o.transfer, direction: 'upload', phase: 'waiting', username: 'aa', name: 'x.bin' });
  t.notOk(listed.items[0]!.has('ticket'), 'the ticket is not shown');
  await t.rejects(a.request('TRANSFERS'), { code: 'FORBIDDEN' });
  await a.request('CANCEL', { id: sent.id });
  await assertNothingLeft(t, s);
  t.equal((await admin.request('TRANSFERS')).args.get('listeners'), '0', 'and the count returns to 0');
});

t.test('the transfer ticket never appears in the server log', async (t) => {
  const s = await startServer(t);
  await s.member('aa');
  await s.member('bb');
  const a = await s.memberClient('aa');
  const data = Buffer.from('secret plan');
  const sent = await sendDeclared(a, 'bb', [{ name: 'plan.txt', data }]);
  const { offer: o } = await rawUpload(t, a, sent.id, sent.attachments[0]!.id, data);
  await assertNothingLeft(t, s);
  t.ok(s.logs.records.some((r) => r.msg === 'upload committed'), 'the upload was logged');
  t.notOk(s.logs.output.includes(o.ticket), 'but not its ticket');
});

t.test('stopping the server closes every shadow listener', async (t) => {
  const s = await startServer(t);
  await s.member('aa');
  await s.member('bb');
  const a = await s.memberClient('aa');
  const sent = await sendDeclared(a, 'bb', [{ name: 'x.bin', data: noise(100) }]);
  await offer(a, 'UPLOAD', { message: sent.id, attachment: sent.attachments[0]!.id });
  t.equal(s.server.transfers.liveListeners(), 1);
  await s.server.stop();
  t.equal(s.server.transfers.liveListeners(), 0);
  t.equal(s.server.transfers.liveTransfers(), 0);
});

