/**
 * The mail queue: mails waiting to go out, with their attempts.
 */
import type { Page } from './page.js';

export interface OutgoingMail {
  kind: string;
  to: string;
  subject: string;
  sealedText: string;
}

export interface QueuedMail extends OutgoingMail {
  id: number;
  createdAt: string;
  attempts: number;
  nextAttemptAt: string;
  sentAt: string | null;
  lastError: string | null;
}

/** The mail queue. */
export interface MailQueueStore {
  // mail queue
  enqueueMail(mail: OutgoingMail): Promise<number>;
  /**
   * Unsent mail whose next attempt is due at `now`, by next attempt then id; with `after`, only the
   * mail that comes after that one in this order (to read on past mail the caller leaves queued).
   */
  dueMail(now: string, limit: number, after?: { nextAttemptAt: string; id: number }): Promise<QueuedMail[]>;
  markMailSent(id: number): Promise<void>;
  markMailFailed(id: number, error: string, nextAttemptAt: string): Promise<void>;
  /** 'failed': unsent mail that has failed at least once. Newest first. */
  listMail(filter: 'unsent' | 'failed' | 'all', page: Page): Promise<QueuedMail[]>;
  getMail(id: number): Promise<QueuedMail | null>;
  /**
   * Makes unsent mail (the one with `id`, or all) due at `nowIso` without counting an attempt;
   * returns how many mails were rescheduled.
   */
  retryMail(id: number | undefined, nowIso: string): Promise<number>;
}
