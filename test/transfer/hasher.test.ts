/**
 * UploadHash (an upload's sha256 on the hash thread): the digest equals node:crypto's over the
 * same bytes in the same order, whatever the chunking, with a resumed upload's file prefix and
 * with many hashes interleaved; update() asks for a pause and onDrain ends it; a failure rejects
 * digest() with the reason; the thread ends with its last user.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { UploadHash, acquireHashThread } from '../../src/transfer/hasher.js';
import { tempDir } from '../helpers/siar.js';

const KiB = 1024;
const threads = (): number => readdirSync('/proc/self/task').length;

function pieces(sizes: number[]): Buffer[] {
  return sizes.map((n) => randomBytes(n));
}

function expected(...parts: Buffer[][]): string {
  const h = createHash('sha256');
  for (const list of parts) for (const b of list) h.update(b);
  return h.digest('hex');
}

t.test('the digest is sha256 of every byte in order, whatever the chunk sizes', async (t) => {
  const release = acquireHashThread();
  t.teardown(release);
  t.equal(await new UploadHash().digest(), expected([]), 'no bytes at all');
  const data = pieces([1, 7, 64 * KiB, 300 * KiB, 5, 256 * KiB - 1, 1, 2 * 1024 * KiB, 3]);
  const h = new UploadHash();
  for (const b of data) h.update(b);
  t.equal(await h.digest(), expected(data));
});

t.test('a resumed upload: the file prefix first, then the streamed bytes', async (t) => {
  const release = acquireHashThread();
  t.teardown(release);
  const file = path.join(tempDir(t), 'partial');
  const prefix = randomBytes(1500 * KiB);
  writeFileSync(file, Buffer.concat([prefix, randomBytes(999)])); // bytes past `length` are not hashed
  const rest = pieces([100, 70 * KiB, 1 * KiB]);
  const h = new UploadHash();
  h.updateFromFile(file, prefix.length);
  for (const b of rest) h.update(b);
  t.equal(await h.digest(), expected([prefix], rest));
});

t.test('many hashes interleaved each see their own bytes in order', async (t) => {
  const release = acquireHashThread();
  t.teardown(release);
  const n = 20;
  const data = Array.from({ length: n }, (_, i) => pieces(Array.from({ length: 30 }, (_, j) => 1 + ((i * 7919 + j * 104729) % (90 * KiB)))));
  const hashes = data.map(() => new UploadHash({ batchBytes: 64 * KiB }));
  for (let j = 0; j < 30; j++) for (let i = 0; i < n; i++) hashes[i]!.update(data[i]![j]!);
  const digests = await Promise.all(hashes.map((h) => h.digest()));
  t.strictSame(digests, data.map((d) => expected(d)));
});

t.test('update() asks for a pause past maxPendingBytes; onDrain says when to go on', async (t) => {
  const release = acquireHashThread();
  t.teardown(release);
  const h = new UploadHash({ batchBytes: 64 * KiB, maxPendingBytes: 128 * KiB });
  const data: Buffer[] = [];
  let drains = 0;
  h.onDrain = () => { drains++; };
  let accepted = 0;
  for (;;) {
    const b = randomBytes(32 * KiB);
    data.push(b);
    if (!h.update(b)) break;
    accepted++;
  }
  t.ok(accepted < 8, `refused more once about 128 KiB were waiting (${accepted} accepted)`);
  while (drains === 0) await new Promise((r) => setTimeout(r, 5));
  t.ok(h.pending < 128 * KiB, 'onDrain came once the backlog was below the limit');
  t.equal(await h.digest(), expected(data), 'the refused chunk was still taken');
});

t.test('a prefix file that cannot be read rejects digest() with the reason; other hashes go on', async (t) => {
  const release = acquireHashThread();
  t.teardown(release);
  const bad = new UploadHash();
  bad.updateFromFile(path.join(tempDir(t), 'missing'), 10);
  bad.update(randomBytes(10));
  const good = new UploadHash();
  const data = pieces([1000]);
  good.update(data[0]!);
  await t.rejects(bad.digest(), /Hashing failed: .*ENOENT/);
  t.equal(await good.digest(), expected(data));
});

t.test('the thread ends when its last user lets go, and abandoned hashes leave nothing behind', async (t) => {
  const before = threads();
  const first = acquireHashThread();
  const second = acquireHashThread();
  const h = new UploadHash();
  h.update(randomBytes(300 * KiB));
  const dropped = new UploadHash();
  dropped.update(randomBytes(300 * KiB));
  dropped.abandon();
  await t.rejects(dropped.digest(), /abandoned/);
  await h.digest();
  t.ok(threads() > before, 'the thread runs while it has users');
  await first();
  t.ok(threads() > before, 'one user left: still running');
  await second();
  t.equal(threads(), before, 'no thread left once the last user let go');
  const again = acquireHashThread();
  const data = pieces([5000]);
  const h2 = new UploadHash();
  h2.update(data[0]!);
  t.equal(await h2.digest(), expected(data), 'a new user starts a new thread');
  await again();
  t.equal(threads(), before);
});
