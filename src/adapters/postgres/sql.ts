/**
 * The SQL of the PostgreSQL store (channels and groups: channel-sql.ts). Rows come back in the
 * shapes both SQL stores share (../sql-common/: snake_case, numbers, ISO strings; see
 * connection.ts), so its mapping functions serve both; only users and sessions differ (a real
 * boolean where SQLite has 0/1).
 * Lists of ids travel as arrays (= ANY($1)), so one statement serves any number of them.
 */
import { createHash } from 'node:crypto';
import type { QueryResultRow } from 'pg';
import { toSession as sessionFromSharedRow, toUser as userFromSharedRow, type RegistrationRow, type SessionRow, type UserRow } from '../sql-common/account-rows.js';
import { ATTACHMENT_COLUMNS, MESSAGE_COLUMNS, type AttachmentRow, type InboxRow, type MessageRow, type RecipientRow } from '../sql-common/message-rows.js';
import type { MailRow } from '../sql-common/mail-rows.js';
import type { AuditRow } from '../sql-common/audit-rows.js';
import type { Audience, RegistrationStatus, Session, User, UserStatus } from '../../core/ports/store.js';
import { sql, statements } from './connection.js';

export interface PgUserRow extends Omit<UserRow, 'must_change_password'> {
  must_change_password: boolean;
}

export function toUser(r: PgUserRow): User {
  return userFromSharedRow({ ...r, must_change_password: r.must_change_password ? 1 : 0 });
}

export interface PgSessionRow extends Omit<SessionRow, 'must_change_password'> {
  must_change_password: boolean;
}

export function toSession(r: PgSessionRow): Session {
  return sessionFromSharedRow({ ...r, must_change_password: r.must_change_password ? 1 : 0 });
}

type Count = { n: number } & QueryResultRow;
type Id = { id: number } & QueryResultRow;
type Row<T> = T & QueryResultRow;

export const Q = statements('siar', {
  // --- registration
  insertRegistration: sql<[string, string, string, string, string, string, string | null, string], Row<RegistrationRow>>(`
    INSERT INTO registration_requests (institution, contact, email, phone, address, username, from_address, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`),
  registrationById: sql<[number], Row<RegistrationRow>>(`SELECT * FROM registration_requests WHERE id = $1`),
  /** The request a decision is about, locked until the deciding transaction ends. */
  registrationToDecide: sql<[number], Row<RegistrationRow>>(`SELECT * FROM registration_requests WHERE id = $1 FOR UPDATE`),
  pendingWithUsername: sql<[string], Id>(`SELECT id FROM registration_requests WHERE username = $1 AND status = 'pending'`),
  pendingWithEmail: sql<[string], Id>(`SELECT id FROM registration_requests WHERE email = $1 AND status = 'pending'`),
  pendingFromAddress: sql<[string], Count>(`SELECT count(*) AS n FROM registration_requests WHERE from_address = $1 AND status = 'pending'`),
  pendingRegistrations: sql<[], Count>(`SELECT count(*) AS n FROM registration_requests WHERE status = 'pending'`),
  registrationsByStatus: sql<[RegistrationStatus, number, number], Row<RegistrationRow>>(
    `SELECT * FROM registration_requests WHERE status = $1 AND id < $2 ORDER BY id LIMIT $3`,
  ),
  registrationsNewestFirst: sql<[number, number], Row<RegistrationRow>>(
    `SELECT * FROM registration_requests WHERE id < $1 ORDER BY id DESC LIMIT $2`,
  ),
  decideRegistration: sql<[number, RegistrationStatus, string | null, string, number | null, number | null], Row<RegistrationRow>>(`
    UPDATE registration_requests SET status = $2, reason = $3, decided_at = $4, decided_by = $5, user_id = $6
    WHERE id = $1 AND status = 'pending'
    RETURNING *`),
  expirePendingBefore: sql<[string, string, number | null, number[]], Row<RegistrationRow>>(`
    UPDATE registration_requests SET status = 'expired', decided_at = $2, decided_by = $3
    WHERE status = 'pending' AND created_at < $1 AND id = ANY($4::bigint[])
    RETURNING *`),

  // --- users
  insertUser: sql<[string, string, string, string, string, string, string, string, string, boolean, string], Row<PgUserRow>>(`
    INSERT INTO users (username, role, status, password_hash, institution, contact, email, phone, address, must_change_password, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
    RETURNING *`),
  userById: sql<[number], Row<PgUserRow>>(`SELECT * FROM users WHERE id = $1`),
  userToChange: sql<[number], Row<PgUserRow>>(`SELECT * FROM users WHERE id = $1 FOR UPDATE`),
  userByUsername: sql<[string], Row<PgUserRow>>(`SELECT * FROM users WHERE username = $1`),
  // '' means "no e-mail" (the admin account) and never collides.
  userWithEmail: sql<[string], Id>(`SELECT id FROM users WHERE email = $1 AND email <> ''`),
  members: sql<[], Row<PgUserRow>>(`SELECT * FROM users WHERE role = 'member' ORDER BY username`),
  activeMembersNamed: sql<[string[]], Row<PgUserRow>>(
    `SELECT * FROM users WHERE role = 'member' AND status = 'active' AND username = ANY($1::text[])`,
  ),
  usernamesOf: sql<[number[]], Row<{ id: number; username: string }>>(`SELECT id, username FROM users WHERE id = ANY($1::bigint[])`),
  institutionsOf: sql<[number[]], Row<{ id: number; institution: string }>>(`SELECT id, institution FROM users WHERE id = ANY($1::bigint[])`),
  activeMemberIds: sql<[], Id>(`SELECT id FROM users WHERE role = 'member' AND status = 'active' ORDER BY id`),
  anyAdmin: sql<[], Id>(`SELECT id FROM users WHERE role = 'admin' LIMIT 1`),
  setUserStatus: sql<[UserStatus, number]>(`UPDATE users SET status = $1 WHERE id = $2`),
  setPassword: sql<[string, boolean, number]>(`UPDATE users SET password_hash = $1, must_change_password = $2 WHERE id = $3`),
  recordLogin: sql<[string, string | null, number]>(`UPDATE users SET last_login_at = $1, last_login_address = $2 WHERE id = $3`),

  // --- sessions
  insertSession: sql<[string, number, string | null, string, string, boolean], Row<PgSessionRow>>(`
    INSERT INTO sessions (token_hash, user_id, address, created_at, expires_at, must_change_password) VALUES ($1, $2, $3, $4, $5, $6)
    RETURNING *`),
  openSessionByToken: sql<[string], Row<PgSessionRow>>(`SELECT * FROM sessions WHERE token_hash = $1 AND closed_at IS NULL`),
  // The session's columns prefixed (session_*) beside its member's, in one round trip (findSessionAndUser).
  openSessionAndUser: sql<[string], Row<PgUserRow & { [K in keyof PgSessionRow as `session_${K}`]: PgSessionRow[K] }>>(`
    SELECT u.*, s.id AS session_id, s.token_hash AS session_token_hash, s.user_id AS session_user_id, s.address AS session_address,
      s.created_at AS session_created_at, s.expires_at AS session_expires_at, s.closed_at AS session_closed_at,
      s.must_change_password AS session_must_change_password
    FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.closed_at IS NULL`),
  closeSession: sql<[string, number]>(`UPDATE sessions SET closed_at = $1 WHERE id = $2 AND closed_at IS NULL`),
  closeUserSessions: sql<[string, number]>(`UPDATE sessions SET closed_at = $1 WHERE user_id = $2 AND closed_at IS NULL`),
  closeOtherSessions: sql<[string, number, number]>(
    `UPDATE sessions SET closed_at = $1 WHERE user_id = $2 AND id <> $3 AND closed_at IS NULL`,
  ),
  liftSessionRestriction: sql<[number]>(`UPDATE sessions SET must_change_password = false WHERE id = $1`),

  // --- messages
  /**
   * A message, its recipient rows (those pushed after the commit written delivered at sent_at)
   * and its routes, in one statement: one round trip per message inside the group commit.
   * $6 channel, $7 via; $8/$9 recipients and whether each is pushed; $10/$11 routes.
   */
  insertMessage: sql<[number, Audience, string, string, string, number | null, string | null, number[], boolean[], number[], string[]], Id>(`
    WITH m AS (
      INSERT INTO messages (sender_id, audience, subject, body, sent_at, channel_id, via)
      VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
    ), recipients AS (
      INSERT INTO message_recipients (message_id, recipient_id, delivered_at)
      SELECT m.id, r.id, CASE WHEN r.pushed THEN $5::timestamptz END
      FROM m, unnest($8::bigint[], $9::boolean[]) AS r(id, pushed)
    ), routes AS (
      INSERT INTO message_routes (message_id, recipient_id, via)
      SELECT m.id, r.id, r.via FROM m, unnest($10::bigint[], $11::text[]) AS r(id, via)
    )
    SELECT id FROM m`),
  /** Ids for a batch's messages, taken from the one sequence in ascending order. */
  nextMessageIds: sql<[number], { ids: number[] } & QueryResultRow>(`
    SELECT array_agg(id ORDER BY id) AS ids
    FROM (SELECT nextval(pg_get_serial_sequence('messages', 'id')) AS id FROM generate_series(1, $1)) AS taken`),
  /**
   * A batch's plain messages (no channel, no attachments) in one statement: $1-$6 one element per
   * message (its id given), $7 sent_at for all; $8-$10 one element per recipient row; $11-$13 per route.
   */
  insertMessages: sql<[number[], number[], Audience[], string[], string[], (string | null)[], string, number[], number[], boolean[], number[], number[], string[]]>(`
    WITH m AS (
      INSERT INTO messages (id, sender_id, audience, subject, body, via, sent_at)
      SELECT i.id, i.sender_id, i.audience, i.subject, i.body, i.via, $7
      FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[]) AS i(id, sender_id, audience, subject, body, via)
    ), recipients AS (
      INSERT INTO message_recipients (message_id, recipient_id, delivered_at)
      SELECT r.message_id, r.recipient_id, CASE WHEN r.pushed THEN $7::timestamptz END
      FROM unnest($8::bigint[], $9::bigint[], $10::boolean[]) AS r(message_id, recipient_id, pushed)
    )
    INSERT INTO message_routes (message_id, recipient_id, via)
    SELECT r.message_id, r.recipient_id, r.via FROM unnest($11::bigint[], $12::bigint[], $13::text[]) AS r(message_id, recipient_id, via)`),
  /** A message waiting for its attachments: its recipients wait in pending_recipients ($8). */
  insertSendingMessage: sql<[number, Audience, string, string, string, number | null, string | null, number[], string | null, number[], string[]], Id>(`
    WITH m AS (
      INSERT INTO messages (sender_id, audience, subject, body, sent_at, channel_id, via, state, pending_recipients, upload_deadline)
      VALUES ($1, $2, $3, $4, $5, $6, $7, 'sending', $8::bigint[], $9) RETURNING id
    ), routes AS (
      INSERT INTO message_routes (message_id, recipient_id, via)
      SELECT m.id, r.id, r.via FROM m, unnest($10::bigint[], $11::text[]) AS r(id, via)
    )
    SELECT id FROM m`),
  /** A large audience's message (schema.postgres.sql section 9): the message row and its one audience snapshot. */
  insertSnapshotMessage: sql<[number, Audience, string, string, string, number | null, string | null, number[], string | null], Id>(`
    WITH m AS (
      INSERT INTO messages (sender_id, audience, subject, body, sent_at, channel_id, via)
      VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
    )
    INSERT INTO message_audiences (message_id, recipient_ids, routes) SELECT m.id, $8::bigint[], $9 FROM m
    RETURNING message_id AS id`),
  countUsers: sql<[number[]], Count>(`SELECT count(*) AS n FROM users WHERE id = ANY($1::bigint[])`),
  /**
   * Every pending snapshot ($2 null) or one message's ($2), materialised: its recipient rows (those in
   * $3 delivered at $1, the others not) and routes, and the snapshot marked, in one statement. The
   * snapshots are locked in id order first: a concurrent materialisation waits, then finds them done
   * (and a later statement of its own sees the rows). Returns how many it materialised.
   */
  materialiseAudiences: sql<[string, number | null, number[]], Count>(`
    WITH pending AS (
      SELECT message_id, recipient_ids, routes FROM message_audiences
      WHERE materialised_at IS NULL AND ($2::bigint IS NULL OR message_id = $2)
      ORDER BY message_id FOR UPDATE
    ), taken AS (
      UPDATE message_audiences a SET materialised_at = $1, recipient_ids = NULL, routes = NULL
      FROM pending p WHERE a.message_id = p.message_id RETURNING a.message_id
    ), pushed AS (
      SELECT DISTINCT unnest($3::bigint[]) AS id
    ), recipients AS (
      INSERT INTO message_recipients (message_id, recipient_id, delivered_at)
      SELECT p.message_id, r.id, CASE WHEN d.id IS NOT NULL THEN $1::timestamptz END
      FROM pending p CROSS JOIN LATERAL unnest(p.recipient_ids) AS r(id) LEFT JOIN pushed d ON d.id = r.id
      ON CONFLICT (message_id, recipient_id) DO UPDATE SET delivered_at = coalesce(message_recipients.delivered_at, excluded.delivered_at)
    ), routes AS (
      INSERT INTO message_routes (message_id, recipient_id, via)
      SELECT p.message_id, ids.id::bigint, v.key
      FROM pending p CROSS JOIN LATERAL jsonb_each(p.routes::jsonb) AS v(key, value)
      CROSS JOIN LATERAL jsonb_array_elements_text(v.value) AS ids(id)
      ON CONFLICT (message_id, recipient_id) DO NOTHING
    )
    SELECT count(*) AS n FROM taken`),
  messageById: sql<[number], Row<MessageRow>>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages m JOIN users s ON s.id = m.sender_id WHERE m.id = $1`,
  ),
  recipientsOf: sql<[number[]], Row<RecipientRow>>(`
    SELECT r.message_id, r.recipient_id, u.username, r.delivered_at, r.read_at, rt.via
    FROM message_recipients r JOIN users u ON u.id = r.recipient_id
    LEFT JOIN message_routes rt ON rt.message_id = r.message_id AND rt.recipient_id = r.recipient_id
    WHERE r.message_id = ANY($1::bigint[])
    ORDER BY r.message_id, u.username`),
  pendingRecipientsOf: sql<[number[]], Row<RecipientRow>>(`
    SELECT m.id AS message_id, p.id AS recipient_id, u.username, NULL::timestamptz AS delivered_at, NULL::timestamptz AS read_at
    FROM messages m CROSS JOIN LATERAL unnest(m.pending_recipients) AS p(id) JOIN users u ON u.id = p.id
    WHERE m.id = ANY($1::bigint[]) AND m.pending_recipients IS NOT NULL
    ORDER BY m.id, u.username`),
  attachmentsOf: sql<[number[]], Row<AttachmentRow>>(`
    SELECT ${ATTACHMENT_COLUMNS} FROM attachments WHERE message_id = ANY($1::bigint[]) ORDER BY message_id, id`),
  // A message past its expiry (issue 21, message_alerts) pops up no more.
  undelivered: sql<[number, number, string], Row<MessageRow>>(`
    SELECT ${MESSAGE_COLUMNS}
    FROM message_recipients r JOIN messages m ON m.id = r.message_id JOIN users s ON s.id = m.sender_id
    WHERE r.recipient_id = $1 AND r.delivered_at IS NULL AND r.deleted_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM message_alerts a WHERE a.message_id = r.message_id AND a.expires_at <= $3)
    ORDER BY r.message_id LIMIT $2`),
  undeliveredAmong: sql<[number[], number, string], Row<{ message_id: number; recipient_id: number }>>(`
    SELECT r.message_id, r.recipient_id
    FROM message_recipients r
    WHERE r.recipient_id = ANY($1::bigint[]) AND r.delivered_at IS NULL AND r.deleted_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM message_alerts a WHERE a.message_id = r.message_id AND a.expires_at <= $3)
    ORDER BY r.message_id, r.recipient_id LIMIT $2`),
  inbox: sql<[number, number, boolean, number], Row<InboxRow>>(`
    SELECT m.id, s.username AS sender, m.audience, m.channel_id, m.via AS message_via, m.subject, m.body, m.sent_at,
      r.delivered_at, r.read_at, rt.via
    FROM message_recipients r JOIN messages m ON m.id = r.message_id JOIN users s ON s.id = m.sender_id
    LEFT JOIN message_routes rt ON rt.message_id = r.message_id AND rt.recipient_id = r.recipient_id
    WHERE r.recipient_id = $1 AND r.deleted_at IS NULL AND r.message_id < $2 AND (NOT $3 OR r.read_at IS NULL)
    ORDER BY r.message_id DESC LIMIT $4`),
  outbox: sql<[number, number, number], Row<MessageRow>>(`
    SELECT ${MESSAGE_COLUMNS} FROM messages m JOIN users s ON s.id = m.sender_id
    WHERE m.sender_id = $1 AND m.id < $2
    ORDER BY m.id DESC LIMIT $3`),
  markDelivered: sql<[string, number, number[]]>(`
    UPDATE message_recipients SET delivered_at = $1
    WHERE message_id = $2 AND recipient_id = ANY($3::bigint[]) AND delivered_at IS NULL`),
  // Many messages' marks in one statement (the group commit's bulk form): (message, recipient) pairs.
  markDeliveredPairs: sql<[string, number[], number[]]>(`
    UPDATE message_recipients AS mr SET delivered_at = $1
    FROM unnest($2::bigint[], $3::bigint[]) AS p(message_id, recipient_id)
    WHERE mr.message_id = p.message_id AND mr.recipient_id = p.recipient_id AND mr.delivered_at IS NULL`),
  markUndelivered: sql<[number, number[]]>(`
    UPDATE message_recipients SET delivered_at = NULL
    WHERE message_id = $1 AND recipient_id = ANY($2::bigint[]) AND read_at IS NULL`),
  messagesNewestFirst: sql<[number, number], Row<{ id: number; sent_at: string }>>(
    `SELECT id, sent_at FROM messages WHERE id < $1 ORDER BY id DESC LIMIT $2`,
  ),
  // A mark written at commit carries the message's own sent_at (the same instant); one written
  // after a push is later. (Equal by chance within a millisecond: one popup replayed, no harm.)
  reopenMarkedAtCommit: sql<[number]>(`
    UPDATE message_recipients r SET delivered_at = NULL
    FROM messages m
    WHERE m.id = r.message_id AND r.message_id >= $1 AND r.read_at IS NULL AND r.delivered_at = m.sent_at`),
  // Reading implies delivery: a message read on another client was delivered there.
  markRead: sql<[string, number, number]>(`
    UPDATE message_recipients SET read_at = coalesce(read_at, $1), delivered_at = coalesce(delivered_at, $1)
    WHERE message_id = $2 AND recipient_id = $3 AND deleted_at IS NULL`),
  deleteFromInbox: sql<[string, number, number]>(`
    UPDATE message_recipients SET deleted_at = $1
    WHERE message_id = $2 AND recipient_id = $3 AND deleted_at IS NULL`),
  // --- the bytes each sender's messages take (the storage quota), kept in the message's transaction
  /** Adds bytes per sender ($1 users, $2 bytes, each user once); the totals after, row-locked until the commit. */
  addStorageUsed: sql<[number[], number[]], Row<{ user_id: number; bytes: number }>>(`
    INSERT INTO storage_usage (user_id, bytes) SELECT * FROM unnest($1::bigint[], $2::bigint[])
    ON CONFLICT (user_id) DO UPDATE SET bytes = storage_usage.bytes + excluded.bytes
    RETURNING user_id, bytes`),
  releaseStorageUsed: sql<[number, number]>(`UPDATE storage_usage SET bytes = greatest(bytes - $2, 0) WHERE user_id = $1`),
  storageUsage: sql<[], Row<{ user_id: number; bytes: number }>>(`SELECT user_id, bytes FROM storage_usage`),
  unreadCount: sql<[number], Count>(`
    SELECT count(*) AS n FROM message_recipients WHERE recipient_id = $1 AND read_at IS NULL AND deleted_at IS NULL`),
  messageRecipientRole: sql<[number, number], Row<{ found: number }>>(
    `SELECT 1 AS found FROM message_recipients WHERE message_id = $1 AND recipient_id = $2 AND deleted_at IS NULL`,
  ),

  // --- attachments
  insertAttachment: sql<[number, string, number, string, string, string | null, string], Row<AttachmentRow>>(`
    INSERT INTO attachments (message_id, name, size, sha256, media_type, storage_path, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    RETURNING ${ATTACHMENT_COLUMNS}`),
  /** A sending message's declared attachments, in their order. */
  declareAttachments: sql<[number, string[], number[], string[], string[], string]>(`
    INSERT INTO attachments (message_id, name, size, sha256, media_type, created_at)
    SELECT $1, a.name, a.size, a.sha256, a.media_type, $6
    FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[]) WITH ORDINALITY AS a(name, size, sha256, media_type, n)
    ORDER BY a.n`),
  storedAttachments: sql<[], Row<AttachmentRow>>(
    `SELECT ${ATTACHMENT_COLUMNS} FROM attachments WHERE storage_path IS NOT NULL ORDER BY id`,
  ),
  attachmentById: sql<[number], Row<AttachmentRow>>(`SELECT ${ATTACHMENT_COLUMNS} FROM attachments WHERE id = $1`),
  missingAttachments: sql<[number], Count>(
    `SELECT count(*) AS n FROM attachments WHERE message_id = $1 AND storage_path IS NULL`,
  ),
  commitAttachment: sql<[number, string, string, string]>(`
    UPDATE attachments SET storage_path = $2, media_type = $3, committed_at = $4
    WHERE id = $1 AND storage_path IS NULL`),
  releaseAttachments: sql<[number]>(`UPDATE attachments SET storage_path = NULL WHERE message_id = $1`),
  contentReferenced: sql<[string], Row<{ found: number }>>(
    `SELECT 1 AS found FROM attachments WHERE sha256 = $1 AND storage_path IS NOT NULL LIMIT 1`,
  ),
  /** The message row, locked: commits and closes of one sending message take turns. */
  messageToChange: sql<[number], Row<{ id: number; state: string }>>(`SELECT id, state FROM messages WHERE id = $1 FOR UPDATE`),
  releasePendingRecipients: sql<[number]>(`
    INSERT INTO message_recipients (message_id, recipient_id)
    SELECT m.id, p.id FROM messages m CROSS JOIN LATERAL unnest(m.pending_recipients) AS p(id) WHERE m.id = $1`),
  finishSending: sql<[string, number]>(`
    UPDATE messages SET state = $1, upload_deadline = NULL, pending_recipients = NULL
    WHERE id = $2 AND state = 'sending'`),
  overdueSending: sql<[string, number], Id>(
    `SELECT id FROM messages WHERE state = 'sending' AND upload_deadline < $1 ORDER BY upload_deadline, id LIMIT $2`,
  ),
  existingUsers: sql<[number[]], Id>(`SELECT id FROM users WHERE id = ANY($1::bigint[])`),

  // --- mail queue
  insertMail: sql<[string, string, string, string, string], Id>(`
    INSERT INTO mail_queue (kind, to_address, subject, sealed_text, created_at, next_attempt_at)
    VALUES ($1, $2, $3, $4, $5, $5) RETURNING id`),
  dueMail: sql<[string, number], Row<MailRow>>(`
    SELECT * FROM mail_queue WHERE sent_at IS NULL AND next_attempt_at <= $1
    ORDER BY next_attempt_at, id LIMIT $2`),
  dueMailAfter: sql<[string, string, number, number], Row<MailRow>>(`
    SELECT * FROM mail_queue WHERE sent_at IS NULL AND next_attempt_at <= $1
      AND (next_attempt_at, id) > ($2::timestamptz, $3::bigint)
    ORDER BY next_attempt_at, id LIMIT $4`),
  // The sealed text holds credentials: once delivered there is no reason to keep it.
  mailSent: sql<[string, number]>(`UPDATE mail_queue SET sent_at = $1, sealed_text = '' WHERE id = $2 AND sent_at IS NULL`),
  mailFailed: sql<[string, string, number]>(`
    UPDATE mail_queue SET attempts = attempts + 1, last_error = $1, next_attempt_at = $2
    WHERE id = $3 AND sent_at IS NULL`),
  unsentMail: sql<[number, number], Row<MailRow>>(
    `SELECT * FROM mail_queue WHERE sent_at IS NULL AND id < $1 ORDER BY id DESC LIMIT $2`,
  ),
  allMail: sql<[number, number], Row<MailRow>>(`SELECT * FROM mail_queue WHERE id < $1 ORDER BY id DESC LIMIT $2`),
  failedMail: sql<[number, number], Row<MailRow>>(`
    SELECT * FROM mail_queue WHERE sent_at IS NULL AND last_error IS NOT NULL AND id < $1
    ORDER BY id DESC LIMIT $2`),
  // Retrying only moves the next attempt: attempts count real tries.
  retryOneMail: sql<[string, number]>(`UPDATE mail_queue SET next_attempt_at = $1 WHERE id = $2 AND sent_at IS NULL`),
  retryAllMail: sql<[string]>(`UPDATE mail_queue SET next_attempt_at = $1 WHERE sent_at IS NULL AND next_attempt_at > $1`),
  mailById: sql<[number], Row<MailRow>>(`SELECT * FROM mail_queue WHERE id = $1`),

  // --- audit
  insertAudit: sql<[string, string, number | null, string | null, string | null, string]>(
    `INSERT INTO audit_events (at, kind, actor_id, subject, address, detail) VALUES ($1, $2, $3, $4, $5, $6)`,
  ),
});

/** A listAudit query: only the filters given appear in its WHERE clause (so the (kind, id) index serves). */
export function auditQuery(filter: {
  kind?: string; subject?: string; actorId?: number; involving?: { username: string; userId: number | null };
  sinceIso?: string; untilIso?: string; beforeId: number; limit: number;
}): { name: string; text: string; values: unknown[] } {
  const values: unknown[] = [filter.beforeId];
  const conditions = ['id < $1'];
  const param = (value: unknown): string => `$${values.push(value)}`;
  if (filter.kind !== undefined) conditions.push(`kind = ${param(filter.kind)}`);
  if (filter.subject !== undefined) conditions.push(`subject = ${param(filter.subject)}`);
  if (filter.actorId !== undefined) conditions.push(`actor_id = ${param(filter.actorId)}`);
  if (filter.involving !== undefined) {
    const { username, userId } = filter.involving;
    conditions.push(userId === null ? `subject = ${param(username)}` : `(subject = ${param(username)} OR actor_id = ${param(userId)})`);
  }
  if (filter.sinceIso !== undefined) conditions.push(`at >= ${param(filter.sinceIso)}`);
  if (filter.untilIso !== undefined) conditions.push(`at < ${param(filter.untilIso)}`);
  const text = `SELECT * FROM audit_events WHERE ${conditions.join(' AND ')} ORDER BY id DESC LIMIT ${param(filter.limit)}`;
  // The same shape always gets the same text, so it is prepared once per connection under its name
  // (a digest: PostgreSQL cuts names at 63 bytes, and two shapes must never share one).
  return { name: `siar.audit.${createHash('sha256').update(text).digest('hex').slice(0, 24)}`, text, values };
}

export type { AuditRow };
