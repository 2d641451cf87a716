/**
 * What the store keeps for alerts (issue 21, docs/PROTOCOL.md §Alerts): a message's priority,
 * acknowledgement request, reminders, expiry, scheduled delivery and recall live in one row per
 * message that has any of them (schema.sql migration 6), and each recipient's acknowledgement in
 * a row of its own. A message without those options has no alert row and costs nothing more.
 */
import type { Message, NewMessage } from './messages.js';
import type { MessageAlert, Priority, RecallOutcome } from './alert-records.js';

export type { MessageAlert, Priority, RecallOutcome } from './alert-records.js';

/** The alert options of a message, as SEND gives them. */
export interface NewAlert {
  priority: Priority;
  ack: boolean;
  /** Automatic reminders every this many seconds (null: none), at most remindMax of them. */
  remindEverySeconds?: number | null;
  remindMax?: number;
  /** ISO 8601 UTC; null: never. */
  expiresAt?: string | null;
  /** Scheduled delivery (ISO 8601 UTC, in the future); null: now. Its recipients see nothing before. */
  deliverAt?: string | null;
  /**
   * The message this one corrects: recalled in the same transaction (as recallMessage), pointing here.
   * With deliverAt, or with attachments, recalled when this one goes out instead (releaseScheduled, or
   * commitAttachment of its last file, in that transaction), so its recipients keep it until the
   * correction arrives; never, if this one is recalled, cancelled or expires before.
   */
  replaces?: RecallRequest | null;
}

export interface RecallRequest {
  messageId: number;
  /** Who recalls it (the sender or the administrator); the caller checks that it may. */
  byUserId: number;
  reason: string;
}


/** A recipient that has not acknowledged a message (AlertStore.unacknowledgedRecipients). */
export interface UnacknowledgedRecipient {
  userId: number;
  /** Through which channel or groups the message reached it ('#c', '@g[,@g]'); null when named directly. */
  via: string | null;
}

export interface AlertStore {
  /**
   * Stores the message (as storeMessage does, quota included) and its alert row in one transaction;
   * with `replaces`, recalls that message in the same transaction (replaced: null when it does not exist,
   * and the alert's replacesId null). A scheduled one (deliverAt), or one with attachments, only records
   * the recall, which releaseScheduled or the last commitAttachment makes: replaced is null, replacesId
   * names the message.
   */
  storeAlertedMessage(message: NewMessage, alert: NewAlert, limits?: { quotaBytes?: number }): Promise<{ message: Message; alert: MessageAlert; replaced: RecallOutcome | null }>;
  /**
   * Recalls a message in one transaction: its alert row (made if it had none) records when, why and
   * by whom, automatic reminders stop, and recipients that had not received it lose it. Null when
   * there is no such message; `changed` false when it was recalled before.
   */
  recallMessage(request: RecallRequest & { replacedBy?: number }): Promise<RecallOutcome | null>;
  /** The alert rows of these messages, by message id (messages without one are absent). */
  alertsOf(messageIds: readonly number[]): Promise<Map<number, MessageAlert>>;
  /** Acknowledgements of these messages: message id → recipient id → when. */
  acksOf(messageIds: readonly number[]): Promise<Map<number, Map<number, string>>>;
  /**
   * Records the recipient's acknowledgement (and marks the message read and delivered for it).
   * Null when it is not a recipient whose inbox holds the message; `already` when it had
   * acknowledged before (ackedAt is that first time).
   */
  acknowledge(messageId: number, recipientId: number): Promise<{ ackedAt: string; already: boolean } | null>;
  /**
   * REMIND, in one transaction: counts one more reminder on the message's alert row and returns
   * its recipients that have not acknowledged (and still have it in their inbox); for those of them
   * already delivered who are not in `online` (offline now: presence, asked before the call), a
   * reminder is kept for their next login (takeDueReminders). Null when the message has no alert row.
   * With `automatic` (a claimed due reminder, DueJobStore): also counts an automatic reminder and sets
   * the next one due at `nextAt` (none when the count reaches remindMax); null when `owner` does not
   * hold the job any more or the message was recalled.
   */
  remindMessage(
    messageId: number, online: ReadonlySet<number>, automatic?: { owner: string; nextAt: string },
  ): Promise<{ reminders: number; pending: number[]; queued: number[] } | null>;
  /**
   * One page of the message's recipients that have not acknowledged it and still have it in their
   * inbox (those remindMessage names as `pending`: a suspended member is among them, one that deleted
   * the message is not), each with its route: those with a recipient id above `afterId`, by id, at
   * most `limit` of them and never more than RECIPIENTS_PER_READ (a larger limit reads that many).
   * The next page starts after the last id of this one; an empty page is the end. A message whose
   * recipients are still kept aside (sending, or scheduled and not out) has none yet; an unknown
   * message none. A reminder reads these, not every recipient of a broadcast and all its acks.
   */
  unacknowledgedRecipients(messageId: number, page: { afterId: number; limit: number }): Promise<UnacknowledgedRecipient[]>;
  /**
   * Acknowledgements still open (STATS, issue 21): over the `limit` newest messages that ask for
   * acknowledgement and are neither recalled, expired (at `nowIso`) nor scheduled for later, their
   * recipients (with the message in their inbox) who have not acknowledged, and how many messages
   * have at least one.
   */
  openAcknowledgements(nowIso: string, limit: number): Promise<{ pending: number; messages: number }>;
  /** Takes (removes and returns) the reminders owed to a member, oldest message first. */
  takeDueReminders(recipientId: number, limit: number): Promise<Array<{ messageId: number; reminder: number }>>;
}
