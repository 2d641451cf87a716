/** Shadow listeners under attack and under load: tickets, addresses, deadlines, limits. */
import { once } from 'node:events';
import net from 'node:net';
import t, { type Test } from 'tap';
import { nextPush, startServer } from '../helpers/siar.js';
import { DataPeer, assertNothingLeft, noise, offer, rawUpload, sendDeclared } from '../transfer/helpers.js';

async function twoMembers(t: Test, overrides = {}) {
  const s = await startServer(t, overrides);
  await s.member('aa');
  await s.member('bb');
  const a = await s.memberClient('aa');
  return { s, a };
}

t.test('a wrong ticket is refused and audited, and the listener still takes the right one', async (t) => {
  const { s, a } = await twoMembers(t);
  const data = noise(5000);
  const sent = await sendDeclared(a, 'bb', [{ name: 'x.bin', data }]);
  const o = await offer(a, 'UPLOAD', { message: sent.id, attachment: sent.attachments[0]!.id });
  const thief = await DataPeer.connect(t, o);
  thief.write(`${'A'.repeat(43)}\n`);
  thief.end(data);
  const [refusal] = await thief.frames();
  t.match(refusal, { kind: 'err', code: 'BAD_TICKET' }, 'the wrong ticket hears BAD_TICKET');
  t.equal(s.server.transfers.liveListeners(), 1, 'the listener keeps waiting');

  const right = await DataPeer.connect(t, o);
  right.write(`${o.ticket}\n`);
  right.end(data);
  t.match((await right.frames())[0], { kind: 'ok' }, 'the right peer uploads');
  const audit = await s.server.store.listAudit({ kind: 'transfer_refused' }, { limit: 10 });
  t.match(audit, [{ kind: 'transfer_refused', subject: 'aa', address: '127.0.0.1', detail: { reason: 'ticket', transfer: o.transfer } }]);
  await assertNothingLeft(t, s);
});

t.test('the right ticket from another address is refused unread and audited, and the listener keeps waiting', async (t) => {
  const { s, a } = await twoMembers(t);
  const data = noise(5000);
  const sent = await sendDeclared(a, 'bb', [{ name: 'x.bin', data }]);
  const o = await offer(a, 'UPLOAD', { message: sent.id, attachment: sent.attachments[0]!.id });
  // The control connection is on 127.0.0.1; this peer connects from 127.0.0.2 with the stolen ticket.
  const thief = await DataPeer.connect(t, o, '127.0.0.2');
  thief.write(`${o.ticket}\n`);
  thief.write(data);
  await thief.closed;
  t.equal(s.server.transfers.liveListeners(), 1, 'refused, and the listener keeps waiting');
  const audit = await s.server.store.listAudit({ kind: 'transfer_refused' }, { limit: 10 });
  t.match(audit, [{ address: '127.0.0.2', detail: { reason: 'address' } }], 'the attempt is audited with its address');

  const right = await DataPeer.connect(t, o);
  right.write(`${o.ticket}\n`);
  right.end(data);
  t.match((await right.frames())[0], { kind: 'ok' }, 'the ticket still works from the right address: it was never read');
  await assertNothingLeft(t, s);
});

t.test('a second connection after the first is refused: the listener stopped listening', async (t) => {
  const { s, a } = await twoMembers(t);
  const data = noise(1000);
  const sent = await sendDeclared(a, 'bb', [{ name: 'x.bin', data }]);
  const o = await offer(a, 'UPLOAD', { message: sent.id, attachment: sent.attachments[0]!.id });
  const first = await DataPeer.connect(t, o);
  first.write(`${o.ticket}\n`);
  first.write(data.subarray(0, 10));
  await new Promise<void>((resolve) => {
    // Wait (on events) until the server has accepted the peer: the listener's port then refuses.
    const retry = (): void => {
      const second = net.connect({ host: o.host, port: o.port });
      second.once('error', (err: NodeJS.ErrnoException) => {
        t.equal(err.code, 'ECONNREFUSED', 'a second connection finds no listener');
        resolve();
      });
      second.once('connect', () => {
        // Accepted before the first peer's ticket was read: dropped by maxConnections or refused; try again.
        second.once('close', retry);
      });
    };
    retry();
  });
  first.end(data.subarray(10));
  t.match((await first.frames())[0], { kind: 'ok' }, 'the first upload is unaffected');
  await assertNothingLeft(t, s);
});

t.test('a listener nobody connects to closes at its deadline and the sender hears TRANSFER_TIMEOUT', async (t) => {
  const { s, a } = await twoMembers(t, { transferConnectTimeoutMs: 200 });
  const sent = await sendDeclared(a, 'bb', [{ name: 'x.bin', data: noise(10) }]);
  const failed = nextPush(a, 'TRANSFER_FAILED');
  const o = await offer(a, 'UPLOAD', { message: sent.id, attachment: sent.attachments[0]!.id });
  t.match((await failed).toObject(), { transfer: o.transfer, code: 'TRANSFER_TIMEOUT', direction: 'upload' });
  await assertNothingLeft(t, s);
  const late = net.connect({ host: o.host, port: o.port });
  const [err] = (await once(late, 'error')) as [NodeJS.ErrnoException];
  t.equal(err.code, 'ECONNREFUSED', 'its port is closed');
});

t.test('an upload that stalls is cut after the idle timeout, and leaves nothing when partials are not kept', async (t) => {
  const { s, a } = await twoMembers(t, { transferIdleTimeoutMs: 200, partialRetentionMs: 0 });
  const data = noise(50_000);
  const sent = await sendDeclared(a, 'bb', [{ name: 'x.bin', data }]);
  const failed = nextPush(a, 'TRANSFER_FAILED');
  const o = await offer(a, 'UPLOAD', { message: sent.id, attachment: sent.attachments[0]!.id });
  const peer = await DataPeer.connect(t, o);
  peer.write(`${o.ticket}\n`);
  peer.write(data.subarray(0, 20_000)); // …and then nothing
  const [verdict] = await peer.frames();
  t.match(verdict, { kind: 'err', code: 'TRANSFER_TIMEOUT' }, 'the data socket is told why');
  t.match((await failed).toObject(), { code: 'TRANSFER_TIMEOUT', offset: '0' }, 'so is the control connection');
  await assertNothingLeft(t, s);
});

t.test('more bytes than declared fail with SIZE_MISMATCH and nothing is kept', async (t) => {
  const { s, a } = await twoMembers(t);
  const data = noise(4000);
  const sent = await sendDeclared(a, 'bb', [{ name: 'x.bin', data }]);
  const r = await rawUpload(t, a, sent.id, sent.attachments[0]!.id, Buffer.concat([data, Buffer.from('extra')]));
  t.match(r.verdict, { kind: 'err', code: 'SIZE_MISMATCH' });
  await assertNothingLeft(t, s);
  const retry = await rawUpload(t, a, sent.id, sent.attachments[0]!.id, data);
  t.equal(retry.offer.offset, 0, 'a new upload starts from 0');
  t.match(retry.verdict, { kind: 'ok' });
});

t.test('bytes that do not match the declared sha256 fail with CHECKSUM_MISMATCH and nothing is kept', async (t) => {
  const { s, a } = await twoMembers(t);
  const data = noise(4000);
  const sent = await sendDeclared(a, 'bb', [{ name: 'x.bin', data }]);
  const forged = Buffer.from(data);
  forged[1234] = forged[1234]! ^ 0xff;
  const r = await rawUpload(t, a, sent.id, sent.attachments[0]!.id, forged);
  t.match(r.verdict, { kind: 'err', code: 'CHECKSUM_MISMATCH' });
  await assertNothingLeft(t, s);
  t.equal(argsState(await a.request('OUTBOX')), 'sending', 'the message still waits for the right bytes');
});

t.test('closing the control connection ends its transfers', async (t) => {
  const { s, a } = await twoMembers(t);
  const sent = await sendDeclared(a, 'bb', [{ name: 'x.bin', data: noise(10) }]);
  await offer(a, 'UPLOAD', { message: sent.id, attachment: sent.attachments[0]!.id });
  t.equal(s.server.transfers.liveListeners(), 1);
  await a.close();
  await assertNothingLeft(t, s);
});

t.test('when the port range is exhausted, UPLOAD answers TRANSFER_BUSY at once and works again when a port is free', async (t) => {
  // A one-port range: a port the OS just handed out and gave back.
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const { s, a } = await twoMembers(t, { transferPorts: { from: port, to: port } });
  const one = await sendDeclared(a, 'bb', [{ name: 'x.bin', data: noise(10) }]);
  const two = await sendDeclared(a, 'bb', [{ name: 'y.bin', data: noise(10, 2) }]);
  const o = await offer(a, 'UPLOAD', { message: one.id, attachment: one.attachments[0]!.id });
  t.equal(o.port, port, 'the listener is on the range\'s port');
  await t.rejects(a.request('UPLOAD', { message: two.id, attachment: two.attachments[0]!.id }), { code: 'TRANSFER_BUSY', message: /retry/i });
  await a.request('CANCEL', { id: one.id });
  await s.server.transfers.whenIdle();
  const again = await rawUpload(t, a, two.id, two.attachments[0]!.id, noise(10, 2));
  t.match(again.verdict, { kind: 'ok' }, 'with the port free again the upload goes through');
  await assertNothingLeft(t, s);
});

t.test('a member may run only maxTransfersPerMember transfers at once; the server only maxTransfers', async (t) => {
  const { s, a } = await twoMembers(t, { maxTransfersPerMember: 2, maxTransfers: 3 });
  const b = await s.memberClient('bb');
  const files = [0, 1, 2].map((i) => ({ name: `f${i}.bin`, data: noise(10, i + 1) }));
  const sent = await sendDeclared(a, 'bb', files);
  await offer(a, 'UPLOAD', { message: sent.id, attachment: sent.attachments[0]!.id });
  await offer(a, 'UPLOAD', { message: sent.id, attachment: sent.attachments[1]!.id });
  await t.rejects(a.request('UPLOAD', { message: sent.id, attachment: sent.attachments[2]!.id }), { code: 'TRANSFER_BUSY' }, 'per member');
  const other = await sendDeclared(b, 'aa', [{ name: 'g.bin', data: noise(10) }, { name: 'h.bin', data: noise(10, 9) }]);
  await offer(b, 'UPLOAD', { message: other.id, attachment: other.attachments[0]!.id });
  await t.rejects(b.request('UPLOAD', { message: other.id, attachment: other.attachments[1]!.id }), { code: 'TRANSFER_BUSY' }, 'in total');
  t.equal(s.server.transfers.liveListeners(), 3);
  await a.request('CANCEL', { id: sent.id });
  await b.request('CANCEL', { id: other.id });
  await assertNothingLeft(t, s);
});

t.test('a new UPLOAD of the same attachment replaces a stale one', async (t) => {
  const { s, a } = await twoMembers(t);
  const data = noise(3000);
  const sent = await sendDeclared(a, 'bb', [{ name: 'x.bin', data }]);
  const failed = nextPush(a, 'TRANSFER_FAILED');
  const stale = await offer(a, 'UPLOAD', { message: sent.id, attachment: sent.attachments[0]!.id });
  const r = await rawUpload(t, a, sent.id, sent.attachments[0]!.id, data);
  t.match((await failed).toObject(), { transfer: stale.transfer, code: 'TRANSFER_ABORTED' }, 'the stale listener is closed');
  t.match(r.verdict, { kind: 'ok' });
  await assertNothingLeft(t, s);
});

function argsState(reply: { items: Array<{ get(k: string): string | undefined }> }): string | undefined {
  return reply.items[0]?.get('state');
}
