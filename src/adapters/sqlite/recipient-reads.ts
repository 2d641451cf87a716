/**
 * Delivery's narrow reads (MessageStore.getMessageFor, listUndelivered): a message's recipients
 * among a few asked ids, never its whole list. A broadcast to 51,000 has 51,000 recipient rows;
 * the catch-up, the login replay and a node's delivery each push to a few of them and used to read
 * them all (getMessage's recipientsOf), which filled every pooled connection of a cluster with
 * 51,000-row results. These statements name the message ids and the recipient ids both, so the
 * primary key (message_id, recipient_id) finds each row. The PostgreSQL store has their twins in
 * ../postgres/recipient-sql.ts and shares the helpers below.
 */
import type { Database } from 'better-sqlite3';
import { RECIPIENTS_PER_READ, type RecipientState } from '../../core/ports/store/messages.js';
import { groupByMessage, toRecipient, type RecipientRow } from './rows.js';

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

/** The asked ids, distinct, RECIPIENTS_PER_READ at a time (a store query names no more). */
export function recipientBatches(recipientIds: readonly number[]): number[][] {
  const ids = [...new Set(recipientIds)];
  const batches: number[][] = [];
  for (let i = 0; i < ids.length; i += RECIPIENTS_PER_READ) batches.push(ids.slice(i, i + RECIPIENTS_PER_READ));
  return batches;
}

/**
 * Each message's recipients from the rows of one or more batches (each batch's rows ordered by
 * message, then username): grouped by message and, when several batches were read, ordered by
 * username again (bytewise, as both stores order them).
 */
export function recipientsByMessage(batches: RecipientRow[][]): Map<number, RecipientState[]> {
  if (batches.length === 1) return groupByMessage(batches[0]!, toRecipient);
  const byMessage = groupByMessage(batches.flat(), toRecipient);
  for (const list of byMessage.values()) list.sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0));
  return byMessage;
}

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
