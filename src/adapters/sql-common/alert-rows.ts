/**
 * Alerts (issue 21, src/core/ports/store/alerts.ts) as both SQL stores keep them: the alert row of
 * a message and its recipients' acknowledgements (schema.sql migration 6, schema.postgres.sql
 * migration 3), in the shape both engines return them, their mapping to records, what a new
 * message's row holds, and the open-acknowledgements query both engines run (each binding $now and
 * $limit its own way).
 */
import type { MessageAlert, NewAlert, Priority, RecallRequest } from '../../core/ports/store/alerts.js';
import { RECIPIENTS_PER_READ } from '../../core/ports/store/messages.js';

export interface AlertRow {
  message_id: number;
  priority: Priority;
  ack_requested: number | boolean;
  remind_every_s: number | null;
  remind_max: number;
  reminders: number;
  next_remind_at: string | null;
  expires_at: string | null;
  deliver_at: string | null;
  recalled_at: string | null;
  recall_reason: string | null;
  recalled_by: number | null;
  replaces_id: number | null;
  replaced_by: number | null;
  auto_reminders: number;
  release_due_at: string | null;
  lease_owner: string | null;
  /** A correction's recall of replaces_id, waiting for it to go out (migration 10: its release, or its last upload): who, and why. */
  replace_recall_by: number | null;
  replace_recall_reason: string | null;
}

/** What releasing a scheduled message returns: the recall it kept for its release, if any. */
export type ReleaseRow = Pick<AlertRow, 'message_id' | 'replaces_id' | 'replace_recall_by' | 'replace_recall_reason'>;

export interface AckRow {
  message_id: number;
  recipient_id: number;
  acked_at: string;
}

export const ALERT_COLUMNS = `message_id, priority, ack_requested, remind_every_s, remind_max, reminders, next_remind_at,
  expires_at, deliver_at, recalled_at, recall_reason, recalled_by, replaces_id, replaced_by, auto_reminders, release_due_at, lease_owner,
  replace_recall_by, replace_recall_reason`;

export function toAlert(r: AlertRow): MessageAlert {
  return {
    messageId: r.message_id, priority: r.priority, ack: r.ack_requested === true || r.ack_requested === 1,
    remindEverySeconds: r.remind_every_s, remindMax: r.remind_max, reminders: r.reminders, autoReminders: r.auto_reminders,
    nextRemindAt: r.next_remind_at, expiresAt: r.expires_at, deliverAt: r.deliver_at, scheduled: r.release_due_at !== null, recalledAt: r.recalled_at, recallReason: r.recall_reason,
    recalledBy: r.recalled_by, replacesId: r.replaces_id, replacedBy: r.replaced_by, replacesOnRelease: r.replace_recall_reason !== null,
  };
}

/**
 * The alert row a new message gets: the first automatic reminder is due one period after it went
 * out (a scheduled message's, one period after its release: releaseScheduled sets it).
 */
export function newAlertRow(messageId: number, a: NewAlert, storedAt: string): AlertRow {
  const every = a.remindEverySeconds ?? null;
  const deliverAt = a.deliverAt ?? null;
  return {
    message_id: messageId, priority: a.priority, ack_requested: a.ack ? 1 : 0, remind_every_s: every, remind_max: every ? a.remindMax ?? 8 : 0,
    reminders: 0, next_remind_at: every && !deliverAt ? nextReminder(storedAt, every) : null,
    expires_at: a.expiresAt ?? null, deliver_at: deliverAt, recalled_at: null, recall_reason: null, recalled_by: null,
    replaces_id: null, replaced_by: null, auto_reminders: 0, release_due_at: deliverAt, lease_owner: null,
    replace_recall_by: null, replace_recall_reason: null,
  };
}

/**
 * What `replaces` does to a new message's alert row once the replaced message is known to exist:
 * it points at it, and one that does not go out now (`later`: scheduled, or waiting for its
 * attachments) keeps the recall for when it does (releaseScheduled, or the last upload's commit).
 */
export function replacing(row: AlertRow, replaces: RecallRequest, later: boolean): void {
  row.replaces_id = replaces.messageId;
  if (!later) return;
  row.replace_recall_by = replaces.byUserId;
  row.replace_recall_reason = replaces.reason;
}

/** The recall a correction makes as it goes out (its alert row as the release or last upload left it); null when it has none waiting. */
export function recallOnRelease(row: ReleaseRow): (RecallRequest & { replacedBy: number }) | null {
  if (row.replaces_id === null || row.replace_recall_reason === null || row.replace_recall_by === null) return null;
  return { messageId: row.replaces_id, byUserId: row.replace_recall_by, reason: row.replace_recall_reason, replacedBy: row.message_id };
}

/** One period after `from` (ISO 8601 UTC). */
export function nextReminder(from: string, everySeconds: number): string {
  return new Date(Date.parse(from) + everySeconds * 1000).toISOString();
}

/** The rows one page of unacknowledgedRecipients reads (both stores): `limit`, at most RECIPIENTS_PER_READ, none for a limit below 1. */
export function unacknowledgedPageSize(limit: number): number {
  return Number.isFinite(limit) && limit >= 1 ? Math.min(Math.floor(limit), RECIPIENTS_PER_READ) : 0;
}

/** Groups acknowledgement rows: message id → recipient id → when. */
export function groupAcks(rows: readonly AckRow[]): Map<number, Map<number, string>> {
  const out = new Map<number, Map<number, string>>();
  for (const r of rows) {
    let m = out.get(r.message_id);
    if (!m) out.set(r.message_id, (m = new Map()));
    m.set(r.recipient_id, r.acked_at);
  }
  return out;
}

/**
 * Open acknowledgements (AlertStore.openAcknowledgements), in both engines' SQL ($now, $limit):
 * over the newest open messages asking for one, recipients holding it who have not acknowledged.
 */
export const OPEN_ACKS_SQL = `
  SELECT count(*) AS pending, count(DISTINCT r.message_id) AS messages
  FROM (SELECT message_id FROM message_alerts
        WHERE ack_requested = TRUE AND recalled_at IS NULL
          AND (expires_at IS NULL OR expires_at > $now) AND (deliver_at IS NULL OR deliver_at <= $now)
        ORDER BY message_id DESC LIMIT $limit) o
  JOIN message_recipients r ON r.message_id = o.message_id AND r.deleted_at IS NULL
  WHERE NOT EXISTS (SELECT 1 FROM message_acks k WHERE k.message_id = r.message_id AND k.recipient_id = r.recipient_id)`;

