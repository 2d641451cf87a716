/**
 * A server at its connection cap under a low open-files limit (a child process started through sh
 * with `ulimit -n`): the extra client is told why, and the reserve really leaves descriptors for a
 * member's uploads and a backup. When the descriptors run out anyway (EMFILE), the server logs it,
 * keeps serving the clients it has, and accepts again once descriptors are free.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { BENCH_PASSWORD } from '../../bench/lib/seed.js';
import { SiarClient } from '../../src/client/connection.js';
import { declareFile, encodeDeclaration, uploadFile } from '../../src/client/transfer.js';
import { decodeAttachment, type AttachmentInfo } from '../../src/protocol/index.js';
import { connectionsAllowed } from '../../src/server/fd-limit.js';
import { tempDir } from '../helpers/siar.js';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'fd-limit-server.ts');
const LIMIT = 300;

type LogRecord = { level: number; msg: string; [k: string]: unknown };

class Child {
  readonly records: LogRecord[] = [];
  private waiters: (() => void)[] = [];
  constructor(readonly proc: ChildProcess) {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try { this.records.push(JSON.parse(line) as LogRecord); } catch { return; }
      for (const w of this.waiters.splice(0)) w();
    });
  }
  async logged(match: (r: LogRecord) => boolean, timeoutMs = 10_000): Promise<LogRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.records.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error('no such log line');
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 200); });
    }
  }
  ask<T>(m: { type: string }, reply: string): Promise<T> {
    const got = new Promise<T>((resolve) => {
      const l = (x: { type: string }): void => { if (x.type === reply) { this.proc.off('message', l); resolve(x as T); } };
      this.proc.on('message', l);
    });
    this.proc.send(m);
    return got;
  }
}

/** A raw connection from a given source address; resolves with the first line and whether it was cut off. */
function rawConnect(port: number, localAddress: string): Promise<{ socket: net.Socket; first: string | null }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    let buf = '';
    let done = false;
    const finish = (first: string | null): void => { if (!done) { done = true; resolve({ socket, first }); } };
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => { buf += d; const nl = buf.indexOf('\n'); if (nl >= 0) finish(buf.slice(0, nl)); });
    socket.on('error', () => finish(null));
    socket.on('close', () => finish(null));
  });
}

t.test('at the cap under a low open-files limit: clear refusal, uploads and a backup still work, EMFILE is logged', async (t) => {
  const dataDir = path.join(tempDir(t), 'data');
  const proc = fork(FIXTURE, [], {
    execPath: 'sh',
    execArgv: ['-c', `ulimit -n ${LIMIT} && exec "$0" "$@"`, process.execPath, '--import=tsx'],
    env: { ...process.env, SIAR_TEST_DATA: dataDir },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  t.teardown(() => { proc.kill('SIGTERM'); });
  const child = new Child(proc);
  const { port } = await new Promise<{ port: number }>((resolve, reject) => {
    proc.once('message', (m: { type: string; port: number }) => resolve(m));
    proc.once('exit', (code) => reject(new Error(`server exited (${code})`)));
  });
  const cap = connectionsAllowed(LIMIT, { maxTransfers: 256 });
  const limitLine = await child.logged((r) => r.msg === 'connection limit');
  t.match(limitLine, { maxConnections: cap, source: 'default', openFilesLimit: LIMIT }, `the cap follows the limit: ${cap} of ${LIMIT}`);

  const sender = await SiarClient.connect({ host: '127.0.0.1', port });
  t.teardown(() => sender.close());
  await sender.login('m00001', BENCH_PASSWORD, { popups: false });
  const admin = await SiarClient.connect({ host: '127.0.0.1', port });
  t.teardown(() => admin.close());
  await admin.login('admin', readFileSync(path.join(dataDir, 'admin-password'), 'utf8').trim());

  // Fill every other slot (anonymous connections, at most 64 per address: three addresses).
  const fillers: net.Socket[] = [];
  t.teardown(() => { for (const s of fillers) s.destroy(); });
  for (let i = 0; i < cap - 2; i++) {
    const { socket, first } = await rawConnect(port, `127.0.0.${2 + (i % 3)}`);
    fillers.push(socket);
    if (!first?.startsWith('*|HELLO')) t.fail(`filler ${i} got ${first}`);
  }
  const extra = await rawConnect(port, '127.0.0.5');
  extra.socket.destroy();
  t.match(extra.first, /^-\|ERR\|TOO_MANY_REQUESTS\|The server is full/, 'the extra client is told the server is full');
  await child.logged((r) => r.msg === 'connection refused: server full');

  // Full: 8 uploads at once (one member's most) and a backup with attachment copies still work.
  const dir = tempDir(t);
  const files = await Promise.all(Array.from({ length: 8 }, (_, i) => {
    const file = path.join(dir, `lampiran-${i}.bin`);
    writeFileSync(file, randomBytes(256 * 1024));
    return declareFile(file);
  }));
  const sent = await sender.request('SEND', { to: 'm00002', subject: 'at the cap', body: 'x', attach: files.map(encodeDeclaration) });
  const declared = sent.args.getAll('attachment').map(decodeAttachment).filter((a): a is AttachmentInfo => a !== null);
  const messageId = Number(sent.args.get('id'));
  const fdsInUse = (): number => readdirSync(`/proc/${proc.pid}/fd`).length;
  let peak = fdsInUse();
  const sampler = setInterval(() => { peak = Math.max(peak, fdsInUse()); }, 2);
  const [uploads, backup] = await Promise.all([
    Promise.all(files.map((f) => uploadFile(sender, { messageId, attachmentId: declared.find((d) => d.name === f.name)!.id, path: f.path }))),
    admin.request('BACKUP', { wait: 1, attachments: 'copy' }),
  ]);
  clearInterval(sampler);
  t.ok(peak < LIMIT, `descriptors in use at the cap during the uploads and backup: at most ${peak} of ${LIMIT}`);
  t.equal(uploads.length, 8);
  t.equal(uploads.filter((u) => u.sent).length, 1, 'all 8 uploaded at the cap; the last one sent the message');
  t.match(backup.args.toObject(), { status: 'done', integrity: 'ok', attachmentMode: 'copy' }, 'a backup at the cap succeeds');
  t.notOk(child.records.some((r) => r.level >= 50), 'no error logged at the cap');

  // EMFILE anyway: something else takes every descriptor. One slot is freed first, so the next
  // client would be accepted if the process could open a descriptor for it.
  fillers.pop()!.destroy();
  await new Promise((r) => setTimeout(r, 300));
  const filled = await child.ask<{ count: number }>({ type: 'fill' }, 'filled');
  t.ok(filled.count > 0, `the child took the ${filled.count} descriptors left`);
  const cutOff = await rawConnect(port, '127.0.0.5');
  t.equal(cutOff.first, null, 'with no descriptor left the OS-level accept cuts the client off');
  const emfile = await child.logged((r) => r.msg.startsWith('open-files limit reached'));
  t.match(emfile, { level: 50, code: 'EMFILE' }, 'and the server logs it');
  await sender.request('PING');
  t.pass('the clients it has are still served');
  t.equal(proc.exitCode, null, 'the server is still running');
  await child.ask({ type: 'free' }, 'freed');
  await child.logged((r) => r.msg === 'open-files available again');
  const back = await rawConnect(port, '127.0.0.5');
  back.socket.destroy();
  t.match(back.first, /^\*\|HELLO/, 'descriptors free again: a new client is accepted');
  proc.kill('SIGTERM');
  t.equal((await once(proc, 'exit'))[0], 0, 'and it stops cleanly');
});
