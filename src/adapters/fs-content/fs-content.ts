/**
 * Attachment content as files in the data directory (docs/PROTOCOL-transfer.md §Storage): the
 * AttachmentContent port for one node on SQLite.
 *
 *   <data>/tmp/upload-<attachment id>.part     bytes of an upload in progress, or of an interrupted
 *                                              one kept for a resume (partialRetentionMs)
 *   <data>/attachments/<sha[0:2]>/<sha256>     verified content, stored once however many
 *                                              attachments (messages, senders) share it
 *
 * A verified upload is renamed into place (same file system, so the rename is atomic) and only
 * then committed in the store; a file no attachment row points at is removed. Both steps hold a
 * per-content lock, so one message's expiry cannot remove a file another upload is committing.
 * The storage key is the path relative to the data dir, with forward slashes.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { KeyedLock } from '../../core/keyed-lock.js';
import {
  SHA256_PATTERN, verifyUpload, type AttachmentContent, type ContentSink, type PartialUpload, type SinkHandlers, type UploadHandle,
} from '../../core/ports/content.js';
import { FileSink } from './file-sink.js';

export const TMP_DIR = 'tmp';
export const ATTACHMENTS_DIR = 'attachments';
const PARTIAL = /^upload-(\d+)\.part$/;

export class FsContent implements AttachmentContent {
  readonly kind = 'fs';
  readonly tmpDir: string;
  readonly attachmentsDir: string;
  private readonly lock = new KeyedLock<string>();

  constructor(readonly dataDir: string) {
    this.tmpDir = path.join(dataDir, TMP_DIR);
    this.attachmentsDir = path.join(dataDir, ATTACHMENTS_DIR);
  }

  async init(): Promise<void> {
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    await mkdir(this.attachmentsDir, { recursive: true, mode: 0o700 });
  }

  async close(): Promise<void> {}

  partialPath(attachmentId: number): string {
    return path.join(this.tmpDir, `upload-${attachmentId}.part`);
  }

  async partialSize(attachmentId: number): Promise<number> {
    try {
      return (await stat(this.partialPath(attachmentId))).size;
    } catch {
      return 0;
    }
  }

  async beginUpload(attachmentId: number, opts: { restart: boolean; maxSize: number }): Promise<UploadHandle> {
    if (opts.restart) await this.removePartial(attachmentId);
    let offset = await this.partialSize(attachmentId);
    if (offset > opts.maxSize) {
      await this.removePartial(attachmentId);
      offset = 0;
    }
    const file = this.partialPath(attachmentId);
    // A resumed upload's hash starts from the bytes already on disk (streamed, not loaded).
    const hash = createHash('sha256');
    if (offset > 0) await hashFile(file, offset, hash);
    return {
      attachmentId, offset, hash,
      open: (handlers: SinkHandlers): ContentSink => new FileSink(file, { append: offset > 0, ...handlers }),
    };
  }

  async removePartial(attachmentId: number): Promise<void> {
    await rm(this.partialPath(attachmentId), { force: true });
  }

  /** The storage key recorded in the store: relative to the data dir, with forward slashes. */
  relativePath(sha256: string): string {
    if (!SHA256_PATTERN.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return `${ATTACHMENTS_DIR}/${sha256.slice(0, 2)}/${sha256}`;
  }

  absolutePath(storageKey: string): string {
    return path.join(this.dataDir, ...storageKey.split('/'));
  }

  async commit<T>(
    upload: UploadHandle,
    sha256: string,
    commit: (storageKey: string) => Promise<T | null>,
    isReferenced: (sha256: string) => Promise<boolean>,
  ): Promise<T | null> {
    const partial = this.partialPath(upload.attachmentId);
    await verifyUpload(this, upload, sha256);
    const storageKey = this.relativePath(sha256);
    const file = this.absolutePath(storageKey);
    return this.lock.run(sha256, async () => {
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      // Replaces an identical copy if one is there: same bytes, same name, one file.
      await rename(partial, file);
      let result: T | null = null;
      try {
        result = await commit(storageKey);
        return result;
      } finally {
        if (result === null) await this.removeUnreferenced(sha256, file, isReferenced);
      }
    });
  }

  openRead(storageKey: string, offset: number): Readable {
    return createReadStream(this.absolutePath(storageKey), { start: offset });
  }

  async release(sha256: string, isReferenced: (sha256: string) => Promise<boolean>): Promise<boolean> {
    const file = this.absolutePath(this.relativePath(sha256));
    return this.lock.run(sha256, () => this.removeUnreferenced(sha256, file, isReferenced));
  }

  private async removeUnreferenced(sha256: string, file: string, isReferenced: (sha256: string) => Promise<boolean>): Promise<boolean> {
    if (await isReferenced(sha256)) return false;
    // The fan-out directory stays (at most 256 of them): removing it could race another commit().
    await rm(file, { force: true });
    return true;
  }

  async listPartials(): Promise<PartialUpload[]> {
    const out: PartialUpload[] = [];
    for (const entry of await readdir(this.tmpDir).catch(() => [] as string[])) {
      const info = await stat(path.join(this.tmpDir, entry)).catch(() => null);
      if (!info) continue;
      const m = PARTIAL.exec(entry);
      out.push({ attachmentId: m ? Number(m[1]) : null, size: info.size, mtimeMs: info.mtimeMs, entry });
    }
    return out;
  }

  async removePartialEntry(entry: string): Promise<void> {
    // Only a name listPartials gave: nothing outside tmp/.
    if (entry.includes('/') || entry.includes(path.sep) || entry === '..' || entry === '.') return;
    await rm(path.join(this.tmpDir, entry), { force: true, recursive: true }).catch(() => undefined);
  }

  async sweepOrphans(isReferenced: (sha256: string) => Promise<boolean>): Promise<number> {
    let removed = 0;
    for (const sha of await this.committedHashes()) if (await this.release(sha, isReferenced)) removed++;
    return removed;
  }

  private async committedHashes(): Promise<string[]> {
    const out: string[] = [];
    for (const fan of await readdir(this.attachmentsDir).catch(() => [] as string[])) {
      for (const name of await readdir(path.join(this.attachmentsDir, fan)).catch(() => [] as string[])) {
        if (SHA256_PATTERN.test(name) && name.slice(0, 2) === fan) out.push(name);
      }
    }
    return out;
  }

  async spaceUsed(): Promise<{ committed: number; partial: number }> {
    let committed = 0;
    for (const sha of await this.committedHashes()) {
      committed += (await stat(this.absolutePath(this.relativePath(sha))).catch(() => null))?.size ?? 0;
    }
    const partial = (await this.listPartials()).reduce((n, p) => n + p.size, 0);
    return { committed, partial };
  }

  async freeBytes(): Promise<number> {
    const s = await statfs(this.dataDir);
    return s.bavail * s.bsize;
  }
}

/** Feeds the first `length` bytes of a file to the hash, streaming. */
async function hashFile(file: string, length: number, hash: Hash): Promise<void> {
  if (length === 0) return;
  await pipeline(createReadStream(file, { start: 0, end: length - 1 }), new Writable({
    write(chunk: Buffer, _enc, callback) {
      hash.update(chunk);
      callback();
    },
  }));
}
