/**
 * The PostgreSQL implementation of the Store (see src/core/ports/store.ts for the contract), for
 * siar on several nodes sharing one database (issue 19). It passes the same contract suite as the
 * SQLite store (test/contract/store/).
 *
 * - The SQL is in sql.ts and channel-sql.ts; this file reads as the operations.
 * - Messages and delivery marks go through group commit (group-commit.ts), as on SQLite.
 * - Multi-step changes run in one transaction (connection.ts), at READ COMMITTED, with the row a
 *   check is about locked (FOR UPDATE) so that check and change cannot be split by another node;
 *   registrations and the admin account take an advisory lock instead (what they check is an
 *   absence of rows, which no row lock can hold).
 * - Nothing is cached but usernames (never changed once given): another node may change any row.
 * - Timestamps are written from this process's clock as ISO strings and read back the same.
 * - Errors: StoreError 'conflict' for a taken username or e-mail, 'busy' for lock timeouts, deadlocks
 *   and a database that cannot be reached (errors.ts); the dispatcher answers BUSY for those.
 */
import type { MessageWriter } from '../../core/ports/store/delivered-at-commit.js';
import { deliveredAtCommitWriter, type PushedMessage } from '../delivered-at-commit.js';
import type { Pool, PoolClient } from 'pg';
import { alreadyDecided, conflict, notFound, pendingLimit, quotaExceeded } from '../../core/ports/store/errors.js';
import type { Channel, ChannelChanges, ChannelRole, ChannelRosterRow, ChannelStanding, Group, NewChannel } from '../../core/ports/store/channels.js';
import { toRegistration, type RegistrationRow } from '../sql-common/account-rows.js';
import { groupByMessage, snapshotRoutes, toAttachment, toInboxEntry, toMessage, toRecipient, type MessageRow } from '../sql-common/message-rows.js';
import { toMail } from '../sql-common/mail-rows.js';
import { toAudit } from '../sql-common/audit-rows.js';
import {
  AUDIENCE_SNAPSHOT_ABOVE,
  messageBytes,
  type AttachmentCommit,
  type AttachmentMeta,
  type ExpiredAttachment,
  type AuditEvent,
  type AuditFilter,
  type AuditRecord,
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
import { PgChannelsGroups } from './channels.js';
import { A, recallIn } from './alert-sql.js';
import { groupAcks, newAlertRow, recallOnRelease, replacing, toAlert, unacknowledgedPageSize } from '../sql-common/alert-rows.js';
import type { MessageAlert, NewAlert, RecallOutcome, RecallRequest, UnacknowledgedRecipient } from '../../core/ports/store/alerts.js';
import type { DueJob, DueJobClaim, ReleasedMessage } from '../../core/ports/store/due-jobs.js';
import { createPool, transaction, type PoolOptions, type Queryable } from './connection.js';
import { storeError } from './errors.js';
import { PgGroupCommit } from './group-commit.js';
import { applyPgMigrations } from './migrate.js';
import { readRecipientsAmong } from './recipient-sql.js';
import { auditQuery, Q, toSession, toUser, type AuditRow } from './sql.js';

/** Stands in for "no beforeId": larger than any id the sequences will hand out. */
const NO_LIMIT_ID = Number.MAX_SAFE_INTEGER;
const before = (page: Page): number => page.beforeId ?? NO_LIMIT_ID;
const now = (): string => new Date().toISOString();

/** Advisory lock keys (transaction-scoped): registrations are checked and created one at a time. */
const REGISTRATION_LOCK = `SELECT pg_advisory_xact_lock(hashtext('siar: registrations'))`;
const ADMIN_LOCK = `SELECT pg_advisory_xact_lock(hashtext('siar: admin account'))`;

/** How many messages reopenDeliveriesMarkedAtCommit reads per step walking back from the newest. */
const REOPEN_STEP = 1_000;

type ApproveArgs = Parameters<Store['approveRegistration']>[0];
type Approved = Awaited<ReturnType<Store['approveRegistration']>>;
type RejectArgs = Parameters<Store['rejectRegistration']>[0];
type Rejected = Awaited<ReturnType<Store['rejectRegistration']>>;
type ExpireArgs = Parameters<Store['expireRegistrations']>[0];
type Expired = Awaited<ReturnType<Store['expireRegistrations']>>;
type ChangeArgs = Parameters<Store['changePassword']>[0];
type ResetArgs = Parameters<Store['resetPassword']>[0];
type Reset = Awaited<ReturnType<Store['resetPassword']>>;
type CommitArgs = Parameters<Store['commitAttachment']>[0];
type SessionArgs = Parameters<Store['createSession']>[0];
type MessageLimits = NonNullable<Parameters<Store['storeMessage']>[1]>;
type RegistrationLimits = NonNullable<Parameters<Store['createRegistration']>[1]>;
/** A message to store with the limits it is stored under. */
interface Storing {
  message: NewMessage;
  limits: MessageLimits;
}

/** The recipients to record delivered at the commit (the deliveredAtCommit capability). */
function pushedRecipients(m: NewMessage): Set<number> {
  const pushedAfterCommit = (m as PushedMessage).pushedAfterCommit;
  return new Set(pushedAfterCommit ? m.recipientIds.filter((rid) => pushedAfterCommit(rid)) : []);
}

export type PostgresOpenOptions = PoolOptions;

export class PostgresStore implements Store {
  private readonly cg: PgChannelsGroups;
  private readonly groupCommit: PgGroupCommit;
  /** Recipients' and senders' usernames by id (usernames are never renamed). */
  private readonly usernameById = new Map<number, string>();

  /**
   * Connects to `url` (postgres://user:password@host:port/database) and brings the schema up to
   * date. Throws (StoreError 'busy') when the server cannot be reached.
   */
  static async open(url: string, opts: PostgresOpenOptions = {}): Promise<PostgresStore> {
    const pool = createPool(url, opts);
    // The group commit's connection of its own: one batch is committed at a time, and it must not
    // queue for a connection behind the reads (under cross-node traffic the reads filled the pool
    // and every batch, i.e. every SEND's OK and every delivery mark, waited behind them).
    const commits = createPool(url, { ...opts, maxConnections: 1 });
    try {
      await applyPgMigrations(pool);
      return new PostgresStore(pool, commits);
    } catch (err) {
      await Promise.all([pool.end().catch(() => {}), commits.end().catch(() => {})]);
      throw err;
    }
  }

  /** Takes a pool on a migrated database; PostgresStore.open() is the usual way in. */
  /** The database's URL: the attachment content (openContent in src/adapters/index.ts) opens its own pool on it. */
  get url(): string {
    return this.pool.options.connectionString ?? '';
  }

  /** `commits`: the group commit's own pool (one connection); by default it shares `pool`. */
  constructor(private readonly pool: Pool, private readonly commits: Pool = pool) {
    this.cg = new PgChannelsGroups(pool);
    this.groupCommit = new PgGroupCommit(commits);
  }

  // --- registration: a request holds its username and e-mail until decided, so two
  // --- people cannot both be promised the same account.

  async createRegistration(input: RegistrationInput, limits: RegistrationLimits = {}): Promise<RegistrationRequest> {
    return transaction(this.pool, async (tx) => {
      await tx.query(REGISTRATION_LOCK);
      const { maxPendingFromAddress, maxPending } = limits;
      if (maxPending !== undefined && (await Q.pendingRegistrations.get(tx))!.n >= maxPending) {
        throw pendingLimit(maxPending, 'everyone');
      }
      if (maxPendingFromAddress !== undefined && input.fromAddress
          && (await Q.pendingFromAddress.get(tx, input.fromAddress))!.n >= maxPendingFromAddress) {
        throw pendingLimit(maxPendingFromAddress, 'address');
      }
      const { username, email } = input;
      if ((await Q.userByUsername.get(tx, username)) ?? (await Q.pendingWithUsername.get(tx, username))) {
        throw conflict('username', username);
      }
      if ((await Q.userWithEmail.get(tx, email)) ?? (await Q.pendingWithEmail.get(tx, email))) {
        throw conflict('email', email);
      }
      const row = await Q.insertRegistration.get(
        tx, input.institution, input.contact, email, input.phone, input.address, username, input.fromAddress, now(),
      );
      return toRegistration(row!);
    });
  }

  async getRegistration(id: number): Promise<RegistrationRequest | null> {
    const row = await Q.registrationById.get(this.pool, id);
    return row ? toRegistration(row) : null;
  }

  /** A given status lists oldest first (the order an admin works through a queue); 'all' newest first. */
  async listRegistrations(status: RegistrationStatus | 'all', page: Page): Promise<RegistrationRequest[]> {
    const rows =
      status === 'all'
        ? await Q.registrationsNewestFirst.all(this.pool, before(page), page.limit)
        : await Q.registrationsByStatus.all(this.pool, status, before(page), page.limit);
    return rows.map(toRegistration);
  }

  /** The request to decide, locked; anything but a pending request cannot be decided. */
  private async pendingRequest(tx: Queryable, id: number): Promise<RegistrationRow> {
    const row = await Q.registrationToDecide.get(tx, id);
    if (!row) throw notFound('registration', id);
    if (row.status !== 'pending') throw alreadyDecided(id);
    return row;
  }

  async approveRegistration({ requestId, adminId, passwordHash, mail }: ApproveArgs): Promise<Approved> {
    return transaction(this.pool, async (tx) => {
      const pending = await this.pendingRequest(tx, requestId);
      // A user could have been created by other means (or an old request approved) meanwhile.
      if (await Q.userByUsername.get(tx, pending.username)) throw conflict('username', pending.username);
      if (await Q.userWithEmail.get(tx, pending.email)) throw conflict('email', pending.email);
      const at = now();
      const user = toUser((await Q.insertUser.get(
        tx, pending.username, 'member', 'active', passwordHash, pending.institution, pending.contact, pending.email,
        pending.phone, pending.address, true, at,
      ))!);
      const request = toRegistration((await Q.decideRegistration.get(tx, requestId, 'approved', null, at, adminId, user.id))!);
      const mailId = await this.queueMail(tx, mail, at);
      await this.writeAudit(tx, { kind: 'registration_approved', actorId: adminId, subject: request.username, detail: { requestId, userId: user.id } }, at);
      return { request, user, mailId };
    });
  }

  async rejectRegistration({ requestId, adminId, reason, mail }: RejectArgs): Promise<Rejected> {
    return transaction(this.pool, async (tx) => {
      await this.pendingRequest(tx, requestId);
      const at = now();
      const request = toRegistration((await Q.decideRegistration.get(tx, requestId, 'rejected', reason, at, adminId, null))!);
      const mailId = await this.queueMail(tx, mail, at);
      await this.writeAudit(tx, { kind: 'registration_rejected', actorId: adminId, subject: request.username, detail: { requestId, reason } }, at);
      return { request, mailId };
    });
  }

  async expireRegistrations({ olderThanIso, actorId, mails }: ExpireArgs): Promise<Expired> {
    return transaction(this.pool, async (tx) => {
      const at = now();
      const rows = (await Q.expirePendingBefore.all(tx, olderThanIso, at, actorId, [...mails.keys()])).sort((a, b) => a.id - b.id);
      const expired: Expired = [];
      for (const row of rows) {
        const request = toRegistration(row);
        const mailId = await this.queueMail(tx, mails.get(request.id)!, at);
        const detail = { requestId: request.id, createdAt: request.createdAt };
        await this.writeAudit(tx, { kind: 'registration_expired', actorId, subject: request.username, detail }, at);
        expired.push({ request, mailId });
      }
      return expired;
    });
  }

  // --- users: members only ever come from approved requests; the one admin from ensureAdmin.

  async getUserById(id: number): Promise<User | null> {
    const row = await Q.userById.get(this.pool, id);
    return row ? toUser(row) : null;
  }

  async getUserByUsername(username: string): Promise<User | null> {
    const row = await Q.userByUsername.get(this.pool, username);
    return row ? toUser(row) : null;
  }

  async listMembers(): Promise<User[]> {
    return (await Q.members.all(this.pool)).map(toUser);
  }

  async institutionsOf(userIds: readonly number[]): Promise<Map<number, string>> {
    if (userIds.length === 0) return new Map();
    return new Map((await Q.institutionsOf.all(this.pool, [...userIds])).map((r) => [Number(r.id), r.institution]));
  }

  async storageUsage(): Promise<Map<number, number>> {
    return new Map((await Q.storageUsage.all(this.pool)).map((r) => [r.user_id, r.bytes]));
  }

  /** One query for the whole list; `found` and `missing` keep the caller's order, without repeats. */
  async resolveActiveMembers(usernames: string[]): Promise<{ found: User[]; missing: string[] }> {
    const wanted = [...new Set(usernames)];
    const rows = wanted.length === 0 ? [] : await Q.activeMembersNamed.all(this.pool, wanted);
    const byName = new Map(rows.map((r) => [r.username, toUser(r)]));
    const found: User[] = [];
    const missing: string[] = [];
    for (const name of wanted) {
      const user = byName.get(name);
      if (user) found.push(user);
      else missing.push(name);
    }
    return { found, missing };
  }

  async listActiveMemberIds(): Promise<number[]> {
    return (await Q.activeMemberIds.all(this.pool)).map((r) => r.id);
  }

  async ensureAdmin(passwordHash: string): Promise<boolean> {
    return transaction(this.pool, async (tx) => {
      await tx.query(ADMIN_LOCK);
      if (await Q.anyAdmin.get(tx)) return false;
      if (await Q.userByUsername.get(tx, 'admin')) {
        throw new Error('cannot create the admin account: the username "admin" belongs to a member');
      }
      await Q.insertUser.run(tx, 'admin', 'admin', 'active', passwordHash, '', '', '', '', '', false, now());
      return true;
    });
  }

  async setUserStatus(userId: number, status: UserStatus): Promise<void> {
    await Q.setUserStatus.run(this.pool, status, userId);
  }

  async setPassword(userId: number, passwordHash: string, mustChange: boolean): Promise<void> {
    await Q.setPassword.run(this.pool, passwordHash, mustChange, userId);
  }

  async recordLogin(userId: number, address: string | null): Promise<void> {
    await Q.recordLogin.run(this.pool, now(), address, userId);
  }

  async changePassword({ userId, sessionId, passwordHash, address }: ChangeArgs): Promise<{ sessions: number }> {
    return transaction(this.pool, async (tx) => {
      const at = now();
      const { username, sessions } = await this.replacePassword(tx, userId, passwordHash, false, at, sessionId);
      await Q.liftSessionRestriction.run(tx, sessionId);
      await this.writeAudit(tx, { kind: 'password_changed', actorId: userId, subject: username, address, detail: { sessions } }, at);
      return { sessions };
    });
  }

  async resetPassword({ userId, adminId, passwordHash, address, mail }: ResetArgs): Promise<Reset> {
    return transaction(this.pool, async (tx) => {
      const at = now();
      const { sessions } = await this.replacePassword(tx, userId, passwordHash, true, at, null);
      const user = toUser((await Q.userById.get(tx, userId))!);
      const mailId = await this.queueMail(tx, mail, at);
      await this.writeAudit(tx, { kind: 'password_reset', actorId: adminId, subject: user.username, address, detail: { sessions, mailId } }, at);
      return { user, sessions, mailId };
    });
  }

  /** Inside a transaction, the user locked: a new password hash, and every open session of it closed but `keep`. */
  private async replacePassword(
    tx: Queryable, userId: number, passwordHash: string, mustChange: boolean, at: string, keep: number | null,
  ): Promise<{ username: string; sessions: number }> {
    const row = await Q.userToChange.get(tx, userId);
    if (!row) throw notFound('user', userId);
    await Q.setPassword.run(tx, passwordHash, mustChange, userId);
    const sessions = keep === null
      ? await Q.closeUserSessions.run(tx, at, userId)
      : await Q.closeOtherSessions.run(tx, at, userId, keep);
    return { username: row.username, sessions };
  }

  // --- sessions: only the token's hash is stored; closing keeps the row for the audit trail.

  async createSession(args: SessionArgs): Promise<Session> {
    return this.insertSession(this.pool, args);
  }

  async login(args: SessionArgs): Promise<Session> {
    return transaction(this.pool, async (tx) => {
      await Q.recordLogin.run(tx, now(), args.address, args.userId);
      return this.insertSession(tx, args);
    });
  }

  private async insertSession(db: Queryable, args: SessionArgs): Promise<Session> {
    const oneTime = args.mustChangePassword === true;
    return toSession((await Q.insertSession.get(db, args.tokenHash, args.userId, args.address, now(), args.expiresAt, oneTime))!);
  }

  async findSession(tokenHash: string): Promise<Session | null> {
    const row = await Q.openSessionByToken.get(this.pool, tokenHash);
    return row ? toSession(row) : null;
  }

  async findSessionAndUser(tokenHash: string): Promise<{ session: Session; user: User } | null> {
    const r = await Q.openSessionAndUser.get(this.pool, tokenHash);
    if (!r) return null;
    const session = toSession({
      id: r.session_id, token_hash: r.session_token_hash, user_id: r.session_user_id, address: r.session_address,
      created_at: r.session_created_at, expires_at: r.session_expires_at, closed_at: r.session_closed_at,
      must_change_password: r.session_must_change_password,
    });
    return { session, user: toUser(r) };
  }

  async closeSession(sessionId: number): Promise<void> {
    await Q.closeSession.run(this.pool, now(), sessionId);
  }

  async closeUserSessions(userId: number): Promise<number> {
    return Q.closeUserSessions.run(this.pool, now(), userId);
  }

  // --- messages: one shared message row, one state row per recipient. The message id is the
  // --- global order: every node's messages are numbered by the one sequence.

  /** The deliveredAtCommit capability: recipients recorded delivered in the storing transaction. */
  deliveredAtCommit(pushed: (recipientId: number) => boolean): MessageWriter {
    return deliveredAtCommitWriter(this, pushed);
  }

  async storeMessage(message: NewMessage, limits: MessageLimits = {}): Promise<Message> {
    const work = (tx: PoolClient) => this.insertMessage(tx, message, limits);
    if (message.channelId !== undefined || (message.attachments?.length ?? 0) > 0 || message.recipientIds.length > AUDIENCE_SNAPSHOT_ABOVE) {
      return this.groupCommit.run(work);
    }
    // The usual message: concurrent ones are written together (group-commit.ts).
    return this.groupCommit.run(work, { key: 'plain message', item: { message, limits }, many: (tx, items) => this.insertPlainMessages(tx, items) });
  }

  // --- alerts (issue 21): the alert row is written in the message's own transaction.

  async storeAlertedMessage(message: NewMessage, alert: NewAlert, limits: MessageLimits = {}): Promise<{ message: Message; alert: MessageAlert; replaced: RecallOutcome | null }> {
    // A correction recalls the message it replaces, whose rows (those not delivered) it closes.
    if (alert.replaces) await this.settle();
    return this.groupCommit.run(async (tx) => {
      const scheduled = !!alert.deliverAt;
      const stored = await this.insertMessage(tx, message, limits, scheduled);
      const r = newAlertRow(stored.id, alert, stored.sentAt);
      let replaced: RecallOutcome | null = null;
      if (alert.replaces && (await A.messageExists.get(tx, alert.replaces.messageId))) {
        // A correction that does not go out now recalls it when it does: a scheduled one at its release
        // (releaseScheduled), one with attachments with its last upload (commitAttachment).
        const later = scheduled || stored.state === 'sending';
        if (!later) replaced = await recallIn(tx, { ...alert.replaces, replacedBy: stored.id }, stored.sentAt);
        replacing(r, alert.replaces, later);
      }
      const row = (await A.insertAlert.get(
        tx, r.message_id, r.priority, r.ack_requested === 1, r.remind_every_s, r.remind_max, r.reminders, r.next_remind_at, r.expires_at, r.deliver_at,
        r.replaces_id, r.release_due_at, r.replace_recall_by, r.replace_recall_reason,
      ))!;
      return { message: stored, alert: toAlert(row), replaced };
    });
  }

  async recallMessage(request: RecallRequest & { replacedBy?: number }): Promise<RecallOutcome | null> {
    await this.settle();
    return transaction(this.pool, (tx) => recallIn(tx, request, now()));
  }

  async remindMessage(
    messageId: number, online: ReadonlySet<number>, automatic?: { owner: string; nextAt: string },
  ): Promise<{ reminders: number; pending: number[]; queued: number[] } | null> {
    await this.settle();
    return transaction(this.pool, async (tx) => {
      const counted = automatic
        ? await A.autoReminder.get(tx, messageId, automatic.owner, automatic.nextAt)
        : await A.countReminder.get(tx, messageId);
      if (!counted) return null;
      const rows = await A.notAcknowledged.all(tx, messageId);
      const queued = rows.filter((r) => r.delivered && !online.has(r.recipient_id)).map((r) => r.recipient_id);
      if (queued.length > 0) await A.oweReminders.run(tx, messageId, queued, counted.reminders);
      return { reminders: counted.reminders, pending: rows.map((r) => r.recipient_id), queued };
    });
  }

  // --- due jobs (DueJobStore): claimed with a lease in one UPDATE … FOR UPDATE SKIP LOCKED … RETURNING each.

  async claimDueJobs(claim: DueJobClaim): Promise<DueJob[]> {
    return transaction(this.pool, async (tx) => {
      const deliveries = (await A.claimReleases.all(tx, claim.now, claim.owner, claim.leaseUntil, claim.limit))
        .map((r): DueJob => ({ kind: 'deliver', messageId: r.message_id })).sort((a, b) => a.messageId - b.messageId);
      const left = claim.limit - deliveries.length;
      const reminders = left > 0 ? (await A.claimReminders.all(tx, claim.now, claim.owner, claim.leaseUntil, left))
        .map((r): DueJob => ({ kind: 'remind', messageId: r.message_id })).sort((a, b) => a.messageId - b.messageId) : [];
      return [...deliveries, ...reminders];
    });
  }

  async releaseScheduled(messageIds: readonly number[], owner: string, at: string): Promise<ReleasedMessage[]> {
    if (messageIds.length === 0) return [];
    const ids = [...new Set(messageIds)].sort((a, b) => a - b);
    await this.settle(); // a correction's release recalls the message it replaces
    return transaction(this.pool, async (tx) => {
      // The message rows first, as a recall locks them (the two take turns): these and the ones their
      // corrections replace, all in id order, so two batches (or a batch and a recall) never wait on
      // each other in a cycle.
      await A.lockReleasing.all(tx, ids);
      const out: Array<{ id: number; replaced: RecallOutcome | null }> = [];
      // By id: a correction comes after the message it replaces (when both go out in this batch).
      for (const id of ids) {
        const released = await A.release.get(tx, id, owner, at);
        if (!released) continue;
        await Q.releasePendingRecipients.run(tx, id);
        await A.releaseMessage.run(tx, at, id);
        // A correction: the message it replaces is withdrawn now, as it goes out.
        const recall = recallOnRelease(released);
        const replaced = recall ? await recallIn(tx, recall, at) : null;
        if (recall) await A.replaceRecalled.run(tx, id);
        out.push({ id, replaced });
      }
      if (out.length === 0) return [];
      // Read once everything is written.
      const rows: MessageRow[] = [];
      for (const r of out) rows.push((await Q.messageById.get(tx, r.id))!);
      const messages = await this.withDetails(tx, rows);
      return out.map((r, i) => ({ message: messages[i]!, replaced: r.replaced }));
    });
  }

  async finishReminders(messageId: number, owner: string): Promise<void> {
    await A.finishReminders.run(this.pool, messageId, owner);
  }

  async takeDueReminders(recipientId: number, limit: number): Promise<Array<{ messageId: number; reminder: number }>> {
    const rows = await A.takeReminders.all(this.pool, recipientId, limit);
    return rows.sort((a, b) => a.message_id - b.message_id).map((r) => ({ messageId: r.message_id, reminder: r.reminder }));
  }

  async unacknowledgedRecipients(messageId: number, page: { afterId: number; limit: number }): Promise<UnacknowledgedRecipient[]> {
    const limit = unacknowledgedPageSize(page.limit);
    if (limit === 0) return [];
    await this.settle(); // an audience snapshot's rows exist before they are read
    return (await A.unacknowledged.all(this.pool, messageId, page.afterId, limit)).map((r) => ({ userId: r.recipient_id, via: r.via ?? null }));
  }

  async openAcknowledgements(nowIso: string, limit: number): Promise<{ pending: number; messages: number }> {
    await this.settle();
    return (await A.openAcks.get(this.pool, nowIso, limit)) ?? { pending: 0, messages: 0 };
  }

  async claimExpiredAttachments(args: { expiredBeforeIso: string; nowIso: string; limit: number }): Promise<{ messages: number; attachments: ExpiredAttachment[] }> {
    return transaction(this.pool, async (tx) => {
      const claimed = await A.claimExpired.all(tx, args.expiredBeforeIso, args.nowIso, args.limit);
      if (claimed.length === 0) return { messages: 0, attachments: [] };
      const removed = await A.removeAttachments.all(tx, args.nowIso, claimed.map((m) => m.message_id));
      // Their files are let go: they no longer count against the senders' quotas (the text still does).
      const senderOf = new Map(claimed.map((m) => [m.message_id, m.sender_id]));
      const bySender = new Map<number, number>();
      for (const a of removed) bySender.set(senderOf.get(a.message_id)!, (bySender.get(senderOf.get(a.message_id)!) ?? 0) + a.size);
      for (const [sender, bytes] of bySender) await Q.releaseStorageUsed.run(tx, sender, bytes);
      return { messages: claimed.length, attachments: removed.map((a) => ({ id: a.id, messageId: a.message_id, sha256: a.sha256, size: a.size })) };
    });
  }

  async alertsOf(messageIds: readonly number[]): Promise<Map<number, MessageAlert>> {
    if (messageIds.length === 0) return new Map();
    return new Map((await A.alertsOf.all(this.pool, [...messageIds])).map((r) => [r.message_id, toAlert(r)]));
  }

  async acksOf(messageIds: readonly number[]): Promise<Map<number, Map<number, string>>> {
    if (messageIds.length === 0) return new Map();
    return groupAcks(await A.acksOf.all(this.pool, [...messageIds]));
  }

  async acknowledge(messageId: number, recipientId: number): Promise<{ ackedAt: string; already: boolean } | null> {
    await this.settle();
    return transaction(this.pool, async (tx) => {
      const at = now();
      // Acknowledging is reading too (and delivery); a row that is not in the inbox changes nothing.
      if ((await Q.markRead.run(tx, at, messageId, recipientId)) === 0) return null;
      const inserted = await A.insertAck.get(tx, messageId, recipientId, at);
      if (inserted) return { ackedAt: inserted.acked_at, already: false };
      return { ackedAt: (await A.ackOf.get(tx, messageId, recipientId))!.acked_at, already: true };
    });
  }

  /**
   * Adds the messages to their senders' usage; throws StoreError 'quota' when a sender would pass its
   * quota (the batch is then run again one message at a time, so only the one that does not fit fails).
   */
  private async countAgainstQuota(tx: Queryable, batch: Storing[]): Promise<void> {
    const added = new Map<number, { bytes: number; quota: number }>();
    for (const { message, limits } of batch) {
      const entry = added.get(message.senderId) ?? { bytes: 0, quota: 0 };
      entry.bytes += messageBytes(message);
      if (limits.quotaBytes !== undefined && limits.quotaBytes > 0) entry.quota = limits.quotaBytes;
      added.set(message.senderId, entry);
    }
    const totals = await Q.addStorageUsed.all(tx, [...added.keys()], [...added.values()].map((a) => a.bytes));
    for (const { user_id: sender, bytes: total } of totals) {
      const { bytes, quota } = added.get(sender)!;
      if (quota > 0 && total > quota) throw quotaExceeded(total - bytes, bytes, quota);
    }
  }

  /** `hold`: a scheduled message; its recipients are kept aside until releaseScheduled. */
  private async insertMessage(tx: PoolClient, input: NewMessage, limits: MessageLimits, hold = false): Promise<Message> {
    await this.countAgainstQuota(tx, [{ message: input, limits }]);
    // A channel message goes to the channel's subscribers of this instant (issue #4).
    const m = await this.cg.routeChannelMessage(tx, input);
    const at = now();
    const routes = [...(m.recipientVia ?? [])];
    const addressing = [m.senderId, m.audience, m.subject, m.body, at, m.channelId ?? null, m.via || null] as const;
    if (m.attachments && m.attachments.length > 0) {
      // Recipients wait until every attachment is uploaded (commitAttachment writes their rows).
      if (!m.uploadDeadline) throw new Error('a message with attachments needs an upload deadline');
      await this.checkRecipientsExist(tx, m.recipientIds);
      const { id } = (await Q.insertSendingMessage.get(
        tx, ...addressing, m.recipientIds, m.uploadDeadline, routes.map(([rid]) => rid), routes.map(([, via]) => via),
      ))!;
      const a = m.attachments;
      await Q.declareAttachments.run(tx, id, a.map((x) => x.name), a.map((x) => x.size), a.map((x) => x.sha256), a.map((x) => x.mediaType), at);
      return (await this.withDetails(tx, [(await Q.messageById.get(tx, id))!]))[0]!;
    }
    if (hold) {
      await this.checkRecipientsExist(tx, m.recipientIds);
      const { id } = (await Q.insertSendingMessage.get(tx, ...addressing, m.recipientIds, null, routes.map(([rid]) => rid), routes.map(([, via]) => via)))!;
      await A.holdMessage.run(tx, id);
      return (await this.withDetails(tx, [(await Q.messageById.get(tx, id))!]))[0]!;
    }
    if (m.recipientIds.length > AUDIENCE_SNAPSHOT_ABOVE) {
      // A large audience: one snapshot row instead of a recipient row (and a route row) each.
      if ((await Q.countUsers.get(tx, m.recipientIds))!.n !== m.recipientIds.length) {
        throw new Error('a recipient of the message does not exist');
      }
      const { id } = (await Q.insertSnapshotMessage.get(tx, ...addressing, m.recipientIds, snapshotRoutes(m)))!;
      const names = await this.usernames(tx, [m.senderId, ...m.recipientIds]);
      return { ...this.storedMessage(m, id, at, names, new Set()), recipientRowsPending: true };
    }
    const pushed = pushedRecipients(m);
    const { id } = (await Q.insertMessage.get(
      tx, ...addressing, m.recipientIds, m.recipientIds.map((rid) => pushed.has(rid)),
      routes.map(([rid]) => rid), routes.map(([, via]) => via),
    ))!;
    return this.storedMessage(m, id, at, await this.usernames(tx, [m.senderId, ...m.recipientIds]), pushed);
  }

  /** Many messages without channel or attachments, in three statements whatever their number. */
  private async insertPlainMessages(tx: PoolClient, batch: Storing[]): Promise<Message[]> {
    await this.countAgainstQuota(tx, batch);
    const messages = batch.map((s) => s.message);
    const at = now();
    const ids = (await Q.nextMessageIds.get(tx, messages.length))!.ids;
    const pushed = messages.map(pushedRecipients);
    const rows = { message: [] as number[], recipient: [] as number[], pushed: [] as boolean[] };
    const routes = { message: [] as number[], recipient: [] as number[], via: [] as string[] };
    messages.forEach((m, i) => {
      for (const rid of m.recipientIds) {
        rows.message.push(ids[i]!);
        rows.recipient.push(rid);
        rows.pushed.push(pushed[i]!.has(rid));
      }
      for (const [rid, via] of m.recipientVia ?? []) {
        routes.message.push(ids[i]!);
        routes.recipient.push(rid);
        routes.via.push(via);
      }
    });
    await Q.insertMessages.run(
      tx, ids, messages.map((m) => m.senderId), messages.map((m) => m.audience), messages.map((m) => m.subject),
      messages.map((m) => m.body), messages.map((m) => m.via || null), at,
      rows.message, rows.recipient, rows.pushed, routes.message, routes.recipient, routes.via,
    );
    const names = await this.usernames(tx, [...new Set(messages.flatMap((m) => [m.senderId, ...m.recipientIds]))]);
    return messages.map((m, i) => this.storedMessage(m, ids[i]!, at, names, pushed[i]!));
  }

  /** A just-stored message built from what was written, as messageById would read it back (no query). */
  private storedMessage(m: NewMessage, id: number, at: string, names: ReadonlyMap<number, string>, pushed: ReadonlySet<number>): Message {
    const row: MessageRow = {
      id, sender_id: m.senderId, sender: names.get(m.senderId)!, audience: m.audience, subject: m.subject, body: m.body,
      sent_at: at, state: 'sent', upload_deadline: null, channel_id: m.channelId ?? null, via: m.via || null,
    };
    return toMessage(row, this.freshRecipients(m, names, pushed, at), []);
  }

  /** A just-stored message's recipients, in the order recipientsOf reads them (by username, bytewise). */
  private freshRecipients(m: NewMessage, names: ReadonlyMap<number, string>, pushed: ReadonlySet<number>, at: string): RecipientState[] {
    const recipients = m.recipientIds.map((userId): RecipientState => {
      const state: RecipientState = { userId, username: names.get(userId)!, deliveredAt: pushed.has(userId) ? at : null, readAt: null };
      const via = m.recipientVia?.get(userId);
      if (via) state.via = via;
      return state;
    });
    return recipients.sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0));
  }

  /** Usernames never change once given, so they are kept; ids not seen yet cost one query. */
  private async usernames(db: Queryable, ids: readonly number[]): Promise<ReadonlyMap<number, string>> {
    const missing = ids.filter((id) => !this.usernameById.has(id));
    if (missing.length > 0) {
      for (const r of await Q.usernamesOf.all(db, missing)) this.usernameById.set(r.id, r.username);
    }
    return this.usernameById;
  }

  /** Pending recipients are an array, so no foreign key checks them: this does. */
  private async checkRecipientsExist(tx: Queryable, ids: number[]): Promise<void> {
    const known = new Set((await Q.existingUsers.all(tx, ids)).map((r) => r.id));
    const unknown = ids.find((id) => !known.has(id));
    if (unknown !== undefined) throw new Error(`a recipient of the message does not exist (no user ${unknown})`);
  }

  /**
   * Audience snapshots (schema.postgres.sql section 9) on several nodes: any node's may be pending,
   * so a read or write that depends on recipients first materialises every pending one (one
   * statement; with none pending, one probe of an empty partial index), with no delivered marks:
   * the storing node's materialiseRecipients then only adds its marks. Exact, like SQLite's settle;
   * it costs those reads a round trip, and the first of them after a large SEND waits for its rows.
   */
  private async settle(): Promise<void> {
    await Q.materialiseAudiences.get(this.pool, now(), null, []);
  }

  async materialiseRecipients(messageId: number, delivered: readonly number[]): Promise<void> {
    const ids = [...delivered];
    // Its own transaction, not the group commit's: it may wait for another node materialising the
    // same snapshot, and the SENDs in a batch must not wait with it.
    await transaction(this.pool, async (tx) => {
      const at = now();
      const done = (await Q.materialiseAudiences.get(tx, at, messageId, ids))!.n;
      // Materialised before (by a read on some node): its rows are there (this statement sees them), its marks not.
      if (done === 0 && ids.length > 0) await Q.markDelivered.run(tx, at, messageId, ids);
    });
  }

  async materialiseSnapshots(): Promise<number> {
    return (await Q.materialiseAudiences.get(this.pool, now(), null, []))!.n;
  }

  async getMessage(id: number): Promise<Message | null> {
    await this.settle();
    const row = await Q.messageById.get(this.pool, id);
    return row ? (await this.withDetails(this.pool, [row]))[0]! : null;
  }

  async markDelivered(messageId: number, recipientId: number): Promise<void> {
    return this.markDeliveredMany(messageId, [recipientId]);
  }

  async markDeliveredMany(messageId: number, recipientIds: readonly number[]): Promise<void> {
    if (recipientIds.length === 0) return;
    // Each node records the marks of every message it delivered: concurrent ones go in one statement
    // (a round trip per message inside the batch held every SEND's commit behind them).
    const ids = [...recipientIds];
    await this.groupCommit.run((tx) => Q.markDelivered.run(tx, now(), messageId, ids), {
      key: 'delivery marks', item: { messageId, ids },
      many: async (tx, items) => {
        await Q.markDeliveredPairs.run(tx, now(), items.flatMap((i) => i.ids.map(() => i.messageId)), items.flatMap((i) => i.ids));
        return items.map(() => undefined);
      },
    });
  }

  async markUndelivered(messageId: number, recipientIds: readonly number[]): Promise<void> {
    if (recipientIds.length === 0) return;
    await this.groupCommit.run((tx) => Q.markUndelivered.run(tx, messageId, [...recipientIds]));
  }

  async reopenDeliveriesMarkedAtCommit(windowMs: number): Promise<number> {
    await this.settle();
    // Walk back from the newest message (ids follow sent_at) instead of scanning every message.
    let first: number | null = null;
    let cutoff: string | null = null;
    let below = NO_LIMIT_ID;
    walk: for (;;) {
      const rows = await Q.messagesNewestFirst.all(this.pool, below, REOPEN_STEP);
      for (const m of rows) {
        cutoff ??= new Date(Date.parse(m.sent_at) - windowMs).toISOString();
        if (m.sent_at < cutoff) break walk;
        first = m.id;
      }
      if (rows.length < REOPEN_STEP) break;
      below = rows[rows.length - 1]!.id;
    }
    if (first === null) return 0;
    return Q.reopenMarkedAtCommit.run(this.pool, first);
  }

  async listUndelivered(recipientId: number, limit: number): Promise<Message[]> {
    await this.settle();
    return this.withDetailsFor(this.pool, await Q.undelivered.all(this.pool, recipientId, limit, now()), [recipientId]);
  }

  async undeliveredAmong(recipientIds: readonly number[], limit: number): Promise<UndeliveredPopup[]> {
    if (recipientIds.length === 0 || limit <= 0) return [];
    await this.settle();
    const rows = await Q.undeliveredAmong.all(this.pool, [...recipientIds], limit, now());
    return rows.map((r) => ({ messageId: r.message_id, recipientId: r.recipient_id }));
  }

  async inbox(recipientId: number, page: Page, filter: { unreadOnly?: boolean } = {}): Promise<InboxEntry[]> {
    await this.settle();
    const rows = await Q.inbox.all(this.pool, recipientId, before(page), filter.unreadOnly === true, page.limit);
    const attachments = await this.attachmentsOf(this.pool, rows.map((r) => r.id));
    // Who else it went to, as READ shows it; a broadcast or a channel is named, not listed.
    const listed = rows.filter((r) => r.audience !== 'all' && r.channel_id === null).map((r) => r.id);
    const recipients = listed.length === 0 ? new Map<number, string[]>()
      : groupByMessage(await Q.recipientsOf.all(this.pool, listed), (x) => x.username);
    return rows.map((r) => toInboxEntry(r, attachments.get(r.id) ?? [], recipients.get(r.id) ?? []));
  }

  async outbox(senderId: number, page: Page): Promise<Message[]> {
    await this.settle();
    return this.withDetails(this.pool, await Q.outbox.all(this.pool, senderId, before(page), page.limit));
  }

  async markRead(messageId: number, recipientId: number): Promise<boolean> {
    await this.settle();
    return (await Q.markRead.run(this.pool, now(), messageId, recipientId)) > 0;
  }

  async deleteFromInbox(messageId: number, recipientId: number): Promise<boolean> {
    await this.settle();
    return (await Q.deleteFromInbox.run(this.pool, now(), messageId, recipientId)) > 0;
  }

  async unreadCount(recipientId: number): Promise<number> {
    await this.settle();
    return (await Q.unreadCount.get(this.pool, recipientId))!.n;
  }

  /** Adds recipients and attachments to message rows with two or three queries, whatever the page size. */
  private async withDetails(db: Queryable, rows: MessageRow[]): Promise<Message[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const recipients = groupByMessage(await Q.recipientsOf.all(db, ids), toRecipient);
    if (rows.some((r) => r.state === 'sending' || r.held)) {
      // A 'sending' or scheduled message has no recipient rows yet: its sender sees the pending recipients.
      for (const [id, list] of groupByMessage(await Q.pendingRecipientsOf.all(db, ids), toRecipient)) recipients.set(id, list);
    }
    const attachments = await this.attachmentsOf(db, ids);
    return rows.map((r) => toMessage(r, recipients.get(r.id) ?? [], attachments.get(r.id) ?? []));
  }

  async getMessageFor(id: number, recipientIds: readonly number[]): Promise<Message | null> {
    await this.settle(); // an audience snapshot's rows exist before they are read
    const row = await Q.messageById.get(this.pool, id);
    return row ? (await this.withDetailsFor(this.pool, [row], recipientIds))[0]! : null;
  }

  /** As withDetails, with only the asked recipients (recipient-sql.ts). */
  private async withDetailsFor(db: Queryable, rows: MessageRow[], recipientIds: readonly number[]): Promise<Message[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const recipients = await readRecipientsAmong(db, ids, recipientIds, rows.some((r) => r.state === 'sending' || r.held));
    const attachments = await this.attachmentsOf(db, ids);
    return rows.map((r) => toMessage(r, recipients.get(r.id) ?? [], attachments.get(r.id) ?? []));
  }

  private async attachmentsOf(db: Queryable, messageIds: number[]): Promise<Map<number, AttachmentMeta[]>> {
    if (messageIds.length === 0) return new Map();
    return groupByMessage(await Q.attachmentsOf.all(db, messageIds), toAttachment);
  }

  // --- attachments: the record exists before the upload ends (storagePath null until then).

  async addAttachment(meta: Omit<AttachmentMeta, 'id'>): Promise<AttachmentMeta> {
    const row = await Q.insertAttachment.get(
      this.pool, meta.messageId, meta.name, meta.size, meta.sha256, meta.mediaType, meta.storagePath, now(),
    );
    return toAttachment(row!);
  }

  async getAttachment(id: number): Promise<AttachmentMeta | null> {
    const row = await Q.attachmentById.get(this.pool, id);
    return row ? toAttachment(row) : null;
  }

  async messageRole(messageId: number, userId: number): Promise<'sender' | 'recipient' | null> {
    await this.settle();
    const row = await Q.messageById.get(this.pool, messageId);
    if (!row) return null;
    if (row.sender_id === userId) return 'sender';
    return (await Q.messageRecipientRole.get(this.pool, messageId, userId)) ? 'recipient' : null;
  }

  async commitAttachment({ attachmentId, storagePath, mediaType }: CommitArgs): Promise<AttachmentCommit | null> {
    return transaction(this.pool, async (tx) => {
      const row = await Q.attachmentById.get(tx, attachmentId);
      if (!row) return null;
      // Locked: two uploads of one message finishing at once take turns, so one of them is the last.
      const message = await Q.messageToChange.get(tx, row.message_id);
      if (message?.state !== 'sending') return null;
      if ((await Q.commitAttachment.run(tx, attachmentId, storagePath, mediaType, now())) === 0) return null;
      const missing = (await Q.missingAttachments.get(tx, row.message_id))!.n;
      let sent = missing === 0;
      const at = now();
      // A scheduled message whose time has not come (or that was recalled, or that is a correction) is
      // held whole: the due-jobs runner releases it (and a correction's release recalls what it replaces).
      const schedule = sent ? await A.heldSchedule.get(tx, row.message_id, at) : undefined;
      let replaced: RecallOutcome | null = null;
      if (schedule && (!schedule.due || schedule.recalled || schedule.replacing)) {
        await A.holdMessage.run(tx, row.message_id);
        sent = false;
      } else if (sent) {
        // The last file is in: the recipients get their rows now, so inboxes and popups see it whole.
        await Q.releasePendingRecipients.run(tx, row.message_id);
        await Q.finishSending.run(tx, 'sent', row.message_id);
        if (schedule) {
          // Its time passed while it was uploading: it goes out now, as a released scheduled message.
          await A.releaseNow.run(tx, row.message_id, at);
          await A.releaseMessage.run(tx, at, row.message_id);
        } else {
          // A correction with attachments: the message it replaces is withdrawn now, as it goes out.
          const kept = await A.alertOf.get(tx, row.message_id);
          const recall = kept ? recallOnRelease(kept) : null;
          if (recall) {
            replaced = await recallIn(tx, recall, at);
            await A.replaceRecalled.run(tx, row.message_id);
          }
        }
      }
      const [whole] = await this.withDetails(tx, [(await Q.messageById.get(tx, row.message_id))!]);
      const attachment = whole!.attachments.find((a) => a.id === attachmentId)!;
      return { attachment, message: whole!, sent, missing, ...(schedule && !sent ? { held: true } : {}), ...(replaced ? { replaced } : {}) };
    });
  }

  async closeSendingMessage(messageId: number, state: 'expired' | 'cancelled'): Promise<Message | null> {
    return transaction(this.pool, async (tx) => {
      const locked = await Q.messageToChange.get(tx, messageId);
      if (locked?.state !== 'sending') return null;
      const [beforeClosing] = await this.withDetails(tx, [(await Q.messageById.get(tx, messageId))!]);
      // Its files are let go: they no longer count against the sender's quota (the text still does).
      await Q.releaseStorageUsed.run(tx, beforeClosing!.senderId, beforeClosing!.attachments.reduce((sum, a) => sum + a.size, 0));
      await Q.releaseAttachments.run(tx, messageId);
      await Q.finishSending.run(tx, state, messageId);
      await A.dropRelease.run(tx, messageId);
      return beforeClosing!;
    });
  }

  async overdueSendingMessages(nowIso: string, limit: number): Promise<number[]> {
    return (await Q.overdueSending.all(this.pool, nowIso, limit)).map((r) => r.id);
  }

  async isContentReferenced(sha256: string): Promise<boolean> {
    return (await Q.contentReferenced.get(this.pool, sha256)) !== undefined;
  }

  async listStoredAttachments(): Promise<AttachmentMeta[]> {
    return (await Q.storedAttachments.all(this.pool)).map(toAttachment);
  }

  // --- mail queue: mail is queued in the same transaction as the change it reports, and
  // --- sent later, so an SMTP outage never loses or blocks a decision.

  async enqueueMail(mail: OutgoingMail): Promise<number> {
    return this.queueMail(this.pool, mail, now());
  }

  private async queueMail(db: Queryable, mail: OutgoingMail, at: string): Promise<number> {
    return (await Q.insertMail.get(db, mail.kind, mail.to, mail.subject, mail.sealedText, at))!.id;
  }

  async dueMail(nowIso: string, limit: number, after?: { nextAttemptAt: string; id: number }): Promise<QueuedMail[]> {
    const rows = after
      ? await Q.dueMailAfter.all(this.pool, nowIso, after.nextAttemptAt, after.id, limit)
      : await Q.dueMail.all(this.pool, nowIso, limit);
    return rows.map(toMail);
  }

  async markMailSent(id: number): Promise<void> {
    await Q.mailSent.run(this.pool, now(), id);
  }

  async markMailFailed(id: number, error: string, nextAttemptAt: string): Promise<void> {
    await Q.mailFailed.run(this.pool, error, nextAttemptAt, id);
  }

  async listMail(filter: 'unsent' | 'failed' | 'all', page: Page): Promise<QueuedMail[]> {
    const statement = filter === 'unsent' ? Q.unsentMail : filter === 'failed' ? Q.failedMail : Q.allMail;
    return (await statement.all(this.pool, before(page), page.limit)).map(toMail);
  }

  async getMail(id: number): Promise<QueuedMail | null> {
    const row = await Q.mailById.get(this.pool, id);
    return row ? toMail(row) : null;
  }

  async retryMail(id: number | undefined, nowIso: string): Promise<number> {
    return id !== undefined ? Q.retryOneMail.run(this.pool, nowIso, id) : Q.retryAllMail.run(this.pool, nowIso);
  }

  // --- audit: what admins and failed logins did, for review; detail is JSON and never secret.

  async audit(event: AuditEvent): Promise<void> {
    await this.writeAudit(this.pool, event, now());
  }

  private async writeAudit(db: Queryable, event: AuditEvent, at: string): Promise<void> {
    await Q.insertAudit.run(
      db, at, event.kind, event.actorId ?? null, event.subject ?? null, event.address ?? null, JSON.stringify(event.detail ?? {}),
    );
  }

  async listAudit(filter: AuditFilter, page: Page): Promise<AuditRecord[]> {
    const query = auditQuery({ ...filter, beforeId: before(page), limit: page.limit });
    try {
      return (await this.pool.query<AuditRow>(query)).rows.map(toAudit);
    } catch (err) {
      throw storeError(err);
    }
  }

  // --- backup: siar does not run pg_dump itself; BACKUP answers with the exact commands
  // (docs/RELIABILITY.md §Backups on PostgreSQL says why). pg_dump's copy is one transaction's
  // snapshot, so it is consistent while siar keeps serving, and it holds the attachments too (their
  // content is rows of content_chunks). The password is never part of the advice.

  get backupAdvice(): string {
    const target = new URL(this.url);
    target.password = '';
    const file = `siar-${new Date().toISOString().replace(/[:.]/g, '-')}.dump`;
    const restored = new URL(target.toString());
    restored.pathname = '/siar_restored';
    const maintenance = new URL(target.toString());
    maintenance.pathname = '/postgres';
    return 'siar does not copy a PostgreSQL store itself: run pg_dump (of PostgreSQL\'s version or newer) where the backups are kept, '
      + `with the password in PGPASSWORD or ~/.pgpass, never on the command line: pg_dump --format=custom --serializable-deferrable --file=${file} '${target.toString()}' `
      + '(one consistent snapshot while siar keeps serving; the attachments are inside it, the mail key (--mail-key-file, or <data>/mail.key) is not). '
      + `To restore: createdb --maintenance-db='${maintenance.toString()}' siar_restored, then pg_restore --exit-on-error --no-owner --dbname='${restored.toString()}' ${file}, `
      + `then start siar with --store '${restored.toString()}' (docs/RELIABILITY.md).`;
  }

  // --- channels and groups (issue #4): channels.ts.

  async createChannel(input: NewChannel): Promise<Channel> { return this.cg.createChannel(input); }
  async getChannel(name: string): Promise<Channel | null> { return this.cg.getChannel(name); }
  async listChannels(): Promise<Channel[]> { return this.cg.listChannels(); }
  async updateChannel(channelId: number, changes: ChannelChanges): Promise<{ channel: Channel; dropped: number[] }> {
    return this.cg.updateChannel(channelId, changes);
  }
  async setChannelArchived(channelId: number, archived: boolean): Promise<{ channel: Channel; changed: boolean }> {
    return this.cg.setChannelArchived(channelId, archived);
  }
  async channelStanding(channelId: number, userId: number): Promise<ChannelStanding> { return this.cg.channelStanding(channelId, userId); }
  async channelStandings(userId: number): Promise<Map<number, ChannelStanding>> { return this.cg.channelStandings(userId); }
  async channelRoster(channelId: number): Promise<ChannelRosterRow[]> { return this.cg.channelRoster(channelId); }
  async grantChannelRole(channelId: number, userIds: number[], role: ChannelRole): Promise<number> {
    return this.cg.grantChannelRole(channelId, userIds, role);
  }
  async revokeChannelRole(channelId: number, userIds: number[], role: ChannelRole): Promise<{ revoked: number; dropped: number[] }> {
    return this.cg.revokeChannelRole(channelId, userIds, role);
  }
  async subscribe(channelId: number, userId: number): Promise<boolean> { return this.cg.subscribe(channelId, userId); }
  async unsubscribe(channelId: number, userId: number): Promise<boolean> { return this.cg.unsubscribe(channelId, userId); }
  async channelHistory(channelId: number, page: Page): Promise<Message[]> {
    await this.settle();
    return this.withDetails(this.pool, await this.cg.channelMessageRows(channelId, before(page), page.limit));
  }
  async createGroup(input: { name: string; description: string; createdBy: number }): Promise<Group> { return this.cg.createGroup(input); }
  async getGroup(name: string): Promise<Group | null> { return this.cg.getGroup(name); }
  async listGroups(): Promise<Group[]> { return this.cg.listGroups(); }
  async setGroupDescription(groupId: number, description: string): Promise<Group> { return this.cg.setGroupDescription(groupId, description); }
  async deleteGroup(groupId: number): Promise<void> { return this.cg.deleteGroup(groupId); }
  async groupMembers(groupId: number): Promise<User[]> { return this.cg.groupMembers(groupId); }
  async addGroupMembers(groupId: number, userIds: number[]): Promise<number> { return this.cg.addGroupMembers(groupId, userIds); }
  async removeGroupMembers(groupId: number, userIds: number[]): Promise<number> { return this.cg.removeGroupMembers(groupId, userIds); }
  async groupsOf(userId: number): Promise<Set<number>> { return this.cg.groupsOf(userId); }
  async resolveGroups(names: string[]): Promise<{ found: Array<{ name: string; memberIds: number[] }>; missing: string[] }> {
    return this.cg.resolveGroups(names);
  }

  /** Commits what is queued, then closes every connection. */
  async close(): Promise<void> {
    await this.groupCommit.close();
    await this.pool.end().catch(() => {});
    if (this.commits !== this.pool) await this.commits.end().catch(() => {});
  }
}
