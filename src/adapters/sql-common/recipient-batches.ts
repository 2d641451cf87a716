/**
 * Delivery's narrow reads (MessageStore.getMessageFor, listUndelivered) as both SQL stores run them:
 * the asked recipient ids a batch at a time, and the rows of those batches back into each message's
 * recipients. The statements are each store's own (sqlite/recipient-reads.ts, which says why the
 * reads are narrow, and postgres/recipient-sql.ts).
 */
import { RECIPIENTS_PER_READ, type RecipientState } from '../../core/ports/store/messages.js';
import { groupByMessage, toRecipient, type RecipientRow } from './message-rows.js';

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
