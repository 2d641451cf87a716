/**
 * Accounts, sessions and registrations: what the store keeps of members and of those asking to be one.
 */
import type { Page } from './page.js';
import type { OutgoingMail } from './mail.js';

export type Role = 'member' | 'admin';

export type UserStatus = 'active' | 'suspended';

export type RegistrationStatus = 'pending' | 'approved' | 'rejected' | 'expired';

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

/** Registrations, members and sessions. */
export interface AccountStore {
  // registration
  /**
   * Records a pending request. With `maxPendingFromAddress`, refuses (StoreError 'limit') when that
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
    /** Made before the call (from getRegistration): nothing of the caller runs inside the transaction. */
    mail: OutgoingMail;
  }): Promise<{ request: RegistrationRequest; user: User; mailId: number }>;
  /** In one transaction: marks the request rejected, queues the notice mail, audits. */
  rejectRegistration(args: {
    requestId: number;
    adminId: number;
    reason: string;
    /** Made before the call (from getRegistration): nothing of the caller runs inside the transaction. */
    mail: OutgoingMail;
  }): Promise<{ request: RegistrationRequest; mailId: number }>;

  // users
  getUserById(id: number): Promise<User | null>;
  getUserByUsername(username: string): Promise<User | null>;
  /** Active and suspended members (role member), ordered by username. */
  listMembers(): Promise<User[]>;
  /** The institution of each of these users, by id (REPORT names a message's recipients'); ids of no user are absent. */
  institutionsOf(userIds: readonly number[]): Promise<Map<number, string>>;
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
  login(args: Parameters<AccountStore['createSession']>[0]): Promise<Session>;
  /** The open (not closed) session with this token hash, expired or not. */
  findSession(tokenHash: string): Promise<Session | null>;
  /**
   * The open session with this token hash (as findSession) and its member (as getUserById, whatever
   * its status), in one read: RESUME's check, on PostgreSQL one round trip instead of two. Null when
   * no open session has that hash.
   */
  findSessionAndUser(tokenHash: string): Promise<{ session: Session; user: User } | null>;
  closeSession(sessionId: number): Promise<void>;
  closeUserSessions(userId: number): Promise<number>;

  // administration
  /**
   * In one transaction: every pending request created before `olderThanIso` that has a mail in
   * `mails` becomes expired, its notice is queued, and each is audited.
   */
  expireRegistrations(args: {
    olderThanIso: string;
    actorId: number | null;
    /** The notice for each request to expire, by request id, made before the call; others are left pending. */
    mails: ReadonlyMap<number, OutgoingMail>;
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
    /** Made before the call (from getUserById). */
    mail: OutgoingMail;
  }): Promise<{ user: User; sessions: number; mailId: number }>;
}
