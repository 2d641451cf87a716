/**
 * Alerts (issue 21, docs/PROTOCOL.md §Alerts): SEND's alert arguments read and checked, who may
 * send urgent, and the alert fields of message records and popups. The state lives in the store
 * (store-alerts.ts); the verbs are in commands/alerts.ts.
 */
import { SiarError, isPriority, type Args, type MessageRecord, type PopupRecord } from '../protocol/index.js';
import type { MessageAlert, NewAlert } from '../core/ports/store-alerts.js';
import type { Message, User } from '../core/ports/store.js';
import type { ServerConfig } from './config.js';

/**
 * SEND's alert arguments; null when it has none (a plain message: no alert row). `urgent` implies
 * acknowledgement unless `ack=0`.
 */
export function parseAlert(args: Args, sender: User, config: Pick<ServerConfig, 'urgentSenders'>): NewAlert | null {
  const rawPriority = args.get('priority');
  const rawAck = args.get('ack');
  if (!rawPriority && !rawAck) return null;
  const priority = rawPriority || 'normal';
  if (!isPriority(priority)) throw new SiarError('BAD_ARGUMENT', 'priority must be normal, high or urgent.');
  if (rawAck && rawAck !== '0' && rawAck !== '1') throw new SiarError('BAD_ARGUMENT', 'ack must be 1 or 0.');
  if (priority === 'urgent' && !maySendUrgent(sender, config.urgentSenders)) {
    throw new SiarError('FORBIDDEN', 'This server does not let you send urgent messages (--urgent-senders); send it as high, or ask the administrator. Nothing was sent.');
  }
  const ack = rawAck ? rawAck === '1' : priority === 'urgent';
  if (priority === 'normal' && !ack) return null;
  return { priority, ack };
}

/** --urgent-senders: 'members' (anyone), 'admin' (the administrator only), or usernames (and the administrator). */
export function maySendUrgent(user: Pick<User, 'role' | 'username'>, policy: string): boolean {
  if (user.role === 'admin') return true;
  const p = policy.trim().toLowerCase();
  if (p === '' || p === 'members') return true;
  if (p === 'admin') return false;
  return p.split(',').map((n) => n.trim()).includes(user.username);
}

/** The alert fields every reader of a message sees. */
export function alertRecord(alert: MessageAlert | undefined): Partial<MessageRecord> {
  if (!alert) return {};
  return {
    ...(alert.priority !== 'normal' ? { priority: alert.priority } : {}),
    ...(alert.ack ? { ack: true } : {}),
    ...(alert.expiresAt ? { expiresAt: alert.expiresAt } : {}),
  };
}

/** The recipient's own view: the common fields and its acknowledgement (when one was asked for). */
export function recipientAlertRecord(alert: MessageAlert | undefined, ackedAt: string | undefined): Partial<MessageRecord> {
  if (!alert) return {};
  return { ...alertRecord(alert), ...(alert.ack ? { ackedAt: ackedAt ?? null } : {}) };
}

/** The sender's view: the common fields and who acknowledged, when. */
export function senderAlertRecord(m: Message, alert: MessageAlert | undefined, acks: ReadonlyMap<number, string> | undefined): Partial<MessageRecord> {
  if (!alert) return {};
  const acked = m.recipients.filter((r) => acks?.has(r.userId)).map((r) => ({ username: r.username, at: acks!.get(r.userId)! }));
  return {
    ...alertRecord(alert), ...(acked.length > 0 ? { acked } : {}),
    ...(alert.remindEverySeconds ? { remind: alert.remindEverySeconds, remindMax: alert.remindMax } : {}),
    ...(alert.reminders > 0 ? { reminders: alert.reminders } : {}),
  };
}

/** The alert fields of a popup. */
export function popupAlert(alert: MessageAlert | null | undefined): Partial<PopupRecord> {
  if (!alert) return {};
  return {
    ...(alert.priority !== 'normal' ? { priority: alert.priority } : {}),
    ...(alert.ack ? { ack: true } : {}),
    ...(alert.expiresAt ? { expiresAt: alert.expiresAt } : {}),
  };
}

/** A recipient's state in REPORT. */
export function recipientState(r: { deliveredAt: string | null; readAt: string | null }, ackedAt: string | undefined): string {
  if (ackedAt) return 'acknowledged';
  if (r.readAt) return 'read';
  if (r.deliveredAt) return 'delivered';
  return 'waiting';
}
