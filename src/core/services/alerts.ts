/**
 * Alerts (issue 21), the rules: who may see a message's acknowledgements, recall it or remind its
 * recipients; what a recall and a reminder change, and their audit. The handlers
 * (src/server/commands/alerts.ts) read the arguments, call these, push and answer.
 */
import { SiarError } from '../../protocol/index.js';
import type { AuditStore } from '../ports/store/audit.js';
import type { AlertStore, MessageAlert, RecallOutcome, UnacknowledgedRecipient } from '../ports/store/alerts.js';
import { RECIPIENTS_PER_READ, type AccountStore, type Message, type MessageStore, type User } from '../ports/store.js';
import type { Actor } from './actor.js';

type AlertPorts = AlertStore & MessageStore & AuditStore;

/** Past its expiry at `nowMs`. */
export function isExpired(alert: Pick<MessageAlert, 'expiresAt'> | null | undefined, nowMs = Date.now()): boolean {
  return !!alert?.expiresAt && Date.parse(alert.expiresAt) <= nowMs;
}

/** The RECALLED refusal a recipient gets for a withdrawn message's body or attachments. */
export function recalledError(id: number, alert: MessageAlert): SiarError {
  const why = alert.recallReason ? ` Reason: ${alert.recallReason}` : '';
  const fix = alert.replacedBy ? ` It was replaced by message ${alert.replacedBy}.` : '';
  return new SiarError('RECALLED', `Message ${id} was withdrawn by its sender.${why}${fix}`);
}

/**
 * The message, when the caller sent it or is the administrator; NOT_FOUND otherwise (ids reveal
 * nothing). With `recipientIds`, only those recipients are read (none: the message without them).
 */
export async function ownMessage(
  store: Pick<MessageStore, 'getMessage' | 'getMessageFor'>, user: User, id: number, recipientIds?: readonly number[],
): Promise<Message> {
  const message = await (recipientIds ? store.getMessageFor(id, recipientIds) : store.getMessage(id));
  if (message && (message.senderId === user.id || user.role === 'admin')) return message;
  throw new SiarError('NOT_FOUND', `No message ${id} in your outbox.`);
}

/** ACK: the recipient's acknowledgement; `senderId` to tell when it is a first one. */
export async function acknowledge(
  store: AlertPorts, me: User, id: number,
): Promise<{ ackedAt: string; already: boolean; senderId: number | null }> {
  const alert = (await store.alertsOf([id])).get(id);
  if (alert?.recalledAt && (await store.messageRole(id, me.id)) === 'recipient') throw recalledError(id, alert);
  const done = await store.acknowledge(id, me.id);
  if (!done) throw new SiarError('NOT_FOUND', `No message ${id} in your inbox.`);
  const senderId = done.already ? null : (await store.getMessageFor(id, []))?.senderId ?? null;
  return { ...done, senderId };
}

/** After a recall committed (RECALL, SEND replaces=, or a scheduled correction going out): the audit log records it, once. */
export async function auditRecall(store: Pick<AuditStore, 'audit'>, by: Pick<Actor, 'user'> & { address: string | null }, out: RecallOutcome): Promise<void> {
  if (!out.changed) return;
  const { alert } = out;
  await store.audit({
    kind: 'message_recalled', actorId: by.user.id, subject: String(alert.messageId), address: by.address,
    detail: { reason: alert.recallReason ?? '', undelivered: out.undelivered.length, delivered: out.delivered.length, ...(alert.replacedBy ? { replacedBy: alert.replacedBy } : {}) },
  });
}

/** RECALL: withdraws a message the caller sent (the administrator: any); audited. */
export async function recall(store: AlertPorts, by: Actor, id: number, reason: string): Promise<RecallOutcome> {
  const message = await ownMessage(store, by.user, id, []);
  // A scheduled message still uploading is recalled as any scheduled one (its files may still come in; nobody gets them).
  if (message.state === 'sending' && !(await store.alertsOf([id])).get(id)?.deliverAt) throw new SiarError('BAD_ARGUMENT', `Message ${id} is still waiting for its attachments: CANCEL id=${id} withdraws it (siar cancel ${id}).`);
  const out = await store.recallMessage({ messageId: id, byUserId: by.user.id, reason });
  if (!out) throw new SiarError('NOT_FOUND', `No message ${id} in your outbox.`);
  await auditRecall(store, by, out);
  return out;
}

/**
 * REMIND's checks: a message the caller sent (the administrator: any) that asked for
 * acknowledgement, is not recalled, not expired and not still scheduled. Returns it (without its
 * recipients: recordReminder reads those it reminds) and its alert.
 */
export async function remindable(store: AlertPorts, user: User, id: number): Promise<{ message: Message; alert: MessageAlert }> {
  const message = await ownMessage(store, user, id, []);
  const alert = (await store.alertsOf([id])).get(id);
  if (!alert?.ack) throw new SiarError('BAD_ARGUMENT', `Message ${id} did not ask for acknowledgement: there is nobody to remind.`);
  if (alert.recalledAt) throw new SiarError('BAD_ARGUMENT', `Message ${id} was recalled: it is not reminded.`);
  if (isExpired(alert)) throw new SiarError('BAD_ARGUMENT', `Message ${id} has expired: it is not reminded.`);
  if (alert.scheduled) throw new SiarError('BAD_ARGUMENT', `Message ${id} is scheduled for ${alert.deliverAt}: nobody has it yet to be reminded.`);
  return { message, alert };
}

/** Who asked for a reminder: a member (REMIND) or the due-jobs runner (automatic, holding the job as `owner`). */
export type ReminderCause =
  | { manual: true; actorId: number; address: string }
  | { manual: false; owner: string; nextAt: string };

/**
 * One reminder, in the store's transaction, audited. Those offline now get it at their next login
 * (a reminder owed in the store): who is online is asked of presence (every node) before the
 * store's transaction and handed to it as data. Only the recipients that have not acknowledged are
 * read (unacknowledgedRecipients, a page of RECIPIENTS_PER_READ at a time) and only they are asked
 * of presence: a reminder of a broadcast to 51,000 that 50,990 acknowledged reads 10 rows, not
 * every recipient and every acknowledgement. `message` need not carry its recipients. Returns the
 * recipients to push to now, each with the route the message reached it by; null when the store
 * did nothing (no alert row, or the job's lease was lost).
 */
export async function recordReminder(
  ports: { store: AlertPorts; onlineAmong(userIds: readonly number[]): Promise<ReadonlySet<number>> }, message: Pick<Message, 'id' | 'senderId'>, cause: ReminderCause,
): Promise<{ reminders: number; pending: number[]; now: UnacknowledgedRecipient[] } | null> {
  const { store } = ports;
  const online = new Set<number>();
  const routeOf = new Map<number, string | null>();
  for (let afterId = 0; ;) {
    const page = await store.unacknowledgedRecipients(message.id, { afterId, limit: RECIPIENTS_PER_READ });
    if (page.length === 0) break;
    const here = await ports.onlineAmong(page.map((r) => r.userId));
    for (const r of page) {
      if (!here.has(r.userId)) continue;
      online.add(r.userId);
      routeOf.set(r.userId, r.via);
    }
    afterId = page[page.length - 1]!.userId;
  }
  const out = await store.remindMessage(message.id, online, cause.manual ? undefined : { owner: cause.owner, nextAt: cause.nextAt });
  if (!out) return null;
  const queued = new Set(out.queued);
  // Online when asked (so read above, with its route) and still not acknowledged in the transaction.
  const now = out.pending.filter((rid) => !queued.has(rid) && online.has(rid)).map((rid) => ({ userId: rid, via: routeOf.get(rid) ?? null }));
  await store.audit({
    kind: 'message_reminded', actorId: cause.manual ? cause.actorId : message.senderId, subject: String(message.id),
    address: cause.manual ? cause.address : null,
    detail: { reminder: out.reminders, reminded: out.pending.length, online: now.length, manual: cause.manual },
  });
  return { reminders: out.reminders, pending: out.pending, now };
}

/** The institution a message's popups name: its sender's. */
export async function senderInstitution(store: Pick<AccountStore, 'getUserById'>, message: Message): Promise<string> {
  return (await store.getUserById(message.senderId))?.institution ?? '';
}
