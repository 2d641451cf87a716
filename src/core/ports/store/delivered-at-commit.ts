import type { AlertStore } from './alerts.js';
import type { MessageStore } from './messages.js';

/** What stores messages: a store, or the view DeliveredAtCommit gives of one. */
export type MessageWriter = Pick<MessageStore, 'storeMessage'> & Pick<AlertStore, 'storeAlertedMessage'>;

/**
 * A capability of a store, not part of its contract (SQLite and PostgreSQL have it; index.ts makes
 * it optional): `deliveredAtCommit(pushed)` is a writer whose messages record the recipients for
 * whom `pushed` answers true delivered in the storing transaction, because the caller pushes their
 * popups right after the commit: one write per message is saved. Whoever pushes takes the mark back
 * (markUndelivered) for a recipient whose push then fails. A message with attachments ignores it
 * (its recipient rows are written when the last upload completes). `pushed` runs inside the
 * transaction, so it must only read memory (which connections this process holds).
 */
export interface DeliveredAtCommit {
  deliveredAtCommit(pushed: (recipientId: number) => boolean): MessageWriter;
}
