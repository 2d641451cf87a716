/**
 * The store: the only part of siar that speaks SQL. Everything else sees this interface, so a
 * PostgreSQL implementation can replace the SQLite one without touching the server.
 * Methods are async for that reason even though better-sqlite3 is synchronous.
 * Every method that changes state commits before its promise resolves.
 */

import type { AlertStore } from './store-alerts.js';
import type { ChannelGroupStore } from './store-channels.js';

export type * from './store-channels.js';
export type * from './store-alerts.js';

export type Role = 'member' | 'admin';
export type UserStatus = 'active' | 'suspended';
export type RegistrationStatus = 'pending' | 'approved' | 'rejected' | 'expired';
/** 'channel': published to a channel (stored as 'list' with messages.channel_id set; schema.sql migration 3). */
export type Audience = 'direct' | 'list' | 'all' | 'channel';
/** 'sending': waiting for its attachments, seen by its sender only (schema.sql migration 2). */
export type MessageState = 'sending' | 'sent' | 'expired' | 'cancelled';

export interface User {
  id: number;
  username: string;
  role: Role;
  status: UserStatus;
  passwordHash: string;
  institution: string;
  contact: string;
  email: string;
  phone: string;
  address: string;
  mustChangePassword: boolean;
  createdAt: string;
  lastLoginAt: string | null;
  lastLoginAddress: string | null;
}

export interface RegistrationInput {
  institution: string;
  contact: string;
  email: string; // already validated and lower-cased
  phone: string;
  address: string;
  username: string; // already validated
  fromAddress: string | null;
}

export interface RegistrationRequest extends RegistrationInput {
  id: number;
  status: RegistrationStatus;
  reason: string | null;
  createdAt: string;
  decidedAt: string | null;
  userId: number | null;
}

export interface Session {
  id: number;
  userId: number;
  address: string | null;
  createdAt: string;
  expiresAt: string;
  closedAt: string | null;
  /** Opened with a mailed (one-time) password: only PASSWD, WHOAMI and LOGOUT until it sets the member's own. */
  mustChangePassword: boolean;
}

export interface AttachmentMeta {
  id: number;
  messageId: number;
  name: string;
  size: number;
  sha256: string;
  mediaType: string;
  /** Relative to the data dir; null while the upload has not completed. */
  storagePath: string | null;
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
}

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
   * the message (recipientIds stays empty) and refuses an archived channel (CHANNEL_ARCHIVED).
   */
  channelId?: number;
  /** Groups addressed: '@a,@b' (a channel's via is set by the store). */
  via?: string | null;
  /** Recipient id → the addressed groups it was reached through ('@a,@b'); absent for those named directly. */
  recipientVia?: ReadonlyMap<number, string>;
  /**
   * Recipients for whom this answers true are recorded delivered in the storing transaction: their
   * popup is pushed right after the commit, so one write per message is saved. Whoever pushes must
   * take the mark back (markUndelivered) for a recipient whose push then fails. Ignored for a
   * message with attachments (its recipient rows are written when the last upload completes).
   */
  pushedAfterCommit?: (recipientId: number) => boolean;
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

export interface OutgoingMail {
  kind: string;
  to: string;
  subject: string;
  sealedText: string;
}

export interface QueuedMail extends OutgoingMail {
  id: number;
  createdAt: string;
  attempts: number;
  nextAttemptAt: string;
  sentAt: string | null;
  lastError: string | null;
}

export interface AuditEvent {
  kind: string;
  actorId?: number | null;
  subject?: string | null;
  address?: string | null;
  detail?: Record<string, unknown>;
}

export interface AuditRecord extends Required<Omit<AuditEvent, 'detail'>> {
  id: number;
  at: string;
  detail: Record<string, unknown>;
}

/** Which audit events to list; every given filter must match. */
export interface AuditFilter {
  kind?: string;
  subject?: string;
  actorId?: number;
  /** Events about this member or done by it: subject = username, or actor = id. */
  involving?: { username: string; userId: number | null };
  /** ISO 8601, inclusive. */
  sinceIso?: string;
  /** ISO 8601, exclusive. */
  untilIso?: string;
}

/** A database page count report from an online backup. */
export interface BackupProgress {
  totalPages: number;
  remainingPages: number;
}

export interface Page {
  limit: number; // bounded by the caller
  beforeId?: number; // for paging newest-first lists
}

/** Thrown by the store for a broken uniqueness rule the caller can report. */
/** A request refused because a bound on what one address may hold open was reached. */
export class StoreLimitReached extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreLimitReached';
  }
}

/** What a message takes in its sender's storage quota: subject and body (UTF-8) and declared attachments. */
export function messageBytes(m: Pick<NewMessage, 'subject' | 'body' | 'attachments'>): number {
  let bytes = Buffer.byteLength(m.subject) + Buffer.byteLength(m.body);
  for (const a of m.attachments ?? []) bytes += a.size;
  return bytes;
}

/** A message refused because its sender's messages would take more than its storage quota. */
export class QuotaExceeded extends Error {
  constructor(readonly usedBytes: number, readonly messageBytes: number, readonly quotaBytes: number) {
    super(`the sender's messages take ${usedBytes} bytes; ${messageBytes} more would pass the quota of ${quotaBytes}`);
    this.name = 'QuotaExceeded';
  }
}

export class StoreConflict extends Error {
  constructor(readonly field: 'username' | 'email', message: string) {
    super(message);
    this.name = 'StoreConflict';
  }
}

export interface Store extends ChannelGroupStore, AlertStore {
  // registration
  /**
   * Records a pending request. With `maxPendingFromAddress`, refuses (StoreLimitReached) when that
   * many requests from the same address are already pending, with `maxPending` when that many are
   * pending from anyone — checked in the same transaction.
   */
  createRegistration(input: RegistrationInput, limits?: { maxPendingFromAddress?: number; maxPending?: number }): Promise<RegistrationRequest>;
  getRegistration(id: number): Promise<RegistrationRequest | null>;
  listRegistrations(status: RegistrationStatus | 'all', page: Page): Promise<RegistrationRequest[]>;
  /** In one transaction: creates the member, marks the request approved, queues the mail, audits. */
  approveRegistration(args: {
    requestId: number;
    adminId: number;
    passwordHash: string;
    mail: (request: RegistrationRequest) => OutgoingMail;
  }): Promise<{ request: RegistrationRequest; user: User; mailId: number }>;
  /** In one transaction: marks the request rejected, queues the notice mail, audits. */
  rejectRegistration(args: {
    requestId: number;
    adminId: number;
    reason: string;
    mail: (request: RegistrationRequest) => OutgoingMail;
  }): Promise<{ request: RegistrationRequest; mailId: number }>;

  // users
  getUserById(id: number): Promise<User | null>;
  getUserByUsername(username: string): Promise<User | null>;
  /** Active and suspended members (role member), ordered by username. */
  listMembers(): Promise<User[]>;
  /** Bytes each user's messages take (storeMessage's quota), by user id; users who never sent are absent. */
  storageUsage(): Promise<Map<number, number>>;
  /** Active members only, by username; those not found are returned in `missing`. */
  resolveActiveMembers(usernames: string[]): Promise<{ found: User[]; missing: string[] }>;
  listActiveMemberIds(): Promise<number[]>;
  /** Creates the admin account if there is none; returns true when it created it. */
  ensureAdmin(passwordHash: string): Promise<boolean>;
  setUserStatus(userId: number, status: UserStatus): Promise<void>;
  setPassword(userId: number, passwordHash: string, mustChange: boolean): Promise<void>;
  recordLogin(userId: number, address: string | null): Promise<void>;
  /**
   * PASSWD, in one transaction: sets the member's own password (no longer to be changed), lifts the
   * one-time restriction of the session that set it, closes every other open session of the
   * member and audits `password_changed`. Returns how many sessions it closed.
   */
  changePassword(args: { userId: number; sessionId: number; passwordHash: string; address: string | null }): Promise<{ sessions: number }>;

  // sessions
  /** `mustChangePassword`: the session was opened with a mailed (one-time) password (default false). */
  createSession(args: { userId: number; tokenHash: string; address: string | null; expiresAt: string; mustChangePassword?: boolean }): Promise<Session>;
  /** A LOGIN's writes in one transaction: the session (createSession) and the login (recordLogin). */
  login(args: Parameters<Store['createSession']>[0]): Promise<Session>;
  /** The open (not closed) session with this token hash, expired or not. */
  findSession(tokenHash: string): Promise<Session | null>;
  closeSession(sessionId: number): Promise<void>;
  closeUserSessions(userId: number): Promise<number>;

  // messages
  /**
   * Stores the message and one recipient row each, in one transaction, and resolves only after
   * that commit. Concurrent calls may share a transaction (group commit); one that fails does not
   * take the others with it. The message's bytes (subject, body, declared attachments) are added to
   * its sender's storage usage in the same transaction; with `quotaBytes` (> 0), a message that would
   * take the usage past it is refused (QuotaExceeded).
   */
  storeMessage(message: NewMessage, limits?: { quotaBytes?: number }): Promise<Message>;
  getMessage(id: number): Promise<Message | null>;
  markDelivered(messageId: number, recipientId: number): Promise<void>;
  /** Marks many recipients of one message delivered in one write (a broadcast's popups). */
  markDeliveredMany(messageId: number, recipientIds: readonly number[]): Promise<void>;
  /**
   * Takes back a delivery recorded at commit (NewMessage.pushedAfterCommit) whose popup could not be
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
  /** Messages for this recipient not yet delivered, oldest first; none past its expiry (message_alerts, issue 21). */
  listUndelivered(recipientId: number, limit: number): Promise<Message[]>;
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

  // mail queue
  enqueueMail(mail: OutgoingMail): Promise<number>;
  /** Unsent mail whose next attempt is due at `now`, oldest first. */
  dueMail(now: string, limit: number): Promise<QueuedMail[]>;
  markMailSent(id: number): Promise<void>;
  markMailFailed(id: number, error: string, nextAttemptAt: string): Promise<void>;
  /** 'failed': unsent mail that has failed at least once. Newest first. */
  listMail(filter: 'unsent' | 'failed' | 'all', page: Page): Promise<QueuedMail[]>;
  getMail(id: number): Promise<QueuedMail | null>;
  /**
   * Makes unsent mail (the one with `id`, or all) due at `nowIso` without counting an attempt;
   * returns how many mails were rescheduled.
   */
  retryMail(id: number | undefined, nowIso: string): Promise<number>;

  // audit
  audit(event: AuditEvent): Promise<void>;
  listAudit(filter: AuditFilter, page: Page): Promise<AuditRecord[]>;

  // administration
  /**
   * In one transaction: every pending request created before `olderThanIso` becomes expired,
   * a notice mail is queued for each, and each is audited.
   */
  expireRegistrations(args: {
    olderThanIso: string;
    actorId: number | null;
    mail: (request: RegistrationRequest) => OutgoingMail;
  }): Promise<Array<{ request: RegistrationRequest; mailId: number }>>;
  /**
   * In one transaction: sets a new password that must be changed at the next login, closes the
   * member's sessions, queues the mail that carries the password, audits.
   */
  resetPassword(args: {
    userId: number;
    adminId: number;
    passwordHash: string;
    address: string | null;
    mail: (user: User) => OutgoingMail;
  }): Promise<{ user: User; sessions: number; mailId: number }>;
  /** Writes a consistent copy of the whole database to `destFile` while the store keeps serving. */
  backup(destFile: string, onProgress?: (p: BackupProgress) => void): Promise<BackupProgress>;
  /** Attachments whose upload completed (storagePath set), by id. */
  listStoredAttachments(): Promise<AttachmentMeta[]>;

  close(): Promise<void>;
}
