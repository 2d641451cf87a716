/**
 * Sending, the rules: a message replaces only one of the sender's own (the administrator: any);
 * the sender's limits are checked before anything is stored; the addressing becomes recipient ids
 * (audiences.ts); the message is stored (with its alert row, when it has one) and only then
 * acknowledged. The SEND handler (src/server/commands/messaging.ts) reads the arguments, calls
 * this, answers, and publishes *message stored* after the OK.
 */
import { SiarError } from '../../protocol/index.js';
import type { MessageAlert, NewAlert, RecallOutcome } from '../ports/store/alerts.js';
import type { Message, NewMessage, RecipientState, Store, User } from '../ports/store.js';
import type { Actor } from './actor.js';
import { recalledError } from './alerts.js';
import { resolveRecipients, type ActiveMembersLookup, type RecipientRequest } from './audiences.js';

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
  /** The named recipients' ids (default: the store's resolveActiveMembers; the server's account cache in front of it). */
  activeMembers?: ActiveMembersLookup;
}

export interface Sent {
  message: Message;
  /** Its alert row, null for a plain message. */
  alert: MessageAlert | null;
  /** The recall of the message it replaces, for its announcement (null for a scheduled correction: its release recalls it). */
  replaced: RecallOutcome | null;
}

export async function sendMessage(ports: SendPorts, by: Actor, draft: Draft): Promise<Sent> {
  const { store } = ports;
  const { alert } = draft;
  const sender = by.user;
  if (alert?.replaces) {
    // Only a message of one's own (the administrator: any) can be replaced; ids reveal nothing.
    const old = await store.getMessage(alert.replaces.messageId);
    if (!old || (old.senderId !== sender.id && sender.role !== 'admin')) {
      throw new SiarError('NOT_FOUND', `No message ${alert.replaces.messageId} in your outbox to replace. Nothing was sent.`);
    }
  }
  const limits = await ports.admit(sender, draft);
  const { audience, ids, ...routing } = await resolveRecipients(store, sender, draft.to, ports.activeMembers);
  const input: NewMessage = {
    senderId: sender.id, audience, recipientIds: ids, subject: draft.subject, body: draft.body, ...routing,
    ...(draft.attachments ? { attachments: draft.attachments } : {}), ...(draft.uploadDeadline ? { uploadDeadline: draft.uploadDeadline } : {}),
  };
  const writer = ports.pushedAfterCommit && store.deliveredAtCommit ? store.deliveredAtCommit(ports.pushedAfterCommit) : store;
  if (!alert) return { message: await writer.storeMessage(input, limits), alert: null, replaced: null };
  const sent = await writer.storeAlertedMessage(input, alert, limits);
  if (sent.alert.scheduled) {
    await store.audit({
      kind: 'message_scheduled', actorId: sender.id, subject: String(sent.message.id), address: by.address,
      detail: { deliverAt: sent.alert.deliverAt, recipients: sent.message.recipients.length, ...(sent.alert.replacesId ? { replaces: sent.alert.replacesId } : {}) },
    });
  }
  return sent;
}

/** What READ opens: a recipient's copy (marked read now) or the sender's own message. */
export type Opened =
  | { as: 'recipient'; message: Message; state: RecipientState; firstRead: boolean }
  | { as: 'sender'; message: Message };

/**
 * READ: a recipient's copy is marked read (a withdrawn one is refused with RECALLED, not opened);
 * the sender sees its own message; anyone else is told it does not exist (ids reveal nothing).
 */
export async function openMessage(store: Store, me: User, id: number): Promise<Opened> {
  const message = await store.getMessage(id);
  const mine = message?.recipients.find((r) => r.userId === me.id);
  const alert = mine ? (await store.alertsOf([id])).get(id) : undefined;
  if (alert?.recalledAt && mine && (await store.messageRole(id, me.id)) === 'recipient') throw recalledError(id, alert);
  if (message && mine && (await store.markRead(id, me.id))) {
    const fresh = (await store.getMessage(id))!;
    return { as: 'recipient', message: fresh, state: fresh.recipients.find((r) => r.userId === me.id)!, firstRead: !mine.readAt };
  }
  if (message && message.senderId === me.id) return { as: 'sender', message };
  // Same answer whether the message does not exist or belongs to others: ids reveal nothing.
  throw new SiarError('NOT_FOUND', `No message ${id} in your inbox or outbox.`);
}

/** DELETE: removes a message from the member's own inbox; its own message still being sent is CANCEL's. */
export async function deleteFromInbox(store: Store, me: User, id: number): Promise<void> {
  if (await store.deleteFromInbox(id, me.id)) return;
  const own = await store.getMessage(id);
  if (own?.senderId === me.id && own.state === 'sending') {
    throw new SiarError('NOT_FOUND', `Message ${id} is your own, still waiting for its attachments: CANCEL id=${id} withdraws it (siar cancel ${id}).`);
  }
  throw new SiarError('NOT_FOUND', `No message ${id} in your inbox.`);
}
