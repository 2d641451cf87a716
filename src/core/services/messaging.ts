/**
 * Sending, the rules: a message replaces only one of the sender's own (the administrator: any);
 * the sender's limits are checked before anything is stored; the addressing becomes recipient ids
 * (audiences.ts); the message is stored (with its alert row, when it has one) and only then
 * acknowledged. The SEND handler (src/server/commands/messaging.ts) reads the arguments, calls
 * this, answers, and publishes *message stored* after the OK.
 */
import { SiarError } from '../../protocol/index.js';
import type { MessageAlert, NewAlert, RecallOutcome } from '../ports/store/alerts.js';
import type { Message, NewMessage, Store, User } from '../ports/store.js';
import { resolveRecipients, type RecipientRequest } from './audiences.js';

export interface Draft extends Pick<NewMessage, 'subject' | 'body' | 'attachments' | 'uploadDeadline'> {
  /** Who it goes to, as addressed. */
  to: RecipientRequest;
  /** Priority, acknowledgement, expiry, replacement (issue 21); null for a plain message. */
  alert: NewAlert | null;
}

export interface SendPorts {
  store: Store;
  /** The sender's limits (rate, free disk), refusing the send; the quota the store checks in its transaction. */
  admit(sender: User, draft: Pick<NewMessage, 'subject' | 'body' | 'attachments'>): Promise<{ quotaBytes?: number }>;
  /**
   * Recipients whose popup this process pushes right after the commit: a store with the
   * deliveredAtCommit capability records them delivered in the storing transaction.
   */
  pushedAfterCommit?: (recipientId: number) => boolean;
}

export interface Sent {
  message: Message;
  /** Its alert row, null for a plain message. */
  alert: MessageAlert | null;
  /** The recall of the message it replaces, for its announcement. */
  replaced: RecallOutcome | null;
}

export async function sendMessage(ports: SendPorts, sender: User, draft: Draft): Promise<Sent> {
  const { store } = ports;
  const { alert } = draft;
  if (alert?.replaces) {
    // Only a message of one's own (the administrator: any) can be replaced; ids reveal nothing.
    const old = await store.getMessage(alert.replaces.messageId);
    if (!old || (old.senderId !== sender.id && sender.role !== 'admin')) {
      throw new SiarError('NOT_FOUND', `No message ${alert.replaces.messageId} in your outbox to replace. Nothing was sent.`);
    }
  }
  const limits = await ports.admit(sender, draft);
  const { audience, ids, ...routing } = await resolveRecipients(store, sender, draft.to);
  const input: NewMessage = {
    senderId: sender.id, audience, recipientIds: ids, subject: draft.subject, body: draft.body, ...routing,
    ...(draft.attachments ? { attachments: draft.attachments } : {}), ...(draft.uploadDeadline ? { uploadDeadline: draft.uploadDeadline } : {}),
  };
  const writer = ports.pushedAfterCommit && store.deliveredAtCommit ? store.deliveredAtCommit(ports.pushedAfterCommit) : store;
  if (alert) return writer.storeAlertedMessage(input, alert, limits);
  return { message: await writer.storeMessage(input, limits), alert: null, replaced: null };
}
