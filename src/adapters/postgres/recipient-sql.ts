/**
 * Delivery's narrow reads for the PostgreSQL store (MessageStore.getMessageFor, listUndelivered):
 * a message's recipients among a few asked ids, never its whole list (../sqlite/recipient-reads.ts
 * says why; ../sql-common/recipient-batches.ts holds the helpers both stores share). Both
 * statements name the message ids and the recipient ids as arrays, so the primary key
 * (message_id, recipient_id) finds each row.
 */
import type { QueryResultRow } from 'pg';
import type { RecipientState } from '../../core/ports/store/messages.js';
import type { RecipientRow } from '../sql-common/message-rows.js';
import { recipientBatches, recipientsByMessage } from '../sql-common/recipient-batches.js';
import { sql, statements, type Queryable } from './connection.js';

type Row<T> = T & QueryResultRow;

export const RR = statements('siar.recipients', {
  // What recipientsOf reads (sql.ts), for the asked recipients only.
  recipientsAmong: sql<[number[], number[]], Row<RecipientRow>>(`
    SELECT r.message_id, r.recipient_id, u.username, r.delivered_at, r.read_at, rt.via
    FROM message_recipients r JOIN users u ON u.id = r.recipient_id
    LEFT JOIN message_routes rt ON rt.message_id = r.message_id AND rt.recipient_id = r.recipient_id
    WHERE r.message_id = ANY($1::bigint[]) AND r.recipient_id = ANY($2::bigint[])
    ORDER BY r.message_id, u.username`),
  // What pendingRecipientsOf reads (a 'sending' or scheduled message's recipients, kept aside), for the asked ones only.
  pendingRecipientsAmong: sql<[number[], number[]], Row<RecipientRow>>(`
    SELECT m.id AS message_id, p.id AS recipient_id, u.username, NULL::timestamptz AS delivered_at, NULL::timestamptz AS read_at
    FROM messages m CROSS JOIN LATERAL unnest(m.pending_recipients) AS p(id) JOIN users u ON u.id = p.id
    WHERE m.id = ANY($1::bigint[]) AND m.pending_recipients IS NOT NULL AND p.id = ANY($2::bigint[])
    ORDER BY m.id, u.username`),
});

/** The recipients of these messages among the asked ids, RECIPIENTS_PER_READ ids a query (`held`: some of the messages keep theirs aside). */
export async function readRecipientsAmong(
  db: Queryable, messageIds: readonly number[], recipientIds: readonly number[], held: boolean,
): Promise<Map<number, RecipientState[]>> {
  const messages = [...messageIds];
  const batches = recipientBatches(recipientIds);
  const rows: RecipientRow[][] = [];
  for (const b of batches) rows.push(await RR.recipientsAmong.all(db, messages, b));
  const recipients = recipientsByMessage(rows);
  if (held) {
    const pending: RecipientRow[][] = [];
    for (const b of batches) pending.push(await RR.pendingRecipientsAmong.all(db, messages, b));
    for (const [id, list] of recipientsByMessage(pending)) recipients.set(id, list);
  }
  return recipients;
}
