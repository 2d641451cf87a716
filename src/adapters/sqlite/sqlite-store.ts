/**
 * The SQLite implementation of the Store (the contract: src/core/ports/store/).
 * better-sqlite3 is synchronous: most methods do their work before their promise is created,
 * so "commits before the promise resolves" holds without further care. Messages and delivery
 * marks, the hot path, go through group commit (group-commit.ts): batched into one transaction
 * per turn of the event loop, each promise settling after its batch commits. Statements are
 * prepared once, by prepareStatements() in rows.ts, which holds the SQL.
 *
 * Every other write goes through write(): one IMMEDIATE transaction whose COMMIT is a statement of
 * its own, so a commit that fails (a full disk) throws instead of passing unseen — an INSERT …
 * RETURNING read with .get() in autocommit mode commits when better-sqlite3 resets the statement,
 * and a failure there was lost: LOGIN answered OK with a session that was never stored. A write
 * that meets a lock held by another process waits in the LockWait (lock-wait.ts) without blocking
 * the event loop; reads go through read(), which retries the rare read that meets one.
 */
import type { MessageWriter } from '../../core/ports/store/delivered-at-commit.js';
import { deliveredAtCommitWriter, type PushedMessage } from '../delivered-at-commit.js';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Sqlite from 'better-sqlite3';
import type { Database, Statement, Transaction } from 'better-sqlite3';
import { ChannelGroupSql } from './channels.js';
import { prepareAlertStatements, recallIn, type AlertStatements } from './alerts.js';
import { groupAcks, newAlertRow, recallOnRelease, replacing, toAlert, unacknowledgedPageSize } from '../sql-common/alert-rows.js';
import type { MessageAlert, NewAlert, RecallOutcome, RecallRequest, UnacknowledgedRecipient } from '../../core/ports/store/alerts.js';
import type { DueJob, DueJobClaim, ReleasedMessage } from '../../core/ports/store/due-jobs.js';
import type { Channel, ChannelChanges, ChannelRole, ChannelRosterRow, ChannelStanding, Group, NewChannel } from '../../core/ports/store/channels.js';
import { GroupCommit } from './group-commit.js';
import { LOCK_SPIN_MS, LockWait } from './lock-wait.js';
import { ReadCache } from './read-cache.js';
import { BACKSTOP_CHECKPOINT_PAGES, BackgroundCheckpointer, type CheckpointProgress } from './checkpointer.js';
import { applyMigrations } from './migrate.js';
import { prepareRecipientReads, readRecipientsAmong, type RecipientReads } from './recipient-reads.js';
import { prepareStatements, type Statements } from './rows.js';
import { toRegistration, toSession, toUser, type RegistrationRow } from '../sql-common/account-rows.js';
import { groupByMessage, snapshotRoutes, toAttachment, toInboxEntry, toMessage, toRecipient, type MessageRow } from '../sql-common/message-rows.js';
import { toMail } from '../sql-common/mail-rows.js';
import { toAudit, type AuditRow } from '../sql-common/audit-rows.js';
import {
  AUDIENCE_SNAPSHOT_ABOVE,
  messageBytes,
  type StoreError,
  type AttachmentCommit,
  type AttachmentMeta,
  type AuditEvent,
  type AuditFilter,
  type AuditRecord,
  type BackupProgress,
  type DatabaseReport,
  type ExpiredAttachment,
  type InboxEntry,
  type UndeliveredPopup,
  type Message,
  type NewMessage,
  type OutgoingMail,
  type Page,
  type QueuedMail,
  type RecipientState,
  type RegistrationInput,
  type RegistrationRequest,
  type RegistrationStatus,
  type Session,
  type Store,
  type User,
  type UserStatus,
} from '../../core/ports/store.js';
import { alreadyDecided, conflict, notFound, pendingLimit, quotaExceeded } from '../../core/ports/store/errors.js';

/** Stands in for "no beforeId": larger than any id SQLite will hand out to us. */
const NO_LIMIT_ID = Number.MAX_SAFE_INTEGER;

const now = (): string => new Date().toISOString();
/** From this many recipients on, rows are written by one statement over a JSON array of ids. */
const BULK_RECIPIENTS = 16;
const before = (page: Page): number => page.beforeId ?? NO_LIMIT_ID;

/**
 * The explicit checks in the transactions catch duplicates; this covers the window where
 * another process commits the same username or e-mail between our check and our insert.
 */
export function conflictFromSqliteError(err: unknown): StoreError<'conflict'> | null {
  if (!(err instanceof Sqlite.SqliteError) || err.code !== 'SQLITE_CONSTRAINT_UNIQUE') return null;
  if (/\.username\b/.test(err.message)) return conflict('username');
  if (/\.email\b/.test(err.message)) return conflict('email');
  return null;
}

function withConflicts<T>(work: () => T): T {
  try {
    return work();
  } catch (err) {
    throw conflictFromSqliteError(err) ?? err;
  }
}

type AuditParams = {
  kind?: string;
  subject?: string;
  actor?: number;
  involvingName?: string;
  involvingId?: number;
  since?: string;
  until?: string;
  before: number;
  limit: number;
};
type ApproveArgs = Parameters<Store['approveRegistration']>[0];
type CommitArgs = Parameters<Store['commitAttachment']>[0];
type Approved = Awaited<ReturnType<Store['approveRegistration']>>;
type RejectArgs = Parameters<Store['rejectRegistration']>[0];
type Rejected = Awaited<ReturnType<Store['rejectRegistration']>>;
type ExpireArgs = Parameters<Store['expireRegistrations']>[0];
type Expired = Awaited<ReturnType<Store['expireRegistrations']>>;
type ChangeArgs = Parameters<Store['changePassword']>[0];
type ResetArgs = Parameters<Store['resetPassword']>[0];
type Reset = Awaited<ReturnType<Store['resetPassword']>>;
type RegistrationLimits = NonNullable<Parameters<Store['createRegistration']>[1]>;
type MessageLimits = NonNullable<Parameters<Store['storeMessage']>[1]>;
type SessionArgs = Parameters<Store['createSession']>[0];

/** How long a write waits for a lock another process holds before it fails with SQLITE_BUSY (BUSY). */
export const DEFAULT_BUSY_WAIT_MS = 5_000;

/**
 * The database file and its -wal and -shm companions hold password hashes and every message: only
 * the server's user may read them. SQLite creates the companions with the database file's mode, so
 * the file is created 0600 before SQLite opens it; files an older version left 0644 are narrowed.
 */
function keepPrivate(file: string): void {
  closeSync(openSync(file, 'a', 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    if (existsSync(f) && (statSync(f).mode & 0o077) !== 0) chmodSync(f, 0o600);
  }
}


export interface OpenOptions {
  /** FULL also survives power loss for the last commits, at some write cost. */
  synchronous?: 'NORMAL' | 'FULL';
  /** Checkpoint the write-ahead log from a worker thread (the server does; see checkpointer.ts). */
  checkpointInBackground?: boolean;
  /** How long a write waits for a lock held by another process (lock-wait.ts); DEFAULT_BUSY_WAIT_MS. */
  busyWaitMs?: number;
}

export class SqliteStore implements Store {
  private readonly sql: Statements;
  /** Channels and groups (issue #4). */
  private readonly cg: ChannelGroupSql;
  private readonly alertSql: AlertStatements;
  /** Delivery's narrow reads (recipient-reads.ts). */
  private readonly recipientReads: RecipientReads;
  /** listAudit's WHERE clause depends on which filters are given; one statement per shape, made on first use. */
  private readonly auditQueries = new Map<string, Statement<[AuditParams], AuditRow>>();

  /** One IMMEDIATE transaction around a write's work (nested: a savepoint); see write(). */
  private readonly transaction: Transaction<(work: () => unknown) => unknown>;
  /** Writes and reads that meet a lock held by another process wait here, off the event loop. */
  private readonly lockWait: LockWait;
  /** Recipients' usernames by id, for messages just stored (usernames are never renamed). */
  private readonly usernameById = new Map<number, string>();
  /** Concurrent messages and delivery marks share one transaction (see group-commit.ts). */
  private readonly groupCommit: GroupCommit;
  /** Sessions and users for the per-request token check; every write below forgets what it changes. */
  private readonly cache = new ReadCache();
  /**
   * Every active member's id, for broadcasts (reading 10,000 user rows took ≈ 5 ms per broadcast);
   * forgotten when a member is created or changes status, the only writes that change the list.
   */
  private activeMemberIds: number[] | null = null;
  /** The same ids as a set (a large audience's recipients are checked against it), and the list it was made of. */
  private activeMemberSet: { of: number[]; ids: ReadonlySet<number> } | null = null;
  /**
   * The audience snapshots whose recipient rows are not written yet (schema.sql migration 11), with
   * the recipients pushed once the storing node has pushed their popups (null until then). This
   * process is the database's only writer, so this is all of them: a read that depends on
   * recipients writes them first (settle()), synchronously; when none is pending that costs nothing.
   * (Nodes sharing one file, as tests run them: a mark finds another process's snapshot itself.)
   */
  private readonly unmaterialised = new Map<number, readonly number[] | null>();

  /** Opens (creating if needed) a database file, configures it and brings its schema up to date. */
  static open(file: string, opts: OpenOptions = {}): SqliteStore {
    const synchronous = opts.synchronous ?? 'NORMAL';
    if (synchronous !== 'NORMAL' && synchronous !== 'FULL') {
      throw new Error(`unsupported synchronous mode: ${String(synchronous)}`);
    }
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    keepPrivate(file);
    const db = new Sqlite(file);
    try {
      // Nothing is served yet: the settings and migrations may wait for other processes in SQLite itself.
      db.pragma(`busy_timeout = ${DEFAULT_BUSY_WAIT_MS}`);
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${synchronous}`);
      db.pragma('foreign_keys = ON');
      applyMigrations(db);
      // From here on a lock is waited for in LockWait, off the event loop; SQLite only spins briefly.
      db.pragma(`busy_timeout = ${LOCK_SPIN_MS}`);
      const lockWait = new LockWait(opts.busyWaitMs ?? DEFAULT_BUSY_WAIT_MS);
      if (!opts.checkpointInBackground) return new SqliteStore(db, null, lockWait);
      db.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
      return new SqliteStore(db, BackgroundCheckpointer.start({ file, intervalMs: 50, synchronous }), lockWait);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Takes a configured, migrated database; SqliteStore.open() is the usual way in. */
  constructor(
    readonly db: Database,
    private readonly checkpointer: BackgroundCheckpointer | null = null,
    lockWait = new LockWait(DEFAULT_BUSY_WAIT_MS),
  ) {
    this.sql = prepareStatements(db);
    this.cg = new ChannelGroupSql(db);
    this.alertSql = prepareAlertStatements(db);
    this.recipientReads = prepareRecipientReads(db);
    this.transaction = db.transaction((work: () => unknown) => work());
    this.lockWait = lockWait;
    this.groupCommit = new GroupCommit(db, lockWait);
    // Snapshots a process that died left unmaterialised: written before the first read that needs them.
    for (const id of this.sql.pendingAudienceIds.all()) this.unmaterialised.set(id, null);
  }

  /**
   * A write: `work` runs in one IMMEDIATE transaction (all of it or none; a failed COMMIT throws),
   * at once, or after the writes waiting for another process's lock. `work` may run more than once
   * (a try that meets the lock rolls back whole), so it is database work and what may safely repeat.
   */
  private async write<T>(work: () => T): Promise<T> {
    return this.lockWait.write(() => this.transaction.immediate(work) as T);
  }

  /** A read: at once, or tried again after a pause when another process holds a lock that blocks it. */
  private async read<T>(work: () => T): Promise<T> {
    return this.lockWait.read(work);
  }

  /** A read that depends on messages' recipients: the pending snapshots' rows are written first. */
  private async readRecipients<T>(work: () => T): Promise<T> {
    return this.lockWait.read(() => {
      this.settle();
      return work();
    });
  }

  /** A write that depends on messages' recipients (marks, recalls, reminders): the snapshots' rows first. */
  private async writeRecipients<T>(work: () => T): Promise<T> {
    return this.lockWait.write(() => {
      this.settle();
      return this.transaction.immediate(work) as T;
    });
  }

  /**
   * Writes the recipient rows of every snapshot still pending (with the marks of the popups already
   * pushed, when the storing delivery has told them), in one transaction of its own. Called outside
   * any transaction, before a read or write that depends on recipients; nothing when none is pending.
   */
  private settle(): void {
    if (this.unmaterialised.size === 0) return;
    const pending = [...this.unmaterialised];
    this.transaction.immediate(() => {
      const at = now();
      for (const [id, delivered] of pending) this.materialise(id, delivered, at);
    });
    for (const [id] of pending) this.unmaterialised.delete(id);
  }

  /**
   * Inside a transaction: a snapshot's recipient rows, `delivered` delivered at `at` and the rest
   * not, and its routes; the snapshot marked materialised. One materialised already only gets the
   * delivered marks it lacks. (Only ids of the snapshot get rows.)
   */
  private materialise(messageId: number, delivered: readonly number[] | null, at: string): void {
    const snapshot = this.sql.audienceToMaterialise.get(messageId);
    if (!snapshot) {
      if (delivered && delivered.length > 0) this.sql.markDeliveredMany.run(at, messageId, JSON.stringify(delivered));
      return;
    }
    if (delivered && delivered.length > 0) {
      const ids = JSON.parse(snapshot.recipient_ids) as number[];
      const pushed = new Set(delivered);
      this.sql.upsertRecipients.run(messageId, at, JSON.stringify(ids.filter((id) => pushed.has(id))));
      this.sql.upsertRecipients.run(messageId, null, JSON.stringify(ids.filter((id) => !pushed.has(id))));
    } else {
      this.sql.upsertRecipients.run(messageId, null, snapshot.recipient_ids);
    }
    if (snapshot.routes !== null) this.sql.insertSnapshotRoutes.run(messageId, snapshot.routes);
    this.sql.audienceMaterialised.run(at, messageId);
  }

  /**
   * Opens a database file read-only and reports its integrity, schema version and a few counts,
   * without changing it. Throws when the file is not an SQLite database.
   */
  static inspect(file: string): DatabaseReport {
    // Reading a WAL-format file makes SQLite create an empty -wal and an -shm beside it; those
    // (and only those) are removed again, so inspecting a backup leaves no litter.
    const sidecars = ['-wal', '-shm'].map((suffix) => `${file}${suffix}`).filter((f) => !existsSync(f));
    const db = new Sqlite(file, { readonly: true, fileMustExist: true });
    try {
      const integrity = (db.pragma('integrity_check') as Array<{ integrity_check: string }>)
        .map((r) => r.integrity_check)
        .join('; ');
      const schemaVersion = db.pragma('user_version', { simple: true }) as number;
      const count = (sql: string): number => (db.prepare<[], number>(sql).pluck().get() ?? 0) as number;
      return {
        integrity,
        schemaVersion,
        users: count(`SELECT count(*) FROM users`),
        members: count(`SELECT count(*) FROM users WHERE role = 'member'`),
        messages: count(`SELECT count(*) FROM messages`),
        lastMessageId: count(`SELECT coalesce(max(id), 0) FROM messages`),
        pendingRegistrations: count(`SELECT count(*) FROM registration_requests WHERE status = 'pending'`),
        unsentMail: count(`SELECT count(*) FROM mail_queue WHERE sent_at IS NULL`),
        attachments: count(`SELECT count(*) FROM attachments WHERE storage_path IS NOT NULL`),
      };
    } finally {
      db.close();
      const wal = sidecars.find((f) => f.endsWith('-wal'));
      const walEmpty = !wal || !existsSync(wal) || statSync(wal).size === 0;
      if (walEmpty) for (const f of sidecars) rmSync(f, { force: true });
    }
  }

  // --- registration: a request holds its username and e-mail until decided, so two
  // --- people cannot both be promised the same account.

  async createRegistration(input: RegistrationInput, limits: RegistrationLimits = {}): Promise<RegistrationRequest> {
    return this.write(() => withConflicts(() => this.insertRegistration(input, limits)));
  }

  async getRegistration(id: number): Promise<RegistrationRequest | null> {
    return this.read(() => {
      const row = this.sql.registrationById.get(id);
      return row ? toRegistration(row) : null;
    });
  }

  /**
   * A given status lists oldest first (the order an admin works through a queue), ids below
   * beforeId; 'all' lists newest first, the usual order for browsing history.
   */
  async listRegistrations(status: RegistrationStatus | 'all', page: Page): Promise<RegistrationRequest[]> {
    return this.read(() => {
      const rows =
        status === 'all'
          ? this.sql.registrationsNewestFirst.all(before(page), page.limit)
          : this.sql.registrationsByStatus.all(status, before(page), page.limit);
      return rows.map(toRegistration);
    });
  }

  async approveRegistration(args: ApproveArgs): Promise<Approved> {
    return this.write(() => withConflicts(() => this.approve(args)));
  }

  async rejectRegistration(args: RejectArgs): Promise<Rejected> {
    return this.write(() => this.reject(args));
  }

  private insertRegistration(input: RegistrationInput, { maxPendingFromAddress, maxPending }: RegistrationLimits): RegistrationRequest {
    const { username, email } = input;
    if (maxPending !== undefined && this.sql.pendingRegistrations.get()! >= maxPending) {
      throw pendingLimit(maxPending, 'everyone');
    }
    if (maxPendingFromAddress !== undefined && input.fromAddress
        && this.sql.pendingFromAddress.get(input.fromAddress)! >= maxPendingFromAddress) {
      throw pendingLimit(maxPendingFromAddress, 'address');
    }
    if (this.sql.userByUsername.get(username) ?? this.sql.pendingWithUsername.get(username)) {
      throw conflict('username', username);
    }
    if (this.sql.userWithEmail.get(email) ?? this.sql.pendingWithEmail.get(email)) {
      throw conflict('email', email);
    }
    const { institution, contact, phone, address, fromAddress } = input;
    const row = this.sql.insertRegistration.get({
      ...{ institution, contact, email, phone, address, username },
      from_address: fromAddress,
      created_at: now(),
    });
    return toRegistration(row!);
  }

  /** The request to decide; anything but a pending request cannot be decided. */
  private pendingRequest(id: number): RegistrationRow {
    const row = this.sql.registrationById.get(id);
    if (!row) throw notFound('registration', id);
    if (row.status !== 'pending') throw alreadyDecided(id);
    return row;
  }

  private approve({ requestId, adminId, passwordHash, mail }: ApproveArgs): Approved {
    const pending = this.pendingRequest(requestId);
    // A user could have been created by other means (or an old request approved) meanwhile.
    if (this.sql.userByUsername.get(pending.username)) throw conflict('username', pending.username);
    if (this.sql.userWithEmail.get(pending.email)) throw conflict('email', pending.email);
    const at = now();
    this.activeMemberIds = null;
    const user = toUser(
      this.sql.insertUser.get({
        username: pending.username,
        role: 'member',
        status: 'active',
        password_hash: passwordHash,
        institution: pending.institution,
        contact: pending.contact,
        email: pending.email,
        phone: pending.phone,
        address: pending.address,
        must_change_password: 1,
        created_at: at,
      })!,
    );
    const request = toRegistration(
      this.sql.decideRegistration.get({
        id: requestId,
        status: 'approved',
        reason: null,
        at,
        admin: adminId,
        user: user.id,
      })!,
    );
    const mailId = this.queueMail(mail, at);
    const detail = { requestId, userId: user.id };
    this.writeAudit({ kind: 'registration_approved', actorId: adminId, subject: request.username, detail }, at);
    return { request, user, mailId };
  }

  private reject({ requestId, adminId, reason, mail }: RejectArgs): Rejected {
    this.pendingRequest(requestId);
    const at = now();
    const request = toRegistration(
      this.sql.decideRegistration.get({ id: requestId, status: 'rejected', reason, at, admin: adminId, user: null })!,
    );
    const mailId = this.queueMail(mail, at);
    const detail = { requestId, reason };
    this.writeAudit({ kind: 'registration_rejected', actorId: adminId, subject: request.username, detail }, at);
    return { request, mailId };
  }

  async expireRegistrations(args: ExpireArgs): Promise<Expired> {
    return this.write(() => this.expire(args));
  }

  private expire({ olderThanIso, actorId, mails }: ExpireArgs): Expired {
    const at = now();
    return this.sql.pendingCreatedBefore.all(olderThanIso).filter((row) => mails.has(row.id)).map((row) => {
      const request = toRegistration(
        this.sql.decideRegistration.get({ id: row.id, status: 'expired', reason: null, at, admin: actorId, user: null })!,
      );
      const mailId = this.queueMail(mails.get(request.id)!, at);
      const detail = { requestId: request.id, createdAt: request.createdAt };
      this.writeAudit({ kind: 'registration_expired', actorId, subject: request.username, detail }, at);
      return { request, mailId };
    });
  }

  // --- users: members only ever come from approved requests; the one admin from ensureAdmin.

  async getUserById(id: number): Promise<User | null> {
    return this.read(() => this.cachedUserById(id));
  }

  async getUserByUsername(username: string): Promise<User | null> {
    return this.read(() => this.cachedUserByName(username));
  }

  private cachedUserById(id: number): User | null {
    return this.cache.userById(id, () => {
      const row = this.sql.userById.get(id);
      return row ? toUser(row) : null;
    });
  }

  private cachedUserByName(username: string): User | null {
    return this.cache.userByName(username, () => {
      const row = this.sql.userByUsername.get(username);
      return row ? toUser(row) : null;
    });
  }

  async listMembers(): Promise<User[]> {
    return this.read(() => this.sql.members.all().map(toUser));
  }

  async institutionsOf(userIds: readonly number[]): Promise<Map<number, string>> {
    if (userIds.length === 0) return new Map();
    return this.read(() => new Map(this.sql.institutionsOf.all(JSON.stringify(userIds)).map((r) => [r.id, r.institution])));
  }

  async storageUsage(): Promise<Map<number, number>> {
    return this.read(() => new Map(this.sql.storageUsage.all().map((r) => [r.user_id, r.bytes])));
  }

  /** One query for the whole list; `found` and `missing` keep the caller's order, without repeats. */
  async resolveActiveMembers(usernames: string[]): Promise<{ found: User[]; missing: string[] }> {
    return this.read(() => this.resolveMembers(usernames));
  }

  private resolveMembers(usernames: string[]): { found: User[]; missing: string[] } {
    const wanted = [...new Set(usernames)];
    if (wanted.length === 1) return this.resolveOneActiveMember(wanted[0]!);
    const byName = new Map(this.sql.activeMembersNamed.all(JSON.stringify(wanted)).map((r) => [r.username, toUser(r)]));
    const found: User[] = [];
    const missing: string[] = [];
    for (const name of wanted) {
      const user = byName.get(name);
      if (user) found.push(user);
      else missing.push(name);
    }
    return { found, missing };
  }

  /** A direct message's usual case: the unique-index lookup instead of the json_each query. */
  private resolveOneActiveMember(username: string): { found: User[]; missing: string[] } {
    const user = this.cachedUserByName(username);
    if (user && user.role === 'member' && user.status === 'active') return { found: [user], missing: [] };
    return { found: [], missing: [username] };
  }

  async listActiveMemberIds(): Promise<number[]> {
    // A copy: the caller may change its list, not the next broadcast's.
    return this.read(() => [...(this.activeMemberIds ??= this.sql.activeMemberIds.all())]);
  }

  async ensureAdmin(passwordHash: string): Promise<boolean> {
    return this.write(() => this.createAdminIfNone(passwordHash));
  }

  private createAdminIfNone(passwordHash: string): boolean {
    if (this.sql.anyAdmin.get()) return false;
    if (this.sql.userByUsername.get('admin')) {
      throw new Error('cannot create the admin account: the username "admin" belongs to a member');
    }
    this.sql.insertUser.run({
      username: 'admin',
      role: 'admin',
      status: 'active',
      password_hash: passwordHash,
      institution: '',
      contact: '',
      email: '',
      phone: '',
      address: '',
      must_change_password: 0,
      created_at: now(),
    });
    return true;
  }

  async setUserStatus(userId: number, status: UserStatus): Promise<void> {
    return this.write(() => {
      this.cache.forgetUser(userId);
      this.activeMemberIds = null;
      this.sql.setUserStatus.run(status, userId);
    });
  }

  async setPassword(userId: number, passwordHash: string, mustChange: boolean): Promise<void> {
    return this.write(() => {
      this.cache.forgetUser(userId);
      this.sql.setPassword.run(passwordHash, mustChange ? 1 : 0, userId);
    });
  }

  async recordLogin(userId: number, address: string | null): Promise<void> {
    return this.write(() => this.recordLoginNow(userId, address));
  }

  private recordLoginNow(userId: number, address: string | null): void {
    this.cache.forgetUser(userId);
    this.sql.recordLogin.run(now(), address, userId);
  }

  async changePassword(args: ChangeArgs): Promise<{ sessions: number }> {
    return this.write(() => this.change(args));
  }

  private change({ userId, sessionId, passwordHash, address }: ChangeArgs): { sessions: number } {
    const at = now();
    const { username, sessions } = this.replacePassword(userId, passwordHash, false, at, sessionId);
    this.sql.liftSessionRestriction.run(sessionId);
    this.writeAudit({ kind: 'password_changed', actorId: userId, subject: username, address, detail: { sessions } }, at);
    return { sessions };
  }

  async resetPassword(args: ResetArgs): Promise<Reset> {
    return this.write(() => this.reset(args));
  }

  private reset({ userId, adminId, passwordHash, address, mail }: ResetArgs): Reset {
    const at = now();
    const { sessions } = this.replacePassword(userId, passwordHash, true, at, null);
    const user = toUser(this.sql.userById.get(userId)!);
    const mailId = this.queueMail(mail, at);
    this.writeAudit({ kind: 'password_reset', actorId: adminId, subject: user.username, address, detail: { sessions, mailId } }, at);
    return { user, sessions, mailId };
  }

  /** Inside a transaction: a new password hash, and every open session of the member closed but `keep`. */
  private replacePassword(userId: number, passwordHash: string, mustChange: boolean, at: string, keep: number | null): { username: string; sessions: number } {
    const row = this.sql.userById.get(userId);
    if (!row) throw notFound('user', userId);
    this.cache.forgetUser(userId);
    this.cache.forgetSessions();
    this.sql.setPassword.run(passwordHash, mustChange ? 1 : 0, userId);
    const closed = keep === null ? this.sql.closeUserSessions.run(at, userId) : this.sql.closeOtherSessions.run(at, userId, keep);
    return { username: row.username, sessions: closed.changes };
  }

  // --- sessions: only the token's hash is stored; closing keeps the row for the audit trail.

  async createSession(args: SessionArgs): Promise<Session> {
    return this.write(() => this.insertSession(args));
  }

  async login(args: SessionArgs): Promise<Session> {
    return this.write(() => {
      this.recordLoginNow(args.userId, args.address);
      return this.insertSession(args);
    });
  }

  private insertSession(args: SessionArgs): Session {
    const oneTime = args.mustChangePassword ? 1 : 0;
    return toSession(this.sql.insertSession.get(args.tokenHash, args.userId, args.address, now(), args.expiresAt, oneTime)!);
  }

  async findSession(tokenHash: string): Promise<Session | null> {
    return this.read(() => this.cache.session(tokenHash, () => {
      const row = this.sql.openSessionByToken.get(tokenHash);
      return row ? toSession(row) : null;
    }));
  }

  async findSessionAndUser(tokenHash: string): Promise<{ session: Session; user: User } | null> {
    // Both from this store's read cache when it holds them: no query at all on a resume storm's repeats.
    return this.read(() => {
      const session = this.cache.session(tokenHash, () => {
        const row = this.sql.openSessionByToken.get(tokenHash);
        return row ? toSession(row) : null;
      });
      const user = session ? this.cachedUserById(session.userId) : null;
      return session && user ? { session, user } : null;
    });
  }

  async closeSession(sessionId: number): Promise<void> {
    return this.write(() => {
      this.cache.forgetSessions();
      this.sql.closeSession.run(now(), sessionId);
    });
  }

  async closeUserSessions(userId: number): Promise<number> {
    return this.write(() => {
      this.cache.forgetSessions();
      return this.sql.closeUserSessions.run(now(), userId).changes;
    });
  }

  // --- messages: one shared message row, one state row per recipient, so delivery, reading
  // --- and deleting are each recipient's own business while the sender sees them all.

  /** The deliveredAtCommit capability: recipients recorded delivered in the storing transaction. */
  deliveredAtCommit(pushed: (recipientId: number) => boolean): MessageWriter {
    return deliveredAtCommitWriter(this, pushed);
  }

  async storeMessage(message: NewMessage, limits: MessageLimits = {}): Promise<Message> {
    return this.groupCommit.run(() => this.insertMessage(message, limits));
  }

  /** `hold`: a scheduled message; its recipients are kept aside until releaseScheduled. */
  private insertMessage(input: NewMessage, { quotaBytes }: MessageLimits, hold = false): Message {
    this.countAgainstQuota(input, quotaBytes);
    // A channel message goes to the channel's subscribers of this instant (issue #4).
    const m = this.cg.routeChannelMessage(input);
    const at = now();
    const id = this.sql.insertMessage.get(m.senderId, m.audience, m.subject, m.body, at)!;
    const attached = !!m.attachments && m.attachments.length > 0;
    // A large audience: one snapshot row instead of a recipient row (and a route row) each.
    const snapshot = !attached && !hold && m.recipientIds.length > AUDIENCE_SNAPSHOT_ABOVE;
    this.cg.recordRoutes(id, m, !snapshot);
    if (snapshot) return this.insertSnapshot(id, m, at);
    if (m.attachments && m.attachments.length > 0) {
      // Recipients wait until every attachment is uploaded (commitUpload writes their rows).
      if (!m.uploadDeadline) throw new Error('a message with attachments needs an upload deadline');
      this.sql.markSending.run(m.uploadDeadline, JSON.stringify(m.recipientIds), id);
      this.checkRecipientsExist(m.recipientIds);
      for (const a of m.attachments) {
        this.sql.insertAttachment.run({
          message_id: id, name: a.name, size: a.size, sha256: a.sha256, media_type: a.mediaType,
          storage_path: null, created_at: at,
        });
      }
      return this.withDetails([this.sql.messageById.get(id)!])[0]!;
    }
    if (hold) {
      this.checkRecipientsExist(m.recipientIds);
      this.sql.holdRecipients.run(JSON.stringify(m.recipientIds), id);
      return this.withDetails([this.sql.messageById.get(id)!])[0]!;
    }
    const pushed = this.insertRecipients(id, m, at);
    // Built from what was just written, as messageById would read it back (one query less per message).
    const row: MessageRow = {
      id, sender_id: m.senderId, sender: this.usernames([m.senderId]).get(m.senderId)!, audience: m.audience,
      subject: m.subject, body: m.body, sent_at: at, state: 'sent', upload_deadline: null,
      channel_id: m.channelId ?? null, via: m.via ?? null,
    };
    return toMessage(row, this.freshRecipients(m, pushed, at), []);
  }

  /**
   * Inside the storing transaction: the audience snapshot of a large audience's message (schema.sql
   * migration 11), its rows to be written after its popups (materialiseRecipients, settle).
   */
  private insertSnapshot(id: number, m: NewMessage, at: string): Message {
    const ids = JSON.stringify(m.recipientIds);
    // No foreign key checks a JSON list: every recipient an active member (the usual case, from
    // memory), or else one query that they are users at all.
    const list = (this.activeMemberIds ??= this.sql.activeMemberIds.all());
    if (this.activeMemberSet?.of !== list) this.activeMemberSet = { of: list, ids: new Set(list) };
    const active = this.activeMemberSet.ids;
    if (!m.recipientIds.every((rid) => active.has(rid)) && this.sql.countUsers.get(ids) !== m.recipientIds.length) {
      throw new Error('FOREIGN KEY constraint failed: a recipient is no user');
    }
    this.sql.insertAudience.run(id, ids, snapshotRoutes(m));
    this.unmaterialised.set(id, null);
    const row: MessageRow = {
      id, sender_id: m.senderId, sender: this.usernames([m.senderId]).get(m.senderId)!, audience: m.audience,
      subject: m.subject, body: m.body, sent_at: at, state: 'sent', upload_deadline: null,
      channel_id: m.channelId ?? null, via: m.via ?? null,
    };
    return { ...toMessage(row, this.freshRecipients(m, new Set(), at), []), recipientRowsPending: true };
  }

  async materialiseRecipients(messageId: number, delivered: readonly number[]): Promise<void> {
    // A settle before the batch below runs writes these marks with the rows.
    if (this.unmaterialised.has(messageId)) this.unmaterialised.set(messageId, delivered);
    return this.groupCommit.run(() => {
      this.materialise(messageId, delivered, now());
      this.unmaterialised.delete(messageId);
    }).catch((err: unknown) => {
      // Not written: still pending (the next read, or materialiseSnapshots, writes it).
      this.unmaterialised.set(messageId, delivered);
      throw err;
    });
  }

  async materialiseSnapshots(): Promise<number> {
    return this.lockWait.write(() => {
      for (const id of this.sql.pendingAudienceIds.all()) if (!this.unmaterialised.has(id)) this.unmaterialised.set(id, null);
      const n = this.unmaterialised.size;
      this.settle();
      return n;
    });
  }

  // --- alerts (issue 21): the alert row is written in the message's own transaction.

  async storeAlertedMessage(message: NewMessage, alert: NewAlert, limits: MessageLimits = {}): Promise<{ message: Message; alert: MessageAlert; replaced: RecallOutcome | null }> {
    // A correction recalls the message it replaces, whose rows (those not delivered) it closes.
    if (alert.replaces) this.settle();
    return this.groupCommit.run(() => {
      const scheduled = !!alert.deliverAt;
      const stored = this.insertMessage(message, limits, scheduled);
      const row = newAlertRow(stored.id, alert, stored.sentAt);
      let replaced: RecallOutcome | null = null;
      if (alert.replaces && this.alertSql.messageExists.get(alert.replaces.messageId) !== undefined) {
        // A correction that does not go out now recalls it when it does: a scheduled one at its release
        // (releaseScheduled), one with attachments with its last upload (commitUpload).
        const later = scheduled || stored.state === 'sending';
        if (!later) replaced = recallIn(this.alertSql, { ...alert.replaces, replacedBy: stored.id }, stored.sentAt);
        replacing(row, alert.replaces, later);
      }
      this.alertSql.insertAlert.run(row);
      return { message: stored, alert: toAlert(row), replaced };
    });
  }

  async recallMessage(request: RecallRequest & { replacedBy?: number }): Promise<RecallOutcome | null> {
    return this.writeRecipients(() => recallIn(this.alertSql, request, now()));
  }

  async remindMessage(
    messageId: number, online: ReadonlySet<number>, automatic?: { owner: string; nextAt: string },
  ): Promise<{ reminders: number; pending: number[]; queued: number[] } | null> {
    const q = this.alertSql;
    return this.writeRecipients(() => {
      const reminders = automatic
        ? q.autoReminder.get({ id: messageId, owner: automatic.owner, next: automatic.nextAt })
        : q.countReminder.get(messageId);
      if (reminders === undefined) return null;
      const rows = q.notAcknowledged.all(messageId);
      const queued = rows.filter((r) => r.delivered && !online.has(r.recipient_id)).map((r) => r.recipient_id);
      for (const id of queued) q.oweReminder.run(messageId, id, reminders);
      return { reminders, pending: rows.map((r) => r.recipient_id), queued };
    });
  }

  // --- due jobs (DueJobStore): claimed with a lease in one UPDATE … RETURNING each.

  async claimDueJobs(claim: DueJobClaim): Promise<DueJob[]> {
    const q = this.alertSql;
    return this.write(() => {
      const args = { now: claim.now, owner: claim.owner, lease: claim.leaseUntil, limit: claim.limit };
      const deliveries = q.claimReleases.all(args).map((messageId): DueJob => ({ kind: 'deliver', messageId }));
      const left = claim.limit - deliveries.length;
      const reminders = left > 0 ? q.claimReminders.all({ ...args, limit: left }).map((messageId): DueJob => ({ kind: 'remind', messageId })) : [];
      return [...deliveries.sort((a, b) => a.messageId - b.messageId), ...reminders.sort((a, b) => a.messageId - b.messageId)];
    });
  }

  async releaseScheduled(messageIds: readonly number[], owner: string, at: string): Promise<ReleasedMessage[]> {
    if (messageIds.length === 0) return [];
    const q = this.alertSql;
    return this.writeRecipients(() => {
      const out: Array<{ id: number; replaced: RecallOutcome | null }> = [];
      // By id: a correction comes after the message it replaces (when both go out in this batch).
      for (const id of [...new Set(messageIds)].sort((a, b) => a - b)) {
        const released = q.release.get({ id, owner, at });
        if (released === undefined) continue;
        this.sql.releasePendingRecipients.run(id);
        q.releaseMessage.run(at, id);
        // A correction: the message it replaces is withdrawn now, as it goes out.
        const recall = recallOnRelease(released);
        const replaced = recall ? recallIn(q, recall, at) : null;
        if (recall) q.replaceRecalled.run(id);
        out.push({ id, replaced });
      }
      // Read once everything is written (one query for the batch).
      const messages = this.withDetails(out.map((r) => this.sql.messageById.get(r.id)!));
      return out.map((r, i) => ({ message: messages[i]!, replaced: r.replaced }));
    });
  }

  async finishReminders(messageId: number, owner: string): Promise<void> {
    return this.write(() => { this.alertSql.finishReminders.run(messageId, owner); });
  }

  async takeDueReminders(recipientId: number, limit: number): Promise<Array<{ messageId: number; reminder: number }>> {
    const q = this.alertSql;
    return this.write(() => {
      const rows = q.dueReminders.all(recipientId, limit);
      for (const r of rows) q.dropReminder.run(recipientId, r.message_id);
      return rows.map((r) => ({ messageId: r.message_id, reminder: r.reminder }));
    });
  }

  async unacknowledgedRecipients(messageId: number, page: { afterId: number; limit: number }): Promise<UnacknowledgedRecipient[]> {
    const limit = unacknowledgedPageSize(page.limit);
    if (limit === 0) return [];
    return this.readRecipients(() => this.alertSql.unacknowledged.all({ id: messageId, after: page.afterId, limit })
      .map((r) => ({ userId: r.recipient_id, via: r.via ?? null })));
  }

  async openAcknowledgements(nowIso: string, limit: number): Promise<{ pending: number; messages: number }> {
    return this.readRecipients(() => this.alertSql.openAcks.get({ now: nowIso, limit }) ?? { pending: 0, messages: 0 });
  }

  async claimExpiredAttachments(args: { expiredBeforeIso: string; nowIso: string; limit: number }): Promise<{ messages: number; attachments: ExpiredAttachment[] }> {
    const q = this.alertSql;
    return this.write(() => {
      const claimed = q.expiredToSweep.all(args.expiredBeforeIso, args.limit);
      const attachments: ExpiredAttachment[] = [];
      for (const m of claimed) {
        q.markSwept.run(args.nowIso, m.message_id);
        const removed = q.removeAttachments.all(args.nowIso, m.message_id);
        // Their files are let go: they no longer count against the sender's quota (the text still does).
        const bytes = removed.reduce((sum, a) => sum + a.size, 0);
        if (bytes > 0) this.sql.addStorageUsed.run({ user: m.sender_id, bytes: -bytes });
        for (const a of removed) attachments.push({ id: a.id, messageId: a.message_id, sha256: a.sha256, size: a.size });
      }
      return { messages: claimed.length, attachments };
    });
  }

  async alertsOf(messageIds: readonly number[]): Promise<Map<number, MessageAlert>> {
    if (messageIds.length === 0) return new Map();
    return this.read(() => new Map(this.alertSql.alertsOf.all(JSON.stringify(messageIds)).map((r) => [r.message_id, toAlert(r)])));
  }

  async acksOf(messageIds: readonly number[]): Promise<Map<number, Map<number, string>>> {
    if (messageIds.length === 0) return new Map();
    return this.read(() => groupAcks(this.alertSql.acksOf.all(JSON.stringify(messageIds))));
  }

  async acknowledge(messageId: number, recipientId: number): Promise<{ ackedAt: string; already: boolean } | null> {
    return this.writeRecipients(() => {
      const at = now();
      // Acknowledging is reading too (and delivery); a row that is not in the inbox changes nothing.
      if (this.sql.markRead.run({ at, message: messageId, recipient: recipientId }).changes === 0) return null;
      const before = this.alertSql.ackOf.get(messageId, recipientId);
      if (before !== undefined) return { ackedAt: before, already: true };
      this.alertSql.insertAck.run(messageId, recipientId, at);
      return { ackedAt: at, already: false };
    });
  }

  /** Adds the message to its sender's usage, first refusing it (StoreError 'quota') when it would pass `quotaBytes`. */
  private countAgainstQuota(m: NewMessage, quotaBytes: number | undefined): void {
    const bytes = messageBytes(m);
    if (quotaBytes !== undefined && quotaBytes > 0) {
      const used = this.sql.storageUsed.get(m.senderId) ?? 0;
      if (used + bytes > quotaBytes) throw quotaExceeded(used, bytes, quotaBytes);
    }
    this.sql.addStorageUsed.run({ user: m.senderId, bytes });
  }

  /** Writes the recipient rows; those pushed after the commit are written delivered. Returns them. */
  private insertRecipients(messageId: number, m: NewMessage, at: string): ReadonlySet<number> {
    const pushedAfterCommit = (m as PushedMessage).pushedAfterCommit;
    const pushed = new Set(pushedAfterCommit ? m.recipientIds.filter((rid) => pushedAfterCommit(rid)) : []);
    if (m.recipientIds.length < BULK_RECIPIENTS) {
      for (const rid of m.recipientIds) this.sql.insertRecipient.run(messageId, rid, pushed.has(rid) ? at : null);
      return pushed;
    }
    // A broadcast: two statements over JSON arrays rather than a call per member.
    if (pushed.size > 0) this.sql.insertRecipients.run(messageId, at, JSON.stringify([...pushed]));
    const rest = pushed.size > 0 ? m.recipientIds.filter((rid) => !pushed.has(rid)) : m.recipientIds;
    if (rest.length > 0) this.sql.insertRecipients.run(messageId, null, JSON.stringify(rest));
    return pushed;
  }

  /**
   * A just-stored message's recipients, built from what was inserted instead of read back: a
   * broadcast has one row per member, and reading 10,000 back delayed its popups. Same order as
   * recipientsOf (by username, SQLite's binary collation).
   */
  private freshRecipients(m: NewMessage, pushed: ReadonlySet<number>, at: string): RecipientState[] {
    const names = this.usernames(m.recipientIds);
    const recipients = m.recipientIds.map((userId): RecipientState => {
      const state: RecipientState = { userId, username: names.get(userId)!, deliveredAt: pushed.has(userId) ? at : null, readAt: null };
      const via = m.recipientVia?.get(userId);
      if (via) state.via = via;
      return state;
    });
    return recipients.sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0));
  }

  /** Usernames never change once given, so they are cached; ids not seen yet cost one query. */
  private usernames(ids: readonly number[]): Map<number, string> {
    const missing = ids.filter((id) => !this.usernameById.has(id));
    if (missing.length > 0) {
      for (const r of this.sql.usernamesOf.all(JSON.stringify(missing))) this.usernameById.set(r.id, r.username);
    }
    return this.usernameById;
  }

  async getMessage(id: number): Promise<Message | null> {
    return this.readRecipients(() => {
      const row = this.sql.messageById.get(id);
      return row ? this.withDetails([row])[0]! : null;
    });
  }

  async markDelivered(messageId: number, recipientId: number): Promise<void> {
    return this.markDeliveredMany(messageId, [recipientId]);
  }

  async markDeliveredMany(messageId: number, recipientIds: readonly number[]): Promise<void> {
    this.settle(); // the rows a mark is written on exist first
    return this.groupCommit.run(() => {
      const at = now();
      // Nodes sharing one file: another process's snapshot whose rows it has not written yet (a
      // broadcast heard with its recipients is marked before the storing node writes them): written
      // now, with these marks, or the marks would find no rows and be lost.
      if (this.sql.audienceToMaterialise.get(messageId)) {
        this.materialise(messageId, recipientIds, at);
        return;
      }
      if (recipientIds.length < BULK_RECIPIENTS) {
        for (const id of recipientIds) this.sql.markDelivered.run(at, messageId, id);
      } else {
        this.sql.markDeliveredMany.run(at, messageId, JSON.stringify(recipientIds));
      }
    });
  }

  async reopenDeliveriesMarkedAtCommit(windowMs: number): Promise<number> {
    return this.writeRecipients(() => {
      // Walk back from the newest message (ids follow sent_at) instead of scanning every message.
      let first: number | null = null;
      let cutoff: string | null = null;
      for (const m of this.sql.newestMessagesFirst.iterate()) {
        cutoff ??= new Date(Date.parse(m.sent_at) - windowMs).toISOString();
        if (m.sent_at < cutoff) break;
        first = m.id;
      }
      if (first === null) return 0;
      return this.sql.reopenMarkedAtCommit.run(first).changes;
    });
  }

  async markUndelivered(messageId: number, recipientIds: readonly number[]): Promise<void> {
    if (recipientIds.length === 0) return;
    this.settle();
    return this.groupCommit.run(() => { this.sql.markUndelivered.run(messageId, JSON.stringify(recipientIds)); });
  }

  async listUndelivered(recipientId: number, limit: number): Promise<Message[]> {
    return this.readRecipients(() => this.withDetailsFor(this.sql.undelivered.all(recipientId, now(), limit), [recipientId]));
  }

  async undeliveredAmong(recipientIds: readonly number[], limit: number): Promise<UndeliveredPopup[]> {
    if (recipientIds.length === 0 || limit <= 0) return [];
    return this.readRecipients(() => this.sql.undeliveredAmong.all(JSON.stringify(recipientIds), now(), limit)
      .map((r) => ({ messageId: r.message_id, recipientId: r.recipient_id })));
  }

  async inbox(recipientId: number, page: Page, filter: { unreadOnly?: boolean } = {}): Promise<InboxEntry[]> {
    return this.readRecipients(() => {
      const rows = this.sql.inbox.all(recipientId, before(page), filter.unreadOnly ? 1 : 0, page.limit);
      const attachments = this.attachmentsOf(rows.map((r) => r.id));
      // Who else it went to, as READ shows it; a broadcast or a channel is named, not listed.
      const listed = rows.filter((r) => r.audience !== 'all' && r.channel_id === null).map((r) => r.id);
      const recipients = listed.length === 0 ? new Map<number, string[]>()
        : groupByMessage(this.sql.recipientsOf.all(JSON.stringify(listed)), (x) => x.username);
      return rows.map((r) => toInboxEntry(r, attachments.get(r.id) ?? [], recipients.get(r.id) ?? []));
    });
  }

  async outbox(senderId: number, page: Page): Promise<Message[]> {
    return this.readRecipients(() => this.withDetails(this.sql.outbox.all(senderId, before(page), page.limit)));
  }

  async markRead(messageId: number, recipientId: number): Promise<boolean> {
    return this.writeRecipients(() => this.sql.markRead.run({ at: now(), message: messageId, recipient: recipientId }).changes > 0);
  }

  async deleteFromInbox(messageId: number, recipientId: number): Promise<boolean> {
    return this.writeRecipients(() => this.sql.deleteFromInbox.run(now(), messageId, recipientId).changes > 0);
  }

  async unreadCount(recipientId: number): Promise<number> {
    return this.readRecipients(() => this.sql.unreadCount.get(recipientId)!);
  }

  /** Adds recipients and attachments to message rows with two queries, whatever the page size. */
  private withDetails(rows: MessageRow[]): Message[] {
    if (rows.length === 0) return [];
    const ids = JSON.stringify(rows.map((r) => r.id));
    const recipients = groupByMessage(this.sql.recipientsOf.all(ids), toRecipient);
    if (rows.some((r) => r.state === 'sending' || r.held)) {
      // A 'sending' or scheduled message has no recipient rows yet: its sender sees the pending recipients.
      for (const [id, list] of groupByMessage(this.sql.pendingRecipientsOf.all(ids), toRecipient)) recipients.set(id, list);
    }
    const attachments = groupByMessage(this.sql.attachmentsOf.all(ids), toAttachment);
    return rows.map((r) => toMessage(r, recipients.get(r.id) ?? [], attachments.get(r.id) ?? []));
  }

  async getMessageFor(id: number, recipientIds: readonly number[]): Promise<Message | null> {
    return this.readRecipients(() => {
      const row = this.sql.messageById.get(id);
      return row ? this.withDetailsFor([row], recipientIds)[0]! : null;
    });
  }

  /** As withDetails, with only the asked recipients (recipient-reads.ts). */
  private withDetailsFor(rows: MessageRow[], recipientIds: readonly number[]): Message[] {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const recipients = readRecipientsAmong(this.recipientReads, ids, recipientIds, rows.some((r) => r.state === 'sending' || r.held));
    const attachments = this.attachmentsOf(ids);
    return rows.map((r) => toMessage(r, recipients.get(r.id) ?? [], attachments.get(r.id) ?? []));
  }

  private attachmentsOf(messageIds: number[]): Map<number, AttachmentMeta[]> {
    if (messageIds.length === 0) return new Map();
    return groupByMessage(this.sql.attachmentsOf.all(JSON.stringify(messageIds)), toAttachment);
  }

  // --- attachments: the record exists before the upload ends (storagePath null until then).

  async addAttachment(meta: Omit<AttachmentMeta, 'id'>): Promise<AttachmentMeta> {
    return this.write(() => {
      const row = this.sql.insertAttachment.get({
        message_id: meta.messageId,
        name: meta.name,
        size: meta.size,
        sha256: meta.sha256,
        media_type: meta.mediaType,
        storage_path: meta.storagePath,
        created_at: now(),
      });
      return toAttachment(row!);
    });
  }

  async getAttachment(id: number): Promise<AttachmentMeta | null> {
    return this.read(() => {
      const row = this.sql.attachmentById.get(id);
      return row ? toAttachment(row) : null;
    });
  }

  async messageRole(messageId: number, userId: number): Promise<'sender' | 'recipient' | null> {
    return this.readRecipients(() => {
      const row = this.sql.messageById.get(messageId);
      if (!row) return null;
      if (row.sender_id === userId) return 'sender';
      return this.sql.messageRecipientRole.get(messageId, userId) ? 'recipient' : null;
    });
  }

  async commitAttachment(args: CommitArgs): Promise<AttachmentCommit | null> {
    return this.write(() => this.commitUpload(args));
  }

  private commitUpload({ attachmentId, storagePath, mediaType }: CommitArgs): AttachmentCommit | null {
    const row = this.sql.attachmentById.get(attachmentId);
    if (!row || !this.sql.sendingMessageById.get(row.message_id)) return null;
    if (this.sql.commitAttachment.run({ id: attachmentId, path: storagePath, type: mediaType, at: now() }).changes === 0) return null;
    const missing = this.sql.missingAttachments.get(row.message_id)!;
    let sent = missing === 0;
    // A scheduled message whose time has not come (or that was recalled, or that is a correction) is
    // held whole: the due-jobs runner releases it (and a correction's release recalls what it replaces).
    const at = now();
    const schedule = sent ? this.alertSql.heldSchedule.get(at, row.message_id) : undefined;
    let replaced: RecallOutcome | null = null;
    if (schedule && (!schedule.due || schedule.recalled || schedule.replacing)) {
      this.alertSql.holdUploaded.run(row.message_id);
      sent = false;
    } else if (sent) {
      // The last file is in: the recipients get their rows now, so inboxes and popups see it whole.
      this.sql.releasePendingRecipients.run(row.message_id);
      this.sql.finishSending.run('sent', row.message_id);
      if (schedule) {
        // Its time passed while it was uploading: it goes out now, as a released scheduled message.
        this.alertSql.releaseNow.run({ id: row.message_id, at });
        this.alertSql.releaseMessage.run(at, row.message_id);
      } else {
        // A correction with attachments: the message it replaces is withdrawn now, as it goes out.
        replaced = this.recallOnSend(row.message_id, at);
      }
    }
    const message = this.withDetails([this.sql.messageById.get(row.message_id)!])[0]!;
    const attachment = message.attachments.find((a) => a.id === attachmentId)!;
    return { attachment, message, sent, missing, ...(schedule && !sent ? { held: true } : {}), ...(replaced ? { replaced } : {}) };
  }

  /** The recall a correction kept for its going out (storeAlertedMessage), made now; null when it kept none. */
  private recallOnSend(messageId: number, at: string): RecallOutcome | null {
    const kept = this.alertSql.alertOf.get(messageId);
    const recall = kept ? recallOnRelease(kept) : null;
    if (!recall) return null;
    const replaced = recallIn(this.alertSql, recall, at);
    this.alertSql.replaceRecalled.run(messageId);
    return replaced;
  }

  async closeSendingMessage(messageId: number, state: 'expired' | 'cancelled'): Promise<Message | null> {
    return this.write(() => this.closeSending(messageId, state));
  }

  private closeSending(messageId: number, state: 'expired' | 'cancelled'): Message | null {
    const row = this.sql.messageById.get(messageId);
    if (!row || row.state !== 'sending') return null;
    const before = this.withDetails([row])[0]!;
    // Its files are let go: they no longer count against the sender's quota (the text still does).
    const released = before.attachments.reduce((sum, a) => sum + a.size, 0);
    this.sql.addStorageUsed.run({ user: row.sender_id, bytes: -released });
    this.sql.releaseAttachments.run(messageId);
    this.sql.finishSending.run(state, messageId);
    this.alertSql.dropRelease.run(messageId);
    return before;
  }

  async overdueSendingMessages(nowIso: string, limit: number): Promise<number[]> {
    return this.read(() => this.sql.overdueSending.all(nowIso, limit));
  }

  async isContentReferenced(sha256: string): Promise<boolean> {
    return this.read(() => this.sql.contentReferenced.get(sha256) !== undefined);
  }

  /** Pending recipients are a JSON list, so the foreign key cannot check them: this does. */
  private checkRecipientsExist(ids: number[]): void {
    for (const id of ids) {
      if (!this.sql.userById.get(id)) throw new Error(`FOREIGN KEY constraint failed: no user ${id}`);
    }
  }

  // --- mail queue: mail is queued in the same transaction as the change it reports, and
  // --- sent later, so an SMTP outage never loses or blocks a decision.

  async enqueueMail(mail: OutgoingMail): Promise<number> {
    return this.write(() => this.queueMail(mail, now()));
  }

  private queueMail(mail: OutgoingMail, at: string): number {
    return this.sql.insertMail.get(mail.kind, mail.to, mail.subject, mail.sealedText, at, at)!;
  }

  async dueMail(nowIso: string, limit: number, after?: { nextAttemptAt: string; id: number }): Promise<QueuedMail[]> {
    return this.read(() => (after
      ? this.sql.dueMailAfter.all(nowIso, after.nextAttemptAt, after.nextAttemptAt, after.id, limit)
      : this.sql.dueMail.all(nowIso, limit)).map(toMail));
  }

  async markMailSent(id: number): Promise<void> {
    return this.write(() => { this.sql.mailSent.run(now(), id); });
  }

  async markMailFailed(id: number, error: string, nextAttemptAt: string): Promise<void> {
    return this.write(() => { this.sql.mailFailed.run(error, nextAttemptAt, id); });
  }

  async listMail(filter: 'unsent' | 'failed' | 'all', page: Page): Promise<QueuedMail[]> {
    const statement = filter === 'unsent' ? this.sql.unsentMail : filter === 'failed' ? this.sql.failedMail : this.sql.allMail;
    return this.read(() => statement.all(before(page), page.limit).map(toMail));
  }

  async retryMail(id: number | undefined, nowIso: string): Promise<number> {
    return this.write(() => {
      if (id !== undefined) return this.sql.retryOneMail.run(nowIso, id).changes;
      return this.sql.retryAllMail.run({ now: nowIso }).changes;
    });
  }

  async getMail(id: number): Promise<QueuedMail | null> {
    return this.read(() => {
      const row = this.sql.mailById.get(id);
      return row ? toMail(row) : null;
    });
  }

  // --- audit: what admins and failed logins did, for review; detail is JSON and never secret.

  async audit(event: AuditEvent): Promise<void> {
    return this.write(() => this.writeAudit(event, now()));
  }

  private writeAudit(event: AuditEvent, at: string): void {
    this.sql.insertAudit.run(
      at,
      event.kind,
      event.actorId ?? null,
      event.subject ?? null,
      event.address ?? null,
      JSON.stringify(event.detail ?? {}),
    );
  }

  async listAudit(filter: AuditFilter, page: Page): Promise<AuditRecord[]> {
    const params: AuditParams = { before: before(page), limit: page.limit };
    if (filter.kind !== undefined) params.kind = filter.kind;
    if (filter.subject !== undefined) params.subject = filter.subject;
    if (filter.actorId !== undefined) params.actor = filter.actorId;
    if (filter.involving !== undefined) {
      params.involvingName = filter.involving.username;
      if (filter.involving.userId !== null) params.involvingId = filter.involving.userId;
    }
    if (filter.sinceIso !== undefined) params.since = filter.sinceIso;
    if (filter.untilIso !== undefined) params.until = filter.untilIso;
    return this.read(() => this.auditQuery(params).all(params).map(toAudit));
  }

  /** Only the filters given appear in the WHERE clause, so SQLite can use the (kind, id) index. */
  private auditQuery(params: AuditParams): Statement<[AuditParams], AuditRow> {
    const conditions = ['id < @before'];
    if (params.kind !== undefined) conditions.push('kind = @kind');
    if (params.subject !== undefined) conditions.push('subject = @subject');
    if (params.actor !== undefined) conditions.push('actor_id = @actor');
    if (params.involvingName !== undefined) {
      conditions.push(
        params.involvingId === undefined ? 'subject = @involvingName' : '(subject = @involvingName OR actor_id = @involvingId)',
      );
    }
    if (params.since !== undefined) conditions.push('at >= @since');
    if (params.until !== undefined) conditions.push('at < @until');
    const where = conditions.join(' AND ');
    let statement = this.auditQueries.get(where);
    if (!statement) {
      statement = this.db.prepare<AuditParams, AuditRow>(
        `SELECT * FROM audit_events WHERE ${where} ORDER BY id DESC LIMIT @limit`,
      );
      this.auditQueries.set(where, statement);
    }
    return statement;
  }

  // --- backup: SQLite's online backup API copies the pages in steps between other work; writes
  // --- made meanwhile through this connection are carried into the copy, so it is consistent.

  async backup(destFile: string, onProgress?: (p: BackupProgress) => void): Promise<BackupProgress> {
    this.settle(); // the copy holds every recipient row (a restored copy would also settle on opening)
    const done = await this.db.backup(destFile, {
      progress: (p) => {
        onProgress?.({ totalPages: p.totalPages, remainingPages: p.remainingPages });
        return 256; // pages per step: small steps keep the server answering in between
      },
    });
    const result = { totalPages: done.totalPages, remainingPages: done.remainingPages };
    onProgress?.(result);
    return result;
  }

  async listStoredAttachments(): Promise<AttachmentMeta[]> {
    return this.read(() => this.sql.storedAttachments.all().map(toAttachment));
  }

  // --- channels and groups (issue #4): the SQL is in channels.ts.

  async createChannel(input: NewChannel): Promise<Channel> { return this.write(() => this.cg.createChannel(input)); }
  async getChannel(name: string): Promise<Channel | null> { return this.read(() => this.cg.getChannel(name)); }
  async listChannels(): Promise<Channel[]> { return this.read(() => this.cg.listChannels()); }
  async updateChannel(channelId: number, changes: ChannelChanges): Promise<{ channel: Channel; dropped: number[] }> {
    return this.write(() => this.cg.updateChannel(channelId, changes));
  }
  async setChannelArchived(channelId: number, archived: boolean): Promise<{ channel: Channel; changed: boolean }> {
    return this.write(() => this.cg.setChannelArchived(channelId, archived));
  }
  async channelStanding(channelId: number, userId: number): Promise<ChannelStanding> { return this.read(() => this.cg.channelStanding(channelId, userId)); }
  async channelStandings(userId: number): Promise<Map<number, ChannelStanding>> { return this.read(() => this.cg.channelStandings(userId)); }
  async channelRoster(channelId: number): Promise<ChannelRosterRow[]> { return this.read(() => this.cg.channelRoster(channelId)); }
  async grantChannelRole(channelId: number, userIds: number[], role: ChannelRole): Promise<number> {
    return this.write(() => this.cg.grantChannelRole(channelId, userIds, role));
  }
  async revokeChannelRole(channelId: number, userIds: number[], role: ChannelRole): Promise<{ revoked: number; dropped: number[] }> {
    return this.write(() => this.cg.revokeChannelRole(channelId, userIds, role));
  }
  async subscribe(channelId: number, userId: number): Promise<boolean> { return this.write(() => this.cg.subscribe(channelId, userId)); }
  async unsubscribe(channelId: number, userId: number): Promise<boolean> { return this.write(() => this.cg.unsubscribe(channelId, userId)); }
  async channelHistory(channelId: number, page: Page): Promise<Message[]> {
    return this.readRecipients(() => this.withDetails(this.cg.channelMessageRows(channelId, before(page), page.limit)));
  }
  async createGroup(input: { name: string; description: string; createdBy: number }): Promise<Group> { return this.write(() => this.cg.createGroup(input)); }
  async getGroup(name: string): Promise<Group | null> { return this.read(() => this.cg.getGroup(name)); }
  async listGroups(): Promise<Group[]> { return this.read(() => this.cg.listGroups()); }
  async setGroupDescription(groupId: number, description: string): Promise<Group> { return this.write(() => this.cg.setGroupDescription(groupId, description)); }
  async deleteGroup(groupId: number): Promise<void> { return this.write(() => this.cg.deleteGroup(groupId)); }
  async groupMembers(groupId: number): Promise<User[]> { return this.read(() => this.cg.groupMembers(groupId)); }
  async addGroupMembers(groupId: number, userIds: number[]): Promise<number> { return this.write(() => this.cg.addGroupMembers(groupId, userIds)); }
  async removeGroupMembers(groupId: number, userIds: number[]): Promise<number> { return this.write(() => this.cg.removeGroupMembers(groupId, userIds)); }
  async groupsOf(userId: number): Promise<Set<number>> { return this.read(() => this.cg.groupsOf(userId)); }
  async resolveGroups(names: string[]): Promise<{ found: Array<{ name: string; memberIds: number[] }>; missing: string[] }> {
    return this.read(() => this.cg.resolveGroups(names));
  }

  /**
   * Resolves once the background checkpointer (if any) is running: true, or false if it could not
   * start, in which case the writer's own checkpoints still bound the log.
   */
  async backgroundReady(): Promise<boolean> {
    return this.checkpointer ? this.checkpointer.ready : true;
  }

  /** The background checkpointer's last report (checkpointer.ts), or null without one. */
  checkpointProgress(): CheckpointProgress | null {
    return this.checkpointer?.progress ?? null;
  }

  async close(): Promise<void> {
    // The writer's connection closes last: it then checkpoints what is left and removes the log.
    await this.checkpointer?.stop();
    await this.groupCommit.flush(); // queued writes commit before the file closes
    await this.lockWait.whenIdle(); // and those waiting for another process's lock commit or give up
    // Snapshots still pending (a popup push cut short by the stop) get their rows now; if that fails,
    // the next open finds them.
    if (this.db.open) {
      try {
        this.settle();
      } catch {
        // left for the next open
      }
    }
    if (this.db.open) this.db.close();
  }
}
