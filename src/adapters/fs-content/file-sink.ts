/**
 * FileSink: the file an upload streams into. Two things make it faster than an fs.WriteStream
 * fed one socket read at a time, without holding more than 1 MiB (maxBufferedBytes) per upload:
 *
 * - Few, large writes. A socket read is 64 KiB (16 KiB over TLS); one write(2) per read means one
 *   threadpool hand-off per read, and on a busy 2-core machine each hand-off cost the main thread
 *   ≈ 60 µs (the profile of a 1 GiB upload had 1 s in fs.write's binding alone). Chunks are
 *   gathered (not copied) and written with one writev(2) per `batchBytes` (256 KiB: as cheap
 *   per GiB as 1 MiB batches in a measurement, and 50 concurrent uploads stay ≈ 50 MiB of buffers).
 * - A durable prefix that follows the end of the file. The kernel does not write back a 1 GiB
 *   upload by itself on a machine with plenty of RAM, so a single fsync at the end flushed all of
 *   it while the uploader waited. Every `syncEveryBytes` written, an fdatasync starts in the
 *   threadpool while writes go on; the closing fsync only has the tail left to flush.
 *
 * The periodic syncs change nothing about durability: finish({ sync: true }) still ends with a
 * full fsync of the finished file, and nothing is committed before it returns.
 */
import { open, type FileHandle } from 'node:fs/promises';

export interface FileSinkOptions {
  /** Append to the file (a resumed upload) rather than truncate it. */
  append: boolean;
  /** Bytes gathered before a write starts (default 256 KiB). */
  batchBytes?: number;
  /** Fewer bytes than a batch are written anyway once they have waited this long (default 20 ms). */
  flushDelayMs?: number;
  /** write() asks the caller to stop reading past this many bytes not yet written (default 1 MiB). */
  maxBufferedBytes?: number;
  /**
   * Start an fdatasync every this many bytes written; 0 turns it off (default 8 MiB: a 1 GiB upload
   * ends with at most ≈ 8 MiB to flush, and so does each of 50 small uploads ending together).
   */
  syncEveryBytes?: number;
  /** Called once buffered bytes fall below maxBufferedBytes after write() returned false. */
  onDrain?(): void;
  /** Called once, with the first write or sync error; the sink accepts nothing after it. */
  onError?(err: Error): void;
}

const MiB = 1024 * 1024;

export class FileSink {
  /** Bytes handed to the kernel so far (this sink's, not the file's earlier bytes). */
  written = 0;
  /** Periodic fdatasyncs started (for tests and logs). */
  syncs = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private inFlightBytes = 0;
  private writing: Promise<void> | null = null;
  private syncing: Promise<void> | null = null;
  private sinceSync = 0;
  private needDrain = false;
  private ending = false;
  private closed: Promise<void> | null = null;
  private error: Error | null = null;
  private readonly batchBytes: number;
  private readonly maxBufferedBytes: number;
  private readonly syncEveryBytes: number;
  /** Armed while a short batch waits: a sender that pauses still gets its bytes onto the disk. */
  private flushTimer: NodeJS.Timeout | null = null;
  /** The open file; null if it could not be opened (onError has the reason). */
  private readonly fh: Promise<FileHandle | null>;

  /**
   * Opens (creates, or with `append` extends) the file. Synchronous on purpose: the caller can
   * attach its socket listeners in the same tick; writes queue until the file is open.
   */
  constructor(file: string, private readonly opts: FileSinkOptions) {
    this.batchBytes = opts.batchBytes ?? 256 * 1024;
    this.maxBufferedBytes = Math.max(opts.maxBufferedBytes ?? MiB, this.batchBytes);
    this.syncEveryBytes = opts.syncEveryBytes ?? 8 * MiB;
    this.fh = open(file, opts.append ? 'a' : 'w', 0o600).catch((err: Error) => {
      this.fail(err);
      return null;
    });
  }

  /** Bytes accepted but not yet written. */
  get buffered(): number {
    return this.pendingBytes + this.inFlightBytes;
  }

  /** True while an fdatasync is running (for tests). */
  get syncInFlight(): boolean {
    return this.syncing !== null;
  }

  /**
   * Takes a chunk (kept by reference: the caller must not reuse it). False when the caller
   * should stop reading until onDrain; also false once the sink has failed or is ending.
   */
  write(chunk: Buffer): boolean {
    if (this.error || this.ending) return false;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= this.batchBytes) this.pump();
    else this.flushTimer ??= setTimeout(() => {
      this.flushTimer = null;
      this.pump();
    }, this.opts.flushDelayMs ?? 20).unref();
    if (this.buffered < this.maxBufferedBytes) return true;
    this.needDrain = true;
    return false;
  }

  /**
   * Writes what is buffered, waits for the running sync, and with `sync` ends with a full fsync;
   * then closes the file. Rejects with the first write/sync error (the file is closed either way).
   */
  async finish(opts: { sync: boolean }): Promise<void> {
    this.ending = true;
    try {
      while (!this.error && (this.writing || this.pending.length > 0)) {
        this.pump();
        await this.writing;
      }
      await this.syncing;
      const fh = await this.fh;
      if (this.error) throw this.error;
      if (opts.sync) await fh!.sync();
    } finally {
      await this.close();
    }
  }

  /** Drops what is not yet written, waits for the write and sync under way, and closes the file. */
  async abandon(): Promise<void> {
    this.ending = true;
    this.dropPending();
    await this.writing;
    await this.syncing;
    await this.close().catch(() => undefined);
  }

  private close(): Promise<void> {
    this.closed ??= this.fh.then((fh) => fh?.close());
    return this.closed;
  }

  /** Starts one writev of everything pending, unless one is running (it picks the rest up after). */
  private pump(): void {
    if (this.writing || this.error || this.pending.length === 0) return;
    const bufs = this.pending;
    const bytes = this.pendingBytes;
    this.dropPending();
    this.inFlightBytes = bytes;
    this.writing = this.writeAll(bufs).then(() => {
      this.written += bytes;
      this.sinceSync += bytes;
      this.afterWrite();
    }, (err: Error) => this.fail(err)).finally(() => {
      this.inFlightBytes = 0;
      this.writing = null;
      // What came in meanwhile: a full batch (or the end) goes now; a short one waits for its timer.
      if (this.ending || this.pendingBytes >= this.batchBytes || (this.pending.length > 0 && !this.flushTimer)) this.pump();
      if (this.needDrain && !this.error && this.buffered < this.maxBufferedBytes) {
        this.needDrain = false;
        this.opts.onDrain?.();
      }
    });
  }

  private async writeAll(bufs: Buffer[]): Promise<void> {
    const fh = await this.fh;
    if (!fh) return; // the open failed: fail() has already dropped everything
    let rest = bufs;
    while (rest.length > 0) {
      // writev may write less than asked (IOV_MAX buffers, or a disk filling up): go on from there.
      const { bytesWritten } = await fh.writev(rest);
      if (bytesWritten === 0) throw new Error('write(2) wrote nothing');
      rest = dropBytes(rest, bytesWritten);
    }
  }

  private afterWrite(): void {
    if (this.syncEveryBytes <= 0 || this.syncing || this.sinceSync < this.syncEveryBytes || this.error) return;
    this.sinceSync = 0;
    this.syncs++;
    this.syncing = this.fh.then((fh) => fh?.datasync()).catch((err: Error) => this.fail(err)).finally(() => { this.syncing = null; });
  }

  private fail(err: Error): void {
    if (this.error) return;
    this.error = err;
    this.dropPending();
    this.opts.onError?.(err);
  }

  /** Empties the queue (taken for a write, or thrown away) and disarms its timer. */
  private dropPending(): void {
    this.pending = [];
    this.pendingBytes = 0;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
  }
}

/** The buffers left once the first `n` bytes of `bufs` are gone (the first one sliced, not copied). */
function dropBytes(bufs: Buffer[], n: number): Buffer[] {
  let i = 0;
  let left = n;
  while (i < bufs.length && left >= bufs[i]!.length) left -= bufs[i++]!.length;
  const rest = bufs.slice(i);
  if (left > 0 && rest.length > 0) rest[0] = rest[0]!.subarray(left);
  return rest;
}
