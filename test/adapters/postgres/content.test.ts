/**
 * What only the PostgreSQL attachment content does (src/adapters/postgres/content.ts), beyond the
 * contract (test/contract/content/): one writer per upload across nodes, and a chunk stored after
 * a gap (two appends in flight when a node died) dropped at the resume.
 */
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import t from 'tap';
import { PgContent } from '../../../src/adapters/postgres/content.js';
import type { UploadHandle } from '../../../src/core/ports/content.js';
import { requireCapability } from '../../helpers/capability.js';
import { freshPostgresDatabase, postgresMissing } from '../../contract/store/adapters.js';

const CHUNK = 64 * 1024;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Writes through a sink; resolves with the first error (or null) once finished. */
async function write(upload: UploadHandle, bytes: Buffer): Promise<Error | null> {
  let failed: Error | null = null;
  let drained: (() => void) | null = null;
  const sink = upload.open({ onDrain: () => drained?.(), onError: (err) => { failed = err; drained?.(); } });
  for (let at = 0; at < bytes.length && !failed; at += 16 * 1024) {
    const chunk = Buffer.from(bytes.subarray(at, at + 16 * 1024));
    upload.hash.update(chunk);
    if (!sink.write(chunk)) await new Promise<void>((resolve) => { drained = resolve; });
  }
  return sink.finish({ sync: true }).then(() => failed, (err: Error) => err);
}

if (requireCapability(t, 'PostgreSQL', postgresMissing())) {
  t.test('a second node taking over an upload stops the first one appending', async (t) => {
    const url = await freshPostgresDatabase(t);
    const nodeA = await PgContent.open(url, { chunkBytes: CHUNK });
    const nodeC = await PgContent.open(url, { chunkBytes: CHUNK });
    t.teardown(async () => { await nodeA.close(); await nodeC.close(); });
    const bytes = randomBytes(5 * CHUNK);
    const onA = await nodeA.beginUpload(1, { restart: false, maxSize: bytes.length });
    t.equal(await write(onA, bytes.subarray(0, 2 * CHUNK)), null, 'node A stores two chunks');
    const onC = await nodeC.beginUpload(1, { restart: false, maxSize: bytes.length });
    t.equal(onC.offset, 2 * CHUNK, 'node C resumes after them');
    const late = await write(onA, bytes.subarray(2 * CHUNK, 3 * CHUNK));
    t.match(late, { message: /taken over/ }, 'node A, still writing, is refused');
    t.equal(await write(onC, bytes.subarray(onC.offset)), null);
    const key = await nodeC.commit(onC, sha(bytes), async (k) => k, async () => false);
    const back: Buffer[] = [];
    for await (const c of nodeA.openRead(key!, 0)) back.push(c as Buffer);
    t.ok(Buffer.concat(back).equals(bytes), 'node A reads what node C committed, whole');
  });

  t.test('a chunk stored after a gap is dropped and sent again', async (t) => {
    const url = await freshPostgresDatabase(t);
    const content = await PgContent.open(url, { chunkBytes: CHUNK });
    t.teardown(() => content.close());
    const bytes = randomBytes(4 * CHUNK);
    const first = await content.beginUpload(2, { restart: false, maxSize: bytes.length });
    t.equal(await write(first, bytes.subarray(0, 3 * CHUNK)), null);
    // As if the node died with the second and third chunk in flight and only the third committed.
    const raw = new pg.Client({ connectionString: url });
    await raw.connect();
    t.teardown(() => raw.end());
    await raw.query('DELETE FROM content_chunks WHERE pos = $1', [CHUNK]);
    t.equal(await content.partialSize(2), CHUNK, 'the size is the contiguous prefix');
    const again = await content.beginUpload(2, { restart: false, maxSize: bytes.length });
    t.equal(again.offset, CHUNK);
    t.equal((await raw.query('SELECT count(*)::int AS n FROM content_chunks')).rows[0].n, 1, 'the chunk after the gap is gone');
    t.equal(await write(again, bytes.subarray(CHUNK)), null);
    const key = await content.commit(again, sha(bytes), async (k) => k, async () => false);
    const back: Buffer[] = [];
    for await (const c of content.openRead(key!, 0)) back.push(c as Buffer);
    t.ok(Buffer.concat(back).equals(bytes), 'the content is whole');
    t.strictSame(await content.spaceUsed(), { committed: bytes.length, partial: 0 });
  });
}
