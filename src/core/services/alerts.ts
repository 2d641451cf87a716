/**
 * Alerts (issue 21), the rules: who may see a message's acknowledgements, recall it or remind its
 * recipients; what a recall and a reminder change, and their audit. The handlers
 * (src/server/commands/alerts.ts) read the arguments, call these, push and answer.
 */
import { SiarError } from '../../protocol/index.js';
import type { AuditStore } from '../ports/store/audit.js';
import type { AlertStore, MessageAlert, RecallOutcome } from '../ports/store/alerts.js';
import type { AccountStore, Message, MessageStore, User } from '../ports/store.js';
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

/** The message, when the caller sent it or is the administrator; NOT_FOUND otherwise (ids reveal nothing). */
export async function ownMessage(store: Pick<MessageStore, 'getMessage'>, user: User, id: number): Promise<Message> {
  const message = await store.getMessage(id);
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
  const senderId = done.already ? null : (await store.getMessage(id))?.senderId ?? null;
  return { ...done, senderId };
}

/** After a recall committed (RECALL, or SEND replaces=): the audit log records it, once. */
export async function auditRecall(store: AuditStore, by: Actor, out: RecallOutcome): Promise<void> {
  if (!out.changed) return;
  const { alert } = out;
  await store.audit({
    kind: 'message_recalled', actorId: by.user.id, subject: String(alert.messageId), address: by.address,
    detail: { reason: alert.recallReason ?? '', undelivered: out.undelivered.length, delivered: out.delivered.length, ...(alert.replacedBy ? { replacedBy: alert.replacedBy } : {}) },
  });
}

/** RECALL: withdraws a message the caller sent (the administrator: any); audited. */
export async function recall(store: AlertPorts, by: Actor, id: number, reason: string): Promise<RecallOutcome> {
  const message = await ownMessage(store, by.user, id);
  if (message.state === 'sending') throw new SiarError('BAD_ARGUMENT', `Message ${id} is still waiting for its attachments: CANCEL id=${id} withdraws it (siar cancel ${id}).`);
  const out = await store.recallMessage({ messageId: id, byUserId: by.user.id, reason });
  if (!out) throw new SiarError('NOT_FOUND', `No message ${id} in your outbox.`);
  await auditRecall(store, by, out);
  return out;
}

export interface Reminded {
  message: Message;
  /** The alert as it is now (its reminder count). */
  alert: MessageAlert;
  /** Recipients that have not acknowledged. */
  pending: number[];
  /** Of those, the ones online now: their popup goes out at once. */
  now: number[];
  reminders: number;
}

/**
 * REMIND: pops a message the caller sent up again at everyone who has not acknowledged it. Those
 * offline now get it at their next login (a reminder owed in the store): who is online is asked of
 * presence (every node) before the store's transaction, and handed to it as data.
 */
export async function remind(
  ports: { store: AlertPorts; onlineAmong(userIds: readonly number[]): Promise<ReadonlySet<number>> }, by: Actor, id: number,
): Promise<Reminded> {
  const { store } = ports;
  const message = await ownMessage(store, by.user, id);
  const alert = (await store.alertsOf([id])).get(id);
  if (!alert?.ack) throw new SiarError('BAD_ARGUMENT', `Message ${id} did not ask for acknowledgement: there is nobody to remind.`);
  if (alert.recalledAt) throw new SiarError('BAD_ARGUMENT', `Message ${id} was recalled: it is not reminded.`);
  if (isExpired(alert)) throw new SiarError('BAD_ARGUMENT', `Message ${id} has expired: it is not reminded.`);
  const online = await ports.onlineAmong(message.recipients.map((r) => r.userId));
  const out = await store.remindMessage(id, online);
  if (!out) throw new SiarError('NOT_FOUND', `No message ${id} in your outbox.`);
  const queued = new Set(out.queued);
  const now = out.pending.filter((rid) => !queued.has(rid) && online.has(rid));
  await store.audit({
    kind: 'message_reminded', actorId: by.user.id, subject: String(id), address: by.address,
    detail: { reminder: out.reminders, reminded: out.pending.length, online: now.length, manual: true },
  });
  return { message, alert: { ...alert, reminders: out.reminders }, pending: out.pending, now, reminders: out.reminders };
}

/** The institution a message's popups name: its sender's. */
export async function senderInstitution(store: Pick<AccountStore, 'getUserById'>, message: Message): Promise<string> {
  return (await store.getUserById(message.senderId))?.institution ?? '';
}
