/**
 * What the store keeps for alerts (issue 21, docs/PROTOCOL.md §Alerts): a message's priority,
 * acknowledgement request, reminders, expiry, scheduled delivery and recall live in one row per
 * message that has any of them (schema.sql migration 6), and each recipient's acknowledgement in
 * a row of its own. A message without those options has no alert row and costs nothing more.
 */
import type { Message, NewMessage } from './store.js';

export type Priority = 'normal' | 'high' | 'urgent';

/** The alert options of a message, as SEND gives them. */
export interface NewAlert {
  priority: Priority;
  ack: boolean;
  /** Automatic reminders every this many seconds (null: none), at most remindMax of them. */
  remindEverySeconds?: number | null;
  remindMax?: number;
  /** ISO 8601 UTC; null: never. */
  expiresAt?: string | null;
}

export interface MessageAlert {
  messageId: number;
  priority: Priority;
  ack: boolean;
  remindEverySeconds: number | null;
  remindMax: number;
  /** Reminders (manual and automatic) that went out. */
  reminders: number;
  /** When the next automatic reminder is due; null when none is. */
  nextRemindAt: string | null;
  expiresAt: string | null;
  deliverAt: string | null;
  recalledAt: string | null;
  recallReason: string | null;
  recalledBy: number | null;
  replacesId: number | null;
  replacedBy: number | null;
}

export interface AlertStore {
  /** Stores the message (as storeMessage does, quota included) and its alert row in one transaction. */
  storeAlertedMessage(message: NewMessage, alert: NewAlert, limits?: { quotaBytes?: number }): Promise<{ message: Message; alert: MessageAlert }>;
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
}
