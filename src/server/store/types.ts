/**
 * The store: the only part of siar that speaks SQL. Everything else sees this interface, so a
 * PostgreSQL implementation can replace the SQLite one without touching the server.
 * Methods are async for that reason even though better-sqlite3 is synchronous.
 * Every method that changes state commits before its promise resolves.
 */

export type Role = 'member' | 'admin';
export type UserStatus = 'active' | 'suspended';
export type RegistrationStatus = 'pending' | 'approved' | 'rejected' | 'expired';
export type Audience = 'direct' | 'list' | 'all';

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
}

export interface Message {
  id: number;
  senderId: number;
  sender: string; // username
  audience: Audience;
  subject: string;
  body: string;
  sentAt: string;
  recipients: RecipientState[];
  attachments: AttachmentMeta[];
}

export interface NewMessage {
  senderId: number;
  audience: Audience;
  recipientIds: number[]; // distinct, all active members
  subject: string;
  body: string;
}

/** An inbox row: the message as one recipient sees it. */
export interface InboxEntry {
  id: number;
  sender: string;
  subject: string;
  body: string;
  sentAt: string;
  deliveredAt: string | null;
  readAt: string | null;
  attachments: AttachmentMeta[];
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

export interface Page {
  limit: number; // bounded by the caller
  beforeId?: number; // for paging newest-first lists
}

/** Thrown by the store for a broken uniqueness rule the caller can report. */
export class StoreConflict extends Error {
  constructor(readonly field: 'username' | 'email', message: string) {
    super(message);
    this.name = 'StoreConflict';
  }
}

export interface Store {
  // registration
  createRegistration(input: RegistrationInput): Promise<RegistrationRequest>;
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
  /** Active members only, by username; those not found are returned in `missing`. */
  resolveActiveMembers(usernames: string[]): Promise<{ found: User[]; missing: string[] }>;
  listActiveMemberIds(): Promise<number[]>;
  /** Creates the admin account if there is none; returns true when it created it. */
  ensureAdmin(passwordHash: string): Promise<boolean>;
  setUserStatus(userId: number, status: UserStatus): Promise<void>;
  setPassword(userId: number, passwordHash: string, mustChange: boolean): Promise<void>;
  recordLogin(userId: number, address: string | null): Promise<void>;

  // sessions
  createSession(args: { userId: number; tokenHash: string; address: string | null; expiresAt: string }): Promise<Session>;
  /** The open (not closed) session with this token hash, expired or not. */
  findSession(tokenHash: string): Promise<Session | null>;
  closeSession(sessionId: number): Promise<void>;
  closeUserSessions(userId: number): Promise<number>;

  // messages
  /** Stores the message and one recipient row each, in one transaction. */
  storeMessage(message: NewMessage): Promise<Message>;
  getMessage(id: number): Promise<Message | null>;
  markDelivered(messageId: number, recipientId: number): Promise<void>;
  /** Messages for this recipient not yet delivered, oldest first. */
  listUndelivered(recipientId: number, limit: number): Promise<Message[]>;
  inbox(recipientId: number, page: Page): Promise<InboxEntry[]>;
  outbox(senderId: number, page: Page): Promise<Message[]>;
  /** Marks read (and delivered) for this recipient; returns false if it is not in its inbox. */
  markRead(messageId: number, recipientId: number): Promise<boolean>;
  /** Removes from the recipient's inbox only; returns false if it was not there. */
  deleteFromInbox(messageId: number, recipientId: number): Promise<boolean>;
  unreadCount(recipientId: number): Promise<number>;

  // attachments (issue #3 fills these in)
  addAttachment(meta: Omit<AttachmentMeta, 'id'>): Promise<AttachmentMeta>;

  // mail queue
  enqueueMail(mail: OutgoingMail): Promise<number>;
  /** Unsent mail whose next attempt is due at `now`, oldest first. */
  dueMail(now: string, limit: number): Promise<QueuedMail[]>;
  markMailSent(id: number): Promise<void>;
  markMailFailed(id: number, error: string, nextAttemptAt: string): Promise<void>;
  listMail(filter: 'unsent' | 'all', page: Page): Promise<QueuedMail[]>;
  getMail(id: number): Promise<QueuedMail | null>;

  // audit
  audit(event: AuditEvent): Promise<void>;
  listAudit(filter: { kind?: string; subject?: string; sinceIso?: string }, page: Page): Promise<AuditRecord[]>;

  close(): Promise<void>;
}
