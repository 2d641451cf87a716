/**
 * What the due-jobs runner (src/core/due-jobs.ts) does for alerts (issue 21): a scheduled message
 * that has come due goes out (its recipients get it: *message stored* is published then, not at
 * SEND), and an automatic reminder re-pushes the popup, marked as a reminder, to every recipient
 * that has not acknowledged — online at once, offline at their next login, as REMIND does
 * (remindRecipients is REMIND's too). Each job was claimed atomically in the store, so on several
 * nodes each happens once.
 */
import type { DueJob, Message, MessageAlert, Store, User } from '../core/ports/store.js';
import type { DueJobContext } from '../core/due-jobs.js';
import type { Bus } from '../core/ports/bus.js';
import type { Logger } from 'pino';
import { nextReminderAt, isExpired, pushRecalled } from './alerts.js';
import { auditRecall, recordReminder, senderInstitution, type ReminderCause } from '../core/services/alerts.js';
import { popupArgs, publishStored } from './delivery.js';
import type { MessageRouter } from './router.js';
import type { TrafficStats } from './stats.js';

export interface AlertJobServices {
  store: Store;
  router: MessageRouter;
  bus: Bus;
  stats: TrafficStats;
  log: Logger;
}

export type { ReminderCause };

/**
 * One reminder (core/services/alerts.ts: the store's transaction and the audit): returns the pushes
 * to make (after the reply, for REMIND) and the counts; null when the store did nothing.
 */
export async function remindRecipients(services: AlertJobServices, message: Message, alert: MessageAlert, cause: ReminderCause): Promise<{
  reminders: number; reminded: number; online: number; push: () => void;
} | null> {
  const { store, router } = services;
  const out = await recordReminder({ store, onlineAmong: (ids) => router.onlineAmong(ids) }, message, cause);
  if (!out) return null;
  const institution = await senderInstitution(store, message);
  const fresh = { ...alert, reminders: out.reminders };
  const push = (): void => {
    for (const { userId, via } of out.now) router.pushToUser(userId, 'POPUP', popupArgs(message, institution, via, fresh, out.reminders));
  };
  return { reminders: out.reminders, reminded: out.pending.length, online: out.now.length, push };
}

/** The runner's handler: runs one claimed job. */
export function alertJobHandler(services: AlertJobServices): (job: DueJob, ctx: DueJobContext) => Promise<void> {
  return (job, ctx) => (job.kind === 'deliver' ? deliverScheduled(services, [job.messageId], ctx) : remindDue(services, job.messageId, ctx));
}

/** The runner's handler of a tick's scheduled deliveries: released together, in one store transaction. */
export function scheduledDeliveries(services: AlertJobServices): (messageIds: number[], ctx: DueJobContext) => Promise<void> {
  return (messageIds, ctx) => deliverScheduled(services, messageIds, ctx);
}

/**
 * Scheduled messages whose time came (released in one store transaction): their recipients get them
 * now (popups to the online, the rest at login). A correction (SEND replaces= at=) withdrew the
 * message it replaces in the same transaction: that recall is audited (the correction's sender as
 * actor, no address) and its recipients get `*|RECALLED` just before the correction's popup, as at
 * SEND without at=. A message its correction withdrew in the same batch pops up at nobody.
 */
async function deliverScheduled(services: AlertJobServices, messageIds: number[], ctx: DueJobContext): Promise<void> {
  const { store } = services;
  // Those recalled meanwhile, or that another node holds now, are not among them.
  const released = await store.releaseScheduled(messageIds, ctx.owner, new Date(ctx.nowMs).toISOString());
  if (released.length === 0) return;
  const alerts = await store.alertsOf(released.map((r) => r.message.id));
  const withdrawn = new Set(released.flatMap((r) => (r.replaced?.changed ? [r.replaced.alert.messageId] : [])));
  const senders = new Map<number, User | null>();
  for (const { message, replaced } of released) {
    if (!senders.has(message.senderId)) senders.set(message.senderId, await store.getUserById(message.senderId));
    const sender = senders.get(message.senderId) ?? null;
    const alert = alerts.get(message.id) ?? null;
    if (replaced && sender) await auditRecall(store, { user: sender, address: null }, replaced);
    await store.audit({
      kind: 'message_delivered_scheduled', actorId: message.senderId, subject: String(message.id), address: null,
      detail: {
        deliverAt: alert?.deliverAt ?? null, recipients: message.recipients.length,
        ...(replaced?.changed ? { replaced: replaced.alert.messageId } : {}),
      },
    });
    services.log.info({ messageId: message.id, recipients: message.recipients.length, replaced: replaced?.changed ? replaced.alert.messageId : undefined }, 'scheduled message delivered');
    if (replaced) pushRecalled(services.router, replaced);
    if (!withdrawn.has(message.id)) publishStored(services, message, sender?.institution ?? '', alert);
  }
}

/**
 * An automatic reminder came due: reminds the non-acknowledgers, or ends the reminders when there is
 * no more reason (nobody holding the message has not acknowledged it: those who deleted it without
 * acknowledging are not reminded, so they do not keep the reminders going). Reads the message
 * without its recipients and one row of those who have not acknowledged; recordReminder reads the rest.
 */
async function remindDue(services: AlertJobServices, messageId: number, ctx: DueJobContext): Promise<void> {
  const { store } = services;
  const [message, alert, waiting] = await Promise.all([
    store.getMessageFor(messageId, []), store.alertsOf([messageId]).then((a) => a.get(messageId)),
    store.unacknowledgedRecipients(messageId, { afterId: 0, limit: 1 }),
  ]);
  // Still waiting for its attachments: nobody has it to be reminded; the claim's lease runs out and it is tried again.
  if (message?.state === 'sending') return;
  const everyone = waiting.length === 0;
  if (!message || !alert?.remindEverySeconds || alert.recalledAt || isExpired(alert, ctx.nowMs) || everyone || alert.autoReminders >= alert.remindMax) {
    await store.finishReminders(messageId, ctx.owner);
    return;
  }
  const done = await remindRecipients(services, message, alert, {
    manual: false, owner: ctx.owner, nextAt: nextReminderAt(ctx.nowMs, alert.remindEverySeconds),
  });
  done?.push();
}
