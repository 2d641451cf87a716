/**
 * A transfer started when the server has no file descriptor left (a server at its connection cap
 * keeps descriptors for only 16 transfers, src/server/fd-limit.ts) is told TRANSFER_BUSY — "retry
 * shortly" — never INTERNAL: when the shadow listener cannot be opened (the UPLOAD or DOWNLOAD
 * reply; the server is a child process, so only it runs out), and when the upload's file cannot be
 * opened (receiveUpload in this process, its descriptors taken for a moment; and a real server
 * whose descriptors are taken just as the data connection arrives, where the client waits before
 * it retries — the upload told TRANSFER_BUSY, the download whose socket brought nothing). Once descriptors are free again the same uploads and downloads go through.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { closeSync, openSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { BENCH_PASSWORD } from '../../bench/lib/seed.js';
import { RemoteError, SiarClient } from '../../src/client/connection.js';
import { downloadAttachment, encodeDeclaration, uploadFile } from '../../src/client/transfer.js';
import { decodeAttachment, type AttachmentInfo } from '../../src/protocol/index.js';
import { FileSink } from '../../src/adapters/fs-content/file-sink.js';
import { receiveUpload } from '../../src/transfer/streams.js';
import { tempDir } from '../helpers/siar.js';

// The fd-limit test's server: two members, and IPC messages to take every free descriptor and give them back.
const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'server', 'fixtures', 'fd-limit-server.ts');

type Reply = { type: string; count: number; code?: string };

/** The child's next message of type `reply` (listening from now on). */
function reply(proc: ChildProcess, type: string): Promise<Reply> {
  return new Promise((resolve) => {
    const l = (x: Reply): void => {
      if (x.type !== type) return;
      proc.off('message', l);
      resolve(x);
    };
    proc.on('message', l);
  });
}

function ask(proc: ChildProcess, m: { type: string }, type: string): Promise<Reply> {
  const answer = reply(proc, type);
  proc.send(m);
  return answer;
}

/**
 * The fixture server, m00001 (sender) and m00002 (recipient) logged in, and a message from one to
 * the other declaring a 200 KiB attachment, not yet uploaded.
 */
async function setUp(t: Test) {
  const dataDir = path.join(tempDir(t), 'data');
  const proc = fork(FIXTURE, [], { env: { ...process.env, SIAR_TEST_DATA: dataDir }, execArgv: ['--import=tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  t.teardown(() => { proc.kill('SIGTERM'); });
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    proc.once('message', (m: { type: string; port: number }) => resolve(m));
    proc.once('exit', (code) => reject(new Error(`server exited (${code})`)));
  });
  const member = async (username: string): Promise<SiarClient> => {
    const c = await SiarClient.connect({ host: '127.0.0.1', port });
    t.teardown(() => c.close());
    await c.login(username, BENCH_PASSWORD, { popups: false });
    return c;
  };
  const sender = await member('m00001');
  const recipient = await member('m00002');

  const bytes = randomBytes(200 * 1024);
  const file = path.join(tempDir(t), 'lampiran.bin');
  writeFileSync(file, bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const sent = await sender.request('SEND', { to: 'm00002', subject: 'fd', body: 'x', attach: encodeDeclaration({ name: 'lampiran.bin', size: bytes.length, sha256 }) });
  const attachment = sent.args.getAll('attachment').map(decodeAttachment).find((a): a is AttachmentInfo => a !== null)!;
  const messageId = Number(sent.args.get('id'));
  return { proc, sender, recipient, file, size: bytes.length, sha256, messageId, attachmentId: attachment.id };
}

/** Moments (performance.now()) at which `client` was pushed TRANSFER_FAILED with code TRANSFER_BUSY. */
function busyPushes(client: SiarClient): number[] {
  const at: number[] = [];
  client.on('push', (event, args) => {
    if (event === 'TRANSFER_FAILED' && args.get('code') === 'TRANSFER_BUSY') at.push(performance.now());
  });
  return at;
}

t.test('out of file descriptors: TRANSFER_BUSY for the listener and for the upload file, then it works again', async (t) => {
  const { proc, sender, recipient, file, sha256, messageId, attachmentId } = await setUp(t);
  const ids = { message: messageId, attachment: attachmentId };

  // No descriptor at all: the shadow listener cannot be opened.
  t.ok((await ask(proc, { type: 'fill' }, 'filled')).count > 0, 'the server has no descriptor left');
  const refused = await sender.request('UPLOAD', ids).then(() => null, (err: unknown) => err);
  t.ok(refused instanceof RemoteError, 'UPLOAD is refused');
  t.match(refused, { code: 'TRANSFER_BUSY', message: /no file descriptor free/ }, 'with TRANSFER_BUSY, not INTERNAL');
  await ask(proc, { type: 'free' }, 'freed');

  // Descriptors are back: the same attachment uploads and downloads.
  const up = await uploadFile(sender, { messageId, attachmentId, path: file });
  t.match(up, { sha256, sent: true }, 'the upload goes through once descriptors are free');
  const down = await downloadAttachment(recipient, { messageId, attachmentId, dir: tempDir(t) });
  t.equal(down.sha256, sha256, 'and so does the download');

  // DOWNLOAD with no descriptor left: TRANSFER_BUSY too.
  await ask(proc, { type: 'fill' }, 'filled');
  const busy = await recipient.request('DOWNLOAD', ids).then(() => null, (err: unknown) => err);
  t.match(busy, { code: 'TRANSFER_BUSY' }, 'DOWNLOAD without a descriptor: TRANSFER_BUSY');
  await ask(proc, { type: 'free' }, 'freed');

  proc.kill('SIGTERM');
  t.equal((await once(proc, 'exit'))[0], 0, 'the server stops cleanly');
});

t.test('receiveUpload: no descriptor for the upload file is TRANSFER_BUSY, not INTERNAL', async (t) => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const accepted = once(server, 'connection');
  const peer = net.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
  await once(peer, 'connect');
  const [socket] = (await accepted) as [net.Socket];
  t.teardown(() => { peer.destroy(); socket.destroy(); });
  const file = path.join(tempDir(t), 'upload.part');
  // Take every descriptor this process has left, start the upload (its file open fails), give them back.
  const held: number[] = [];
  let failure: unknown;
  try {
    try {
      for (;;) held.push(openSync('/dev/null', 'r'));
    } catch { /* EMFILE */ }
    failure = await receiveUpload(socket, Buffer.alloc(0), {
      sink: (handlers) => new FileSink(file, { append: false, ...handlers }), expected: 10, hash: createHash('sha256'), idleTimeoutMs: 5000,
    }).then(() => null, (err: unknown) => err);
  } finally {
    for (const fd of held) closeSync(fd);
  }
  t.ok(held.length > 0, `the process had no descriptor left (${held.length} taken)`);
  t.match(failure, { name: 'TransferFailure', code: 'TRANSFER_BUSY', message: /no file descriptor free/ });
});

t.test('TRANSFER_BUSY as the verdict on the data connection: the upload waits before its retry, then completes', async (t) => {
  const { proc, sender, recipient, file, size, sha256, messageId, attachmentId } = await setUp(t);
  // The server pushes TRANSFER_FAILED just before it writes the verdict; every attempt of
  // uploadFile starts with a progress report at done=0 (the server kept none of the file).
  const busyAt = busyPushes(sender);
  const attempts: number[] = [];
  await ask(proc, { type: 'busy-next' }, 'armed');
  const busy = reply(proc, 'busy');
  const up = await uploadFile(sender, { messageId, attachmentId, path: file }, (p) => {
    if (p.done === 0) attempts.push(performance.now());
  });
  t.match(up, { size, sha256, sent: true }, 'the upload completes');
  const held = await busy;
  t.match(held, { code: 'TRANSFER_BUSY' }, `the data connection found no descriptor for the file (${held.count} taken) and was told TRANSFER_BUSY`);
  t.equal(busyAt.length, 1, 'the client heard TRANSFER_BUSY once');
  t.equal(attempts.length, 2, 'and tried again');
  // BUSY_DELAYS_MS[0] in src/client/transfer.ts is 250 ms; a timer set late in a busy turn of the
  // event loop fires that much early, so the bound leaves room. Without the pause the retry
  // follows within a round trip (2–20 ms here).
  const waited = attempts[1]! - busyAt[0]!;
  t.ok(waited >= 200, `the retry waited ${waited.toFixed(0)} ms after TRANSFER_BUSY (the pause is 250)`);

  // A download's data connection has no verdict line (the bytes, then EOF): the server closes it
  // at once, and a data connection that brought nothing is retried after the same pause.
  const recipientBusy = busyPushes(recipient);
  const downAttempts: number[] = [];
  await ask(proc, { type: 'busy-next' }, 'armed');
  // The fixture reports the failure (and has freed the descriptors) just before the server closes
  // the data connection: the client's retry is timed from then.
  const downBusy = reply(proc, 'busy').then((r) => ({ ...r, at: performance.now() }));
  const down = await downloadAttachment(recipient, { messageId, attachmentId, dir: tempDir(t) }, (p) => {
    if (p.done === 0) downAttempts.push(performance.now());
  });
  t.match(down, { size, sha256 }, 'the download completes');
  const failed = await downBusy;
  t.match(failed, { code: 'TRANSFER_BUSY' }, 'after its data connection found no descriptor for the file');
  t.equal(recipientBusy.length, 1, 'the recipient was told TRANSFER_BUSY on its control connection');
  t.equal(downAttempts.length, 2, 'and the download tried again');
  // The report and the close leave the server together, so the client may start its 250 ms pause a
  // little before the report lands; without the pause the retry follows within a few ms.
  const downWaited = downAttempts[1]! - failed.at;
  t.ok(downWaited >= 200, `the download's retry waited ${downWaited.toFixed(0)} ms after the empty connection (the pause is 250)`);
});
