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
 * Memory: an upload holds at most one chunk being inserted and one being gathered (2 × chunkBytes);
 * a download at most the chunk being sent and the next one read ahead.
 *
 * Appends are conditional (`size = the offset the writer expects`), so two nodes cannot interleave
 * bytes of the same upload: the later writer fails and its client retries from the new offset.
 * Commit and release of the same sha256 take an advisory lock across nodes.
 */
import { createHash } from 'node:crypto';
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
/** Chunk reads in flight per download: PostgreSQL reads the next while Node decodes and sends this one. */
const READ_AHEAD = 2;

const Q = statements('content', {
  partial: sql<[number], { id: number; size: number }>(`SELECT id, size FROM content_blobs WHERE upload_of = $1`),
  newPartial: sql<[number]>(`INSERT INTO content_blobs (upload_of, updated_at) VALUES ($1, now()) ON CONFLICT (upload_of) DO NOTHING`),
  removePartial: sql<[number]>(`DELETE FROM content_blobs WHERE upload_of = $1`),
  removeBlob: sql<[number]>(`DELETE FROM content_blobs WHERE id = $1`),
  // The append: only at the offset the writer expects, in one statement (its own transaction).
  append: sql<[number, number, number, Buffer]>(`
    WITH grown AS (
      UPDATE content_blobs SET size = size + $3, updated_at = now() WHERE id = $1 AND size = $2 AND upload_of IS NOT NULL RETURNING id
    )
    INSERT INTO content_chunks (blob_id, pos, data) SELECT id, $2, $4 FROM grown`),
  committed: sql<[string], { id: number; size: number }>(`SELECT id, size FROM content_blobs WHERE sha256 = $1`),
  makeCommitted: sql<[number, string]>(`UPDATE content_blobs SET upload_of = NULL, sha256 = $2, updated_at = now() WHERE id = $1`),
  removeCommitted: sql<[string]>(`DELETE FROM content_blobs WHERE sha256 = $1`),
  // octet_length of an EXTERNAL bytea reads the TOAST pointer's size, not the data.
  chunkList: sql<[number, number, number], { pos: number; length: number }>(`
    SELECT pos, octet_length(data) AS length FROM content_chunks
    WHERE blob_id = $1 AND pos < $3 AND pos + octet_length(data) > $2 ORDER BY pos`),
  chunkData: sql<[number, number], { data: Buffer }>(`SELECT data FROM content_chunks WHERE blob_id = $1 AND pos = $2`),
  partials: sql<[], { upload_of: number; size: number; updated_at: string }>(
    `SELECT upload_of, size, updated_at FROM content_blobs WHERE upload_of IS NOT NULL ORDER BY id`),
  committedHashes: sql<[number, number], { id: number; sha256: string }>(
    `SELECT id, sha256 FROM content_blobs WHERE sha256 IS NOT NULL AND id > $1 ORDER BY id LIMIT $2`),
  used: sql<[], { committed: number; partial: number }>(`
    SELECT coalesce(sum(size) FILTER (WHERE sha256 IS NOT NULL), 0)::bigint AS committed,
           coalesce(sum(size) FILTER (WHERE upload_of IS NOT NULL), 0)::bigint AS partial FROM content_blobs`),
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
    return (await Q.partial.get(this.pool, attachmentId))?.size ?? 0;
  }

  async beginUpload(attachmentId: number, opts: { restart: boolean; maxSize: number }): Promise<UploadHandle> {
    if (opts.restart) await this.removePartial(attachmentId);
    let blob = await Q.partial.get(this.pool, attachmentId);
    if (blob && blob.size > opts.maxSize) {
      await this.removePartial(attachmentId);
      blob = undefined;
    }
    if (!blob) {
      await Q.newPartial.run(this.pool, attachmentId);
      blob = (await Q.partial.get(this.pool, attachmentId))!;
    }
    const { id, size: offset } = blob;
    // A resumed upload's hash starts from the bytes already stored (streamed, chunk by chunk).
    const hash = createHash('sha256');
    if (offset > 0) for await (const chunk of this.readBlob(id, 0, offset)) hash.update(chunk as Buffer);
    return {
      attachmentId, offset, hash,
      open: (handlers: SinkHandlers): ContentSink => new PgSink(this.pool, id, offset, this.chunkBytes, handlers),
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
      else await Q.makeCommitted.run(this.pool, blob.id, sha256);
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
 * Appends an upload's bytes as chunk rows: gathers up to chunkBytes, inserts it (its own
 * transaction, durable when it returns) while the next one gathers. write() is false once two
 * chunks' worth is held; onDrain when the insert under way is done.
 */
class PgSink implements ContentSink {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private inFlightBytes = 0;
  private writing: Promise<void> | null = null;
  private needDrain = false;
  private ending = false;
  private error: Error | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly blobId: number,
    private offset: number,
    private readonly chunkBytes: number,
    private readonly handlers: SinkHandlers,
  ) {}

  get buffered(): number {
    return this.pendingBytes + this.inFlightBytes;
  }

  write(chunk: Buffer): boolean {
    if (this.error || this.ending) return false;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= this.chunkBytes) this.pump();
    if (this.buffered < 2 * this.chunkBytes) return true;
    this.needDrain = true;
    return false;
  }

  async finish(_opts: { sync: boolean }): Promise<void> {
    // Every insert is committed (synchronous_commit) before it resolves: nothing more to sync.
    this.ending = true;
    while (!this.error && (this.writing || this.pendingBytes > 0)) {
      this.pump();
      await this.writing;
    }
    if (this.error) throw this.error;
  }

  async abandon(): Promise<void> {
    this.ending = true;
    this.pending = [];
    this.pendingBytes = 0;
    await this.writing;
  }

  /** Inserts one chunk (at most chunkBytes, fewer only at the end), unless one is under way. */
  private pump(): void {
    if (this.writing || this.error || this.pendingBytes === 0) return;
    if (this.pendingBytes < this.chunkBytes && !this.ending) return;
    const all = Buffer.concat(this.pending, this.pendingBytes);
    const data = all.subarray(0, Math.min(all.length, this.chunkBytes));
    const rest = all.subarray(data.length);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    this.inFlightBytes = data.length;
    const at = this.offset;
    this.writing = Q.append.run(this.pool, this.blobId, at, data.length, data).then((n) => {
      if (n !== 1) throw new Error(`the upload was changed or removed elsewhere (expected ${at} bytes stored)`);
      this.offset += data.length;
    }).catch((err: Error) => this.fail(err)).finally(() => {
      this.inFlightBytes = 0;
      this.writing = null;
      if (this.pendingBytes >= this.chunkBytes || (this.ending && this.pendingBytes > 0)) this.pump();
      if (this.needDrain && !this.error && this.buffered < 2 * this.chunkBytes) {
        this.needDrain = false;
        this.handlers.onDrain();
      }
    });
  }

  private fail(err: Error): void {
    if (this.error) return;
    this.error = err;
    this.pending = [];
    this.pendingBytes = 0;
    this.handlers.onError(err);
  }
}
