/**
 * Messages (src/core/ports/store/messages.ts) as both SQL stores read them: the rows of messages,
 * their recipients, an inbox and attachments (snake_case, ISO 8601 strings), the column lists
 * both dialects select them with, and their mapping to records.
 */
import type {
  AttachmentMeta,
  Audience,
  InboxEntry,
  Message,
  MessageState,
  NewMessage,
  RecipientState,
} from '../../core/ports/store.js';

export interface MessageRow {
  id: number;
  sender_id: number;
  sender: string;
  audience: Audience;
  subject: string;
  body: string;
  sent_at: string;
  state: MessageState;
  upload_deadline: string | null;
  channel_id: number | null;
  via: string | null;
  /** Its recipients are kept aside in pending_recipients: 'sending', or scheduled and not out yet. */
  held?: number | boolean;
}

export interface RecipientRow {
  message_id: number;
  recipient_id: number;
  username: string;
  delivered_at: string | null;
  read_at: string | null;
  /** From message_routes (issue #4); absent in queries that do not join it. */
  via?: string | null;
}

export interface InboxRow {
  id: number;
  sender: string;
  audience: Audience;
  channel_id: number | null;
  message_via: string | null;
  subject: string;
  body: string;
  sent_at: string;
  delivered_at: string | null;
  read_at: string | null;
  via: string | null;
}

export interface AttachmentRow {
  id: number;
  message_id: number;
  name: string;
  size: number;
  sha256: string;
  media_type: string;
  storage_path: string | null;
  removed_at: string | null;
}

/** A MessageRow's columns as both dialects select them (m: the message, s: its sender in users). */
export const MESSAGE_COLUMNS = `m.id, m.sender_id, s.username AS sender, m.audience, m.subject, m.body, m.sent_at, m.state, m.upload_deadline, m.channel_id, m.via,
  m.pending_recipients IS NOT NULL AS held`;

/** An AttachmentRow's columns. */
export const ATTACHMENT_COLUMNS = `id, message_id, name, size, sha256, media_type, storage_path, removed_at`;

export function toRecipient(r: RecipientRow): RecipientState {
  const state: RecipientState = { userId: r.recipient_id, username: r.username, deliveredAt: r.delivered_at, readAt: r.read_at };
  // Only recipients reached through a channel or groups have a via (message_routes).
  if (r.via) state.via = r.via;
  return state;
}

export function toAttachment(r: AttachmentRow): AttachmentMeta {
  return {
    id: r.id,
    messageId: r.message_id,
    name: r.name,
    size: r.size,
    sha256: r.sha256,
    mediaType: r.media_type,
    storagePath: r.storage_path,
    ...(r.removed_at ? { removedAt: r.removed_at } : {}),
  };
}

export function toInboxEntry(r: InboxRow, attachments: AttachmentMeta[], recipients: string[]): InboxEntry {
  return {
    id: r.id,
    sender: r.sender,
    audience: inboxAudience(r),
    messageVia: r.message_via,
    recipients,
    subject: r.subject,
    body: r.body,
    sentAt: r.sent_at,
    deliveredAt: r.delivered_at,
    readAt: r.read_at,
    attachments,
    via: r.via,
  };
}

/** A channel message is stored as 'list' with its channel id (schema.sql migration 3). */
export function inboxAudience(r: Pick<InboxRow, 'audience' | 'channel_id'>): Audience {
  return r.channel_id !== null ? 'channel' : r.audience;
}

/**
 * An audience snapshot's routes (schema.sql migration 11) as both stores keep them: JSON text of an
 * object from each via to the recipients it reached ({"#news": [3, 4, …]}), or null when none.
 */
export function snapshotRoutes(m: Pick<NewMessage, 'recipientVia'>): string | null {
  if (!m.recipientVia || m.recipientVia.size === 0) return null;
  const byVia = new Map<string, number[]>();
  for (const [id, via] of m.recipientVia) {
    let ids = byVia.get(via);
    if (!ids) byVia.set(via, (ids = []));
    ids.push(id);
  }
  return JSON.stringify(Object.fromEntries(byVia));
}

/** Groups rows by message id, keeping the query's order inside each group. */
export function groupByMessage<R extends { message_id: number }, T>(rows: R[], map: (r: R) => T): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const row of rows) {
    let list = groups.get(row.message_id);
    if (list === undefined) {
      list = [];
      groups.set(row.message_id, list);
    }
    list.push(map(row));
  }
  return groups;
}

export function toMessage(r: MessageRow, recipients: RecipientState[], attachments: AttachmentMeta[]): Message {
  return {
    id: r.id,
    senderId: r.sender_id,
    sender: r.sender,
    audience: inboxAudience(r),
    subject: r.subject,
    body: r.body,
    sentAt: r.sent_at,
    channelId: r.channel_id,
    via: r.via,
    state: r.state,
    uploadDeadline: r.upload_deadline,
    recipients,
    attachments,
  };
}
