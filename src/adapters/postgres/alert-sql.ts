/**
 * The SQL of alerts (issue 21, src/core/ports/store/alerts.ts) for the PostgreSQL store: the alert row of a
 * message and its recipients' acknowledgements (schema.postgres.sql migration 3). Rows come back
 * in the shapes both stores share (../sql-common/alert-rows.ts), which map them.
 */
import type { QueryResultRow } from 'pg';
import { ALERT_COLUMNS, OPEN_ACKS_SQL, type AckRow, type AlertRow, type ReleaseRow } from '../sql-common/alert-rows.js';
import { sql, statements, type Queryable } from './connection.js';
import { toAlert } from '../sql-common/alert-rows.js';
import type { RecallOutcome, RecallRequest } from '../../core/ports/store/alerts.js';

type Row<T> = T & QueryResultRow;

export const A = statements('siar.alerts', {
  insertAlert: sql<[number, string, boolean, number | null, number, number, string | null, string | null, string | null, number | null, string | null, number | null, string | null], Row<AlertRow>>(`
    INSERT INTO message_alerts (message_id, priority, ack_requested, remind_every_s, remind_max, reminders, next_remind_at, expires_at, deliver_at, replaces_id, release_due_at,
      replace_recall_by, replace_recall_reason)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
    RETURNING ${ALERT_COLUMNS}`),
  messageExists: sql<[number], Row<{ id: number }>>(`SELECT id FROM messages WHERE id = $1`),
  // A scheduled message is inserted as a 'sending' one is (recipients aside), then is 'sent' but held.
  holdMessage: sql<[number]>(`UPDATE messages SET state = 'sent', upload_deadline = NULL WHERE id = $1`),
  // Due jobs (DueJobStore): a claim moves the due time to the lease's end and names the owner, in one
  // statement; rows another node is claiming at that instant are skipped, not waited for.
  claimReleases: sql<[string, string, string, number], Row<{ message_id: number }>>(`
    UPDATE message_alerts a SET release_due_at = $3, lease_owner = $2
    FROM (SELECT x.message_id FROM message_alerts x JOIN messages m ON m.id = x.message_id
      WHERE x.release_due_at <= $1 AND m.state = 'sent' ORDER BY x.release_due_at LIMIT $4 FOR UPDATE OF x SKIP LOCKED) d
    WHERE a.message_id = d.message_id AND a.release_due_at <= $1
    RETURNING a.message_id`),
  claimReminders: sql<[string, string, string, number], Row<{ message_id: number }>>(`
    UPDATE message_alerts a SET next_remind_at = $3, lease_owner = $2
    FROM (SELECT message_id FROM message_alerts WHERE next_remind_at <= $1 ORDER BY next_remind_at LIMIT $4 FOR UPDATE SKIP LOCKED) d
    WHERE a.message_id = d.message_id AND a.next_remind_at <= $1
    RETURNING a.message_id`),
  // Returns the recall a correction kept for its release (recallOnRelease), then done with (replaceRecalled).
  release: sql<[number, string, string], Row<ReleaseRow>>(`
    UPDATE message_alerts SET release_due_at = NULL, lease_owner = NULL,
      next_remind_at = CASE WHEN remind_every_s > 0 AND remind_max > 0 THEN $3::timestamptz + remind_every_s * interval '1 second' END
    WHERE message_id = $1 AND lease_owner = $2 AND release_due_at IS NOT NULL AND recalled_at IS NULL
    RETURNING message_id, replaces_id, replace_recall_by, replace_recall_reason`),
  replaceRecalled: sql<[number]>(`UPDATE message_alerts SET replace_recall_by = NULL, replace_recall_reason = NULL WHERE message_id = $1`),
  // A scheduled message whose last attachment came in: held until its time, or out now if that has
  // passed (a correction is always held: the runner's release recalls what it replaces).
  heldSchedule: sql<[number, string], Row<{ due: boolean; recalled: boolean; replacing: boolean }>>(`
    SELECT deliver_at <= $2::timestamptz AS due, recalled_at IS NOT NULL AS recalled, replace_recall_reason IS NOT NULL AS replacing
    FROM message_alerts WHERE message_id = $1 AND deliver_at IS NOT NULL`),
  releaseNow: sql<[number, string]>(`
    UPDATE message_alerts SET release_due_at = NULL, lease_owner = NULL,
      next_remind_at = CASE WHEN remind_every_s > 0 AND remind_max > 0 THEN $2::timestamptz + remind_every_s * interval '1 second' END
    WHERE message_id = $1`),
  // An upload that expired or was cancelled: nothing is left to release.
  dropRelease: sql<[number]>(`
    UPDATE message_alerts SET release_due_at = NULL, lease_owner = NULL, replace_recall_by = NULL, replace_recall_reason = NULL
    WHERE message_id = $1`),
  releaseMessage: sql<[string, number]>(`UPDATE messages SET pending_recipients = NULL, sent_at = $1 WHERE id = $2`),
  autoReminder: sql<[number, string, string], Row<{ reminders: number }>>(`
    UPDATE message_alerts SET reminders = reminders + 1, auto_reminders = auto_reminders + 1, lease_owner = NULL,
      next_remind_at = CASE WHEN auto_reminders + 1 < remind_max THEN $3::timestamptz END
    WHERE message_id = $1 AND lease_owner = $2 AND next_remind_at IS NOT NULL AND recalled_at IS NULL
    RETURNING reminders`),
  finishReminders: sql<[number, string]>(`
    UPDATE message_alerts SET next_remind_at = NULL, lease_owner = NULL WHERE message_id = $1 AND lease_owner = $2`),
  heldRecipients: sql<[number], Row<{ recipient_id: number }>>(`
    SELECT p.id AS recipient_id FROM messages m CROSS JOIN LATERAL unnest(m.pending_recipients) AS p(id) WHERE m.id = $1 AND m.state IN ('sent', 'sending')`),
  countReminder: sql<[number], Row<{ reminders: number }>>(`UPDATE message_alerts SET reminders = reminders + 1 WHERE message_id = $1 RETURNING reminders`),
  notAcknowledged: sql<[number], Row<{ recipient_id: number; delivered: boolean }>>(`
    SELECT r.recipient_id, r.delivered_at IS NOT NULL AS delivered FROM message_recipients r
    WHERE r.message_id = $1 AND r.deleted_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM message_acks k WHERE k.message_id = r.message_id AND k.recipient_id = r.recipient_id)
    ORDER BY r.recipient_id`),
  // A page of them, with their routes (AlertStore.unacknowledgedRecipients): by the primary key from $2.
  unacknowledged: sql<[number, number, number], Row<{ recipient_id: number; via: string | null }>>(`
    SELECT r.recipient_id, rt.via FROM message_recipients r
    LEFT JOIN message_routes rt ON rt.message_id = r.message_id AND rt.recipient_id = r.recipient_id
    WHERE r.message_id = $1 AND r.recipient_id > $2 AND r.deleted_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM message_acks k WHERE k.message_id = r.message_id AND k.recipient_id = r.recipient_id)
    ORDER BY r.recipient_id LIMIT $3`),
  oweReminders: sql<[number, number[], number]>(`
    INSERT INTO message_reminders_due (message_id, recipient_id, reminder) SELECT $1, unnest($2::bigint[]), $3
    ON CONFLICT (recipient_id, message_id) DO UPDATE SET reminder = excluded.reminder`),
  takeReminders: sql<[number, number], Row<{ message_id: number; reminder: number }>>(`
    DELETE FROM message_reminders_due WHERE recipient_id = $1 AND message_id IN (
      SELECT message_id FROM message_reminders_due WHERE recipient_id = $1 ORDER BY message_id LIMIT $2 FOR UPDATE)
    RETURNING message_id, reminder`),
  alertOf: sql<[number], Row<AlertRow>>(`SELECT ${ALERT_COLUMNS} FROM message_alerts WHERE message_id = $1`),
  // The message row is locked so two recalls of it take turns; a message recalled before keeps its first recall.
  lockMessage: sql<[number], Row<{ id: number }>>(`SELECT id FROM messages WHERE id = $1 FOR UPDATE`),
  // Scheduled messages about to be released, and the messages their corrections replace, locked in id order.
  lockReleasing: sql<[number[]], Row<{ id: number }>>(`
    SELECT id FROM messages WHERE id IN (
      SELECT unnest($1::bigint[])
      UNION SELECT replaces_id FROM message_alerts
        WHERE message_id = ANY($1::bigint[]) AND replaces_id IS NOT NULL AND replace_recall_reason IS NOT NULL)
    ORDER BY id FOR UPDATE`),
  // A scheduled correction recalled before its time never goes out: the recall it kept for its release is dropped with it.
  recall: sql<[number, string, string, number, number | null]>(`
    INSERT INTO message_alerts (message_id, recalled_at, recall_reason, recalled_by, replaced_by)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (message_id) DO UPDATE SET recalled_at = excluded.recalled_at, recall_reason = excluded.recall_reason,
      recalled_by = excluded.recalled_by, replaced_by = excluded.replaced_by, next_remind_at = NULL, release_due_at = NULL,
      replace_recall_by = NULL, replace_recall_reason = NULL
    WHERE message_alerts.recalled_at IS NULL`),
  closeUndelivered: sql<[string, number], Row<{ recipient_id: number }>>(`
    UPDATE message_recipients SET deleted_at = $1
    WHERE message_id = $2 AND delivered_at IS NULL AND deleted_at IS NULL RETURNING recipient_id`),
  deliveredTo: sql<[number], Row<{ recipient_id: number }>>(`
    SELECT recipient_id FROM message_recipients WHERE message_id = $1 AND delivered_at IS NOT NULL AND deleted_at IS NULL`),
  alertsOf: sql<[number[]], Row<AlertRow>>(`SELECT ${ALERT_COLUMNS} FROM message_alerts WHERE message_id = ANY($1)`),
  acksOf: sql<[number[]], Row<AckRow>>(`SELECT message_id, recipient_id, acked_at FROM message_acks WHERE message_id = ANY($1)`),
  // The first acknowledgement wins; a second one returns nothing and reads the first.
  insertAck: sql<[number, number, string], Row<{ acked_at: string }>>(`
    INSERT INTO message_acks (message_id, recipient_id, acked_at) VALUES ($1, $2, $3)
    ON CONFLICT (message_id, recipient_id) DO NOTHING RETURNING acked_at`),
  ackOf: sql<[number, number], Row<{ acked_at: string }>>(`SELECT acked_at FROM message_acks WHERE message_id = $1 AND recipient_id = $2`),
  openAcks: sql<[string, number], Row<{ pending: number; messages: number }>>(OPEN_ACKS_SQL.replace(/\$now/g, '$1::timestamptz').replace('$limit', '$2')),
  // The expired-attachment sweep's atomic claim: rows another node's sweep holds are skipped, and a
  // message swept meanwhile is not claimed again (content_swept_at is checked after the lock).
  claimExpired: sql<[string, string, number], Row<{ message_id: number; sender_id: number }>>(`
    UPDATE message_alerts a SET content_swept_at = $2 FROM messages m
    WHERE m.id = a.message_id AND a.content_swept_at IS NULL AND a.message_id IN (
      SELECT x.message_id FROM message_alerts x JOIN messages y ON y.id = x.message_id
      WHERE x.expires_at IS NOT NULL AND x.expires_at < $1 AND x.content_swept_at IS NULL AND y.state <> 'sending'
      ORDER BY x.expires_at LIMIT $3 FOR UPDATE OF x SKIP LOCKED)
    RETURNING a.message_id, m.sender_id`),
  removeAttachments: sql<[string, number[]], Row<{ id: number; message_id: number; sha256: string; size: number }>>(`
    UPDATE attachments SET removed_at = $1, storage_path = NULL
    WHERE message_id = ANY($2::bigint[]) AND storage_path IS NOT NULL AND removed_at IS NULL
    RETURNING id, message_id, sha256, size`),
});

/** Recalls a message inside the caller's transaction (PostgresStore.recallMessage, and SEND replaces=). */
export async function recallIn(tx: Queryable, r: RecallRequest & { replacedBy?: number }, at: string): Promise<RecallOutcome | null> {
  if (!(await A.lockMessage.get(tx, r.messageId))) return null;
  // A scheduled message not out yet: its recipients (kept aside) never get it.
  const held = (await A.heldRecipients.all(tx, r.messageId)).map((x) => x.recipient_id);
  const changed = (await A.recall.run(tx, r.messageId, at, r.reason, r.byUserId, r.replacedBy ?? null)) > 0;
  const undelivered = changed ? [...held, ...(await A.closeUndelivered.all(tx, at, r.messageId)).map((x) => x.recipient_id)] : [];
  const delivered = changed ? (await A.deliveredTo.all(tx, r.messageId)).map((x) => x.recipient_id) : [];
  return { alert: toAlert((await A.alertOf.get(tx, r.messageId))!), changed, undelivered, delivered };
}
