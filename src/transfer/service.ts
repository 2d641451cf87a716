/**
 * TransferService: every live shadow listener of the server, and the life of a message's
 * attachments (docs/PROTOCOL-transfer.md).
 *
 * A transfer is one attachment moving one way over its own shadow listener:
 *
 *   UPLOAD/DOWNLOAD on the control connection
 *     → limits checked, a listener opened, a one-time ticket made; the reply carries addr+ticket
 *   waiting     the listener waits for the control connection's address with the ticket
 *   streaming   bytes move (upload: into the content port's partial upload, hashing; download:
 *               from the stored content)
 *   committing  (upload) size and sha256 verified, the content stored by sha256, the store commits
 *   finished    the verdict line on the data socket, a push on the control connection, the
 *               listener and its sockets closed, the transfer forgotten
 *
 * Every path out — success, refusal, timeout, mismatch, disconnect, abort, shutdown — goes
 * through the one `finally` in run(), so no listener, socket or file outlives its transfer.
 *
 * What the store decides (who may upload or download what, an upload's commit, a message still
 * waiting for its files closed, which partial uploads may be resumed, whether content is still
 * referenced) is the transfers' bookkeeping in the core (src/core/services/transfers.ts,
 * TransferBooks): this service asks it, and moves the bytes, keeps the listeners and pushes.
 */
import { wireError } from '../core/wire-errors.js';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { SiarError, encodeError, encodeOk, type ArgInput } from '../protocol/index.js';
import type { PeerConnection } from '../core/ports/peer.js';
import type { TransferDeps } from './ports.js';
import type { AttachmentMeta, Message, RecallOutcome } from '../core/ports/store/messages.js';
import { ContentMismatch, type AttachmentContent, type UploadHandle } from '../core/ports/content.js';
import { isDiskFull } from './disk-space.js';
import { KeyedLock } from '../core/keyed-lock.js';
import { detectMediaType } from './media-type.js';
import {
  ListenerClosedError, ListenerTimeoutError, NoFreePortError, ShadowListener, hashTicket, type Accepted, type Refusal,
} from './shadow-listener.js';
import { DESCRIPTORS_BUSY, TransferFailure, descriptorsBusy, isOutOfDescriptors, receiveUpload, sendDownload } from './streams.js';
import { formatBytes } from '../protocol/units.js';
import { formatHostPort } from './wire.js';
import type { LiveTransfer, TransferDirection, TransferPhase } from '../protocol/index.js';

export type Direction = TransferDirection;
export type Phase = TransferPhase;

/** What a member gets back from UPLOAD or DOWNLOAD: where to connect and what to present. */
export interface TransferOffer {
  transfer: string;
  addr: string;
  ticket: string;
  expiresAt: string;
  /** Upload: bytes the server already has (send from here). Download: where the bytes start. */
  offset: number;
  attachment: AttachmentMeta;
}

interface Live {
  id: string;
  direction: Direction;
  phase: Phase;
  userId: number;
  username: string;
  conn: PeerConnection;
  attachment: AttachmentMeta;
  offset: number;
  /** Bytes of the attachment moved or held so far (offset + streamed). */
  bytes: number;
  listener: ShadowListener;
  since: Date;
  log: Logger;
  /** Set by abort(): the reason the transfer ends, whatever the stream saw. */
  aborted: TransferFailure | null;
  finished: Promise<void>;
}

type Requester = { conn: PeerConnection; userId: number; username: string };

export class TransferService {
  private readonly live = new Map<string, Live>();
  /** Transfers being opened (limits count them before their listener exists). */
  private readonly opening = new Map<number, number>();
  private openingTotal = 0;
  private readonly byConn = new Map<PeerConnection, Set<Live>>();
  private readonly attachmentLock = new KeyedLock<number>();
  private readonly idleWaiters: Array<() => void> = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | null = null;
  private stopped = false;
  private nextId = 1;
  /** Where attachment bytes live (src/core/ports/content.ts): files on this node, or PostgreSQL. */
  readonly content: AttachmentContent;
  private readonly log: Logger;
  /** The control port's certificate and key: with TLS on, every shadow listener speaks TLS too. */
  private readonly secureContext: tls.SecureContext | null;

  constructor(private readonly services: TransferDeps, content: AttachmentContent) {
    this.content = content;
    this.log = services.log.child({ area: 'transfer' });
    const { tls: pem } = services.config;
    this.secureContext = pem ? tls.createSecureContext({ cert: pem.cert, key: pem.key }) : null;
  }

  /** Makes the directories, removes what a crash left behind, and starts the periodic sweep. */
  async start(): Promise<void> {
    await this.content.init();
    const orphans = await this.content.sweepOrphans((sha) => this.services.books.contentInUse(sha));
    if (orphans > 0) this.log.info({ orphans }, 'removed stored files no attachment refers to');
    await this.sweep();
    this.sweepTimer = setInterval(() => { void this.sweep(); }, this.services.config.transferSweepIntervalMs);
    this.sweepTimer.unref();
  }

  /**
   * Shutdown, first step: no new transfers, listeners nobody has come to yet are closed, and the
   * transfers already moving bytes may finish within `deadlineMs` (stop() aborts the rest).
   */
  async drain(deadlineMs: number): Promise<void> {
    this.stopped = true;
    const shutdown = new TransferFailure('TRANSFER_ABORTED', 'The server is shutting down.');
    for (const t of this.live.values()) if (t.phase === 'waiting') this.abort(t, shutdown);
    const moving = [...this.live.values()].filter((t) => t.phase === 'streaming' || t.phase === 'committing');
    if (moving.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => { timer = setTimeout(resolve, deadlineMs); });
    await Promise.race([Promise.all(moving.map((t) => t.finished)), deadline]);
    clearTimeout(timer);
  }

  /** Aborts every transfer and waits until all their listeners, sockets and files are settled. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweepTimer);
    await this.sweeping;
    const all = [...this.live.values()];
    for (const t of all) this.abort(t, new TransferFailure('TRANSFER_ABORTED', 'The server is shutting down.'));
    await Promise.all(all.map((t) => t.finished));
    await this.content.close();
  }

  // --- what the server reports -------------------------------------------------------------

  /** Shadow listeners not yet fully closed (listening, or serving their one peer). */
  liveListeners(): number {
    let n = 0;
    for (const t of this.live.values()) if (t.listener.live) n++;
    return n;
  }

  /** Transfers in progress (0 exactly when nothing is listening, streaming or committing). */
  liveTransfers(): number {
    return this.live.size;
  }

  /** Every live listener and transfer, as TRANSFERS lists it. */
  list(): LiveTransfer[] {
    return [...this.live.values()].map((t) => ({
      transfer: t.id, direction: t.direction, phase: t.phase, username: t.username, messageId: t.attachment.messageId,
      attachmentId: t.attachment.id, name: t.attachment.name, size: t.attachment.size, offset: t.offset, bytes: t.bytes,
      addr: formatHostPort(t.listener.host, t.listener.port), peer: t.conn.remoteAddress, since: t.since.toISOString(),
    }));
  }

  /**
   * How many bytes of a declared attachment the server holds: all of them once committed, else
   * what a live upload has received or an interrupted one left for a resume (what UPLOAD would
   * offer as its offset). For the sender's view of a message still being sent.
   */
  async uploadedBytes(attachment: AttachmentMeta): Promise<number> {
    if (attachment.storagePath !== null) return attachment.size;
    for (const t of this.live.values()) {
      if (t.direction === 'upload' && t.attachment.id === attachment.id) return Math.min(t.bytes, attachment.size);
    }
    return Math.min(await this.content.partialSize(attachment.id), attachment.size);
  }

  /** Resolves when no transfer is live (at once if none is). */
  whenIdle(): Promise<void> {
    if (this.live.size === 0 && this.openingTotal === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // --- UPLOAD --------------------------------------------------------------------------------

  /**
   * Opens a shadow listener for one declared attachment of the requester's own 'sending'
   * message. A partial upload on disk is resumed (the offer's offset) unless `restart`.
   */
  async openUpload(who: Requester, args: { messageId: number; attachmentId: number; restart: boolean }): Promise<TransferOffer> {
    const { books } = this.services;
    return this.attachmentLock.run(args.attachmentId, async () => {
      const attachment = await books.uploadable(who.userId, args.messageId, args.attachmentId);

      // One upload per attachment: a new UPLOAD (a client retrying) replaces a stale one.
      for (const t of this.live.values()) {
        if (t.direction === 'upload' && t.attachment.id === attachment.id) {
          this.abort(t, new TransferFailure('TRANSFER_ABORTED', 'Replaced by a newer UPLOAD of the same attachment.'));
          await t.finished;
        }
      }
      return this.withSlot(who.userId, async () => {
        const upload = await this.content.beginUpload(attachment.id, { restart: args.restart, maxSize: attachment.size });
        await this.checkRoomFor(attachment.size - upload.offset);
        return this.begin('upload', who, attachment, upload.offset, (t, accepted) => this.runUpload(t, accepted, upload));
      });
    });
  }

  private async runUpload(t: Live, { socket, head }: Accepted, upload: UploadHandle): Promise<void> {
    const { config, books } = this.services;
    let kept = true;
    try {
      await receiveUpload(socket, head, {
        sink: (handlers) => upload.open(handlers), expected: t.attachment.size - t.offset, hash: upload.hash,
        idleTimeoutMs: config.transferIdleTimeoutMs, onBytes: (n) => { t.bytes += n; },
      });
      if (t.aborted) throw t.aborted;
      t.phase = 'committing';
      // receiveUpload made the bytes durable before it resolved: the commit cannot outlive them.
      // The content port verifies the sha256 (ContentMismatch) before anything is stored.
      const commit = await this.content.commit(upload, t.attachment.sha256, async (storagePath) => {
        const mediaType = await this.detectMediaType(storagePath, t.attachment.name);
        return books.commitUpload(t.attachment.id, storagePath, mediaType);
      }, (sha) => books.contentInUse(sha)).catch((err: unknown) => {
        if (!(err instanceof ContentMismatch)) throw err;
        kept = false;
        throw new TransferFailure('CHECKSUM_MISMATCH', err.message);
      });
      kept = false;
      if (!commit) throw new TransferFailure('MESSAGE_CLOSED');
      const a = commit.attachment;
      const result = { attachment: a.id, size: a.size, sha256: a.sha256, type: a.mediaType, missing: commit.missing, sent: commit.sent ? 1 : 0, ...(commit.held ? { held: 1 } : {}) };
      t.log.info({ ...result, ms: Date.now() - t.since.getTime() }, 'upload committed');
      t.conn.push('UPLOADED', { transfer: t.id, message: a.messageId, ...result });
      if (commit.sent) this.messageSent(commit.message, commit.replaced ?? null);
      await endWith(socket, encodeOk(t.id, { message: a.messageId, ...result }));
    } catch (err) {
      const failure = this.failureOf(t, err);
      // A full disk gets its space back: the partial upload is not kept for a resume.
      if (['SIZE_MISMATCH', 'CHECKSUM_MISMATCH', 'MESSAGE_CLOSED', 'DISK_FULL'].includes(failure.code)) kept = false;
      // Keep an interrupted upload's bytes for a resume, unless configured not to.
      if (!kept || config.partialRetentionMs === 0) await this.content.removePartial(t.attachment.id);
      const have = kept && config.partialRetentionMs > 0 ? await this.content.partialSize(t.attachment.id) : 0;
      this.reportFailure(t, failure, { offset: have });
      if (!socket.destroyed) await endWith(socket, encodeError(t.id, failure.code, failure.message));
    }
  }

  /**
   * Refuses an upload up front (DISK_FULL) when the data disk cannot take its remaining bytes,
   * those still to come for the uploads already running, and the configured free-space floor.
   */
  private async checkRoomFor(bytes: number): Promise<void> {
    const { config } = this.services;
    const free = await this.content.freeBytes();
    // Content in the database: its disk is not this node's to measure (the quotas bound uploads).
    if (free === null) return;
    let promised = 0;
    for (const t of this.live.values()) if (t.direction === 'upload') promised += Math.max(0, t.attachment.size - t.bytes);
    if (free - promised - bytes < config.minFreeDiskBytes) {
      this.log.warn({ free, promised, bytes, floor: config.minFreeDiskBytes }, 'upload refused: the data disk is (nearly) full');
      throw new SiarError('DISK_FULL',
        `The server has ${formatBytes(Math.max(0, free - promised))} free for uploads and keeps ${formatBytes(config.minFreeDiskBytes)} in reserve; `
        + `this upload needs ${formatBytes(bytes)}. Retry later.`);
    }
  }

  /** The committed content's type by its head, else by its name (media-type.ts). */
  private detectMediaType(storageKey: string, name: string): Promise<string> {
    return detectMediaType(this.content.openRead(storageKey, 0), name);
  }

  /**
   * The message's last attachment is in: the popups go out (after the withdrawal of the message a
   * correction replaces, when it did), and its sender hears so.
   */
  private messageSent(message: Message, replaced: RecallOutcome | null): void {
    const { books, router, log } = this.services;
    router.pushToUser(message.senderId, 'SENT', { id: message.id, sentAt: message.sentAt, recipients: message.recipients.length });
    setImmediate(() => {
      (async () => {
        this.services.deliver(message, await books.senderInstitution(message), replaced);
      })().catch((err) => log.error({ err, messageId: message.id }, 'delivery failed'));
    });
  }

  // --- DOWNLOAD ------------------------------------------------------------------------------

  /** Opens a shadow listener that sends one stored attachment to its message's sender or recipient. */
  async openDownload(who: Requester, args: { messageId: number; attachmentId: number; offset: number }): Promise<TransferOffer> {
    const attachment = await this.services.books.downloadable(who.userId, args.messageId, args.attachmentId, args.offset);
    const storageKey = attachment.storagePath;
    return this.withSlot(who.userId, () =>
      this.begin('download', who, attachment, args.offset, (t, accepted) => this.runDownload(t, accepted, storageKey)));
  }

  private async runDownload(t: Live, { socket }: Accepted, storageKey: string): Promise<void> {
    try {
      await sendDownload(socket, this.content.openRead(storageKey, t.offset), {
        idleTimeoutMs: this.services.config.transferIdleTimeoutMs, onBytes: (n) => { t.bytes += n; },
      });
      await closedOrTimeout(socket, 2000);
      if (t.aborted) throw t.aborted;
      t.log.info({ bytes: t.bytes - t.offset, ms: Date.now() - t.since.getTime() }, 'download sent');
      t.conn.push('DOWNLOADED', { transfer: t.id, message: t.attachment.messageId, attachment: t.attachment.id, bytes: t.bytes - t.offset });
    } catch (err) {
      this.reportFailure(t, this.failureOf(t, err), { offset: t.bytes });
    }
  }

  // --- messages waiting for their attachments ------------------------------------------------

  /** The sender gives up on a 'sending' message: nobody will see it, its files are released. */
  async cancelMessage(userId: number, messageId: number): Promise<Message> {
    await this.services.books.cancellable(userId, messageId);
    const closed = await this.closeMessage(messageId, 'cancelled');
    if (!closed) throw new SiarError('NOT_FOUND', `Message ${messageId} is no longer waiting for attachments.`);
    return closed;
  }

  /**
   * Ends a 'sending' message (expired or cancelled): the store first (from then on no upload of
   * it can commit), then its live transfers, partial uploads and stored files no one else uses.
   */
  private async closeMessage(messageId: number, state: 'expired' | 'cancelled'): Promise<Message | null> {
    const { books, router } = this.services;
    const message = await books.closeSending(messageId, state);
    if (!message) return null;
    const transfers = [...this.live.values()].filter((t) => t.attachment.messageId === messageId);
    for (const t of transfers) this.abort(t, new TransferFailure('MESSAGE_CLOSED', `Message ${messageId} was ${state}.`));
    await Promise.all(transfers.map((t) => t.finished));
    for (const a of message.attachments) {
      await this.attachmentLock.run(a.id, () => this.content.removePartial(a.id));
      if (a.storagePath !== null) await this.content.release(a.sha256, (sha) => books.contentInUse(sha));
    }
    this.log.info({ messageId, state }, 'message closed before all its attachments arrived');
    router.pushToUser(message.senderId, 'SEND_FAILED', { id: messageId, state });
    return message;
  }

  /**
   * Expires overdue 'sending' messages and removes partial uploads nobody can resume: those of
   * finished or closed messages, and those idle longer than partialRetentionMs.
   */
  sweep(): Promise<void> {
    this.sweeping ??= this.runSweep().finally(() => { this.sweeping = null; });
    return this.sweeping;
  }

  private async runSweep(): Promise<void> {
    const { books, config } = this.services;
    try {
      for (;;) {
        const overdue = await books.overdue(new Date().toISOString(), 100);
        for (const id of overdue) await this.closeMessage(id, 'expired');
        if (overdue.length < 100 || this.stopped) break;
      }
      for (const p of await this.content.listPartials()) {
        if (p.attachmentId === null) {
          await this.content.removePartialEntry(p.entry);
          continue;
        }
        const id = p.attachmentId;
        await this.attachmentLock.run(id, async () => {
          if ([...this.live.values()].some((t) => t.direction === 'upload' && t.attachment.id === id)) return;
          if (!(await books.resumable(id)) || Date.now() - p.mtimeMs >= config.partialRetentionMs) await this.content.removePartial(id);
        });
      }
    } catch (err) {
      this.log.error({ err }, 'transfer sweep failed');
    }
  }

  // --- the common part of every transfer -----------------------------------------------------

  /** Counts the transfer against the limits while it is being set up; TRANSFER_BUSY past them. */
  private async withSlot<T>(userId: number, work: () => Promise<T>): Promise<T> {
    const { config } = this.services;
    if (this.stopped) throw new SiarError('SHUTTING_DOWN');
    const mine = [...this.live.values()].filter((t) => t.userId === userId).length + (this.opening.get(userId) ?? 0);
    if (mine >= config.maxTransfersPerMember) {
      throw new SiarError('TRANSFER_BUSY', `You have ${mine} transfers running (at most ${config.maxTransfersPerMember}); retry when one ends.`);
    }
    if (this.live.size + this.openingTotal >= config.maxTransfers) {
      throw new SiarError('TRANSFER_BUSY', 'The server is running as many transfers as it allows; retry shortly.');
    }
    this.opening.set(userId, (this.opening.get(userId) ?? 0) + 1);
    this.openingTotal++;
    try {
      return await work();
    } catch (err) {
      // No descriptor for the listener (or a resumed upload's file): a full server, not a fault.
      if (isOutOfDescriptors(err)) {
        this.log.warn({ code: (err as NodeJS.ErrnoException).code, live: this.live.size }, 'transfer refused: no file descriptor free');
        throw new SiarError('TRANSFER_BUSY', DESCRIPTORS_BUSY);
      }
      throw err;
    } finally {
      const n = (this.opening.get(userId) ?? 1) - 1;
      if (n === 0) this.opening.delete(userId);
      else this.opening.set(userId, n);
      this.openingTotal--;
      this.notifyIfIdle();
    }
  }

  /** Opens the listener, makes the ticket, and starts waiting for the peer in the background. */
  private async begin(
    direction: Direction,
    who: Requester,
    attachment: AttachmentMeta,
    offset: number,
    run: (t: Live, accepted: Accepted) => Promise<void>,
  ): Promise<TransferOffer> {
    const { config } = this.services;
    const host = config.transferHost ?? (who.conn.localAddress || config.host);
    let listener: ShadowListener;
    try {
      listener = await ShadowListener.open({ host, ports: config.transferPorts, exclude: this.heldPorts(), tls: this.secureContext });
    } catch (err) {
      if (err instanceof NoFreePortError) throw new SiarError('TRANSFER_BUSY', `${err.message} Retry shortly.`);
      throw err;
    }
    const id = `${direction === 'upload' ? 'u' : 'd'}${this.nextId++}`;
    const ticket = randomBytes(32).toString('base64url');
    const deadline = Date.now() + config.transferConnectTimeoutMs;
    const t: Live = {
      id, direction, phase: 'waiting', userId: who.userId, username: who.username, conn: who.conn, attachment, offset,
      bytes: offset, listener, since: new Date(), aborted: null, finished: Promise.resolve(),
      log: this.log.child({ transfer: id, user: who.username, messageId: attachment.messageId, attachmentId: attachment.id }),
    };
    const accepted = listener.accept({
      expectedAddress: who.conn.remoteAddress,
      ticketHash: hashTicket(ticket),
      deadline,
      ticketTimeoutMs: config.transferIdleTimeoutMs,
      onRefused: (r) => this.refused(t, r),
    });
    this.live.set(id, t);
    this.watchConnection(t);
    t.finished = this.run(t, accepted, run);
    t.log.info({ direction, port: listener.port, offset, size: attachment.size }, 'transfer listening');
    return {
      transfer: id, addr: formatHostPort(host, listener.port), ticket, expiresAt: new Date(deadline).toISOString(), offset, attachment,
    };
  }

  private async run(t: Live, accepted: Promise<Accepted>, body: (t: Live, a: Accepted) => Promise<void>): Promise<void> {
    try {
      let peer: Accepted;
      try {
        peer = await accepted;
      } catch (err) {
        this.reportFailure(t, this.failureOf(t, err), { offset: t.offset });
        return;
      }
      t.phase = 'streaming';
      t.log.debug('peer accepted');
      if (t.aborted) {
        this.reportFailure(t, t.aborted, { offset: t.offset });
        return;
      }
      await body(t, peer);
    } catch (err) {
      t.log.error({ err }, 'transfer failed unexpectedly');
    } finally {
      t.phase = 'finished';
      await t.listener.close();
      this.live.delete(t.id);
      this.byConn.get(t.conn)?.delete(t);
      this.notifyIfIdle();
    }
  }

  /** Ends a transfer from outside (control connection closed, message closed, shutdown). */
  private abort(t: Live, reason: TransferFailure): void {
    if (t.aborted || t.phase === 'finished') return;
    t.aborted = reason;
    // Rejects a pending accept, or destroys the streaming socket: run() takes it from there.
    // A commit already under way is left to finish: the store decides whether it still counts.
    if (t.phase !== 'committing') void t.listener.close();
  }

  private failureOf(t: Live, err: unknown): TransferFailure {
    if (t.aborted) return t.aborted;
    if (err instanceof TransferFailure) {
      // The content store's own error stays in the log; the member hears the failure's sentence.
      if (err.cause) t.log.error({ err: err.cause }, 'storing the transfer failed');
      return err;
    }
    if (err instanceof ListenerTimeoutError) {
      return new TransferFailure('TRANSFER_TIMEOUT', `Nobody presented the ticket within ${this.services.config.transferConnectTimeoutMs / 1000} s.`);
    }
    if (err instanceof ListenerClosedError) return new TransferFailure('TRANSFER_ABORTED');
    const refused = err instanceof SiarError ? err : wireError(err);
    if (refused) return new TransferFailure(refused.code, refused.message);
    if (isOutOfDescriptors(err)) {
      t.log.warn({ err }, 'no file descriptor free during a transfer');
      return descriptorsBusy();
    }
    if (isDiskFull(err)) {
      t.log.warn({ err }, 'the data disk filled up during a transfer');
      return new TransferFailure('DISK_FULL', 'The server\'s disk filled up while storing the attachment; nothing was kept. Retry later.');
    }
    t.log.error({ err }, 'transfer error');
    return new TransferFailure('INTERNAL');
  }

  private reportFailure(t: Live, failure: TransferFailure, extra: ArgInput): void {
    t.log.info({ code: failure.code, reason: failure.message, bytes: t.bytes }, 'transfer failed');
    t.conn.push('TRANSFER_FAILED', {
      transfer: t.id, direction: t.direction, message: t.attachment.messageId, attachment: t.attachment.id,
      code: failure.code, reason: failure.message, ...extra,
    });
  }

  private refused(t: Live, r: Refusal): void {
    t.log.warn({ reason: r.reason, address: r.address, expected: t.conn.remoteAddress }, 'transfer connection refused');
    this.services.books.auditRefused({
      transfer: t.id, direction: t.direction, userId: t.userId, username: t.username, address: r.address, reason: r.reason, attachment: t.attachment,
    }).catch((err) => t.log.error({ err }, 'could not audit a refused transfer connection'));
  }

  /** A transfer lives no longer than the control connection that asked for it. */
  private watchConnection(t: Live): void {
    let mine = this.byConn.get(t.conn);
    if (!mine) {
      // One close listener per connection, however many transfers it asks for.
      const set = (mine = new Set());
      this.byConn.set(t.conn, set);
      t.conn.onClose(() => {
        this.byConn.delete(t.conn);
        for (const x of set) this.abort(x, new TransferFailure('TRANSFER_ABORTED', 'The control connection closed.'));
      });
    }
    mine.add(t);
  }

  private heldPorts(): Set<number> {
    return new Set([...this.live.values()].filter((t) => t.listener.live).map((t) => t.listener.port));
  }

  private notifyIfIdle(): void {
    if (this.live.size === 0 && this.openingTotal === 0) for (const w of this.idleWaiters.splice(0)) w();
  }
}

/** Writes the last line, ends our side, and waits (briefly) for the peer to close. */
async function endWith(socket: Socket, line: string): Promise<void> {
  if (socket.destroyed) return;
  socket.end(line + '\n');
  await closedOrTimeout(socket, 2000);
}

function closedOrTimeout(socket: Socket, ms: number): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve();
    }, ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    // A half-closed peer that has read everything also closes; one that never does is cut.
    socket.resume();
  });
}

