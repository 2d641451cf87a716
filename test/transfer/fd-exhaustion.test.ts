/**
 * A transfer started when the server has no file descriptor left (a server at its connection cap
 * keeps descriptors for only 16 transfers, src/server/fd-limit.ts) is told TRANSFER_BUSY — "retry
 * shortly" — never INTERNAL: when the shadow listener cannot be opened (the UPLOAD or DOWNLOAD
 * reply; the server is a child process, so only it runs out), and when the upload's file cannot be
 * opened (receiveUpload in this process, its descriptors taken for a moment). Once descriptors are
 * free again the same uploads and downloads go through.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { closeSync, openSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { BENCH_PASSWORD } from '../../bench/lib/seed.js';
import { RemoteError, SiarClient } from '../../src/client/connection.js';
import { downloadAttachment, encodeDeclaration, uploadFile } from '../../src/client/transfer.js';
import { decodeAttachment, type AttachmentInfo } from '../../src/protocol/index.js';
import { receiveUpload } from '../../src/transfer/streams.js';
import { tempDir } from '../helpers/siar.js';

// The fd-limit test's server: two members, and IPC messages to take every free descriptor and give them back.
const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'server', 'fixtures', 'fd-limit-server.ts');

function ask(proc: ChildProcess, m: { type: string }, reply: string): Promise<{ count: number }> {
  return new Promise((resolve) => {
    const l = (x: { type: string; count: number }): void => {
      if (x.type !== reply) return;
      proc.off('message', l);
      resolve(x);
    };
    proc.on('message', l);
    proc.send(m);
  });
}


t.test('out of file descriptors: TRANSFER_BUSY for the listener and for the upload file, then it works again', async (t) => {
  const dataDir = path.join(tempDir(t), 'data');
  const proc = fork(FIXTURE, [], { env: { ...process.env, SIAR_TEST_DATA: dataDir }, execArgv: ['--import=tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  t.teardown(() => { proc.kill('SIGTERM'); });
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    proc.once('message', (m: { type: string; port: number }) => resolve(m));
    proc.once('exit', (code) => reject(new Error(`server exited (${code})`)));
  });
  const sender = await SiarClient.connect({ host: '127.0.0.1', port });
  t.teardown(() => sender.close());
  await sender.login('m00001', BENCH_PASSWORD, { popups: false });
  const recipient = await SiarClient.connect({ host: '127.0.0.1', port });
  t.teardown(() => recipient.close());
  await recipient.login('m00002', BENCH_PASSWORD, { popups: false });

  const bytes = randomBytes(200 * 1024);
  const file = path.join(tempDir(t), 'lampiran.bin');
  writeFileSync(file, bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const sent = await sender.request('SEND', { to: 'm00002', subject: 'fd', body: 'x', attach: encodeDeclaration({ name: 'lampiran.bin', size: bytes.length, sha256 }) });
  const attachment = sent.args.getAll('attachment').map(decodeAttachment).find((a): a is AttachmentInfo => a !== null)!;
  const messageId = Number(sent.args.get('id'));
  const ids = { message: messageId, attachment: attachment.id };

  // No descriptor at all: the shadow listener cannot be opened.
  t.ok((await ask(proc, { type: 'fill' }, 'filled')).count > 0, 'the server has no descriptor left');
  const refused = await sender.request('UPLOAD', ids).then(() => null, (err: unknown) => err);
  t.ok(refused instanceof RemoteError, 'UPLOAD is refused');
  t.match(refused, { code: 'TRANSFER_BUSY', message: /no file descriptor free/ }, 'with TRANSFER_BUSY, not INTERNAL');
  await ask(proc, { type: 'free' }, 'freed');

  // Descriptors are back: the same attachment uploads and downloads.
  const up = await uploadFile(sender, { messageId, attachmentId: attachment.id, path: file });
  t.match(up, { sha256, sent: true }, 'the upload goes through once descriptors are free');
  const down = await downloadAttachment(recipient, { messageId, attachmentId: attachment.id, dir: tempDir(t) });
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
      file, append: false, expected: 10, hash: createHash('sha256'), idleTimeoutMs: 5000,
    }).then(() => null, (err: unknown) => err);
  } finally {
    for (const fd of held) closeSync(fd);
  }
  t.ok(held.length > 0, `the process had no descriptor left (${held.length} taken)`);
  t.match(failure, { name: 'TransferFailure', code: 'TRANSFER_BUSY', message: /no file descriptor free/ });
});
