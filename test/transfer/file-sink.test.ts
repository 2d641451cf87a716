/**
 * FileSink (the file an upload streams into): batched writes in order, periodic fdatasyncs that
 * stop with the transfer, backpressure, the short-batch timer, and errors — with no file
 * descriptor or timer left behind on any path.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync, symlinkSync, existsSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { FileSink } from '../../src/adapters/fs-content/file-sink.js';
import { noDevFull, requireCapability } from '../helpers/capability.js';
import { tempDir } from '../helpers/siar.js';

const KiB = 1024;

/** Open file descriptors and timers of this process: what a sink must give back. */
function resources(): { fds: number; timers: number } {
  return {
    fds: readdirSync('/proc/self/fd').length,
    timers: process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length,
  };
}

function chunks(count: number, size: number): Buffer[] {
  return Array.from({ length: count }, () => randomBytes(size));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('chunks land in order; periodic syncs run while writing and none is left running after finish', async (t) => {
  const before = resources();
  const file = path.join(tempDir(t), 'a.part');
  const data = chunks(64, 16 * KiB); // 1 MiB
  const sink = new FileSink(file, { append: false, batchBytes: 64 * KiB, syncEveryBytes: 128 * KiB });
  for (const c of data) {
    sink.write(c);
    await sleep(0); // let writes complete between chunks, as a socket's reads would
  }
  await sink.finish({ sync: true });
  t.ok(readFileSync(file).equals(Buffer.concat(data)), 'the file holds every byte, in order');
  t.equal(sink.written, 1024 * KiB);
  t.ok(sink.syncs >= 2, `fdatasync ran during the transfer (${sink.syncs} times)`);
  t.equal(sink.syncInFlight, false, 'no sync outlives finish()');
  t.strictSame(resources(), before, 'no file descriptor or timer left');
});

t.test('append extends a partial file (a resumed upload)', async (t) => {
  const file = path.join(tempDir(t), 'b.part');
  const [a, b] = chunks(2, 3000);
  const first = new FileSink(file, { append: false });
  first.write(a!);
  await first.finish({ sync: false });
  const second = new FileSink(file, { append: true });
  second.write(b!);
  await second.finish({ sync: true });
  t.ok(readFileSync(file).equals(Buffer.concat([a!, b!])));
});

t.test('a short batch reaches the disk after flushDelayMs, without waiting for more bytes or the end', async (t) => {
  const file = path.join(tempDir(t), 'c.part');
  const sink = new FileSink(file, { append: false, batchBytes: 1024 * KiB, flushDelayMs: 10 });
  sink.write(randomBytes(5000));
  const deadline = Date.now() + 5000;
  while (!(existsSync(file) && statSync(file).size === 5000) && Date.now() < deadline) await sleep(5);
  t.equal(statSync(file).size, 5000, 'written by the timer');
  await sink.finish({ sync: false });
});

t.test('write() asks for a pause past maxBufferedBytes and onDrain says when to go on', async (t) => {
  const file = path.join(tempDir(t), 'd.part');
  let drained = 0;
  const sink = new FileSink(file, { append: false, batchBytes: 64 * KiB, maxBufferedBytes: 128 * KiB, onDrain: () => drained++ });
  let accepted = 0;
  while (sink.write(randomBytes(32 * KiB))) accepted++;
  t.ok(accepted < 8, 'refused more once about 128 KiB were waiting');
  while (drained === 0) await sleep(5);
  t.ok(sink.buffered < 128 * KiB, 'onDrain came once the backlog was below the limit');
  await sink.finish({ sync: false });
  t.equal(statSync(file).size, (accepted + 1) * 32 * KiB, 'the refused chunk was still kept (write() takes it, then says stop)');
});

t.test('abandon() mid-transfer stops syncs and writes, drops the rest, and leaks nothing', async (t) => {
  const before = resources();
  const file = path.join(tempDir(t), 'e.part');
  const sink = new FileSink(file, { append: false, batchBytes: 64 * KiB, syncEveryBytes: 64 * KiB, flushDelayMs: 60_000 });
  for (const c of chunks(8, 64 * KiB)) sink.write(c);
  sink.write(randomBytes(100)); // a short batch: its timer is armed
  await sink.abandon();
  t.equal(sink.syncInFlight, false);
  t.equal(sink.write(randomBytes(10)), false, 'an abandoned sink takes nothing more');
  t.strictSame(resources(), before, 'the flush timer is cleared and the file closed');
});

t.test('a file that cannot be opened fails through onError and finish(), with nothing left open', async (t) => {
  const before = resources();
  const errors: Error[] = [];
  const sink = new FileSink(path.join(tempDir(t), 'no-such-dir', 'f.part'), { append: false, onError: (e) => errors.push(e) });
  sink.write(randomBytes(10));
  await t.rejects(sink.finish({ sync: true }), { code: 'ENOENT' });
  t.equal(errors.length, 1, 'onError once');
  t.strictSame(resources(), before);
});

t.test('ENOSPC from the kernel fails the sink (the file is /dev/full)', async (t) => {
  if (!requireCapability(t, '/dev/full', noDevFull())) return;
  const before = resources();
  const file = path.join(tempDir(t), 'g.part');
  symlinkSync('/dev/full', file);
  const errors: NodeJS.ErrnoException[] = [];
  const sink = new FileSink(file, { append: false, batchBytes: 4 * KiB, onError: (e) => errors.push(e) });
  sink.write(randomBytes(8 * KiB));
  await t.rejects(sink.finish({ sync: true }), { code: 'ENOSPC' });
  t.equal(errors[0]?.code, 'ENOSPC');
  t.equal(sink.write(randomBytes(10)), false, 'a failed sink takes nothing more');
  t.strictSame(resources(), before);
});
