/**
 * Attachment-content contract (src/core/ports/content.ts), run against the files adapter and the
 * PostgreSQL one: resume offsets (also through another instance, as another node), the sha256
 * verified at commit, concurrent uploads, reads from an offset, release, the sweep's partials and
 * orphans, space used, and a 64 MiB upload and download streamed within a memory bound.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';
import t from 'tap';
import { ContentMismatch, type AttachmentContent, type UploadHandle } from '../../../src/core/ports/content.js';
import { PgContent } from '../../../src/adapters/postgres/content.js';
import { forEachContentAdapter } from './adapters.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const nobody = async (): Promise<boolean> => false;
const everybody = async (): Promise<boolean> => true;

/** Writes `bytes` through the upload's sink in `piece`-sized writes, with backpressure; feeds its hash. */
async function write(upload: UploadHandle, bytes: Buffer, opts: { piece?: number; sync?: boolean } = {}): Promise<void> {
  const piece = opts.piece ?? 16 * 1024;
  let drained: (() => void) | null = null;
  let failed: Error | null = null;
  const sink = upload.open({ onDrain: () => drained?.(), onError: (err) => { failed = err; drained?.(); } });
  for (let at = 0; at < bytes.length && !failed; at += piece) {
    const chunk = Buffer.from(bytes.subarray(at, at + piece));
    upload.hash.update(chunk);
    if (!sink.write(chunk)) await new Promise<void>((resolve) => { drained = resolve; });
  }
  if (failed) throw failed;
  await sink.finish({ sync: opts.sync ?? true });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Uploads and commits `bytes` as attachment `id`; returns the storage key. */
async function store(content: AttachmentContent, id: number, bytes: Buffer): Promise<string> {
  const upload = await content.beginUpload(id, { restart: false, maxSize: bytes.length });
  await write(upload, bytes.subarray(upload.offset));
  const key = await content.commit(upload, sha(bytes), async (k) => k, nobody);
  return key!;
}

forEachContentAdapter(t, (t, adapter) => {
  t.test('an upload commits under its sha256 and reads back whole and from any offset', async (t) => {
    const content = await adapter.open(t);
    const bytes = randomBytes(300_000);
    const upload = await content.beginUpload(1, { restart: false, maxSize: bytes.length });
    t.equal(upload.offset, 0, 'a new upload starts at 0');
    await write(upload, bytes);
    t.equal(await content.partialSize(1), bytes.length, 'the finished bytes are held before the commit');
    let seen = '';
    const key = await content.commit(upload, sha(bytes), async (k) => { seen = k; return k; }, nobody);
    t.equal(key, seen, 'commit runs the store step with the storage key');
    t.equal(await content.partialSize(1), 0, 'no partial is left');
    t.ok((await readAll(content.openRead(key!, 0))).equals(bytes), 'the whole content reads back');
    for (const offset of [1, 65_535, 65_536, 65_537, 200_000, bytes.length - 1, bytes.length]) {
      t.ok((await readAll(content.openRead(key!, offset))).equals(bytes.subarray(offset)), `from offset ${offset}`);
    }
    t.strictSame(await content.spaceUsed(), { committed: bytes.length, partial: 0 });
    t.strictSame(await content.listPartials(), []);
  });

  t.test('an interrupted upload resumes at its offset, also through another instance (another node)', async (t) => {
    const content = await adapter.open(t);
    const bytes = randomBytes(250_001);
    const first = await content.beginUpload(7, { restart: false, maxSize: bytes.length });
    await write(first, bytes.subarray(0, 100_003), { sync: false });
    t.equal(await content.partialSize(7), 100_003, 'what arrived is kept');
    const [partial] = await content.listPartials();
    t.match(partial, { attachmentId: 7, size: 100_003 }, 'the sweep sees the partial');
    t.ok(Date.now() - partial!.mtimeMs < 60_000, 'with when it last grew');

    const other = await adapter.reopen(t, content);
    const again = await other.beginUpload(7, { restart: false, maxSize: bytes.length });
    t.equal(again.offset, 100_003, 'the other instance offers the kept bytes as the offset');
    await write(again, bytes.subarray(again.offset));
    const key = await other.commit(again, sha(bytes), async (k) => k, nobody);
    t.ok((await readAll(content.openRead(key!, 0))).equals(bytes), 'the resumed content is whole (the hash was primed with the kept bytes)');

    const third = await content.beginUpload(8, { restart: false, maxSize: 10 });
    await write(third, Buffer.alloc(10, 1), { sync: false });
    t.equal((await content.beginUpload(8, { restart: true, maxSize: 10 })).offset, 0, 'restart drops the kept bytes');
    await write(await content.beginUpload(9, { restart: false, maxSize: 50 }), Buffer.alloc(50, 2));
    t.equal((await content.beginUpload(9, { restart: false, maxSize: 20 })).offset, 0, 'kept bytes beyond the declared size are dropped');
  });

  t.test('bytes that do not hash to the declared sha256 are refused and not kept', async (t) => {
    const content = await adapter.open(t);
    const bytes = randomBytes(70_000);
    const upload = await content.beginUpload(3, { restart: false, maxSize: bytes.length });
    await write(upload, bytes);
    let called = false;
    const wrong = sha(Buffer.from('something else'));
    await t.rejects(content.commit(upload, wrong, async () => { called = true; return 1; }, nobody), ContentMismatch);
    t.notOk(called, 'the store step never runs');
    t.equal(await content.partialSize(3), 0, 'the partial is gone');
    t.strictSame(await content.spaceUsed(), { committed: 0, partial: 0 });
  });

  t.test('concurrent uploads stay apart; the same content is stored once and released when nothing refers to it', async (t) => {
    const content = await adapter.open(t);
    const files = Array.from({ length: 6 }, (_, i) => randomBytes(90_000 + i * 7_777));
    const keys = await Promise.all(files.map((bytes, i) => store(content, 100 + i, bytes)));
    for (const [i, key] of keys.entries()) t.ok((await readAll(content.openRead(key, 0))).equals(files[i]!), `upload ${i} reads back`);

    const shared = randomBytes(80_000);
    const [a, b] = await Promise.all([store(content, 200, shared), store(content, 201, shared)]);
    t.equal(a, b, 'two attachments with the same bytes share one storage key');
    const used = await content.spaceUsed();
    t.equal(used.committed, files.reduce((n, f) => n + f.length, 0) + shared.length, 'and one copy');
    t.equal(used.partial, 0);

    t.equal(await content.release(sha(shared), everybody), false, 'still referred to: kept');
    t.ok((await readAll(content.openRead(a, 1000))).equals(shared.subarray(1000)));
    t.equal(await content.release(sha(shared), nobody), true, 'referred to by nothing: removed');
    await t.rejects(readAll(content.openRead(a, 0)), { code: 'ENOENT' }, 'reading removed content fails as missing');
  });

  t.test('a commit the store declines leaves nothing; the start-up sweep removes content nothing refers to', async (t) => {
    const content = await adapter.open(t);
    const bytes = randomBytes(40_000);
    const upload = await content.beginUpload(4, { restart: false, maxSize: bytes.length });
    await write(upload, bytes);
    t.equal(await content.commit(upload, sha(bytes), async () => null, nobody), null);
    t.strictSame(await content.spaceUsed(), { committed: 0, partial: 0 }, 'declined: removed');

    const kept = randomBytes(10_000);
    const orphan = randomBytes(20_000);
    await store(content, 5, kept);
    await store(content, 6, orphan);
    await write(await content.beginUpload(10, { restart: false, maxSize: 100 }), Buffer.alloc(30, 3), { sync: false });
    const removed = await content.sweepOrphans(async (s) => s === sha(kept));
    t.equal(removed, 1, 'one orphan removed');
    t.strictSame(await content.spaceUsed(), { committed: kept.length, partial: 30 }, 'the referred content and the partial stay');
    await content.removePartial(10);
    t.strictSame(await content.listPartials(), [], 'removePartial removes it');
  });

  t.test('a 64 MiB upload and download stream within a memory bound', async (t) => {
    const base = await adapter.open(t);
    // The PostgreSQL adapter with its real chunk size (1 MiB), on the same database.
    const content = base instanceof PgContent ? await PgContent.open(base.url) : base;
    if (content !== base) t.teardown(() => content.close());
    const size = 64 * 1024 * 1024;
    const block = randomBytes(1024 * 1024);
    const hash = createHash('sha256');
    for (let i = 0; i < 64; i++) hash.update(block);
    const digest = hash.digest('hex');
    const gc = exposeGc();
    gc();
    const baseline = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const sample = (): void => {
      gc();
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - baseline);
    };

    const upload = await content.beginUpload(64, { restart: false, maxSize: size });
    let drained: (() => void) | null = null;
    const sink = upload.open({ onDrain: () => drained?.(), onError: (err) => t.error(err) });
    const piece = 64 * 1024;
    let maxBuffered = 0;
    for (let at = 0; at < size; at += piece) {
      // A fresh buffer per write, as a socket gives: the sink keeps them by reference.
      const chunk = Buffer.from(block.subarray(at % block.length, (at % block.length) + piece));
      upload.hash.update(chunk);
      if (!sink.write(chunk)) await new Promise<void>((resolve) => { drained = resolve; });
      maxBuffered = Math.max(maxBuffered, sink.buffered);
      if (at % (4 * 1024 * 1024) === 0) sample();
    }
    await sink.finish({ sync: true });
    const key = (await content.commit(upload, digest, async (k) => k, nobody))!;
    const uploadPeak = peak;

    peak = 0;
    const read = createHash('sha256');
    let got = 0;
    let next = 4 * 1024 * 1024;
    for await (const chunk of content.openRead(key, 0)) {
      read.update(chunk as Buffer);
      got += (chunk as Buffer).length;
      if (got >= next) {
        sample();
        next += 4 * 1024 * 1024;
      }
    }
    t.equal(got, size);
    t.equal(read.digest('hex'), digest, 'the 64 MiB read back hash to what was written');
    // A constant, well under the file's size: the sink's three 1 MiB chunks (or FileSink's 1 MiB),
    // the chunks being read ahead and sent, and node-postgres's per-connection receive buffers,
    // which grow to the largest message (a 1 MiB chunk is 2 MiB as hex) and stay: up to the pool's
    // 6 connections × 2–4 MiB, once per process, not per transfer.
    const bound = 40 * 1024 * 1024;
    t.ok(uploadPeak < bound, `upload: at most ${(uploadPeak / 1048576).toFixed(1)} MiB of buffers held (bound 40)`);
    t.ok(peak < bound, `download: at most ${(peak / 1048576).toFixed(1)} MiB of buffers held (bound 40)`);
    t.ok(maxBuffered <= 3 * 1024 * 1024 + piece, `the sink never held more than three chunks and a write (${maxBuffered} bytes)`);
  });
});

/** V8's gc(), for measuring what is live rather than what is not yet collected. */
function exposeGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}
