/**
 * What one member may add to the server (issue 20), checked for SEND before anything is stored:
 * its sending rate (RATE_LIMITED), the disk's free-space floor (DISK_FULL) and, in the storing
 * transaction itself, its storage quota (QUOTA_EXCEEDED). The administrator is bound by the floor
 * only.
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
  if (bound) {
    const verdict = services.sendRate.take(sender.id);
    if (!verdict.ok) {
      const seconds = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
      throw new SiarError('RATE_LIMITED',
        `You may send ${services.sendRate.perMinute} messages a minute and have reached that; nothing was sent. Try again in ${seconds} s.`);
    }
  }
  // Attachments have their own floor check at UPLOAD; here only what the database row takes.
  await services.diskFloor.reserve(messageBytes({ ...message, attachments: [] }), 'your message');
  const quota = services.config.memberQuotaBytes;
  return bound && quota > 0 ? { quotaBytes: quota } : {};
}
