/**
 * Attachments, client side: declaring files, uploading them to a shadow listener, downloading
 * and verifying them (docs/PROTOCOL-transfer.md). Used by the CLI and the TUI; no UI here —
 * progress is reported through callbacks.
 *
 * Exported API
 *
 *   declareFile(path, name?, onProgress?) → LocalFile
 *       Size and sha256 of a local file, read as a stream (any size), reporting progress in the
 *       'hashing' phase (a large file takes seconds). `name` defaults to the file's base name;
 *       it is what recipients see and save the file as.
 *
 *   sendMessage(client, fields, files, onProgress?, onStored?) → SentMessage
 *       SEND with one attach= declaration per file, then uploadFile() for each, in order. The
 *       message pops up at its recipients when the last upload commits (`sent` is then true).
 *       onStored(sent) runs once the server has stored the message, before any upload (a caller
 *       remembers the files there, so an interrupted send can be resumed). If an upload fails
 *       for good the message is CANCELled, so nothing is left half-sent, and the error is thrown
 *       as a TransferError carrying `messageId` and whether the cancel reached the server
 *       (`cancelled`; false when the connection is gone: the message then stays resumable).
 *
 *   uploadFile(client, { messageId, attachmentId, path, restart? }, onProgress?, options?) → UploadResult
 *       UPLOAD on the control connection, then: connect to the offered address, send the
 *       ticket line, the file from the offered offset (a resume after an interruption), EOF;
 *       read the server's one-line verdict. Interruptions are retried (options.retries,
 *       default 3), each retry resuming where the server's copy stopped.
 *
 *   downloadAttachment(client, { messageId, attachmentId, dir, expect? }, onProgress?, options?) → DownloadResult
 *       DOWNLOAD into `<dir>/.siar-<message>-<attachment>.part` (resuming a partial one), check
 *       size and sha256, then rename to the attachment's name made safe (safeFileName), with
 *       " (1)", " (2)"… if another file has that name. With `expect` (the attachment as READ
 *       listed it) an identical file already in `dir` is kept and nothing is transferred.
 *       The part file is never followed if it is a symbolic link (O_NOFOLLOW): in a shared
 *       directory another user could plant one to make the download write into a file of theirs
 *       choosing; such a download fails with UNSAFE_PART_FILE and a sentence saying so.
 *
 *   UPLOAD/DOWNLOAD answered TRANSFER_BUSY (too many transfers, no free port or descriptor) are
 *   retried a few times with a growing pause (up to ~8 s in all) before the error is thrown; a
 *   TRANSFER_BUSY verdict on the data connection (no descriptor for the file) is one of the
 *   `retries`, after the same kind of pause; so is a download data connection that brings no
 *   bytes (what its server does when it cannot open the file).
 *
 *   safeFileName(name, fallback) → string
 *   TransferError { code, message }     code is a catalogue code (CHECKSUM_MISMATCH, TRANSFER_ABORTED…)
 *
 *   Progress callbacks get { attachmentId, name, done, total } in bytes (done counts resumed bytes).
 *
 * Long transfers keep the control connection alive with PINGs (the server closes idle ones).
 *
 * TLS: when the control connection speaks TLS, so does every data connection, verified with the
 * same trust (system CAs or the private CA) and against the same server name as the control
 * connection — the shadow listener must prove it is the server the member logged in to, whatever
 * address it was advertised at. A certificate that fails is TLS_UNVERIFIED (not retried).
 */
import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { constants as fsFlags, createReadStream } from 'node:fs';
import { lstat, mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { LineReader, decodeServerFrame, type AttachmentInfo, type ErrorCode } from '../protocol/index.js';
import { isDiskFull } from '../transfer/disk-space.js';
import { checkAttachmentName, encodeDeclaration, parseHostPort, type Declaration } from '../transfer/wire.js';
import { RemoteError, tlsServername, type ConnectOptions, type SiarClient } from './connection.js';
import { argsToUploaded, errorCodeOf, type TransferOffer, type Uploaded } from './replies.js';
import type { OutgoingMessage } from './calls.js';

export { encodeDeclaration };

/**
 * A catalogue code, or one of this side's own: TLS_UNVERIFIED (a transfer port whose certificate
 * did not name the server), UNSAFE_PART_FILE (a download's part file is a symbolic link).
 */
export type TransferErrorCode = ErrorCode | 'TLS_UNVERIFIED' | 'UNSAFE_PART_FILE';

/** A transfer that failed; `code` is a catalogue code (docs/PROTOCOL-transfer.md §Errors). */
export class TransferError extends Error {
  /** Set by sendMessage: the message the failed upload belonged to, and whether it was cancelled. */
  messageId?: number;
  cancelled?: boolean;

  constructor(readonly code: TransferErrorCode, message: string) {
    super(message);
    this.name = 'TransferError';
  }
}

export interface LocalFile extends Declaration {
  path: string;
  /** The file's mtime when it was hashed (a later resume need not hash it again if unchanged). */
  mtimeMs?: number;
}

export interface Progress {
  /** 0 while hashing: the server has not numbered the attachment yet. */
  attachmentId: number;
  name: string;
  done: number;
  total: number;
  /** Reading the file for its sha256 before SEND, or moving its bytes. */
  phase: 'hashing' | 'uploading' | 'downloading';
}

export type OnProgress = (p: Progress) => void;

export interface TransferOptions {
  /** Retries after an interruption, each resuming where the other side's copy stopped. */
  retries?: number;
  /** Local address for the data connection (it must match the control connection's). */
  localAddress?: string;
  /** Interval of keepalive PINGs on the control connection during a transfer. */
  keepaliveMs?: number;
  /** TLS trust for the data connections; by default the control connection's (null: plain TCP). */
  tls?: ConnectOptions['tls'] | null;
}

/** An upload's verdict: the attachment as stored, and whether the message went out with it. */
export type UploadResult = Omit<Uploaded, 'transfer'>;

export interface DownloadResult {
  messageId: number;
  attachmentId: number;
  name: string;
  path: string;
  size: number;
  sha256: string;
  type: string;
  /** True when an identical file was already there and nothing was transferred. */
  skipped: boolean;
}

/** A message's fields (addressing, text, alert options) without its attachments, which sendMessage declares. */
export type SendFields = Omit<OutgoingMessage, 'attachments'>;

export interface SentMessage {
  id: number;
  sentAt: string;
  recipients: number;
  /** 'sent' once every attachment is in (and at once without attachments). */
  state: string;
  /** While 'sending': when the server gives up on the message unless its uploads complete. */
  uploadDeadline: string | null;
  attachments: AttachmentInfo[];
}

/** Codes after which a new attempt cannot succeed; anything else is an interruption worth a resume. */
const FINAL_CODES = new Set<TransferErrorCode>([
  'CHECKSUM_MISMATCH', 'SIZE_MISMATCH', 'MESSAGE_CLOSED', 'BAD_TICKET', 'TRANSFER_REFUSED', 'NOT_FOUND', 'ALREADY_UPLOADED',
  'NOT_READY', 'FORBIDDEN', 'TOO_LARGE', 'INTERNAL', 'DISK_FULL', 'TLS_UNVERIFIED', 'UNSAFE_PART_FILE',
]);

export async function declareFile(file: string, name: string = path.basename(file), onProgress?: OnProgress): Promise<LocalFile> {
  // The server's rule, checked before the file is read through for its hash.
  const problem = checkAttachmentName(name);
  if (problem) throw new Error(`The file name "${name}" ${problem}; rename the file to attach it.`);
  const info = await stat(file);
  if (!info.isFile()) throw new Error(`${file} is not a regular file.`);
  const hash = createHash('sha256');
  let done = 0;
  const report = (): void => onProgress?.({ attachmentId: 0, name, done, total: info.size, phase: 'hashing' });
  report();
  await hashInto(file, 0, Infinity, hash, (n) => {
    done += n;
    report();
  });
  return { path: file, name, size: info.size, sha256: hash.digest('hex'), mtimeMs: info.mtimeMs };
}

export async function sendMessage(
  client: SiarClient, fields: SendFields, files: LocalFile[], onProgress?: OnProgress, onStored?: (sent: SentMessage) => void,
): Promise<SentMessage> {
  const reply = await client.send({ ...fields, attachments: files });
  const { id, attachments: declared } = reply;
  const sent: SentMessage = {
    id, sentAt: reply.sentAt, recipients: reply.recipients, state: reply.state, uploadDeadline: reply.uploadDeadline ?? null, attachments: declared,
  };
  onStored?.(sent);
  try {
    for (const file of files) {
      const a = declared.find((d) => d.name === file.name && d.sha256 === file.sha256 && d.size === file.size);
      if (!a) throw new TransferError('INTERNAL', `The server did not list the attachment ${file.name}.`);
      const result = await uploadFile(client, { messageId: id, attachmentId: a.id, path: file.path }, onProgress);
      a.type = result.type;
      if (result.sent) sent.state = 'sent';
    }
  } catch (err) {
    // Nobody will finish this message: let the server drop it and its files now. When the
    // server cannot hear it (the connection is gone), the message stays resumable instead.
    const cancelled = await client.cancel(id).then(() => true, () => false);
    const failure = err instanceof TransferError ? err : new TransferError('TRANSFER_ABORTED', (err as Error).message);
    failure.messageId = id;
    failure.cancelled = cancelled;
    throw failure;
  }
  return sent;
}

export async function uploadFile(
  client: SiarClient,
  args: { messageId: number; attachmentId: number; path: string; restart?: boolean },
  onProgress?: OnProgress,
  options: TransferOptions = {},
): Promise<UploadResult> {
  const retries = options.retries ?? 3;
  return withKeepalive(client, options.keepaliveMs, async () => {
    for (let attempt = 0; ; attempt++) {
      const offer = await requestOffer(() => client.openUpload({
        messageId: args.messageId, attachmentId: args.attachmentId, restart: attempt === 0 && args.restart,
      }));
      try {
        return await pushFile(offer, args.path, onProgress, dataOptions(client, options));
      } catch (err) {
        if (err instanceof TransferError && !FINAL_CODES.has(err.code) && attempt < retries) {
          await pauseBeforeRetry(err.code === 'TRANSFER_BUSY', attempt);
          continue;
        }
        throw err;
      }
    }
  });
}

export async function downloadAttachment(
  client: SiarClient,
  args: { messageId: number; attachmentId: number; dir: string; expect?: AttachmentInfo },
  onProgress?: OnProgress,
  options: TransferOptions = {},
): Promise<DownloadResult> {
  await mkdir(args.dir, { recursive: true });
  if (args.expect) {
    const existing = await identicalFile(args.dir, args.expect);
    if (existing) {
      const a = args.expect;
      return { messageId: args.messageId, attachmentId: a.id, name: a.name, path: existing, size: a.size, sha256: a.sha256, type: a.type, skipped: true };
    }
  }
  const part = path.join(args.dir, `.siar-${args.messageId}-${args.attachmentId}.part`);
  const retries = options.retries ?? 3;
  return withKeepalive(client, options.keepaliveMs, async () => {
    for (let attempt = 0; ; attempt++) {
      let offset = await partSize(part);
      let offer = await requestOffer(() => client.openDownload({ messageId: args.messageId, attachmentId: args.attachmentId, offset }));
      if (offset > offer.size) {
        await rm(part, { force: true });
        offset = 0;
        offer = await requestOffer(() => client.openDownload({ messageId: args.messageId, attachmentId: args.attachmentId, offset }));
      }
      try {
        // The hash covers the bytes a resume keeps (read once more) and then the stream as it arrives.
        const hash = createHash('sha256');
        if (offer.offset > 0) await hashPartInto(part, offer.offset, hash);
        await pullFile(offer, part, hash, onProgress, dataOptions(client, options));
        const digest = hash.digest('hex');
        if (digest !== offer.sha256) {
          await rm(part, { force: true });
          throw new TransferError('CHECKSUM_MISMATCH', `${offer.name}: the bytes hash to ${digest}, not ${offer.sha256}.`);
        }
        const target = await freeName(args.dir, safeFileName(offer.name, `attachment-${offer.attachmentId}`));
        await rename(part, target);
        return {
          messageId: args.messageId, attachmentId: offer.attachmentId, name: offer.name, path: target, size: offer.size,
          sha256: offer.sha256, type: offer.type, skipped: false,
        };
      } catch (err) {
        // A mismatch after a resume may come from a stale partial file: one fresh try from 0.
        if (err instanceof TransferError && err.code === 'CHECKSUM_MISMATCH' && offset > 0 && attempt < retries) continue;
        if (err instanceof TransferError && !FINAL_CODES.has(err.code) && attempt < retries) {
          // A download socket has no verdict line: one that brought nothing is the server's "busy".
          await pauseBeforeRetry((await partSize(part)) <= offer.offset, attempt);
          continue;
        }
        throw err;
      }
    }
  });
}

/**
 * A name from the server made safe to create in a directory: no path, no control characters,
 * no leading dots (hidden files, `..`), at most 200 characters; `fallback` if nothing is left.
 */
export function safeFileName(name: string, fallback: string): string {
  // eslint-disable-next-line no-control-regex
  let safe = (name.split(/[/\\]/).pop() ?? '').replace(/[\u0000-\u001f\u007f]/g, '_').replace(/^[.\s]+/, '').trim();
  if (safe.length > 200) {
    const ext = path.extname(safe).slice(0, 20);
    safe = safe.slice(0, 200 - ext.length) + ext;
  }
  return safe || fallback;
}

// --- internals --------------------------------------------------------------------------------

/** An offer with its address taken apart. */
type Offer = TransferOffer & { host: string; port: number };

/** TRANSFER_BUSY means "retry shortly": a few tries with a growing pause before giving up. */
const BUSY_DELAYS_MS = [250, 500, 1000, 2000, 4000];

/**
 * Before the next try after a failed data connection: wait when the server said TRANSFER_BUSY (an
 * upload's verdict) or the connection brought nothing (a download's server closes it at once when
 * it has no descriptor for the file); an interruption part-way resumes at once.
 */
async function pauseBeforeRetry(busy: boolean, attempt: number): Promise<void> {
  if (busy) await sleep(BUSY_DELAYS_MS[Math.min(attempt, BUSY_DELAYS_MS.length - 1)]!);
}

async function requestOffer(open: () => Promise<TransferOffer>): Promise<Offer> {
  let offer: TransferOffer;
  for (let attempt = 0; ; attempt++) {
    try {
      offer = await open();
      break;
    } catch (err) {
      if (!(err instanceof RemoteError)) throw err;
      const delay = BUSY_DELAYS_MS[attempt];
      if (err.code !== 'TRANSFER_BUSY' || delay === undefined) throw new TransferError(err.code, err.message);
      await sleep(delay);
    }
  }
  const addr = parseHostPort(offer.addr);
  if (!addr) throw new TransferError('BAD_FRAME', `The server offered no usable address (${offer.addr || 'none'}).`);
  return { ...offer, ...addr };
}

/** How data connections are made: local address, and TLS with the server name to verify. */
interface DataOptions {
  localAddress?: string;
  tls: { ca?: Buffer | string; identity: string } | null;
}

function dataOptions(client: SiarClient, options: TransferOptions): DataOptions {
  const control = client.connectOptions;
  const trust = options.tls !== undefined ? options.tls : control.tls;
  return {
    ...(options.localAddress ?? control.localAddress ? { localAddress: options.localAddress ?? control.localAddress } : {}),
    tls: trust ? { ca: trust.ca, identity: trust.servername ?? control.host } : null,
  };
}

/** OpenSSL's verification failures and Node's host name mismatch: retrying cannot help. */
const CERTIFICATE_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME/;

/** Connects to the shadow listener (TLS when the control connection has it) and presents the ticket. */
async function openData(offer: Offer, options: DataOptions): Promise<net.Socket> {
  const where = { host: offer.host, port: offer.port, ...(options.localAddress ? { localAddress: options.localAddress } : {}) };
  const secure = options.tls;
  const socket = secure
    ? tls.connect({
      ...where, ca: secure.ca, servername: tlsServername(secure.identity),
      // The listener's address is whatever the server advertised; its certificate must name the server itself.
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(secure.identity, cert),
    })
    : net.connect(where);
  socket.setNoDelay(true);
  try {
    await once(socket, secure ? 'secureConnect' : 'connect');
  } catch (err) {
    socket.destroy();
    const code = String((err as NodeJS.ErrnoException).code ?? '');
    if (secure && CERTIFICATE_ERROR.test(code)) {
      throw new TransferError('TLS_UNVERIFIED', `The transfer port ${offer.host}:${offer.port} did not prove it is ${secure.identity}: ${(err as Error).message}`);
    }
    throw new TransferError('TRANSFER_ABORTED', `Could not reach the transfer port ${offer.host}:${offer.port}: ${(err as Error).message}`);
  }
  socket.write(offer.ticket + '\n');
  return socket;
}

/** Streams the file from the offset, half-closes, and resolves with the server's verdict. */
async function pushFile(offer: Offer, file: string, onProgress: OnProgress | undefined, options: DataOptions): Promise<UploadResult> {
  const socket = await openData(offer, options);
  try {
    const verdict = readVerdict(socket);
    let done = offer.offset;
    const report = (): void => onProgress?.({ attachmentId: offer.attachmentId, name: offer.name, done, total: offer.size, phase: 'uploading' });
    report();
    const counter = new Transform({
      transform(chunk: Buffer, _enc, callback) {
        done += chunk.length;
        report();
        callback(null, chunk);
      },
    });
    // pipeline ends the socket after the last byte: the EOF that tells the server we are done.
    const sending = pipeline(createReadStream(file, { start: offer.offset, highWaterMark: FILE_CHUNK_BYTES }), counter, socket).catch((err: Error) => err);
    const line = await verdict;
    const sendError = await Promise.race([sending, Promise.resolve(null)]);
    if (line === null) {
      const why = sendError instanceof Error ? `: ${sendError.message}` : '';
      throw new TransferError('TRANSFER_ABORTED', `The upload of ${offer.name} was interrupted after ${done} of ${offer.size} bytes${why}.`);
    }
    const frame = decodeServerFrame(line);
    if (frame.kind === 'err') throw new TransferError(errorCodeOf(frame.code), frame.message);
    if (frame.kind !== 'ok') throw new TransferError('BAD_FRAME', `Unexpected verdict: ${line.slice(0, 80)}`);
    const { transfer: _transfer, ...result } = argsToUploaded(frame.args);
    return result;
  } finally {
    socket.destroy();
  }
}

/** The first line the server writes on the data socket, or null if it closes without one. */
function readVerdict(socket: net.Socket): Promise<string | null> {
  return new Promise((resolve) => {
    const reader = new LineReader(4096);
    const onData = (chunk: Buffer): void => {
      let lines;
      try {
        lines = reader.push(chunk);
      } catch {
        finish(null);
        return;
      }
      const first = lines[0];
      if (first) finish(first.ok ? first.line : null);
    };
    const finish = (line: string | null): void => {
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(line);
    };
    const onClose = (): void => finish(null);
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', () => undefined);
  });
}

/** Appends the bytes from the offer's offset to `part` until the server's EOF. */
async function pullFile(offer: Offer, part: string, hash: Hash, onProgress: OnProgress | undefined, options: DataOptions): Promise<void> {
  const socket = await openData(offer, options);
  let done = offer.offset;
  const expected = offer.size - offer.offset;
  const report = (): void => onProgress?.({ attachmentId: offer.attachmentId, name: offer.name, done, total: offer.size, phase: 'downloading' });
  report();
  const counter = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      done += chunk.length;
      if (done > offer.size) {
        callback(new TransferError('SIZE_MISMATCH', `The server sent more than ${offer.size} bytes.`));
        return;
      }
      hash.update(chunk);
      report();
      callback(null, chunk);
    },
  });
  try {
    const file = await openPart(part, offer.offset > 0 ? fsFlags.O_APPEND : fsFlags.O_TRUNC, 'w');
    await pipeline(socket, counter, file.createWriteStream());
  } catch (err) {
    if (err instanceof TransferError) throw err;
    if (isDiskFull(err)) {
      throw new TransferError('DISK_FULL', `No room left on this computer's disk for ${offer.name} (${done} of ${offer.size} bytes saved in ${part}).`);
    }
    // What arrived stays in the part file: the next attempt resumes from there.
    throw new TransferError('TRANSFER_ABORTED', `The download of ${offer.name} was interrupted after ${done} of ${offer.size} bytes: ${(err as Error).message}`);
  } finally {
    socket.destroy();
  }
  if (done - offer.offset !== expected) {
    throw new TransferError('TRANSFER_ABORTED', `The download of ${offer.name} stopped after ${done} of ${offer.size} bytes.`);
  }
}

async function withKeepalive<T>(client: SiarClient, ms = 60_000, work: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => { client.ping().catch(() => undefined); }, ms);
  timer.unref();
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** Files are read 1 MiB at a time: in 64 KiB reads a 1 GiB upload cost the client 2–4× the CPU. */
const FILE_CHUNK_BYTES = 1024 * 1024;

async function hashInto(file: string, start: number, end: number, hash: Hash, onBytes?: (n: number) => void): Promise<void> {
  await pipeline(createReadStream(file, { start, highWaterMark: FILE_CHUNK_BYTES, ...(Number.isFinite(end) ? { end } : {}) }), new Writable({
    write(chunk: Buffer, _enc, callback) {
      hash.update(chunk);
      onBytes?.(chunk.length);
      callback();
    },
  }));
}

/** The bytes a download's part file already holds (0 when there is none); refuses one that is not a plain file. */
async function partSize(part: string): Promise<number> {
  const s = await lstat(part).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (s === null) return 0;
  if (!s.isFile()) throw unsafePart(part);
  return s.size;
}

/** Opens a part file without following a symbolic link planted at its path. */
async function openPart(part: string, flags: number, how: 'r' | 'w'): Promise<FileHandle> {
  const access = how === 'r' ? fsFlags.O_RDONLY : fsFlags.O_WRONLY | fsFlags.O_CREAT;
  try {
    return await open(part, access | flags | fsFlags.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw unsafePart(part);
    throw err;
  }
}

function unsafePart(part: string): TransferError {
  return new TransferError('UNSAFE_PART_FILE',
    `${part} is a symbolic link or not a plain file; the download will not write through it (someone else may have put it there). `
    + 'Remove it, or download into a directory only you can write to.');
}

/** Hashes the first `bytes` of a part file (the bytes a resume keeps), not following a symbolic link. */
async function hashPartInto(part: string, bytes: number, hash: Hash): Promise<void> {
  const file = await openPart(part, 0, 'r');
  await pipeline(file.createReadStream({ start: 0, end: bytes - 1, highWaterMark: FILE_CHUNK_BYTES }), new Writable({
    write(chunk: Buffer, _enc, callback) {
      hash.update(chunk);
      callback();
    },
  }));
}

/** The path of a file in `dir` with the attachment's safe name and content, if there is one. */
async function identicalFile(dir: string, a: AttachmentInfo): Promise<string | null> {
  const base = safeFileName(a.name, `attachment-${a.id}`);
  const ext = path.extname(base);
  const stem = base.slice(0, base.length - ext.length);
  for (let i = 0; i < 100; i++) {
    const candidate = path.join(dir, i === 0 ? base : `${stem} (${i})${ext}`);
    const size = await stat(candidate).then((s) => (s.isFile() ? s.size : -1), () => null);
    if (size === null) return null;
    if (size !== a.size) continue;
    const hash = createHash('sha256');
    await hashInto(candidate, 0, Infinity, hash);
    if (hash.digest('hex') === a.sha256) return candidate;
  }
  return null;
}

/** `name`, or `stem (1).ext`, `stem (2).ext`… whichever does not exist yet. */
async function freeName(dir: string, name: string): Promise<string> {
  const ext = path.extname(name);
  const stem = name.slice(0, name.length - ext.length);
  for (let i = 0; ; i++) {
    const candidate = path.join(dir, i === 0 ? name : `${stem} (${i})${ext}`);
    if (!(await exists(candidate))) return candidate;
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}
