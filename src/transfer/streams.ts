/**
 * The byte-moving halves of a transfer, once the shadow listener has accepted its peer. Both
 * stream with backpressure and never hold more than a socket's and the content sink's or source's
 * buffers in memory, whatever the file's size (docs/PROTOCOL-transfer.md §Data connection).
 */
import type { Hash } from 'node:crypto';
import type { Socket } from 'node:net';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ERRORS, type ErrorCode } from '../protocol/index.js';
import type { ContentSink, SinkHandlers } from '../core/ports/content.js';
import { isDiskFull } from './disk-space.js';

/** Why a transfer ended badly; `code` is a catalogue code the peer is told. */
export class TransferFailure extends Error {
  constructor(readonly code: ErrorCode, message: string = ERRORS[code].message) {
    super(message);
    this.name = 'TransferFailure';
  }
}

export interface ReceiveOptions {
  /** Opens where the bytes go (the content port's sink): appended after what the upload already holds. */
  sink(handlers: SinkHandlers): ContentSink;
  /** Bytes the peer must send before its EOF: the declared size less what the upload already holds. */
  expected: number;
  /** Fed every byte received (already holding the file's earlier bytes on a resume). */
  hash: Hash;
  idleTimeoutMs: number;
  onBytes?(n: number): void;
}

/**
 * Receives an upload: the peer sends its bytes and then shuts down its sending side (EOF), as
 * an FTP STOR does. One byte more than expected fails at once (SIZE_MISMATCH, nothing more is
 * read); EOF before the expected count is an interruption (TRANSFER_ABORTED) and the bytes
 * already written stay in the file for a resume. Resolves once every byte is written, the
 * file fsynced (so a commit after it survives a power loss) and closed; an interruption
 * rejects once what arrived is written and the file is closed.
 */
export async function receiveUpload(socket: Socket, head: Buffer, opts: ReceiveOptions): Promise<void> {
  let received = 0;
  let settled = false;
  let resolveDone!: (outcome: { failure: TransferFailure | null; keep: boolean }) => void;
  const done = new Promise<{ failure: TransferFailure | null; keep: boolean }>((resolve) => { resolveDone = resolve; });
  // Listeners go on in this tick, before any await: an EOF already read must not be missed.
  const sink = opts.sink({
    onDrain: () => { if (!settled) socket.resume(); },
    onError: (err) => settle(diskFailure(err, received, opts.expected), 'discard'),
  });

  function settle(failure: TransferFailure | null, what: 'keep' | 'discard'): void {
    if (settled) return;
    settled = true;
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('close', onClose);
    socket.off('timeout', onTimeout);
    socket.setTimeout(0);
    if (failure) socket.pause();
    // An interruption keeps what arrived (written, for a resume); a violation throws it away.
    resolveDone({ failure, keep: what === 'keep' });
  }
  const onData = (chunk: Buffer): void => {
    if (settled) return;
    if (received + chunk.length > opts.expected) {
      settle(new TransferFailure('SIZE_MISMATCH', `More than the declared ${opts.expected} bytes arrived.`), 'discard');
      return;
    }
    received += chunk.length;
    opts.hash.update(chunk);
    opts.onBytes?.(chunk.length);
    // Backpressure: stop reading the socket until the disk has caught up.
    if (!sink.write(chunk)) socket.pause();
  };
  const onEnd = (): void => {
    if (received < opts.expected) {
      settle(new TransferFailure('TRANSFER_ABORTED', `The connection ended after ${received} of ${opts.expected} bytes.`), 'keep');
    } else {
      settle(null, 'keep');
    }
  };
  const onClose = (): void => settle(new TransferFailure('TRANSFER_ABORTED', `The connection closed after ${received} of ${opts.expected} bytes.`), 'keep');
  const onTimeout = (): void => settle(new TransferFailure('TRANSFER_TIMEOUT', `No data for ${opts.idleTimeoutMs / 1000} s.`), 'keep');

  socket.setTimeout(opts.idleTimeoutMs);
  socket.on('timeout', onTimeout);
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('close', onClose);
  if (head.length > 0) onData(head);
  if (!settled) socket.resume();

  const { failure, keep } = await done;
  // The file is closed before the caller renames or removes it, whatever happened.
  if (!keep) {
    await sink.abandon();
    throw failure ?? new TransferFailure('INTERNAL');
  }
  try {
    await sink.finish({ sync: failure === null });
  } catch (err) {
    // The reason the transfer ended wins over a write error while keeping its bytes.
    throw failure ?? diskFailure(err as Error, received, opts.expected);
  }
  if (failure) throw failure;
}

/**
 * EMFILE / ENFILE: the process (or the system) has no file descriptor free. A server at its
 * connection cap keeps descriptors for only TRANSFERS_AT_FULL transfers (src/server/fd-limit.ts);
 * one more is told TRANSFER_BUSY ("retry shortly"), which is true: descriptors come back as
 * transfers and connections end.
 */
export function isOutOfDescriptors(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

export const DESCRIPTORS_BUSY = 'The server has no file descriptor free for another transfer (it is at its open-files limit); retry shortly.';

export function descriptorsBusy(): TransferFailure {
  return new TransferFailure('TRANSFER_BUSY', DESCRIPTORS_BUSY);
}

function diskFailure(err: Error, received: number, expected: number): TransferFailure {
  if (isOutOfDescriptors(err)) return descriptorsBusy();
  return isDiskFull(err)
    ? new TransferFailure('DISK_FULL', `The server's disk filled up after ${received} of ${expected} bytes; nothing was kept. Retry later.`)
    : Object.assign(new TransferFailure('INTERNAL', `The server could not store the upload after ${received} of ${expected} bytes; retry later.`), { cause: err });
}

/**
 * Sends stored content (a stream from the content port, already at its offset) and then EOF. The socket's idle timeout covers a
 * peer that stops reading (writes stall, nothing moves). Rejects with TRANSFER_ABORTED when
 * the peer goes away first.
 */
export async function sendDownload(
  socket: Socket,
  source: Readable,
  opts: { idleTimeoutMs: number; onBytes?(n: number): void },
): Promise<void> {
  let timedOut = false;
  socket.setTimeout(opts.idleTimeoutMs, () => {
    timedOut = true;
    socket.destroy();
  });
  const count = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      opts.onBytes?.(chunk.length);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(source, count, socket);
  } catch (err) {
    if (timedOut) throw new TransferFailure('TRANSFER_TIMEOUT', `The peer read nothing for ${opts.idleTimeoutMs / 1000} s.`);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new TransferFailure('INTERNAL', 'The stored content is missing.');
    if (isOutOfDescriptors(err)) throw descriptorsBusy();
    throw new TransferFailure('TRANSFER_ABORTED', `The download was interrupted: ${(err as Error).message}`);
  } finally {
    socket.setTimeout(0);
  }
}
