/**
 * What one member may add to the server (issue 20), checked for SEND before anything is stored:
 * its sending rate (RATE_LIMITED), the disk's free-space floor (DISK_FULL) and, in the storing
 * transaction itself, its storage quota (QUOTA_EXCEEDED). The administrator is bound by the floor
 * only. Also REPORT's own rate (TOO_MANY_REQUESTS), on the same port as the sending rate.
 */
import { SiarError } from '../protocol/index.js';
import { formatBytes } from '../protocol/units.js';
import type { Services } from './commands/types.js';
import { messageBytes, type NewMessage, type User } from '../core/ports/store.js';

/** Refuses the send (rate, then floor) or counts it; returns the limits for Store.storeMessage. */
export async function admitMessage(
  services: Services, sender: User, message: Pick<NewMessage, 'subject' | 'body' | 'attachments'>,
): Promise<{ quotaBytes?: number }> {
  const bound = sender.role === 'member';
  if (bound) await takeSendRate(services, sender, 'messages', 'nothing was sent');
  // Attachments have their own floor check at UPLOAD; here only what the database row takes.
  await services.diskFloor.reserve(messageBytes({ ...message, attachments: [] }), 'your message');
  const quota = services.config.memberQuotaBytes;
  return bound && quota > 0 ? { quotaBytes: quota } : {};
}

/**
 * Counts one REPORT of a member against its rate (--max-reports-per-minute), or refuses it
 * (TOO_MANY_REQUESTS): a report of a broadcast lists every recipient, so asking for it in a loop
 * would keep the server reading thousands of rows for nothing. The administrator is not bound.
 */
export async function takeReportRate(services: Pick<Services, 'reportRate'>, user: User): Promise<void> {
  if (user.role !== 'member') return;
  const verdict = await services.reportRate.take(user.id);
  if (verdict.ok) return;
  const n = services.reportRate.perMinute;
  const seconds = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
  throw new SiarError('TOO_MANY_REQUESTS',
    `You may ask for ${n} acknowledgement report${n === 1 ? '' : 's'} a minute and have reached that. Try again in ${seconds} s.`);
}

/**
 * Counts one send of a member against its rate, or refuses it (RATE_LIMITED). A manual reminder
 * (REMIND) is counted too: it pops a message up again at every recipient, as a send would.
 */
export async function takeSendRate(services: Pick<Services, 'sendRate'>, sender: User, what: string, outcome: string): Promise<void> {
  if (sender.role !== 'member') return;
  const verdict = await services.sendRate.take(sender.id);
  if (verdict.ok) return;
  const seconds = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
  throw new SiarError('RATE_LIMITED',
    `You may send ${services.sendRate.perMinute} ${what} a minute and have reached that; ${outcome}. Try again in ${seconds} s.`);
}
