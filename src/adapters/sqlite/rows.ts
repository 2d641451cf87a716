/**
 * The SQL side of the SQLite store: the prepared statements that read and write its rows. The row
 * shapes (snake_case, 0/1 booleans) and their mapping to the camelCase records of
 * src/core/ports/store/ are in ../sql-common/, which the PostgreSQL store shares. Kept apart from
 * sqlite-store.ts so the store reads as "what each operation does" rather than as column
 * bookkeeping.
 */
import type { Database } from 'better-sqlite3';
import type { Audience, RegistrationStatus, UserStatus } from '../../core/ports/store.js';
import type { RegistrationRow, SessionRow, UserRow } from '../sql-common/account-rows.js';
import type { MailRow } from '../sql-common/mail-rows.js';
import {
  ATTACHMENT_COLUMNS,
  MESSAGE_COLUMNS,
  type AttachmentRow,
  type InboxRow,
  type MessageRow,
  type RecipientRow,
} from '../sql-common/message-rows.js';

/**
 * @internal (left out of the published declarations: better-sqlite3's Statement type cannot be
 * named from outside its module, and the statements are the SQLite adapter's own business.)
 *
 * Every statement the store runs, prepared once when the store opens. Each takes and
 * returns the row shapes above; the store maps them to records with the functions below.
 */
export function prepareStatements(db: Database) {
  return {
    // registration
    insertRegistration: db.prepare<
      Omit<RegistrationRow, 'id' | 'status' | 'reason' | 'decided_at' | 'decided_by' | 'user_id'>,
      RegistrationRow
    >(`
      INSERT INTO registration_requests
        (institution, contact, email, phone, address, username, from_address, created_at)
      VALUES (@institution, @contact, @email, @phone, @address, @username, @from_address, @created_at)
      RETURNING *`),
    registrationById: db.prepare<[number], RegistrationRow>(`SELECT * FROM registration_requests WHERE id = ?`),
    // The SELECT 1 statements are existence checks: pluck() makes them return 1 or undefined.
    pendingWithUsername: db
      .prepare<[string], 1>(`SELECT 1 FROM registration_requests WHERE username = ? AND status = 'pending'`)
      .pluck(),
    pendingWithEmail: db
      .prepare<[string], 1>(`SELECT 1 FROM registration_requests WHERE email = ? AND status = 'pending'`)
      .pluck(),
    pendingFromAddress: db
      .prepare<[string], number>(`SELECT COUNT(*) FROM registration_requests WHERE from_address = ? AND status = 'pending'`)
      .pluck(),
    pendingRegistrations: db
      .prepare<[], number>(`SELECT COUNT(*) FROM registration_requests WHERE status = 'pending'`)
      .pluck(),
    registrationsByStatus: db.prepare<[RegistrationStatus, number, number], RegistrationRow>(
      `SELECT * FROM registration_requests WHERE status = ? AND id < ? ORDER BY id LIMIT ?`,
    ),
    registrationsNewestFirst: db.prepare<[number, number], RegistrationRow>(
      `SELECT * FROM registration_requests WHERE id < ? ORDER BY id DESC LIMIT ?`,
    ),
    decideRegistration: db.prepare<
      { id: number; status: RegistrationStatus; reason: string | null; at: string; admin: number | null; user: number | null },
      RegistrationRow
    >(`
      UPDATE registration_requests
      SET status = @status, reason = @reason, decided_at = @at, decided_by = @admin, user_id = @user
      WHERE id = @id AND status = 'pending'
      RETURNING *`),
    pendingCreatedBefore: db.prepare<[string], RegistrationRow>(
      `SELECT * FROM registration_requests WHERE status = 'pending' AND created_at < ? ORDER BY id`,
    ),

    // users
    insertUser: db.prepare<Omit<UserRow, 'id' | 'last_login_at' | 'last_login_address'>, UserRow>(`
      INSERT INTO users (username, role, status, password_hash, institution, contact, email, phone, address,
                         must_change_password, created_at)
      VALUES (@username, @role, @status, @password_hash, @institution, @contact, @email, @phone, @address,
              @must_change_password, @created_at)
      RETURNING *`),
    userById: db.prepare<[number], UserRow>(`SELECT * FROM users WHERE id = ?`),
    userByUsername: db.prepare<[string], UserRow>(`SELECT * FROM users WHERE username = ?`),
    // '' means "no e-mail" (the admin account) and never collides.
    userWithEmail: db.prepare<[string], 1>(`SELECT 1 FROM users WHERE email = ? AND email <> ''`).pluck(),
    members: db.prepare<[], UserRow>(`SELECT * FROM users WHERE role = 'member' ORDER BY username`),
    activeMembersNamed: db.prepare<[string], UserRow>(`
      SELECT * FROM users
      WHERE role = 'member' AND status = 'active' AND username IN (SELECT value FROM json_each(?))`),
    usernamesOf: db.prepare<[string], { id: number; username: string }>(
      `SELECT id, username FROM users WHERE id IN (SELECT value FROM json_each(?))`,
    ),
    institutionsOf: db.prepare<[string], { id: number; institution: string }>(
      `SELECT id, institution FROM users WHERE id IN (SELECT value FROM json_each(?))`,
    ),
    activeMemberIds: db
      .prepare<[], number>(`SELECT id FROM users WHERE role = 'member' AND status = 'active' ORDER BY id`)
      .pluck(),
    anyAdmin: db.prepare<[], 1>(`SELECT 1 FROM users WHERE role = 'admin' LIMIT 1`).pluck(),
    setUserStatus: db.prepare<[UserStatus, number]>(`UPDATE users SET status = ? WHERE id = ?`),
    setPassword: db.prepare<[string, number, number]>(
      `UPDATE users SET password_hash = ?, must_change_password = ? WHERE id = ?`,
    ),
    recordLogin: db.prepare<[string, string | null, number]>(
      `UPDATE users SET last_login_at = ?, last_login_address = ? WHERE id = ?`,
    ),

    // sessions
    insertSession: db.prepare<[string, number, string | null, string, string, number], SessionRow>(`
      INSERT INTO sessions (token_hash, user_id, address, created_at, expires_at, must_change_password) VALUES (?, ?, ?, ?, ?, ?)
      RETURNING *`),
    openSessionByToken: db.prepare<[string], SessionRow>(
      `SELECT * FROM sessions WHERE token_hash = ? AND closed_at IS NULL`,
    ),
    closeSession: db.prepare<[string, number]>(`UPDATE sessions SET closed_at = ? WHERE id = ? AND closed_at IS NULL`),
    closeUserSessions: db.prepare<[string, number]>(
      `UPDATE sessions SET closed_at = ? WHERE user_id = ? AND closed_at IS NULL`,
    ),
    closeOtherSessions: db.prepare<[string, number, number]>(
      `UPDATE sessions SET closed_at = ? WHERE user_id = ? AND id <> ? AND closed_at IS NULL`,
    ),
    liftSessionRestriction: db.prepare<[number]>(`UPDATE sessions SET must_change_password = 0 WHERE id = ?`),

    // messages
    insertMessage: db
      .prepare<[number, Audience, string, string, string], number>(
        `INSERT INTO messages (sender_id, audience, subject, body, sent_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
      )
      .pluck(),
    // The bytes each sender's messages take (the storage quota), kept in the message's transaction.
    storageUsed: db.prepare<[number], number>(`SELECT bytes FROM storage_usage WHERE user_id = ?`).pluck(),
    addStorageUsed: db.prepare<{ user: number; bytes: number }>(`
      INSERT INTO storage_usage (user_id, bytes) VALUES (@user, max(@bytes, 0))
      ON CONFLICT (user_id) DO UPDATE SET bytes = max(bytes + @bytes, 0)`),
    storageUsage: db.prepare<[], { user_id: number; bytes: number }>(`SELECT user_id, bytes FROM storage_usage`),
    insertRecipient: db.prepare<[number, number, string | null]>(
      `INSERT INTO message_recipients (message_id, recipient_id, delivered_at) VALUES (?, ?, ?)`,
    ),
    // A broadcast's rows in one statement (ids as a JSON array): one call instead of one per member.
    insertRecipients: db.prepare<[number, string | null, string]>(
      `INSERT INTO message_recipients (message_id, recipient_id, delivered_at) SELECT ?, value, ? FROM json_each(?)`,
    ),
    // Audience snapshots (schema.sql migration 11): a large audience's message commits one row here.
    insertAudience: db.prepare<[number, string, string | null]>(
      `INSERT INTO message_audiences (message_id, recipient_ids, routes) VALUES (?, ?, ?)`,
    ),
    pendingAudienceIds: db.prepare<[], number>(
      `SELECT message_id FROM message_audiences WHERE materialised_at IS NULL ORDER BY message_id`,
    ).pluck(),
    audienceToMaterialise: db.prepare<[number], { recipient_ids: string; routes: string | null }>(
      `SELECT recipient_ids, routes FROM message_audiences WHERE message_id = ? AND materialised_at IS NULL`,
    ),
    audienceMaterialised: db.prepare<[string, number]>(
      `UPDATE message_audiences SET materialised_at = ?, recipient_ids = NULL, routes = NULL WHERE message_id = ?`,
    ),
    // The rows of a snapshot: those pushed delivered ($2 set), the rest not; a row already there keeps
    // its state (and gains a delivered mark it lacked).
    upsertRecipients: db.prepare<[number, string | null, string]>(`
      INSERT INTO message_recipients (message_id, recipient_id, delivered_at) SELECT ?, value, ? FROM json_each(?) WHERE true
      ON CONFLICT (message_id, recipient_id) DO UPDATE SET delivered_at = coalesce(delivered_at, excluded.delivered_at)`),
    // Its routes, from the JSON object via -> [ids].
    insertSnapshotRoutes: db.prepare<[number, string]>(`
      INSERT OR IGNORE INTO message_routes (message_id, recipient_id, via)
      SELECT ?, ids.value, r.key FROM json_each(?) r, json_each(r.value) ids`),
    countUsers: db.prepare<[string], number>(`SELECT count(*) FROM users WHERE id IN (SELECT value FROM json_each(?))`).pluck(),
    messageById: db.prepare<[number], MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m JOIN users s ON s.id = m.sender_id WHERE m.id = ?`,
    ),
    // The *Of statements take a JSON array of message ids: one query per page, not per message.
    recipientsOf: db.prepare<[string], RecipientRow>(`
      SELECT r.message_id, r.recipient_id, u.username, r.delivered_at, r.read_at, rt.via
      FROM message_recipients r JOIN users u ON u.id = r.recipient_id
      LEFT JOIN message_routes rt ON rt.message_id = r.message_id AND rt.recipient_id = r.recipient_id
      WHERE r.message_id IN (SELECT value FROM json_each(?))
      ORDER BY r.message_id, u.username`),
    attachmentsOf: db.prepare<[string], AttachmentRow>(`
      SELECT ${ATTACHMENT_COLUMNS} FROM attachments
      WHERE message_id IN (SELECT value FROM json_each(?))
      ORDER BY message_id, id`),
    // A message past its expiry (issue 21, message_alerts) pops up no more.
    undelivered: db.prepare<[number, string, number], MessageRow>(`
      SELECT ${MESSAGE_COLUMNS}
      FROM message_recipients r JOIN messages m ON m.id = r.message_id JOIN users s ON s.id = m.sender_id
      WHERE r.recipient_id = ? AND r.delivered_at IS NULL AND r.deleted_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM message_alerts a WHERE a.message_id = r.message_id AND a.expires_at <= ?)
      ORDER BY r.message_id LIMIT ?`),
    undeliveredAmong: db.prepare<[string, string, number], { message_id: number; recipient_id: number }>(`
      SELECT r.message_id, r.recipient_id
      FROM message_recipients r
      WHERE r.recipient_id IN (SELECT value FROM json_each(?)) AND r.delivered_at IS NULL AND r.deleted_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM message_alerts a WHERE a.message_id = r.message_id AND a.expires_at <= ?)
      ORDER BY r.message_id, r.recipient_id LIMIT ?`),
    // The third parameter is 1 for unread messages only (filtered before LIMIT, so a page of them is full).
    inbox: db.prepare<[number, number, number, number], InboxRow>(`
      SELECT m.id, s.username AS sender, m.audience, m.channel_id, m.via AS message_via, m.subject, m.body, m.sent_at,
        r.delivered_at, r.read_at, rt.via
      FROM message_recipients r JOIN messages m ON m.id = r.message_id JOIN users s ON s.id = m.sender_id
      LEFT JOIN message_routes rt ON rt.message_id = r.message_id AND rt.recipient_id = r.recipient_id
      WHERE r.recipient_id = ? AND r.deleted_at IS NULL AND r.message_id < ? AND (? = 0 OR r.read_at IS NULL)
      ORDER BY r.message_id DESC LIMIT ?`),
    outbox: db.prepare<[number, number, number], MessageRow>(`
      SELECT ${MESSAGE_COLUMNS} FROM messages m JOIN users s ON s.id = m.sender_id
      WHERE m.sender_id = ? AND m.id < ?
      ORDER BY m.id DESC LIMIT ?`),
    markDelivered: db.prepare<[string, number, number]>(`
      UPDATE message_recipients SET delivered_at = ?
      WHERE message_id = ? AND recipient_id = ? AND delivered_at IS NULL`),
    markDeliveredMany: db.prepare<[string, number, string]>(`
      UPDATE message_recipients SET delivered_at = ?
      WHERE message_id = ? AND recipient_id IN (SELECT value FROM json_each(?)) AND delivered_at IS NULL`),
    newestMessagesFirst: db.prepare<[], { id: number; sent_at: string }>(`SELECT id, sent_at FROM messages ORDER BY id DESC`),
    // A mark written at commit carries the message's own sent_at (the same instant); one written
    // after a push is later. (Equal by chance within a millisecond: one popup replayed, no harm.)
    reopenMarkedAtCommit: db.prepare<[number]>(`
      UPDATE message_recipients SET delivered_at = NULL
      WHERE message_id >= ? AND read_at IS NULL
        AND delivered_at = (SELECT m.sent_at FROM messages m WHERE m.id = message_recipients.message_id)`),
    markUndelivered: db.prepare<[number, string]>(`
      UPDATE message_recipients SET delivered_at = NULL
      WHERE message_id = ? AND recipient_id IN (SELECT value FROM json_each(?)) AND read_at IS NULL`),
    // Reading implies delivery: a message read on another client was delivered there.
    markRead: db.prepare<{ at: string; message: number; recipient: number }>(`
      UPDATE message_recipients
      SET read_at = coalesce(read_at, @at), delivered_at = coalesce(delivered_at, @at)
      WHERE message_id = @message AND recipient_id = @recipient AND deleted_at IS NULL`),
    deleteFromInbox: db.prepare<[string, number, number]>(`
      UPDATE message_recipients SET deleted_at = ?
      WHERE message_id = ? AND recipient_id = ? AND deleted_at IS NULL`),
    unreadCount: db
      .prepare<[number], number>(`
        SELECT count(*) FROM message_recipients
        WHERE recipient_id = ? AND read_at IS NULL AND deleted_at IS NULL`)
      .pluck(),

    // attachments
    insertAttachment: db.prepare<Omit<AttachmentRow, 'id' | 'removed_at'> & { created_at: string }, AttachmentRow>(`
      INSERT INTO attachments (message_id, name, size, sha256, media_type, storage_path, created_at)
      VALUES (@message_id, @name, @size, @sha256, @media_type, @storage_path, @created_at)
      RETURNING ${ATTACHMENT_COLUMNS}`),
    storedAttachments: db.prepare<[], AttachmentRow>(
      `SELECT ${ATTACHMENT_COLUMNS} FROM attachments WHERE storage_path IS NOT NULL ORDER BY id`,
    ),

    attachmentById: db.prepare<[number], AttachmentRow>(`SELECT ${ATTACHMENT_COLUMNS} FROM attachments WHERE id = ?`),
    // A message's attachments that still wait for their bytes.
    missingAttachments: db
      .prepare<[number], number>(`SELECT count(*) FROM attachments WHERE message_id = ? AND storage_path IS NULL`)
      .pluck(),
    commitAttachment: db.prepare<{ id: number; path: string; type: string; at: string }>(`
      UPDATE attachments SET storage_path = @path, media_type = @type, committed_at = @at
      WHERE id = @id AND storage_path IS NULL`),
    releaseAttachments: db.prepare<[number]>(`UPDATE attachments SET storage_path = NULL WHERE message_id = ?`),
    contentReferenced: db
      .prepare<[string], 1>(`SELECT 1 FROM attachments WHERE sha256 = ? AND storage_path IS NOT NULL LIMIT 1`)
      .pluck(),
    // 'sending' messages (schema.sql migration 2): recipients wait in a JSON array until the last upload.
    markSending: db.prepare<[string, string, number]>(
      `UPDATE messages SET state = 'sending', upload_deadline = ?, pending_recipients = ? WHERE id = ?`,
    ),
    sendingMessageById: db.prepare<[number], { id: number; pending_recipients: string }>(
      `SELECT id, pending_recipients FROM messages WHERE id = ? AND state = 'sending'`,
    ),
    holdRecipients: db.prepare<[string, number]>(`UPDATE messages SET pending_recipients = ? WHERE id = ?`),
    releasePendingRecipients: db.prepare<[number]>(`
      INSERT INTO message_recipients (message_id, recipient_id)
      SELECT m.id, j.value FROM messages m, json_each(m.pending_recipients) j WHERE m.id = ?`),
    finishSending: db.prepare<[string, number]>(`
      UPDATE messages SET state = ?, upload_deadline = NULL, pending_recipients = NULL
      WHERE id = ? AND state = 'sending'`),
    pendingRecipientsOf: db.prepare<[string], RecipientRow>(`
      SELECT m.id AS message_id, j.value AS recipient_id, u.username, NULL AS delivered_at, NULL AS read_at
      FROM messages m, json_each(m.pending_recipients) j JOIN users u ON u.id = j.value
      WHERE m.id IN (SELECT value FROM json_each(?)) AND m.pending_recipients IS NOT NULL
      ORDER BY m.id, u.username`),
    overdueSending: db
      .prepare<[string, number], number>(
        `SELECT id FROM messages WHERE state = 'sending' AND upload_deadline < ? ORDER BY upload_deadline, id LIMIT ?`,
      )
      .pluck(),
    messageRecipientRole: db
      .prepare<[number, number], 1>(
        `SELECT 1 FROM message_recipients WHERE message_id = ? AND recipient_id = ? AND deleted_at IS NULL`,
      )
      .pluck(),

    // mail queue
    insertMail: db
      .prepare<[string, string, string, string, string, string], number>(`
        INSERT INTO mail_queue (kind, to_address, subject, sealed_text, created_at, next_attempt_at)
        VALUES (?, ?, ?, ?, ?, ?) RETURNING id`)
      .pluck(),
    dueMail: db.prepare<[string, number], MailRow>(`
      SELECT * FROM mail_queue WHERE sent_at IS NULL AND next_attempt_at <= ?
      ORDER BY next_attempt_at, id LIMIT ?`),
    dueMailAfter: db.prepare<[string, string, string, number, number], MailRow>(`
      SELECT * FROM mail_queue WHERE sent_at IS NULL AND next_attempt_at <= ?
        AND (next_attempt_at > ? OR (next_attempt_at = ? AND id > ?))
      ORDER BY next_attempt_at, id LIMIT ?`),
    // The sealed text holds credentials: once delivered there is no reason to keep it.
    mailSent: db.prepare<[string, number]>(
      `UPDATE mail_queue SET sent_at = ?, sealed_text = '' WHERE id = ? AND sent_at IS NULL`,
    ),
    mailFailed: db.prepare<[string, string, number]>(`
      UPDATE mail_queue SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?
      WHERE id = ? AND sent_at IS NULL`),
    unsentMail: db.prepare<[number, number], MailRow>(
      `SELECT * FROM mail_queue WHERE sent_at IS NULL AND id < ? ORDER BY id DESC LIMIT ?`,
    ),
    allMail: db.prepare<[number, number], MailRow>(`SELECT * FROM mail_queue WHERE id < ? ORDER BY id DESC LIMIT ?`),
    failedMail: db.prepare<[number, number], MailRow>(`
      SELECT * FROM mail_queue WHERE sent_at IS NULL AND last_error IS NOT NULL AND id < ?
      ORDER BY id DESC LIMIT ?`),
    // Retrying only moves the next attempt: attempts count real tries.
    retryOneMail: db.prepare<[string, number]>(
      `UPDATE mail_queue SET next_attempt_at = ? WHERE id = ? AND sent_at IS NULL`,
    ),
    retryAllMail: db.prepare<{ now: string }>(
      `UPDATE mail_queue SET next_attempt_at = @now WHERE sent_at IS NULL AND next_attempt_at > @now`,
    ),
    mailById: db.prepare<[number], MailRow>(`SELECT * FROM mail_queue WHERE id = ?`),

    // audit
    insertAudit: db.prepare<[string, string, number | null, string | null, string | null, string]>(
      `INSERT INTO audit_events (at, kind, actor_id, subject, address, detail) VALUES (?, ?, ?, ?, ?, ?)`,
    ),
  };
}

/** @internal */
export type Statements = ReturnType<typeof prepareStatements>;
