/**
 * Alerts (issue 21, docs/PROTOCOL.md §Alerts): SEND's alert arguments read and checked, who may
 * send urgent, and the alert fields of message records and popups. The state lives in the store
 * (src/core/ports/store/alerts.ts); the verbs are in commands/alerts.ts.
 */
import { SiarError, isPriority, type ArgInput, type Args, type MessageRecord, type PopupRecord } from '../protocol/index.js';
import type { MessageAlert, NewAlert, RecallOutcome } from '../core/ports/store/alerts.js';
import type { Message, User } from '../core/ports/store.js';
import type { ServerConfig } from './config.js';
import { parseDuration } from '../protocol/units.js';
import { isExpired, recalledError } from '../core/services/alerts.js';
import { optionalId } from '../protocol/arguments.js';

/** The farthest ahead an expiry (or a schedule) may be. */
const MAX_AHEAD_MS = 366 * 24 * 3600_000;

/** `expires=` or `at=`: an ISO time with its zone, or a duration from now (`2h`, `30m`); in the future, within a year. */
export function parseTimeArg(value: string, key: string, nowMs: number): string {
  let at: number;
  if (/^\d+(\.\d+)?\s*[a-z]*$/i.test(value.trim())) {
    try {
      at = nowMs + parseDuration(value);
    } catch {
      throw new SiarError('BAD_ARGUMENT', `${key} must be an ISO time (2026-12-24T08:00+08:00) or a duration (30m, 2h, 7d).`);
    }
  } else {
    at = /T.*(Z|[+-]\d\d:?\d\d)$/i.test(value.trim()) ? Date.parse(value) : NaN;
    if (Number.isNaN(at)) throw new SiarError('BAD_ARGUMENT', `${key} must be an ISO time with its zone (2026-12-24T08:00+08:00) or a duration (30m, 2h, 7d).`);
  }
  if (at <= nowMs) throw new SiarError('BAD_ARGUMENT', `${key} is not in the future.`);
  if (at - nowMs > MAX_AHEAD_MS) throw new SiarError('BAD_ARGUMENT', `${key} is more than 366 days ahead.`);
  return new Date(at).toISOString();
}

/**
 * SEND's alert arguments; null when it has none (a plain message: no alert row). `urgent` implies
 * acknowledgement unless `ack=0`. `replaces` is checked by the caller (it must be the sender's own).
 */
export function parseAlert(args: Args, sender: User, config: Pick<ServerConfig, 'urgentSenders' | 'remindMinIntervalMs'>, nowMs = Date.now()): NewAlert | null {
  const rawPriority = args.get('priority');
  const rawAck = args.get('ack');
  const priority = rawPriority || 'normal';
  if (!isPriority(priority)) throw new SiarError('BAD_ARGUMENT', 'priority must be normal, high or urgent.');
  if (rawAck && rawAck !== '0' && rawAck !== '1') throw new SiarError('BAD_ARGUMENT', 'ack must be 1 or 0.');
  if (priority === 'urgent' && !maySendUrgent(sender, config.urgentSenders)) {
    throw new SiarError('FORBIDDEN', 'This server does not let you send urgent messages (--urgent-senders); send it as high, or ask the administrator. Nothing was sent.');
  }
  const ack = rawAck ? rawAck === '1' : priority === 'urgent';
  const expires = args.get('expires');
  const expiresAt = expires ? parseTimeArg(expires, 'expires', nowMs) : null;
  const at = args.get('at');
  const deliverAt = at ? parseTimeArg(at, 'at', nowMs) : null;
  if (deliverAt && expiresAt && expiresAt <= deliverAt) throw new SiarError('BAD_ARGUMENT', 'expires must be after at: it would expire before it is delivered. Nothing was sent.');
  const { remindEverySeconds, remindMax } = parseReminders(args, ack, config.remindMinIntervalMs);
  const replacesId = optionalId(args, 'replaces');
  if (priority === 'normal' && !ack && !expiresAt && !deliverAt && replacesId === undefined) return null;
  return {
    priority, ack, expiresAt, deliverAt, remindEverySeconds, remindMax,
    replaces: replacesId === undefined ? null : { messageId: replacesId, byUserId: sender.id, reason: `Replaced by a correction.` },
  };
}

/** The most automatic reminders one message may ask for, and how many it gets unless it says. */
export const MAX_REMINDERS = 100;
export const DEFAULT_REMINDERS = 8;

/** `remind=DURATION` and `remindMax=N`: at least --remind-min-interval apart, at most MAX_REMINDERS; they need ack. */
function parseReminders(args: Args, ack: boolean, minIntervalMs: number): { remindEverySeconds: number | null; remindMax: number } {
  const every = args.get('remind');
  const rawMax = args.get('remindMax');
  if (!every) {
    if (rawMax) throw new SiarError('BAD_ARGUMENT', 'remindMax= needs remind=DURATION (how often to remind). Nothing was sent.');
    return { remindEverySeconds: null, remindMax: 0 };
  }
  let ms: number;
  try {
    ms = parseDuration(every);
  } catch {
    throw new SiarError('BAD_ARGUMENT', 'remind must be a duration (15m, 1h, 90s). Nothing was sent.');
  }
  if (ms < minIntervalMs) {
    throw new SiarError('BAD_ARGUMENT', `remind must be at least ${Math.ceil(minIntervalMs / 1000)} seconds apart on this server (--remind-min-interval). Nothing was sent.`);
  }
  if (ms > MAX_AHEAD_MS) throw new SiarError('BAD_ARGUMENT', 'remind must be at most 366 days. Nothing was sent.');
  if (!ack) throw new SiarError('BAD_ARGUMENT', 'remind= reminds those who have not acknowledged: it needs ack=1 (or priority=urgent). Nothing was sent.');
  const max = rawMax ? Number(rawMax) : DEFAULT_REMINDERS;
  if (!Number.isInteger(max) || max < 1 || max > MAX_REMINDERS) throw new SiarError('BAD_ARGUMENT', `remindMax must be a whole number from 1 to ${MAX_REMINDERS}. Nothing was sent.`);
  return { remindEverySeconds: Math.ceil(ms / 1000), remindMax: max };
}

/** --urgent-senders: 'members' (anyone), 'admin' (the administrator only), or usernames (and the administrator). */
export function maySendUrgent(user: Pick<User, 'role' | 'username'>, policy: string): boolean {
  if (user.role === 'admin') return true;
  const p = policy.trim().toLowerCase();
  if (p === '' || p === 'members') return true;
  if (p === 'admin') return false;
  return p.split(',').map((n) => n.trim()).includes(user.username);
}

/** isExpired and recalledError are rules of the core (core/services/alerts.ts), here too for the server's modules. */
export { isExpired, recalledError };

/** When the automatic reminder after one at `nowMs` is due (ISO 8601 UTC). */
export function nextReminderAt(nowMs: number, everySeconds: number): string {
  return new Date(nowMs + everySeconds * 1000).toISOString();
}

/** The alert fields every reader of a message sees. */
export function alertRecord(alert: MessageAlert | undefined, nowMs = Date.now()): Partial<MessageRecord> {
  if (!alert) return {};
  return {
    ...(alert.priority !== 'normal' ? { priority: alert.priority } : {}),
    ...(alert.ack ? { ack: true } : {}),
    ...(alert.expiresAt ? { expiresAt: alert.expiresAt } : {}),
    ...(isExpired(alert, nowMs) ? { expired: true } : {}),
    ...(alert.deliverAt ? { deliverAt: alert.deliverAt } : {}),
    ...(alert.recalledAt ? { recalledAt: alert.recalledAt, recallReason: alert.recallReason ?? '' } : {}),
    ...(alert.replacesId ? { replaces: alert.replacesId } : {}),
    ...(alert.replacedBy ? { replacedBy: alert.replacedBy } : {}),
  };
}

/** A recalled message as its recipients see it: no body, no attachments. */
export function withdrawn(alert: MessageAlert | undefined): Partial<MessageRecord> {
  return alert?.recalledAt ? { body: '', attachments: [] } : {};
}


/** The recipient's own view: the common fields and its acknowledgement (when one was asked for). */
export function recipientAlertRecord(alert: MessageAlert | undefined, ackedAt: string | undefined): Partial<MessageRecord> {
  if (!alert) return {};
  return { ...alertRecord(alert), ...(alert.ack ? { ackedAt: ackedAt ?? null } : {}), ...withdrawn(alert) };
}

/** The sender's view: the common fields and who acknowledged, when. */
export function senderAlertRecord(m: Message, alert: MessageAlert | undefined, acks: ReadonlyMap<number, string> | undefined): Partial<MessageRecord> {
  if (!alert) return {};
  const acked = m.recipients.filter((r) => acks?.has(r.userId)).map((r) => ({ username: r.username, at: acks!.get(r.userId)! }));
  return {
    ...alertRecord(alert), ...(acked.length > 0 ? { acked } : {}),
    ...(alert.recalledAt ? { state: 'recalled' } : alert.scheduled ? { state: 'scheduled' } : {}),
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
    ...(alert.replacesId ? { replaces: alert.replacesId } : {}),
  };
}

/** After a recall committed: its recipients that had the popup get `*|RECALLED` (on every node). */
export function pushRecalled(router: { pushToUser(userId: number, event: string, args: ArgInput): void }, out: RecallOutcome): void {
  if (!out.changed) return;
  const { alert } = out;
  const push = { id: alert.messageId, reason: alert.recallReason ?? '', at: alert.recalledAt ?? '', replacedBy: alert.replacedBy ?? undefined };
  for (const userId of out.delivered) router.pushToUser(userId, 'RECALLED', push);
}

/** A recipient's state in REPORT. */
export function recipientState(r: { deliveredAt: string | null; readAt: string | null }, ackedAt: string | undefined): string {
  if (ackedAt) return 'acknowledged';
  if (r.readAt) return 'read';
  if (r.deliveredAt) return 'delivered';
  return 'waiting';
}
