/**
 * Messages as the replies carry them (INBOX, OUTBOX, READ, CHANNEL_HISTORY): the sender's view
 * with every recipient's state, or one recipient's.
 */
import { messageToArgs, type ArgInput, type MessageRecord } from '../../protocol/index.js';
import type { Audience, InboxEntry, Message } from '../../core/ports/store.js';

/**
 * A message's `to=`, the same in INBOX, READ and OUTBOX, for its recipients and its sender: `*`
 * for a broadcast, the channel (`#name`) for a channel message, otherwise every recipient.
 */
export function audienceTo(audience: Audience, via: string | null | undefined, recipients: readonly string[]): string[] {
  if (audience === 'all') return ['*'];
  if (audience === 'channel' && via) return [via];
  return [...recipients];
}

export function inboxArgs(e: InboxEntry, extra: Partial<MessageRecord>): ArgInput {
  return messageToArgs({
    id: e.id, from: e.sender, to: audienceTo(e.audience, e.messageVia, e.recipients), audience: e.audience,
    subject: e.subject, body: e.body, sentAt: e.sentAt,
    attachments: e.attachments.map((a) => toAttachmentInfo(a)), deliveredAt: e.deliveredAt, readAt: e.readAt,
    ...(e.via ? { via: e.via } : {}),
    // The alert fields last: a withdrawn message's body and attachments are emptied.
    ...extra,
  });
}

export function toAttachmentInfo(a: Message['attachments'][number], uploaded?: number) {
  return {
    id: a.id, name: a.name, size: a.size, sha256: a.sha256, type: a.mediaType,
    ...(uploaded !== undefined ? { uploaded } : {}), ...(a.removedAt ? { removedAt: a.removedAt } : {}),
  };
}

/**
 * The message as the sender sees it: every recipient's state; while it is 'sending', when it
 * expires and how many bytes of each attachment the server holds (`uploaded`, by attachment id).
 */
export function sentArgs(m: Message, uploaded?: ReadonlyMap<number, number>, extra: Partial<MessageRecord> = {}): ArgInput {
  return messageToArgs({
    ...extra,
    id: m.id, from: m.sender, to: audienceTo(m.audience, m.via, m.recipients.map((r) => r.username)), audience: m.audience,
    subject: m.subject, body: m.body, sentAt: m.sentAt, attachments: m.attachments.map((a) => toAttachmentInfo(a, uploaded?.get(a.id))),
    recipients: m.recipients.map((r) => ({ username: r.username, deliveredAt: r.deliveredAt, readAt: r.readAt, ...(r.via ? { via: r.via } : {}) })),
    ...(m.via ? { via: m.via } : {}),
    // Only the sender sees a message that is not out yet: 'sending', 'expired' or 'cancelled'.
    ...(m.state !== 'sent' ? { state: m.state } : {}),
    ...(m.state === 'sending' && m.uploadDeadline ? { uploadDeadline: m.uploadDeadline } : {}),
  });
}
