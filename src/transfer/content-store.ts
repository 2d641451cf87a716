/**
 * Attachment files on disk (docs/PROTOCOL-transfer.md §Storage):
 *
 *   <data>/tmp/upload-<attachment id>.part     bytes of an upload in progress, or of an interrupted
 *                                              one kept for a resume (partialRetentionMs)
 *   <data>/attachments/<sha[0:2]>/<sha256>     verified content, stored once however many
 *                                              attachments (messages, senders) share it
 *
 * A verified upload is renamed into place (same file system, so the rename is atomic) and only
 * then committed in the store; a file no attachment row points at is removed. Both steps hold a
 * per-content lock, so one message's expiry cannot remove a file another upload is committing.
 */
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { KeyedLock } from './keyed-lock.js';
import { SHA256_PATTERN } from './wire.js';

export const TMP_DIR = 'tmp';
export const ATTACHMENTS_DIR = 'attachments';
const PARTIAL = /^upload-(\d+)\.part$/;

export interface PartialFile {
  /** Null for a file in tmp/ that is not a partial upload (left by something else): removable. */
  attachmentId: number | null;
  file: string;
  size: number;
  mtimeMs: number;
}

export class ContentStore {
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

  partialPath(attachmentId: number): string {
    return path.join(this.tmpDir, `upload-${attachmentId}.part`);
  }

  /** Bytes of an interrupted upload already on disk (0 when there are none). */
  async partialSize(attachmentId: number): Promise<number> {
    try {
      return (await stat(this.partialPath(attachmentId))).size;
    } catch {
      return 0;
    }
  }

  async removePartial(attachmentId: number): Promise<void> {
    await rm(this.partialPath(attachmentId), { force: true });
  }

  /** The storage path recorded in the store: relative to the data dir, with forward slashes. */
  relativePath(sha256: string): string {
    if (!SHA256_PATTERN.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return `${ATTACHMENTS_DIR}/${sha256.slice(0, 2)}/${sha256}`;
  }

  absolutePath(storagePath: string): string {
    return path.join(this.dataDir, ...storagePath.split('/'));
  }

  /**
   * Moves a verified partial upload to its content address and runs `commit` (the store step)
   * while holding the content's lock. If commit declines (null) or fails, the file is removed
   * again unless something else refers to it.
   */
  async store<T>(
    partial: string,
    sha256: string,
    commit: (storagePath: string, file: string) => Promise<T | null>,
    isReferenced: (sha256: string) => Promise<boolean>,
  ): Promise<T | null> {
    const storagePath = this.relativePath(sha256);
    const file = this.absolutePath(storagePath);
    return this.lock.run(sha256, async () => {
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      // Replaces an identical copy if one is there: same bytes, same name, one file.
      await rename(partial, file);
      let result: T | null = null;
      try {
        result = await commit(storagePath, file);
        return result;
      } finally {
        if (result === null) await this.removeUnreferenced(sha256, file, isReferenced);
      }
    });
  }

  /** Removes the content's file when no attachment refers to it any more. */
  async release(sha256: string, isReferenced: (sha256: string) => Promise<boolean>): Promise<boolean> {
    const file = this.absolutePath(this.relativePath(sha256));
    return this.lock.run(sha256, () => this.removeUnreferenced(sha256, file, isReferenced));
  }

  private async removeUnreferenced(sha256: string, file: string, isReferenced: (sha256: string) => Promise<boolean>): Promise<boolean> {
    if (await isReferenced(sha256)) return false;
    // The fan-out directory stays (at most 256 of them): removing it could race another store().
    await rm(file, { force: true });
    return true;
  }

  /** Every file in tmp/, for the sweep. */
  async listPartials(): Promise<PartialFile[]> {
    const out: PartialFile[] = [];
    for (const entry of await readdir(this.tmpDir).catch(() => [] as string[])) {
      const file = path.join(this.tmpDir, entry);
      const info = await stat(file).catch(() => null);
      if (!info) continue;
      const m = PARTIAL.exec(entry);
      out.push({ attachmentId: m ? Number(m[1]) : null, file, size: info.size, mtimeMs: info.mtimeMs });
    }
    return out;
  }

  /** Content files nobody refers to (left by a crash between rename and commit): removed at start. */
  async sweepOrphans(isReferenced: (sha256: string) => Promise<boolean>): Promise<number> {
    let removed = 0;
    for (const fan of await readdir(this.attachmentsDir).catch(() => [] as string[])) {
      for (const name of await readdir(path.join(this.attachmentsDir, fan)).catch(() => [] as string[])) {
        if (!SHA256_PATTERN.test(name) || name.slice(0, 2) !== fan) continue;
        if (await this.release(name, isReferenced)) removed++;
      }
    }
    return removed;
  }
}
