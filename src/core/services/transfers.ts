/**
 * Transfers, the rules and the store's bookkeeping (issue 18 item 5): who may upload or download
 * which attachment, what an upload's commit changes (the message goes out with its last file, or a
 * scheduled one is held until its time), the cancel and expiry of a message still waiting for its
 * files, which partial uploads may still be resumed, whether stored content is still referenced,
 * and the audit of a refused data connection. It depends on the store port only; the transfer
 * service (src/transfer/service.ts) opens the shadow listeners, moves the bytes through the content
 * port and pushes what this decides.
 */
import { SiarError } from '../../protocol/index.js';
import type { AccountStore } from '../ports/store/accounts.js';
import type { AlertStore } from '../ports/store/alerts.js';
import type { AuditStore } from '../ports/store/audit.js';
import type { AttachmentCommit, AttachmentMeta, Message, MessageStore } from '../ports/store/messages.js';
import { auditRecall } from './alerts.js';

/** What the transfers' bookkeeping reads and writes in the store. */
export type TransferStore =
  & Pick<MessageStore, 'getAttachment' | 'getMessageFor' | 'messageRole' | 'commitAttachment' | 'closeSendingMessage' | 'overdueSendingMessages' | 'isContentReferenced'>
  & Pick<AlertStore, 'alertsOf'>
  & Pick<AccountStore, 'getUserById'>
  & Pick<AuditStore, 'audit'>;

/** An attachment whose content is stored, ready to be read. */
export type StoredAttachment = AttachmentMeta & { storagePath: string };

/** A data connection a shadow listener refused (wrong address, bad ticket…), for the audit log. */
export interface RefusedConnection {
  transfer: string;
  direction: 'upload' | 'download';
  userId: number;
  username: string;
  /** The address it came from. */
  address: string;
  reason: string;
  attachment: Pick<AttachmentMeta, 'id' | 'messageId'>;
}

export class TransferBooks {
  constructor(private readonly store: TransferStore) {}

  /**
   * UPLOAD's checks: one declared attachment of the requester's own message still waiting for its
   * files. Someone else's message answers like a missing one (ids reveal nothing).
   */
  async uploadable(userId: number, messageId: number, attachmentId: number): Promise<AttachmentMeta> {
    const { store } = this;
    const attachment = await store.getAttachment(attachmentId);
    const message = attachment && attachment.messageId === messageId ? await store.getMessageFor(messageId, []) : null;
    if (!attachment || !message || message.senderId !== userId) {
      throw new SiarError('NOT_FOUND', `No attachment ${attachmentId} on message ${messageId} in your outbox.`);
    }
    if (attachment.storagePath !== null) throw new SiarError('ALREADY_UPLOADED');
    if (message.state !== 'sending') throw new SiarError('MESSAGE_CLOSED', `Message ${message.id} is ${message.state}; send it again.`);
    return attachment;
  }

  /**
   * DOWNLOAD's checks: a stored attachment of a message the requester sent or received (neither:
   * the same answer as a missing one), not recalled (for a recipient), not removed after expiry,
   * and an offset within it.
   */
  async downloadable(userId: number, messageId: number, attachmentId: number, offset: number): Promise<StoredAttachment> {
    const { store } = this;
    const attachment = await store.getAttachment(attachmentId);
    const role = attachment && attachment.messageId === messageId ? await store.messageRole(messageId, userId) : null;
    if (!attachment || role === null) {
      throw new SiarError('NOT_FOUND', `No attachment ${attachmentId} on message ${messageId} in your inbox or outbox.`);
    }
    if (role === 'recipient') {
      // A recalled message's attachments are no longer served to its recipients (issue 21).
      const alert = (await store.alertsOf([messageId])).get(messageId);
      if (alert?.recalledAt) {
        throw new SiarError('RECALLED', `Message ${messageId} was withdrawn by its sender${alert.recallReason ? `: ${alert.recallReason}` : ''}; its attachments are no longer served.`);
      }
    }
    if (attachment.removedAt) {
      throw new SiarError('ATTACHMENT_REMOVED', `Attachment ${attachment.id} of message ${messageId} was removed at ${attachment.removedAt}: the message expired and the server keeps expired attachments only for a grace period.`);
    }
    const { storagePath } = attachment;
    if (storagePath === null) throw new SiarError('NOT_READY');
    if (offset > attachment.size) throw new SiarError('BAD_ARGUMENT', `offset is past the end (${attachment.size} bytes).`);
    return { ...attachment, storagePath };
  }

  /**
   * An upload's bytes are stored (verified) under `storagePath`: the store records it. With the
   * message's last file in, it is `sent` (its popups go out now) or, scheduled, `held` until its
   * time. A correction (SEND replaces=) sent now withdrew the message it replaces in that
   * transaction (`replaced`): the recall is audited here, its sender as actor, as at a release.
   * Null when the message is no longer waiting for it (cancelled, expired): the bytes are not kept.
   */
  async commitUpload(attachmentId: number, storagePath: string, mediaType: string): Promise<AttachmentCommit | null> {
    const commit = await this.store.commitAttachment({ attachmentId, storagePath, mediaType });
    if (commit?.replaced) {
      const by = await this.store.getUserById(commit.replaced.alert.recalledBy ?? commit.message.senderId);
      if (by) await auditRecall(this.store, { user: by, address: null }, commit.replaced);
    }
    return commit;
  }

  /** The institution a message's popups name: its sender's. */
  async senderInstitution(message: Message): Promise<string> {
    return (await this.store.getUserById(message.senderId))?.institution ?? '';
  }

  /** CANCEL's check: the requester's own message still waiting for its attachments. */
  async cancellable(userId: number, messageId: number): Promise<void> {
    const message = await this.store.getMessageFor(messageId, []);
    if (!message || message.senderId !== userId || message.state !== 'sending') {
      throw new SiarError('NOT_FOUND', `No message ${messageId} waiting for attachments in your outbox.`);
    }
  }

  /**
   * Ends a message still waiting for its attachments (expired or cancelled): from then on no upload
   * of it can commit. The message as it was (with its attachments' old storage paths, to let their
   * content go), or null when it was not waiting any more.
   */
  closeSending(messageId: number, state: 'expired' | 'cancelled'): Promise<Message | null> {
    return this.store.closeSendingMessage(messageId, state);
  }

  /** Messages whose upload deadline passed before `nowIso`, oldest first, at most `limit`. */
  overdue(nowIso: string, limit: number): Promise<number[]> {
    return this.store.overdueSendingMessages(nowIso, limit);
  }

  /** Whether a partial upload of this attachment may still be resumed: not committed, its message still waiting. */
  async resumable(attachmentId: number): Promise<boolean> {
    const a = await this.store.getAttachment(attachmentId);
    return a !== null && a.storagePath === null && (await this.store.getMessageFor(a.messageId, []))?.state === 'sending';
  }

  /** Whether any attachment still refers to stored content with this sha256 (else it may be let go). */
  contentInUse(sha256: string): Promise<boolean> {
    return this.store.isContentReferenced(sha256);
  }

  /** A data connection a shadow listener refused: in the audit log. */
  auditRefused(r: RefusedConnection): Promise<void> {
    return this.store.audit({
      kind: 'transfer_refused', actorId: r.userId, subject: r.username, address: r.address,
      detail: { transfer: r.transfer, reason: r.reason, direction: r.direction, messageId: r.attachment.messageId, attachmentId: r.attachment.id },
    });
  }
}
