/**
 * Delivery's narrow reads (MessageStore.getMessageFor, listUndelivered): a message's recipients
 * among a few asked ids, never its whole list. A broadcast to 51,000 has 51,000 recipient rows;
 * the catch-up, the login replay and a node's delivery each push to a few of them and used to read
 * them all (getMessage's recipientsOf), which filled every pooled connection of a cluster with
 * 51,000-row results. These statements name the message ids and the recipient ids both, so the
 * primary key (message_id, recipient_id) finds each row. The PostgreSQL store has their twins in
 * ../postgres/recipient-sql.ts; the batching both use is ../sql-common/recipient-batches.ts.
 */
import type { Database } from 'better-sqlite3';
import type { RecipientState } from '../../core/ports/store/messages.js';
import type { RecipientRow } from '../sql-common/message-rows.js';
import { recipientBatches, recipientsByMessage } from '../sql-common/recipient-batches.js';

/**
 * @internal (better-sqlite3's Statement type cannot be named from outside its module.)
 *
 * Both take a JSON array of message ids and a JSON array of recipient ids.
 */
export function prepareRecipientReads(db: Database) {
  return {
    // What recipientsOf reads (rows.ts), for the asked recipients only.
    recipientsAmong: db.prepare<[string, string], RecipientRow>(`
      SELECT r.message_id, r.recipient_id, u.username, r.delivered_at, r.read_at, rt.via
      FROM message_recipients r JOIN users u ON u.id = r.recipient_id
      LEFT JOIN message_routes rt ON rt.message_id = r.message_id AND rt.recipient_id = r.recipient_id
      WHERE r.message_id IN (SELECT value FROM json_each(?)) AND r.recipient_id IN (SELECT value FROM json_each(?))
      ORDER BY r.message_id, u.username`),
    // What pendingRecipientsOf reads (a 'sending' or scheduled message's recipients, kept aside), for the asked ones only.
    pendingRecipientsAmong: db.prepare<[string, string], RecipientRow>(`
      SELECT m.id AS message_id, j.value AS recipient_id, u.username, NULL AS delivered_at, NULL AS read_at
      FROM messages m, json_each(m.pending_recipients) j JOIN users u ON u.id = j.value
      WHERE m.id IN (SELECT value FROM json_each(?)) AND m.pending_recipients IS NOT NULL
        AND j.value IN (SELECT value FROM json_each(?))
      ORDER BY m.id, u.username`),
  };
}

export type RecipientReads = ReturnType<typeof prepareRecipientReads>;

/** The SQLite store's reads: the recipients of these messages among the asked ids (`held`: some of the messages keep theirs aside). */
export function readRecipientsAmong(
  sql: RecipientReads, messageIds: readonly number[], recipientIds: readonly number[], held: boolean,
): Map<number, RecipientState[]> {
  const messages = JSON.stringify(messageIds);
  const batches = recipientBatches(recipientIds).map((b) => JSON.stringify(b));
  const recipients = recipientsByMessage(batches.map((b) => sql.recipientsAmong.all(messages, b)));
  if (held) {
    // A 'sending' or scheduled message has no recipient rows yet: its pending recipients stand in for them.
    for (const [id, list] of recipientsByMessage(batches.map((b) => sql.pendingRecipientsAmong.all(messages, b)))) recipients.set(id, list);
  }
  return recipients;
}
