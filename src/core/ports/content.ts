/**
 * The attachment-content port (issue 19, "Attachments from any node"): where the bytes of
 * attachments live, while they are being uploaded and once committed. Two adapters implement it
 * and pass the same contract suite (test/contract/content/):
 *
 * - src/adapters/fs-content: files in the data directory (one node; the SQLite store's companion);
 * - src/adapters/postgres/content.ts: chunks in PostgreSQL, written as they arrive, so every node
 *   reads every committed attachment and resumes every interrupted upload (the PostgreSQL store's).
 *
 * Everything streams: an upload is appended a socket read at a time through a sink with bounded
 * buffers and backpressure; a download is a Readable from any offset. Nothing holds a whole file.
 *
 * The life of an upload: beginUpload (offset = bytes kept from an earlier attempt, hash primed
 * with them) → sink writes → sink.finish (durable) → commit (sha256 verified; the content gets its
 * storage key and the store's commit runs while the content is locked) → openRead / release.
 * Content is stored once per sha256, however many attachments share it; release removes it when
 * nothing refers to it any more.
 */
import type { Hash } from 'node:crypto';
import type { Readable } from 'node:stream';

/** A content's key: its sha256, lower-case hex. */
export const SHA256_PATTERN = /^[0-9a-f]{64}$/;

/** What a sink tells its writer. */
export interface SinkHandlers {
  /** Buffered bytes fell below the bound after write() returned false: read on. */
  onDrain(): void;
  /** The first write error; the sink takes nothing after it. */
  onError(err: Error): void;
}

/** Where an upload's bytes go: appended after what the upload already holds. */
export interface ContentSink {
  /** Takes a chunk (by reference: not reused by the caller). False: stop until onDrain. */
  write(chunk: Buffer): boolean;
  /** Bytes taken but not yet durable or written. */
  readonly buffered: number;
  /**
   * Writes what is buffered and closes; with `sync`, returns only once every byte is durable (a
   * commit after it cannot outlive the bytes). Rejects with the first write error.
   */
  finish(opts: { sync: boolean }): Promise<void>;
  /** Stops: what is buffered may be dropped; what was written stays for a resume. Never rejects. */
  abandon(): Promise<void>;
}

/** An upload under way, from beginUpload to commit. */
export interface UploadHandle {
  readonly attachmentId: number;
  /** Bytes kept from earlier attempts: the peer sends from here. */
  readonly offset: number;
  /** The sha256 of the bytes so far (primed with the kept ones); the writer feeds it every new byte. */
  readonly hash: Hash;
  /**
   * Opens the sink that appends at `offset`. Synchronous, so the caller attaches its socket
   * listeners in the same tick; a failure to open reaches handlers.onError.
   */
  open(handlers: SinkHandlers): ContentSink;
}

/** A partial upload, for the sweep. */
export interface PartialUpload {
  /** Null for something in the partial area that is not an upload (left by something else): removable. */
  attachmentId: number | null;
  size: number;
  /** When it last grew (ms since the epoch). */
  mtimeMs: number;
  /** Opaque: what removePartialEntry needs when attachmentId is null. */
  entry: string;
}

/** commit() refused the bytes: they do not hash to the declared sha256 (the partial is removed). */
export class ContentMismatch extends Error {
  constructor(readonly actual: string, readonly expected: string) {
    super(`The bytes hash to ${actual}, not the declared ${expected}.`);
    this.name = 'ContentMismatch';
  }
}

/**
 * Every adapter's first step of commit(): the upload's bytes must hash to the declared sha256;
 * otherwise its partial goes (nothing of it can be resumed into the right content) and commit refuses.
 */
export async function verifyUpload(content: AttachmentContent, upload: UploadHandle, sha256: string): Promise<void> {
  const digest = upload.hash.digest('hex');
  if (digest === sha256) return;
  await content.removePartial(upload.attachmentId);
  throw new ContentMismatch(digest, sha256);
}

export interface AttachmentContent {
  /** 'fs' or 'postgres', for logs and the bench. */
  readonly kind: string;
  /** Makes what it needs (directories, or nothing: the schema is the store's migration). */
  init(): Promise<void>;
  close(): Promise<void>;

  /** Bytes an interrupted upload of the attachment kept (0 when none). */
  partialSize(attachmentId: number): Promise<number>;
  /**
   * Starts (or with `restart`, starts over) an upload: the handle's offset is what is kept, its
   * hash primed by streaming those bytes (never loading them).
   */
  beginUpload(attachmentId: number, opts: { restart: boolean; maxSize: number }): Promise<UploadHandle>;
  removePartial(attachmentId: number): Promise<void>;
  /**
   * Verifies the finished upload's sha256 (ContentMismatch, partial removed, when it differs),
   * makes it the content stored under that sha256, and runs `commit` (the store's step) with its
   * storage key while holding the content's lock. If commit declines (null) or throws, the
   * content is removed again unless something else refers to it.
   */
  commit<T>(
    upload: UploadHandle,
    sha256: string,
    commit: (storageKey: string) => Promise<T | null>,
    isReferenced: (sha256: string) => Promise<boolean>,
  ): Promise<T | null>;

  /** The committed bytes from `offset` to the end. Errors (a missing content) come as the stream's error. */
  openRead(storageKey: string, offset: number): Readable;
  /** Removes the content when nothing refers to it any more; true if it was removed. */
  release(sha256: string, isReferenced: (sha256: string) => Promise<boolean>): Promise<boolean>;

  /** Every partial upload, for the sweep. */
  listPartials(): Promise<PartialUpload[]>;
  /** Removes a partial listed with attachmentId null. */
  removePartialEntry(entry: string): Promise<void>;
  /** Committed content nothing refers to (a crash between storing and the store's commit): removed at start. */
  sweepOrphans(isReferenced: (sha256: string) => Promise<boolean>): Promise<number>;
  /** Bytes held: committed content and partial uploads. */
  spaceUsed(): Promise<{ committed: number; partial: number }>;
  /**
   * Bytes still free for uploads where this content lives, or null when this adapter cannot tell
   * (the database's disk is not this node's): then only the store's quotas bound uploads.
   */
  freeBytes(): Promise<number | null>;
}
