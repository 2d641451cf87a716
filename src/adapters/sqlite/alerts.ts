/**
 * The SQL of alerts (issue 21, src/core/ports/store/alerts.ts) for SqliteStore: the alert row of a message and
 * its recipients' acknowledgements (schema.sql migration 6). The row shapes and their mapping,
 * which the PostgreSQL store shares, are in ../sql-common/alert-rows.ts.
 */
import type { Database } from 'better-sqlite3';
import type { RecallOutcome, RecallRequest } from '../../core/ports/store/alerts.js';
import { ALERT_COLUMNS, OPEN_ACKS_SQL, toAlert, type AckRow, type AlertRow, type ReleaseRow } from '../sql-common/alert-rows.js';

/** @internal (not in the published declarations: better-sqlite3's Statement type cannot be named; see rows.ts) */
export function prepareAlertStatements(db: Database) {
  return {
    insertAlert: db.prepare<AlertRow>(`
      INSERT INTO message_alerts (${ALERT_COLUMNS})
      VALUES (@message_id, @priority, @ack_requested, @remind_every_s, @remind_max, @reminders, @next_remind_at,
        @expires_at, @deliver_at, @recalled_at, @recall_reason, @recalled_by, @replaces_id, @replaced_by,
        @auto_reminders, @release_due_at, @lease_owner, @replace_recall_by, @replace_recall_reason)`),
    alertsOf: db.prepare<[string], AlertRow>(
      `SELECT ${ALERT_COLUMNS} FROM message_alerts WHERE message_id IN (SELECT value FROM json_each(?))`,
    ),
    acksOf: db.prepare<[string], AckRow>(
      `SELECT message_id, recipient_id, acked_at FROM message_acks WHERE message_id IN (SELECT value FROM json_each(?))`,
    ),
    ackOf: db.prepare<[number, number], string>(`SELECT acked_at FROM message_acks WHERE message_id = ? AND recipient_id = ?`).pluck(),
    insertAck: db.prepare<[number, number, string]>(`INSERT INTO message_acks (message_id, recipient_id, acked_at) VALUES (?, ?, ?)`),
    countReminder: db.prepare<[number], number>(`UPDATE message_alerts SET reminders = reminders + 1 WHERE message_id = ? RETURNING reminders`).pluck(),
    notAcknowledged: db.prepare<[number], { recipient_id: number; delivered: number }>(`
      SELECT r.recipient_id, r.delivered_at IS NOT NULL AS delivered FROM message_recipients r
      WHERE r.message_id = ? AND r.deleted_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM message_acks k WHERE k.message_id = r.message_id AND k.recipient_id = r.recipient_id)
      ORDER BY r.recipient_id`),
    // A page of them, with their routes (AlertStore.unacknowledgedRecipients): by the primary key from `after`.
    unacknowledged: db.prepare<{ id: number; after: number; limit: number }, { recipient_id: number; via: string | null }>(`
      SELECT r.recipient_id, rt.via FROM message_recipients r
      LEFT JOIN message_routes rt ON rt.message_id = r.message_id AND rt.recipient_id = r.recipient_id
      WHERE r.message_id = @id AND r.recipient_id > @after AND r.deleted_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM message_acks k WHERE k.message_id = r.message_id AND k.recipient_id = r.recipient_id)
      ORDER BY r.recipient_id LIMIT @limit`),
    oweReminder: db.prepare<[number, number, number]>(`
      INSERT INTO message_reminders_due (message_id, recipient_id, reminder) VALUES (?, ?, ?)
      ON CONFLICT (recipient_id, message_id) DO UPDATE SET reminder = excluded.reminder`),
    dueReminders: db.prepare<[number, number], { message_id: number; reminder: number }>(
      `SELECT message_id, reminder FROM message_reminders_due WHERE recipient_id = ? ORDER BY message_id LIMIT ?`,
    ),
    dropReminder: db.prepare<[number, number]>(`DELETE FROM message_reminders_due WHERE recipient_id = ? AND message_id = ?`),
    alertOf: db.prepare<[number], AlertRow>(`SELECT ${ALERT_COLUMNS} FROM message_alerts WHERE message_id = ?`),
    messageExists: db.prepare<[number], number>(`SELECT id FROM messages WHERE id = ?`).pluck(),
    // A message recalled before keeps its first recall (no change). A scheduled correction recalled
    // before its time never goes out: the recall it kept for its release is dropped with it.
    recall: db.prepare<{ id: number; at: string; reason: string; by: number; replacedBy: number | null }>(`
      INSERT INTO message_alerts (message_id, recalled_at, recall_reason, recalled_by, replaced_by)
      VALUES (@id, @at, @reason, @by, @replacedBy)
      ON CONFLICT (message_id) DO UPDATE SET recalled_at = excluded.recalled_at, recall_reason = excluded.recall_reason,
        recalled_by = excluded.recalled_by, replaced_by = excluded.replaced_by, next_remind_at = NULL, release_due_at = NULL,
        replace_recall_by = NULL, replace_recall_reason = NULL
      WHERE message_alerts.recalled_at IS NULL`),
    // Due jobs (DueJobStore): a claim moves the due time to the lease's end and names the owner, in one statement.
    claimReleases: db.prepare<{ now: string; owner: string; lease: string; limit: number }, number>(`
      UPDATE message_alerts SET release_due_at = @lease, lease_owner = @owner
      WHERE release_due_at <= @now AND message_id IN (
        SELECT a.message_id FROM message_alerts a JOIN messages m ON m.id = a.message_id
        WHERE a.release_due_at <= @now AND m.state = 'sent' ORDER BY a.release_due_at LIMIT @limit)
      RETURNING message_id`).pluck(),
    claimReminders: db.prepare<{ now: string; owner: string; lease: string; limit: number }, number>(`
      UPDATE message_alerts SET next_remind_at = @lease, lease_owner = @owner
      WHERE next_remind_at <= @now AND message_id IN (
        SELECT message_id FROM message_alerts WHERE next_remind_at <= @now ORDER BY next_remind_at LIMIT @limit)
      RETURNING message_id`).pluck(),
    // Returns the recall a correction kept for its release (recallOnRelease), then done with (replaceRecalled).
    release: db.prepare<{ id: number; owner: string; at: string }, ReleaseRow>(`
      UPDATE message_alerts SET release_due_at = NULL, lease_owner = NULL,
        next_remind_at = CASE WHEN remind_every_s > 0 AND remind_max > 0
          THEN strftime('%Y-%m-%dT%H:%M:%fZ', @at, '+' || remind_every_s || ' seconds') END
      WHERE message_id = @id AND lease_owner = @owner AND release_due_at IS NOT NULL AND recalled_at IS NULL
      RETURNING message_id, replaces_id, replace_recall_by, replace_recall_reason`),
    replaceRecalled: db.prepare<[number]>(`
      UPDATE message_alerts SET replace_recall_by = NULL, replace_recall_reason = NULL WHERE message_id = ?`),
    // A scheduled message whose last attachment came in: held until its time, or out now if that has
    // passed (a correction is always held: the runner's release recalls what it replaces).
    heldSchedule: db.prepare<[string, number], { due: number; recalled: number; replacing: number }>(`
      SELECT deliver_at <= ? AS due, recalled_at IS NOT NULL AS recalled, replace_recall_reason IS NOT NULL AS replacing
      FROM message_alerts WHERE message_id = ? AND deliver_at IS NOT NULL`),
    holdUploaded: db.prepare<[number]>(`UPDATE messages SET state = 'sent', upload_deadline = NULL WHERE id = ? AND state = 'sending'`),
    releaseNow: db.prepare<{ id: number; at: string }>(`
      UPDATE message_alerts SET release_due_at = NULL, lease_owner = NULL,
        next_remind_at = CASE WHEN remind_every_s > 0 AND remind_max > 0
          THEN strftime('%Y-%m-%dT%H:%M:%fZ', @at, '+' || remind_every_s || ' seconds') END
      WHERE message_id = @id`),
    // An upload that expired or was cancelled: nothing is left to release.
    dropRelease: db.prepare<[number]>(`
      UPDATE message_alerts SET release_due_at = NULL, lease_owner = NULL, replace_recall_by = NULL, replace_recall_reason = NULL
      WHERE message_id = ?`),
    releaseMessage: db.prepare<[string, number]>(`UPDATE messages SET pending_recipients = NULL, sent_at = ? WHERE id = ?`),
    autoReminder: db.prepare<{ id: number; owner: string; next: string }, number>(`
      UPDATE message_alerts SET reminders = reminders + 1, auto_reminders = auto_reminders + 1, lease_owner = NULL,
        next_remind_at = CASE WHEN auto_reminders + 1 < remind_max THEN @next END
      WHERE message_id = @id AND lease_owner = @owner AND next_remind_at IS NOT NULL AND recalled_at IS NULL
      RETURNING reminders`).pluck(),
    finishReminders: db.prepare<[number, string]>(`
      UPDATE message_alerts SET next_remind_at = NULL, lease_owner = NULL WHERE message_id = ? AND lease_owner = ?`),
    heldRecipients: db.prepare<[number], number>(`
      SELECT j.value FROM messages m, json_each(m.pending_recipients) j WHERE m.id = ? AND m.state IN ('sent', 'sending')`).pluck(),
    closeUndelivered: db.prepare<[string, number], number>(`
      UPDATE message_recipients SET deleted_at = ?
      WHERE message_id = ? AND delivered_at IS NULL AND deleted_at IS NULL RETURNING recipient_id`).pluck(),
    deliveredTo: db.prepare<[number], number>(`
      SELECT recipient_id FROM message_recipients WHERE message_id = ? AND delivered_at IS NOT NULL AND deleted_at IS NULL`).pluck(),
    openAcks: db.prepare<{ now: string; limit: number }, { pending: number; messages: number }>(OPEN_ACKS_SQL.replace(/\$now/g, '@now').replace('$limit', '@limit')),
    // The expired-attachment sweep (claimExpiredAttachments): messages still waiting for their
    // attachments are left to their upload deadline.
    expiredToSweep: db.prepare<[string, number], { message_id: number; sender_id: number }>(`
      SELECT a.message_id, m.sender_id FROM message_alerts a JOIN messages m ON m.id = a.message_id
      WHERE a.expires_at IS NOT NULL AND a.expires_at < ? AND a.content_swept_at IS NULL AND m.state <> 'sending'
      ORDER BY a.expires_at LIMIT ?`),
    markSwept: db.prepare<[string, number]>(`UPDATE message_alerts SET content_swept_at = ? WHERE message_id = ? AND content_swept_at IS NULL`),
    removeAttachments: db.prepare<[string, number], { id: number; message_id: number; sha256: string; size: number }>(`
      UPDATE attachments SET removed_at = ?, storage_path = NULL
      WHERE message_id = ? AND storage_path IS NOT NULL AND removed_at IS NULL
      RETURNING id, message_id, sha256, size`),
  };
}

/** @internal */
export type AlertStatements = ReturnType<typeof prepareAlertStatements>;

/** Recalls a message inside the caller's transaction (SqliteStore.recallMessage, and SEND replaces=). */
export function recallIn(q: AlertStatements, r: RecallRequest & { replacedBy?: number }, at: string): RecallOutcome | null {
  if (q.messageExists.get(r.messageId) === undefined) return null;
  // A scheduled message not out yet: its recipients (kept aside) never get it.
  const held = q.heldRecipients.all(r.messageId);
  const changed = q.recall.run({ id: r.messageId, at, reason: r.reason, by: r.byUserId, replacedBy: r.replacedBy ?? null }).changes > 0;
  const undelivered = changed ? [...held, ...q.closeUndelivered.all(at, r.messageId)] : [];
  return { alert: toAlert(q.alertOf.get(r.messageId)!), changed, undelivered, delivered: changed ? q.deliveredTo.all(r.messageId) : [] };
}
