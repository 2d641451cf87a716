/**
 * Messages, their recipients and their attachments.
 */
import type { Page } from './page.js';
import type { RecallOutcome } from './alert-records.js';

/** What a recall did (AttachmentCommit.replaced), for those that may read only the message records (src/transfer). */
export type { RecallOutcome } from './alert-records.js';

/** 'channel': published to a channel (stored as 'list' with messages.channel_id set; schema.sql migration 3). */
export type Audience = 'direct' | 'list' | 'all' | 'channel';

/** 'sending': waiting for its attachments, seen by its sender only (schema.sql migration 2). */
export type MessageState = 'sending' | 'sent' | 'expired' | 'cancelled';

export interface AttachmentMeta {
  id: number;
  messageId: number;
  name: string;
  size: number;
  sha256: string;
  mediaType: string;
  /** Relative to the data dir; null while the upload has not completed (or once its content was let go). */
  storagePath: string | null;
  /** When its content was removed because its message expired longer than the grace ago (issue 21); null or absent: never. */
  removedAt?: string | null;
}

/** An attachment whose content the expiry sweep let go (claimExpiredAttachments). */
export interface ExpiredAttachment {
  id: number;
  messageId: number;
  sha256: string;
  size: number;
}

export interface RecipientState {
  userId: number;
  username: string;
  deliveredAt: string | null;
  readAt: string | null;
  /** Through which channel or groups it reached this recipient ('#c', '@g[,@g]'); null when named directly. */
  via?: string | null;
}

export interface Message {
  id: number;
  senderId: number;
  sender: string; // username
  audience: Audience;
  subject: string;
  body: string;
  sentAt: string;
  /** While 'sending', `recipients` are the pending ones: none of them can see the message yet. */
  state: MessageState;
  /** A 'sending' message expires at this time (ISO 8601); null otherwise. */
  uploadDeadline: string | null;
  recipients: RecipientState[];
  attachments: AttachmentMeta[];
  /** The channel it was published to (issue #4), or null. */
  channelId?: number | null;
  /** How it was addressed beyond usernames: '#channel' or '@group,@group'; null otherwise. */
  via?: string | null;
  /**
   * Set only on what storeMessage (or storeAlertedMessage) returns for a message to more than
   * AUDIENCE_SNAPSHOT_ABOVE recipients: its commit wrote an audience snapshot instead of a row per
   * recipient, and whoever pushes its popups on the storing node writes those rows after the push
   * (MessageStore.materialiseRecipients). Every read of the store sees the recipients either way.
   */
  recipientRowsPending?: true;
}

/**
 * A message to more recipients than this (all members, a channel, groups or a long list alike) is
 * committed as the message plus one audience snapshot (the recipient ids, and their routes), not a
 * row per recipient: the storing transaction's cost no longer grows with the audience, so its OK and
 * its first popup come sooner. The per-recipient rows are written after the popups are pushed, in
 * one batch (materialiseRecipients), or, if that never happens (the process died), by
 * materialiseSnapshots at start-up or from a once-per-cluster job. Until then every read of the
 * store that depends on a message's recipients sees the snapshot's (each adapter says how). The
 * same bound as the messages the Redis bus carries whole with their wake-up (src/adapters/redis/bus.ts).
 */
export const AUDIENCE_SNAPSHOT_ABOVE = 64;

/** An attachment announced at SEND: its bytes arrive later over a shadow socket. */
export interface AttachmentDeclaration {
  name: string;
  size: number;
  sha256: string;
  /** Guessed from the name until the upload is inspected. */
  mediaType: string;
}

/** What committing one uploaded attachment did. */
export interface AttachmentCommit {
  attachment: AttachmentMeta;
  message: Message;
  /** True when this was the message's last missing attachment: it is 'sent' now. */
  sent: boolean;
  /** Attachments of the message still not uploaded. */
  missing: number;
  /** All uploaded, but a scheduled message: held until its time (the due-jobs runner releases it), or recalled. */
  held?: boolean;
  /**
   * Sent now and a correction (SEND replaces= without at=): the message it replaces, recalled in this
   * transaction (storeAlertedMessage kept the recall for it). Absent otherwise.
   */
  replaced?: RecallOutcome;
}

export interface NewMessage {
  senderId: number;
  audience: Audience;
  recipientIds: number[]; // distinct, all active members
  subject: string;
  body: string;
  /** With attachments the message starts 'sending' and its recipients wait (see MessageState). */
  attachments?: AttachmentDeclaration[];
  /** Required with attachments: when a still incomplete message expires. */
  uploadDeadline?: string;
  /**
   * Publish to this channel (issue #4): the store adds its subscribers of the instant it stores
   * the message (recipientIds stays empty) and refuses an archived channel (StoreError 'archived').
   */
  channelId?: number;
  /** Groups addressed: '@a,@b' (a channel's via is set by the store). */
  via?: string | null;
  /** Recipient id → the addressed groups it was reached through ('@a,@b'); absent for those named directly. */
  recipientVia?: ReadonlyMap<number, string>;
}

/** A popup owed: this recipient has not had this message yet. */
export interface UndeliveredPopup {
  messageId: number;
  recipientId: number;
}

/** An inbox row: the message as one recipient sees it. */
export interface InboxEntry {
  id: number;
  sender: string;
  /** How the message was addressed, as READ tells it (a channel message reads 'channel'). */
  audience: Audience;
  /** The message's own via ('#channel', '@a,@b'), whoever it reached; null for plain addressing. */
  messageVia: string | null;
  /** Every recipient's username, by username, for 'direct' and 'list' messages; empty for 'all' and 'channel'. */
  recipients: string[];
  subject: string;
  body: string;
  sentAt: string;
  deliveredAt: string | null;
  readAt: string | null;
  attachments: AttachmentMeta[];
  /** Through which channel or groups it reached this recipient ('#c', '@g[,@g]'); null when named directly. */
  via?: string | null;
}

/** What a message takes in its sender's storage quota: subject and body (UTF-8) and declared attachments. */
export function messageBytes(m: Pick<NewMessage, 'subject' | 'body' | 'attachments'>): number {
  let bytes = Buffer.byteLength(m.subject) + Buffer.byteLength(m.body);
  for (const a of m.attachments ?? []) bytes += a.size;
  return bytes;
}

/** How many recipient ids one store query of getMessageFor names at most (longer lists are read in several). */
export const RECIPIENTS_PER_READ = 1000;

/** Messages, recipients and attachments. */
export interface MessageStore {
  // messages
  /**
   * Stores the message and one recipient row each (more than AUDIENCE_SNAPSHOT_ABOVE recipients: one
   * audience snapshot, see there), in one transaction, and resolves only after that commit.
   * Concurrent calls may share a transaction (group commit); one that fails does not take the
   * others with it. The message's bytes (subject, body, declared attachments) are added to
   * its sender's storage usage in the same transaction; with `quotaBytes` (> 0), a message that would
   * take the usage past it is refused (StoreError 'quota').
   */
  storeMessage(message: NewMessage, limits?: { quotaBytes?: number }): Promise<Message>;
  getMessage(id: number): Promise<Message | null>;
  /**
   * The message as getMessage gives it (attachments and all), but with only the recipients named
   * here among its `recipients` (each with its via, delivered and read state), ordered as
   * getMessage orders them: delivery pushes to a few members of a broadcast to thousands and must
   * not read every recipient's row to do it. Ids that are not recipients of the message are left
   * out; any number may be asked (the store reads them RECIPIENTS_PER_READ at a time).
   */
  getMessageFor(id: number, recipientIds: readonly number[]): Promise<Message | null>;
  markDelivered(messageId: number, recipientId: number): Promise<void>;
  /** Marks many recipients of one message delivered in one write (a broadcast's popups). */
  markDeliveredMany(messageId: number, recipientIds: readonly number[]): Promise<void>;
  /**
   * Takes back a delivery recorded at commit (DeliveredAtCommit) whose popup could not be
   * pushed, so the recipient gets it at its next login. A recipient who has read it keeps its mark.
   */
  markUndelivered(messageId: number, recipientIds: readonly number[]): Promise<void>;
  /**
   * After a server life that did not stop cleanly: a delivery recorded at commit in its last
   * `windowMs` (before its newest message) may never have reached the socket, so those marks are
   * taken back and the popups replayed at the recipients' next login (at least once, perhaps
   * twice). Marks written after a push, and read messages, are kept. Returns how many were reopened.
   */
  reopenDeliveriesMarkedAtCommit(windowMs: number): Promise<number>;
  /**
   * A message stored with an audience snapshot (Message.recipientRowsPending): its recipient rows,
   * written in one batch after its popups were pushed, `delivered` (the recipients pushed) delivered
   * now and the others not; the snapshot is marked materialised. Idempotent, and in either order
   * with the snapshot's materialisation by another path (a read, materialiseSnapshots): the rows
   * are then there and only the delivered marks are written; from any node that pushed some of its
   * popups, in any order (each adds its marks). Any other message: markDeliveredMany.
   */
  materialiseRecipients(messageId: number, delivered: readonly number[]): Promise<void>;
  /**
   * Every audience snapshot not materialised yet (its storing process died before it could, or
   * never pushed), written as recipient rows not delivered: those popups come at the recipients'
   * next login or catch-up. Run at start-up and periodically; idempotent. Returns how many.
   */
  materialiseSnapshots(): Promise<number>;
  /**
   * Messages for this recipient not yet delivered, oldest first, each as getMessageFor gives it
   * for this recipient alone (its `recipients` hold this recipient's row only).
   */
  listUndelivered(recipientId: number, limit: number): Promise<Message[]>;
  /**
   * Of these recipients, the popups not yet delivered (what listUndelivered would list, without the
   * messages): at most `limit` pairs, oldest message first. A node's periodic catch-up asks it for
   * the members connected there, so a lost wake-up costs a delay, never the popup.
   */
  undeliveredAmong(recipientIds: readonly number[], limit: number): Promise<UndeliveredPopup[]>;
  /** Newest first; with `unreadOnly`, the page holds unread messages only (INBOX unread=1). */
  inbox(recipientId: number, page: Page, filter?: { unreadOnly?: boolean }): Promise<InboxEntry[]>;
  outbox(senderId: number, page: Page): Promise<Message[]>;
  /** Marks read (and delivered) for this recipient; returns false if it is not in its inbox. */
  markRead(messageId: number, recipientId: number): Promise<boolean>;
  /** Removes from the recipient's inbox only; returns false if it was not there. */
  deleteFromInbox(messageId: number, recipientId: number): Promise<boolean>;
  unreadCount(recipientId: number): Promise<number>;

  // attachments (issue #3)
  addAttachment(meta: Omit<AttachmentMeta, 'id'>): Promise<AttachmentMeta>;
  getAttachment(id: number): Promise<AttachmentMeta | null>;
  /** How this user relates to the message: its sender, a recipient who has not deleted it, or neither. */
  messageRole(messageId: number, userId: number): Promise<'sender' | 'recipient' | null>;
  /**
   * In one transaction: records the attachment's stored file and media type; when it was the
   * last one missing, the message becomes 'sent' and its recipients' rows are written.
   * Null when the attachment is unknown, already committed, or its message is no longer sending.
   */
  commitAttachment(args: { attachmentId: number; storagePath: string; mediaType: string }): Promise<AttachmentCommit | null>;
  /**
   * In one transaction: a 'sending' message becomes expired or cancelled and its attachments
   * let go of their files (storagePath null), which no longer count in its sender's storage usage. Returns the message as it was (with the released
   * attachments' old storage paths), or null if it was not sending.
   */
  closeSendingMessage(messageId: number, state: 'expired' | 'cancelled'): Promise<Message | null>;
  /** Ids of 'sending' messages whose upload deadline is before `nowIso`, oldest first. */
  overdueSendingMessages(nowIso: string, limit: number): Promise<number[]>;
  /** True while any attachment row points at stored content with this sha256. */
  isContentReferenced(sha256: string): Promise<boolean>;

  /** Attachments whose upload completed (storagePath set), by id. */
  listStoredAttachments(): Promise<AttachmentMeta[]>;
  /**
   * The expired-attachment sweep's claim (issue 21), in one transaction: up to `limit` sent messages
   * whose alert expired before `expiredBeforeIso` and were not swept yet are marked swept; their
   * stored attachments are marked removed at `nowIso` (storagePath null, so the content is no longer
   * referenced by them) and leave their sender's storage usage. Returns those attachments, for the
   * caller to release their content. Idempotent and safe on several nodes at once: a message is
   * claimed by one sweep only (the second finds it swept), so each attachment is returned once.
   */
  claimExpiredAttachments(args: { expiredBeforeIso: string; nowIso: string; limit: number }): Promise<{ messages: number; attachments: ExpiredAttachment[] }>;
}
