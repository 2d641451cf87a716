/**
 * Attachment content in PostgreSQL (issue 19, "Attachments from any node"): the AttachmentContent
 * port (src/core/ports/content.ts) for siar on several nodes, beside the PostgreSQL store. No node's
 * disk holds the only copy of anything: an upload's chunks are committed as they arrive, so an
 * upload interrupted on node A resumes through node C, and a committed attachment downloads through
 * any node after A is gone.
 *
 * Tables (schema.postgres.sql, migration 3): content_blobs (a partial upload, or content stored
 * once per sha256) and content_chunks (≤ chunkBytes bytea rows at their byte offset).
 *
 * Why bytea rows and not large objects: measured on this machine (bench/README.md §Attachments in
 * PostgreSQL), 1 MiB bytea rows with STORAGE EXTERNAL wrote faster than lo_put of the same 1 MiB
 * and read as fast; and rows are plain data: removed with their blob by a cascading DELETE (large
 * objects need lo_unlink, or vacuumlo for the ones a crash orphans), copied by pg_dump and logical
 * replication like every other table, bounded by ordinary permissions.
 *
 * Memory: an upload holds at most two chunks being inserted and one being gathered (3 × chunkBytes);
 * a download the chunk being sent and the two read ahead.
 *
 * Appends carry the upload's writer token: beginUpload takes a new one (waiting for the appends
 * under way, which hold the blob's row FOR SHARE), so two nodes cannot interleave bytes of the same
 * upload: the older writer's next append fails and its client retries from the new offset. Two
 * appends of one upload run at once (PostgreSQL's WAL flushes overlap); a partial's size is the
 * contiguous prefix of its chunks, so a chunk that landed after a gap (a crash between the two) is
 * dropped at the next beginUpload.
 * Commit and release of the same sha256 take an advisory lock across nodes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Pool } from 'pg';
import { KeyedLock } from '../../core/keyed-lock.js';
import {
  SHA256_PATTERN, verifyUpload, type AttachmentContent, type ContentSink, type PartialUpload, type SinkHandlers, type UploadHandle,
} from '../../core/ports/content.js';
import { connect, createPool, sql, statements } from './connection.js';
import { applyPgMigrations } from './migrate.js';

const MiB = 1024 * 1024;
const KEY_PREFIX = 'pg:';

/** The storage key (attachments.storage_path) of content stored here under this sha256. */
export const pgContentKey = (sha256: string): string => KEY_PREFIX + sha256;
/** Chunk inserts in flight per upload: one's WAL flush overlaps the next one's work. */
const APPENDS_IN_FLIGHT = 2;
/** Chunk reads in flight per download: PostgreSQL reads the next while Node decodes and sends this one. */
const READ_AHEAD = 2;

const Q = statements('content', {
  partial: sql<[number], { id: number }>(`SELECT id FROM content_blobs WHERE upload_of = $1`),
  takeWriter: sql<[number, string], { id: number }>(
    `UPDATE content_blobs SET writer = $2, updated_at = now() WHERE upload_of = $1 RETURNING id`),
  dropChunksFrom: sql<[number, number]>(`DELETE FROM content_chunks WHERE blob_id = $1 AND pos >= $2`),
  newPartial: sql<[number]>(`INSERT INTO content_blobs (upload_of, updated_at) VALUES ($1, now()) ON CONFLICT (upload_of) DO NOTHING`),
  removePartial: sql<[number]>(`DELETE FROM content_blobs WHERE upload_of = $1`),
  removeBlob: sql<[number]>(`DELETE FROM content_blobs WHERE id = $1`),
  // The append: only by the upload's current writer, whose row it holds FOR SHARE while it commits.
  append: sql<[number, number, Buffer, string]>(`
    WITH w AS (SELECT id FROM content_blobs WHERE id = $1 AND writer = $4 AND upload_of IS NOT NULL FOR SHARE)
    INSERT INTO content_chunks (blob_id, pos, data) SELECT id, $2, $3 FROM w`),
  committed: sql<[string], { id: number; size: number }>(`SELECT id, size FROM content_blobs WHERE sha256 = $1`),
  makeCommitted: sql<[number, string, number]>(
    `UPDATE content_blobs SET upload_of = NULL, sha256 = $2, writer = NULL, size = $3, updated_at = now() WHERE id = $1`),
  removeCommitted: sql<[string]>(`DELETE FROM content_blobs WHERE sha256 = $1`),
  // octet_length of an EXTERNAL bytea reads the TOAST pointer's size, not the data.
  chunkList: sql<[number, number, number], { pos: number; length: number }>(`
    SELECT pos, octet_length(data) AS length FROM content_chunks
    WHERE blob_id = $1 AND pos < $3 AND pos + octet_length(data) > $2 ORDER BY pos`),
  chunkData: sql<[number, number], { data: Buffer }>(`SELECT data FROM content_chunks WHERE blob_id = $1 AND pos = $2`),
  partials: sql<[], { upload_of: number; size: number; updated_at: string }>(`
    SELECT b.upload_of, coalesce(sum(octet_length(c.data)), 0)::bigint AS size, greatest(b.updated_at, max(c.written_at)) AS updated_at
    FROM content_blobs b LEFT JOIN content_chunks c ON c.blob_id = b.id
    WHERE b.upload_of IS NOT NULL GROUP BY b.id ORDER BY b.id`),
  committedHashes: sql<[number, number], { id: number; sha256: string }>(
    `SELECT id, sha256 FROM content_blobs WHERE sha256 IS NOT NULL AND id > $1 ORDER BY id LIMIT $2`),
  used: sql<[], { committed: number; partial: number }>(`
    SELECT (SELECT coalesce(sum(size), 0) FROM content_blobs WHERE sha256 IS NOT NULL)::bigint AS committed,
           (SELECT coalesce(sum(octet_length(c.data)), 0) FROM content_chunks c JOIN content_blobs b ON b.id = c.blob_id
            WHERE b.upload_of IS NOT NULL)::bigint AS partial`),
});

export interface PgContentOptions {
  /** Bytes per chunk row (default 1 MiB). */
  chunkBytes?: number;
  /** Connections of this adapter's own pool (default 6): big inserts do not queue behind the store's commits. */
  maxConnections?: number;
}

export class PgContent implements AttachmentContent {
  readonly kind = 'postgres';
  readonly chunkBytes: number;
  private readonly lock = new KeyedLock<string>();

  private constructor(private readonly pool: Pool, readonly url: string, opts: PgContentOptions) {
    this.chunkBytes = opts.chunkBytes ?? MiB;
  }

  /** Opens its own pool on the store's database and makes sure the schema is there. */
  static async open(url: string, opts: PgContentOptions = {}): Promise<PgContent> {
    const pool = createPool(url, { maxConnections: opts.maxConnections ?? 6 });
    try {
      await applyPgMigrations(pool);
      return new PgContent(pool, url, opts);
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
  }

  async init(): Promise<void> {}

  private closing: Promise<void> | null = null;

  async close(): Promise<void> {
    this.closing ??= this.pool.end();
    await this.closing;
  }

  async partialSize(attachmentId: number): Promise<number> {
    const blob = await Q.partial.get(this.pool, attachmentId);
    return blob ? this.prefix(blob.id) : 0;
  }

  /** The bytes of a blob's chunks that follow on from byte 0 without a gap. */
  private async prefix(blobId: number): Promise<number> {
    let end = 0;
    for (const r of await Q.chunkList.all(this.pool, blobId, 0, Number.MAX_SAFE_INTEGER)) {
      if (r.pos !== end) break;
      end += r.length;
    }
    return end;
  }

  async beginUpload(attachmentId: number, opts: { restart: boolean; maxSize: number }): Promise<UploadHandle> {
    if (opts.restart) await this.removePartial(attachmentId);
    await Q.newPartial.run(this.pool, attachmentId);
    // A new writer: an older one (another node, a stale connection) appends no more after this.
    const writer = randomBytes(16).toString('base64url');
    const blob = await Q.takeWriter.get(this.pool, attachmentId, writer);
    if (!blob) throw new Error(`the partial upload of attachment ${attachmentId} went away`);
    let offset = await this.prefix(blob.id);
    if (offset > opts.maxSize) offset = 0;
    // What lies past the prefix (after a gap, or beyond the declared size) is sent again.
    await Q.dropChunksFrom.run(this.pool, blob.id, offset);
    // A resumed upload's hash starts from the bytes already stored (streamed, chunk by chunk).
    const hash = createHash('sha256');
    for await (const chunk of this.readBlob(blob.id, 0, offset)) hash.update(chunk);
    return {
      attachmentId, offset, hash,
      open: (handlers: SinkHandlers): ContentSink => new PgSink(this.pool, blob.id, writer, offset, this.chunkBytes, handlers),
    };
  }

  async removePartial(attachmentId: number): Promise<void> {
    await Q.removePartial.run(this.pool, attachmentId);
  }

  async commit<T>(
    upload: UploadHandle,
    sha256: string,
    commit: (storageKey: string) => Promise<T | null>,
    isReferenced: (sha256: string) => Promise<boolean>,
  ): Promise<T | null> {
    await verifyUpload(this, upload, sha256);
    if (!SHA256_PATTERN.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return this.locked(sha256, async () => {
      const blob = await Q.partial.get(this.pool, upload.attachmentId);
      if (!blob) throw new Error(`the partial upload of attachment ${upload.attachmentId} is gone`);
      // Content already stored under this sha256 (another attachment's): one copy, the new one goes.
      if (await Q.committed.get(this.pool, sha256)) await Q.removeBlob.run(this.pool, blob.id);
      else await Q.makeCommitted.run(this.pool, blob.id, sha256, await this.prefix(blob.id));
      let result: T | null = null;
      try {
        result = await commit(KEY_PREFIX + sha256);
        return result;
      } finally {
        if (result === null) await this.removeUnreferenced(sha256, isReferenced);
      }
    });
  }

  openRead(storageKey: string, offset: number): Readable {
    const sha256 = storageKey.startsWith(KEY_PREFIX) ? storageKey.slice(KEY_PREFIX.length) : '';
    const pool = this.pool;
    const self = this;
    async function* chunks(): AsyncGenerator<Buffer> {
      const blob = SHA256_PATTERN.test(sha256) ? await Q.committed.get(pool, sha256) : undefined;
      if (!blob) throw Object.assign(new Error(`no stored content ${storageKey}`), { code: 'ENOENT' });
      yield* self.readBlob(blob.id, offset, blob.size);
    }
    // highWaterMark 1: one chunk read ahead of the one being sent.
    return Readable.from(chunks(), { objectMode: false, highWaterMark: 1 });
  }

  /**
   * The bytes [from, to) of a blob: the chunks' positions first (their lengths come from the TOAST
   * header, nothing is read), then one row per query with READ_AHEAD queries in flight on their
   * own connections, yielded in order.
   */
  private async *readBlob(blobId: number, from: number, to: number): AsyncGenerator<Buffer> {
    if (from >= to) return;
    const rows = await Q.chunkList.all(this.pool, blobId, from, to);
    let end = rows[0]?.pos ?? -1;
    if (end > from) end = -1;
    for (const r of rows) end = r.pos === end ? r.pos + r.length : -1;
    if (end < to) throw Object.assign(new Error(`content ${blobId} is missing bytes in [${from}, ${to})`), { code: 'ENOENT' });
    const inFlight: Promise<Buffer | undefined>[] = [];
    let next = 0;
    try {
      for (const r of rows) {
        while (inFlight.length < READ_AHEAD && next < rows.length) {
          const fetch = Q.chunkData.get(this.pool, blobId, rows[next++]!.pos).then((row) => row?.data);
          fetch.catch(() => undefined); // awaited below; a consumer gone early must not leave it unhandled
          inFlight.push(fetch);
        }
        const data = await inFlight.shift();
        if (!data || data.length !== r.length) throw Object.assign(new Error(`content ${blobId} changed while read`), { code: 'ENOENT' });
        yield data.subarray(Math.max(0, from - r.pos), Math.min(data.length, to - r.pos));
      }
    } finally {
      inFlight.length = 0;
    }
  }

  async release(sha256: string, isReferenced: (sha256: string) => Promise<boolean>): Promise<boolean> {
    return this.locked(sha256, () => this.removeUnreferenced(sha256, isReferenced));
  }

  private async removeUnreferenced(sha256: string, isReferenced: (sha256: string) => Promise<boolean>): Promise<boolean> {
    if (await isReferenced(sha256)) return false;
    return (await Q.removeCommitted.run(this.pool, sha256)) > 0;
  }

  /**
   * One commit or release of a sha256 at a time: in this process (KeyedLock, no connection held
   * while waiting) and across nodes (a session advisory lock on a connection of its own).
   */
  private locked<T>(sha256: string, work: () => Promise<T>): Promise<T> {
    return this.lock.run(sha256, async () => {
      const client = await connect(this.pool);
      const key = `siar content ${sha256}`;
      let broken: unknown;
      try {
        await client.query(`SELECT pg_advisory_lock(hashtextextended($1, 0))`, [key]);
        try {
          return await work();
        } finally {
          await client.query(`SELECT pg_advisory_unlock(hashtextextended($1, 0))`, [key]).catch((err: unknown) => { broken = err; });
        }
      } finally {
        client.release(broken as Error | undefined);
      }
    });
  }

  async listPartials(): Promise<PartialUpload[]> {
    return (await Q.partials.all(this.pool)).map((r) => ({
      attachmentId: r.upload_of, size: r.size, mtimeMs: Date.parse(r.updated_at), entry: String(r.upload_of),
    }));
  }

  /** Every partial here has its attachment id: there is nothing else to remove. */
  async removePartialEntry(_entry: string): Promise<void> {}

  async sweepOrphans(isReferenced: (sha256: string) => Promise<boolean>): Promise<number> {
    let removed = 0;
    let after = 0;
    for (;;) {
      const page = await Q.committedHashes.all(this.pool, after, 500);
      for (const { sha256 } of page) if (await this.release(sha256, isReferenced)) removed++;
      if (page.length < 500) return removed;
      after = page[page.length - 1]!.id;
    }
  }

  async spaceUsed(): Promise<{ committed: number; partial: number }> {
    const row = (await Q.used.get(this.pool))!;
    return { committed: row.committed, partial: row.partial };
  }

  /** The database's disk is not this node's to measure: null (quotas bound uploads). */
  async freeBytes(): Promise<null> {
    return null;
  }
}

/**
 * Appends an upload's bytes as chunk rows: gathers up to chunkBytes and inserts it (its own
 * transaction, durable when it returns) while the next ones gather; APPENDS_IN_FLIGHT inserts run
 * at once, each on its own connection. write() is false once (APPENDS_IN_FLIGHT + 1) chunks' worth
 * is held; onDrain when an insert is done.
 */
class PgSink implements ContentSink {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private inFlightBytes = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private needDrain = false;
  private ending = false;
  private error: Error | null = null;
  private readonly bound: number;

  constructor(
    private readonly pool: Pool,
    private readonly blobId: number,
    private readonly writer: string,
    private offset: number,
    private readonly chunkBytes: number,
    private readonly handlers: SinkHandlers,
  ) {
    this.bound = (APPENDS_IN_FLIGHT + 1) * chunkBytes;
  }

  get buffered(): number {
    return this.pendingBytes + this.inFlightBytes;
  }

  write(chunk: Buffer): boolean {
    if (this.error || this.ending) return false;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.pump();
    if (this.buffered < this.bound) return true;
    this.needDrain = true;
    return false;
  }

  async finish(_opts: { sync: boolean }): Promise<void> {
    // Every insert is committed (synchronous_commit) before it resolves: nothing more to sync.
    this.ending = true;
    this.pump();
    while (!this.error && this.inFlight.size > 0) {
      await Promise.all(this.inFlight);
      this.pump();
    }
    if (this.error) throw this.error;
  }

  async abandon(): Promise<void> {
    this.ending = true;
    this.pending = [];
    this.pendingBytes = 0;
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  /** Starts inserts of whole chunks (and at the end, the rest) while fewer than APPENDS_IN_FLIGHT run. */
  private pump(): void {
    while (!this.error && this.inFlight.size < APPENDS_IN_FLIGHT
      && (this.pendingBytes >= this.chunkBytes || (this.ending && this.pendingBytes > 0))) {
      const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
      const data = all.subarray(0, Math.min(all.length, this.chunkBytes));
      const rest = all.subarray(data.length);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
      this.inFlightBytes += data.length;
      const at = this.offset;
      this.offset += data.length;
      const insert: Promise<void> = Q.append.run(this.pool, this.blobId, at, data, this.writer).then((n) => {
        if (n !== 1) throw new Error('the upload was taken over or removed elsewhere');
      }).catch((err: Error) => this.fail(err)).finally(() => {
        this.inFlight.delete(insert);
        this.inFlightBytes -= data.length;
        this.pump();
        if (this.needDrain && !this.error && this.buffered < this.bound) {
          this.needDrain = false;
          this.handlers.onDrain();
        }
      });
      this.inFlight.add(insert);
    }
  }

  private fail(err: Error): void {
    if (this.error) return;
    this.error = err;
    this.pending = [];
    this.pendingBytes = 0;
    this.handlers.onError(err);
  }
}
