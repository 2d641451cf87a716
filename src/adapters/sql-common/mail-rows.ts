/**
 * The mail queue (src/core/ports/store/mail.ts) as both SQL stores read it: a mail_queue row and
 * its record.
 */
import type { QueuedMail } from '../../core/ports/store.js';

export interface MailRow {
  id: number;
  kind: string;
  to_address: string;
  subject: string;
  sealed_text: string;
  created_at: string;
  attempts: number;
  next_attempt_at: string;
  sent_at: string | null;
  last_error: string | null;
}

export function toMail(r: MailRow): QueuedMail {
  return {
    id: r.id,
    kind: r.kind,
    to: r.to_address,
    subject: r.subject,
    sealedText: r.sealed_text,
    createdAt: r.created_at,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    sentAt: r.sent_at,
    lastError: r.last_error,
  };
}
