/**
 * Attachments with TLS (issue 7 item 4): with --tls-cert/--tls-key every shadow listener speaks
 * TLS with the control port's certificate, and clients verify it with the control connection's
 * trust. A CA and a server certificate are made with openssl for each test.
 */
import { once } from 'node:events';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import t, { type Test } from 'tap';
import { SiarClient } from '../../src/client/connection.js';
import { TransferError, declareFile, downloadAttachment, sendMessage, uploadFile } from '../../src/client/transfer.js';
import { SiarSession } from '../../src/client/session.js';
import type { ServerConfig } from '../../src/server/config.js';
import { createTransfers } from '../../src/client/tui/transfers.js';
import { LineReader, argsToMessage, decodeServerFrame, type ServerFrame } from '../../src/protocol/index.js';
import { siar } from '../helpers/cli.js';
import { credentialsFromMail, nextPush, startServer, tempDir, type TestServer } from '../helpers/siar.js';
import { makePki, type TestPki } from '../helpers/tls.js';
import {
  DataPeer, OWN_PASSWORD, assertNothingLeft, loginMember, noise, offer, sendDeclared, sha256, writeFile, type RawOffer,
} from '../transfer/helpers.js';

interface TlsSetup {
  s: TestServer;
  pki: TestPki;
  /** A client on the TLS control port, verified with the test CA. */
  connect(): Promise<SiarClient>;
  /** Registers, approves and logs in a member over TLS; its password is then OWN_PASSWORD. */
  member(username: string): Promise<SiarClient>;
  /** The admin, logged in over TLS. */
  admin: SiarClient;
}

async function tlsServer(t: Test, overrides: Partial<ServerConfig> = {}): Promise<TlsSetup> {
  const pki = makePki(t);
  const s = await startServer(t, { tls: { cert: pki.cert, key: pki.key }, ...overrides });
  const connect = async () => {
    const c = await SiarClient.connect({ host: '127.0.0.1', port: s.port, tls: { ca: pki.ca } });
    t.teardown(() => c.close());
    return c;
  };
  const admin = await connect();
  await admin.login('admin', s.adminPassword());
  const member = async (username: string) => {
    const anon = await connect();
    const reg = await anon.request('REGISTER', { institution: `Universitas ${username}`, contact: 'Kontak', email: `${username}@example.ac.id`, username });
    const approved = await admin.request('APPROVE', { id: reg.args.get('id')! });
    const mailed = await credentialsFromMail(s.server, s.dataDir, Number(approved.args.get('mailId')), username);
    const c = await connect();
    await loginMember(c, username, mailed);
    return c;
  };
  return { s, pki, connect, member, admin };
}

/** An upload the way a script would do it over TLS: connect, verify, ticket, bytes, EOF, verdict. */
async function tlsUpload(t: Test, o: RawOffer, ca: Buffer, data: Buffer): Promise<ServerFrame | null> {
  const socket = tls.connect({ host: o.host, port: o.port, ca });
  t.teardown(() => socket.destroy());
  await once(socket, 'secureConnect');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write(`${o.ticket}\n`);
  socket.end(data.subarray(o.offset));
  await once(socket, 'close');
  const [line] = new LineReader(1 << 20).push(Buffer.concat(chunks));
  return line?.ok ? decodeServerFrame(line.line) : null;
}

/** Waits (generously) until the server's log holds a record matching `test`. */
async function logged(s: TestServer, test: (r: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = s.logs.records.find(test);
    if (found) return found;
    if (Date.now() > deadline) throw new Error('the expected log record never came');
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('upload and download over TLS: the client library verifies the shadow listener with the control connection\'s CA', async (t) => {
  const { s, member } = await tlsServer(t);
  const sender = await member('unhas');
  const recipient = await member('ugm');
  const dir = tempDir(t);
  // Larger than the socket and TLS record buffers, plus an empty file.
  const files = [
    await declareFile(writeFile(dir, 'laporan tahunan.bin', noise(3 * 1024 * 1024 + 17, 7))),
    await declareFile(writeFile(dir, 'kosong.txt', '')),
  ];
  const sent = await sendMessage(sender, { to: ['ugm'], subject: 'Lewat TLS' }, files);
  t.equal(sent.state, 'sent', 'every upload committed over TLS');
  const out = tempDir(t);
  for (const a of sent.attachments) {
    const got = await downloadAttachment(recipient, { messageId: sent.id, attachmentId: a.id, dir: out });
    t.equal(sha256(readFileSync(got.path)), files.find((f) => f.name === a.name)!.sha256, `${a.name} comes back byte-identical`);
  }
  t.notOk(s.logs.records.some((r) => r.msg === 'transfer connection refused'), 'no data connection was refused');
  await assertNothingLeft(t, s);
});

t.test('a client that does not trust the certificate fails the transfer cleanly and the server keeps serving', async (t) => {
  // A listener whose client gave up waits for the right peer until its deadline: shortened here.
  const { s, pki, member, admin } = await tlsServer(t, { transferConnectTimeoutMs: 15_000 });
  const sender = await member('unhas');
  const recipient = await member('ugm');
  const dir = tempDir(t);
  const data = noise(200_000, 3);
  const file = writeFile(dir, 'x.bin', data);
  const sent = await sendDeclared(sender, 'ugm', [{ name: 'x.bin', data }]);
  const attachmentId = sent.attachments[0]!.id;

  // The system CAs do not know the test CA: the data connection is not verified.
  const started = Date.now();
  const err = await uploadFile(sender, { messageId: sent.id, attachmentId, path: file }, undefined, { tls: {} }).catch((e: unknown) => e);
  t.type(err, TransferError);
  t.equal((err as TransferError).code, 'TLS_UNVERIFIED', 'a stable code, not a retry loop');
  t.match((err as Error).message, /did not prove it is 127\.0\.0\.1/);
  t.ok(Date.now() - started < 30_000, 'no hang: the failure comes at the handshake');
  // (Node's client checks the certificate once the handshake is done, then hangs up before its ticket.)
  t.equal(readdirSync(path.join(s.dataDir, 'tmp')).length, 0, 'not a byte was stored');
  const waiting = (await admin.request('TRANSFERS')).items.map((i) => [i.get('direction'), i.get('phase')]);
  t.strictSame(waiting, [['upload', 'waiting']], 'the listener still waits for a peer that trusts it');

  // The same member with the right trust: the new UPLOAD replaces the waiting one, and works.
  const ok = await uploadFile(sender, { messageId: sent.id, attachmentId, path: file });
  t.equal(ok.sent, true);
  const expired = nextPush(recipient, 'TRANSFER_FAILED');
  const dl = await downloadAttachment(recipient, { messageId: sent.id, attachmentId, dir: tempDir(t) }, undefined, { tls: {} }).catch((e: unknown) => e);
  t.equal((dl as TransferError).code, 'TLS_UNVERIFIED', 'a download is verified the same way');
  const good = await downloadAttachment(recipient, { messageId: sent.id, attachmentId, dir: tempDir(t) }, undefined, { tls: { ca: pki.ca } });
  t.equal(sha256(readFileSync(good.path)), sha256(data));
  t.equal((await expired).get('code'), 'TRANSFER_TIMEOUT', 'the listener the untrusting client left behind closes at its deadline');
  await assertNothingLeft(t, s);
});

t.test('a plain-TCP peer, or a peer from another address, on a TLS shadow port is refused; the listener still serves the right peer', async (t) => {
  const { s, pki, member } = await tlsServer(t);
  const sender = await member('unhas');
  await member('ugm');
  const data = noise(100_000, 5);
  const sent = await sendDeclared(sender, 'ugm', [{ name: 'x.bin', data }]);
  const o = await offer(sender, 'UPLOAD', { message: sent.id, attachment: sent.attachments[0]!.id });

  // The right ticket, in clear text: the server only expects a TLS handshake and hangs up.
  const plain = await DataPeer.connect(t, o);
  plain.write(`${o.ticket}\n`);
  plain.end(data);
  t.strictSame(await plain.frames(), [], 'nothing comes back in clear text');
  await logged(s, (r) => r.msg === 'transfer connection refused' && r.reason === 'tls-handshake');

  // A TLS peer from another loopback address is refused before its handshake is read.
  const fromElsewhere = { host: o.host, port: o.port, ca: pki.ca, localAddress: '127.0.0.2' };
  const intruder = tls.connect(fromElsewhere);
  const intruderError = new Promise<Error>((resolve) => intruder.once('error', resolve));
  await new Promise((resolve) => intruder.once('close', resolve));
  t.match((await intruderError).message, /wrong version number|ECONNRESET|socket disconnected/i, 'it gets the refusal line in clear, not a handshake');
  t.notOk(intruder.authorized, 'the intruder never completes a handshake');
  await logged(s, (r) => r.msg === 'transfer connection refused' && r.reason === 'address');

  const verdict = await tlsUpload(t, o, pki.ca, data);
  t.match(verdict, { kind: 'ok' }, 'the right peer over TLS still gets in, with the same ticket');
  t.equal(verdict?.kind === 'ok' && verdict.args.get('sha256'), sha256(data));
  await assertNothingLeft(t, s);
});

t.test('the siar CLI sends and downloads attachments over TLS with --ca', async (t) => {
  const { s, pki, member } = await tlsServer(t);
  await member('unhas');
  await member('ugm');
  const dir = tempDir(t);
  const data = noise(1024 * 1024, 11);
  const file = writeFile(dir, 'undangan seminar.pdf', data);
  const env = (user: string) => ({ SIAR_SERVER: `127.0.0.1:${s.port}`, SIAR_USER: user, SIAR_PASSWORD: OWN_PASSWORD });
  const sent = await siar(['send', '--to', 'ugm', '--subject', 'Undangan', '--body', 'Lampiran', '--attach', file, '--ca', pki.caFile], env('unhas'));
  t.equal(sent.code, 0, sent.stderr);
  const id = sent.stdout.trim();
  t.match(id, /^\d+$/, 'prints the message id');
  const out = tempDir(t);
  const got = await siar(['download', id, '--to', out, '--ca', pki.caFile], env('ugm'));
  t.equal(got.code, 0, got.stderr);
  t.equal(sha256(readFileSync(path.join(out, 'undangan seminar.pdf'))), sha256(data), 'the file comes back byte-identical');
  const untrusted = await siar(['download', id, '--to', tempDir(t), '--tls'], env('ugm'));
  t.not(untrusted.code, 0, 'without the CA the CLI refuses the server');
  await assertNothingLeft(t, s);
});

t.test('the TUI\'s session and transfers work against a TLS server with a private CA', async (t) => {
  const { s, pki, member } = await tlsServer(t);
  await member('unhas');
  await member('ugm');
  const address = `127.0.0.1:${s.port}`;
  const open = async (username: string) => {
    const session = new SiarSession({ address, tls: { ca: pki.ca } });
    t.teardown(() => session.close());
    session.start();
    await session.waitFor((st) => st.status === 'connected', 30_000);
    await session.login(username, OWN_PASSWORD);
    return session;
  };
  const sender = await open('unhas');
  const recipient = await open('ugm');
  const dir = tempDir(t);
  const data = noise(700_000, 13);
  const file = writeFile(dir, 'foto kegiatan.jpg', data);
  const progress: number[] = [];
  const sent = await createTransfers(sender).send({ to: ['ugm'], subject: 'Dari TUI', body: 'lihat foto', files: [file] }, (_i, done) => progress.push(done));
  t.equal(progress.at(-1), data.length, 'the upload\'s progress reaches the whole file');
  const message = argsToMessage((await recipient.connection().request('READ', { id: sent.id })).args);
  const got = await createTransfers(recipient).download(message, message.attachments[0]!, tempDir(t), () => undefined);
  t.equal(sha256(readFileSync(got.path)), sha256(data), 'the download is byte-identical');
  await assertNothingLeft(t, s);
});
