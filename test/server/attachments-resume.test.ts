/** Interrupted uploads resume; messages whose uploads never complete expire and leave nothing. */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { argsToMessage } from '../../src/protocol/index.js';
import { collectPushes, nextPush, startServer, tempDir } from '../helpers/siar.js';
import { DataPeer, assertNothingLeft, noise, offer, rawUpload, sendDeclared, sha256, storedFiles } from '../transfer/helpers.js';

t.test('an upload cut off mid-stream resumes from the byte where it stopped', async (t) => {
  const s = await startServer(t);
  await s.member('aa');
  await s.member('bb');
  const a = await s.memberClient('aa');
  const data = noise(2 * 1024 * 1024, 3);
  const sent = await sendDeclared(a, 'bb', [{ name: 'big.bin', data }]);
  const attachment = sent.attachments[0]!.id;

  const failed = nextPush(a, 'TRANSFER_FAILED');
  const o = await offer(a, 'UPLOAD', { message: sent.id, attachment });
  const peer = await DataPeer.connect(t, o);
  peer.write(`${o.ticket}\n`);
  const cut = 700_001;
  await new Promise<void>((resolve) => peer.socket.write(data.subarray(0, cut), () => resolve()));
  peer.socket.end(); // EOF before the declared size: an interruption
  const push = await failed;
  t.equal(push.get('code'), 'TRANSFER_ABORTED');
  t.equal(push.get('offset'), String(cut), 'the server says how many bytes it kept');
  await s.server.transfers.whenIdle();
  t.equal(s.server.transfers.liveListeners(), 0, 'no listener while nobody uploads');
  t.strictSame(readdirSync(path.join(s.dataDir, 'tmp')), [`upload-${attachment}.part`], 'only the resumable part is kept');

  const resumed = await rawUpload(t, a, sent.id, attachment, data);
  t.equal(resumed.offer.offset, cut, 'UPLOAD offers to continue at the byte where it stopped');
  t.match(resumed.verdict, { kind: 'ok' });
  t.equal(resumed.verdict?.kind === 'ok' && resumed.verdict.args.get('sha256'), sha256(data), 'the whole file checks out');
  await assertNothingLeft(t, s);
});

t.test('restart=1 discards the kept bytes and starts over', async (t) => {
  const s = await startServer(t);
  await s.member('aa');
  await s.member('bb');
  const a = await s.memberClient('aa');
  const data = noise(100_000);
  const sent = await sendDeclared(a, 'bb', [{ name: 'x.bin', data }]);
  const attachment = sent.attachments[0]!.id;
  const o = await offer(a, 'UPLOAD', { message: sent.id, attachment });
  const peer = await DataPeer.connect(t, o);
  peer.write(`${o.ticket}\n`);
  peer.end(data.subarray(0, 5000));
  await peer.closed;
  await s.server.transfers.whenIdle();
  const fresh = await offer(a, 'UPLOAD', { message: sent.id, attachment, restart: 1 });
  t.equal(fresh.offset, 0);
  await a.request('CANCEL', { id: sent.id });
  await assertNothingLeft(t, s);
});

t.test('with partialRetentionMs 0, a client that disconnects mid-stream leaves no temp file', async (t) => {
  const s = await startServer(t, { partialRetentionMs: 0 });
  await s.member('aa');
  await s.member('bb');
  const a = await s.memberClient('aa');
  const data = noise(500_000);
  const sent = await sendDeclared(a, 'bb', [{ name: 'x.bin', data }]);
  const failed = nextPush(a, 'TRANSFER_FAILED');
  const o = await offer(a, 'UPLOAD', { message: sent.id, attachment: sent.attachments[0]!.id });
  const peer = await DataPeer.connect(t, o);
  peer.write(`${o.ticket}\n`);
  await new Promise<void>((resolve) => peer.socket.write(data.subarray(0, 200_000), () => resolve()));
  peer.socket.resetAndDestroy(); // the client dies: RST, not a clean EOF
  t.match((await failed).toObject(), { code: 'TRANSFER_ABORTED', offset: '0' });
  await assertNothingLeft(t, s);
});

t.test('a stale partial upload is swept after partialRetentionMs', async (t) => {
  const s = await startServer(t, { partialRetentionMs: 100 });
  await s.member('aa');
  await s.member('bb');
  const a = await s.memberClient('aa');
  const data = noise(50_000);
  const sent = await sendDeclared(a, 'bb', [{ name: 'x.bin', data }]);
  const o = await offer(a, 'UPLOAD', { message: sent.id, attachment: sent.attachments[0]!.id });
  const peer = await DataPeer.connect(t, o);
  peer.write(`${o.ticket}\n`);
  peer.end(data.subarray(0, 1000));
  await peer.closed;
  await s.server.transfers.whenIdle();
  await s.server.transfers.sweep();
  t.equal(readdirSync(path.join(s.dataDir, 'tmp')).length, 1, 'kept while it may be resumed');
  await sleep(120); // the retention period has to pass: time, not an event
  await s.server.transfers.sweep();
  await assertNothingLeft(t, s);
  t.equal((await offer(a, 'UPLOAD', { message: sent.id, attachment: sent.attachments[0]!.id })).offset, 0, 'a later upload starts over');
  await a.request('CANCEL', { id: sent.id });
});

t.test('a message whose uploads never complete expires: nobody ever sees it, and its files and partials are removed', async (t) => {
  const s = await startServer(t, { uploadWindowMs: 400 });
  await s.member('aa');
  await s.member('bb');
  const a = await s.memberClient('aa');
  const b = await s.memberClient('bb');
  const popups = collectPushes(b, 'POPUP');
  const done = noise(3000, 1);
  const partial = noise(90_000, 2);
  const sent = await sendDeclared(a, 'bb', [{ name: 'done.bin', data: done }, { name: 'partial.bin', data: partial }]);
  await rawUpload(t, a, sent.id, sent.attachments[0]!.id, done);
  const o = await offer(a, 'UPLOAD', { message: sent.id, attachment: sent.attachments[1]!.id });
  const peer = await DataPeer.connect(t, o);
  peer.write(`${o.ticket}\n`);
  peer.end(partial.subarray(0, 10_000));
  await peer.closed;
  await s.server.transfers.whenIdle();
  t.equal(storedFiles(s.dataDir).length, 1);
  t.equal(readdirSync(path.join(s.dataDir, 'tmp')).length, 1);

  await sleep(Math.max(0, Date.parse(sent.args.get('uploadDeadline')!) - Date.now() + 20)); // the deadline has to pass
  const expired = nextPush(a, 'SEND_FAILED');
  await s.server.transfers.sweep();
  t.match((await expired).toObject(), { id: String(sent.id), state: 'expired' }, 'the sender hears it expired');
  const m = argsToMessage((await a.request('READ', { id: sent.id })).args);
  t.equal(m.state, 'expired', 'the outbox keeps it as expired');
  t.strictSame(storedFiles(s.dataDir), [], 'its uploaded file is removed');
  await assertNothingLeft(t, s);
  await t.rejects(a.request('UPLOAD', { message: sent.id, attachment: sent.attachments[1]!.id }), { code: 'MESSAGE_CLOSED' });
  t.strictSame((await b.request('INBOX')).items, [], 'the recipient never sees it');
  t.strictSame(popups, [], 'nor any popup');
});

t.test('a partial upload survives a server restart and resumes; a message that expired meanwhile is closed at start', async (t) => {
  const data = tempDir(t);
  const s = await startServer(t, {}, data);
  const { password } = await s.member('aa');
  await s.member('bb');
  const a = await s.memberClient('aa');
  const bytes = noise(300_000, 5);
  const sent = await sendDeclared(a, 'bb', [{ name: 'x.bin', data: bytes }]);
  const o = await offer(a, 'UPLOAD', { message: sent.id, attachment: sent.attachments[0]!.id });
  const peer = await DataPeer.connect(t, o);
  peer.write(`${o.ticket}\n`);
  peer.end(bytes.subarray(0, 123_456));
  await peer.closed;
  await s.server.stop();

  const again = await startServer(t, { uploadWindowMs: 300 }, data);
  const a2 = await again.client();
  await a2.login('aa', password);
  const r = await rawUpload(t, a2, sent.id, sent.attachments[0]!.id, bytes);
  t.equal(r.offer.offset, 123_456, 'the kept bytes are still there after the restart');
  t.match(r.verdict, { kind: 'ok' });
  await assertNothingLeft(t, again);

  const late = await sendDeclared(a2, 'bb', [{ name: 'late.bin', data: noise(10) }]);
  await again.server.stop();
  await sleep(Math.max(0, Date.parse(late.args.get('uploadDeadline')!) - Date.now() + 20)); // its deadline passes while the server is down
  const third = await startServer(t, {}, data);
  t.equal((await third.server.store.getMessage(late.id))!.state, 'expired', 'the start-up sweep expired it');
  t.equal((await third.server.store.getMessage(sent.id))!.state, 'sent');
});
