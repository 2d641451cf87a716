/**
 * The alert records (issue 21) the store returns: a message's alert row and what a recall did. On
 * their own (alerts.ts re-exports them) so the message records can name a recall without an import
 * cycle (messages.ts: AttachmentCommit.replaced).
 */

export type Priority = 'normal' | 'high' | 'urgent';

/** What recalling did. */
export interface RecallOutcome {
  alert: MessageAlert;
  /** False when it was recalled before: nothing changed. */
  changed: boolean;
  /** Recipients that had not received it: they never will (their rows left the inbox). */
  undelivered: number[];
  /** Recipients that had received it: they see it withdrawn. */
  delivered: number[];
}

export interface MessageAlert {
  messageId: number;
  priority: Priority;
  ack: boolean;
  remindEverySeconds: number | null;
  remindMax: number;
  /** Reminders (manual and automatic) that went out. */
  reminders: number;
  /** Of those, the automatic ones (at most remindMax). */
  autoReminders: number;
  /** When the next automatic reminder is due (or its claim's lease ends); null when none is. */
  nextRemindAt: string | null;
  expiresAt: string | null;
  /** When it was scheduled for (kept once delivered). */
  deliverAt: string | null;
  /** True while a scheduled message waits for its time: its recipients cannot see it yet. */
  scheduled: boolean;
  recalledAt: string | null;
  recallReason: string | null;
  recalledBy: number | null;
  replacesId: number | null;
  replacedBy: number | null;
  /** A correction not out yet (scheduled, or waiting for its attachments): message replacesId is recalled when it goes out. */
  replacesOnRelease: boolean;
}
