import { SiarError } from '../../protocol/index.js';
import type { Audience, Message, MessageAlert, RecallOutcome } from '../../core/ports/store.js';
import { acknowledge, isExpired, ownMessage, recall, remindable } from '../../core/services/alerts.js';
import { pushRecalled, recipientState } from '../alerts.js';
import { remindRecipients } from '../alert-jobs.js';
import { takeReportRate, takeSendRate } from '../sending-limits.js';
import { optionalText, requireId } from '../../protocol/arguments.js';
import { actorOf, authed, type AuthedContext, type Command } from './types.js';

/**
 * The alert verbs (issue 21, docs/PROTOCOL.md §Alerts): a recipient acknowledges; the sender (or
 * the administrator) sees who has not, recalls, reminds. The rules are in core/services/alerts.ts.
 */

/** The longest recall reason, in characters. */
const MAX_REASON_CHARS = 200;

/**
 * After a recall committed (and was audited): its recipients that had the popup are told
 * (`*|RECALLED`, after the reply). Returns how many recipients were online to be told.
 */
export async function announceRecall(ctx: AuthedContext, out: RecallOutcome): Promise<number> {
  if (!out.changed) return 0;
  // One presence read for all of them (isOnline is a promise: filtering on it counted everyone).
  const online = (await ctx.services.router.onlineAmong(out.delivered)).size;
  ctx.afterReply(() => pushRecalled(ctx.services.router, out));
  return online;
}

/**
 * SEND records what the administrator's view must account for (issue 21 item 7): an urgent
 * message counts in STATS (`urgent=`), and an alert to all members from the administrator
 * (`siar admin send`, the console's `a`) or any urgent message is audited `alert_sent` with its
 * priority, acknowledgement, expiry and recipient count.
 */
export async function recordAlertSent(ctx: AuthedContext, message: Message, audience: Audience, alert: MessageAlert | null): Promise<void> {
  if (alert?.priority === 'urgent') ctx.services.stats.urgentSent();
  const adminToAll = ctx.auth.user.role === 'admin' && audience === 'all';
  if (!adminToAll && alert?.priority !== 'urgent') return;
  await ctx.services.store.audit({
    kind: 'alert_sent', actorId: ctx.auth.user.id, subject: String(message.id), address: ctx.conn.remoteAddress,
    detail: {
      audience, recipients: message.recipients.length, priority: alert?.priority ?? 'normal', ack: alert?.ack ?? false,
      ...(alert?.expiresAt ? { expiresAt: alert.expiresAt } : {}), ...(alert?.replacesId ? { replaces: alert.replacesId } : {}),
      ...(message.attachments.length > 0 ? { attachments: message.attachments.length } : {}),
    },
  });
}

export const alertCommands: Command[] = [
  authed('ACK', 'user', 'ACK id= — acknowledges a message you received (its sender sees it)', async (ctx, args) => {
    const id = requireId(args);
    const me = ctx.auth.user;
    const done = await acknowledge(ctx.services.store, me, id);
    const { senderId } = done;
    if (senderId !== null) ctx.afterReply(() => ctx.services.router.pushToUser(senderId, 'ACK', { id, by: me.username, at: done.ackedAt }));
    return { id, ackedAt: done.ackedAt, already: done.already ? 1 : 0 };
  }),

  authed('REPORT', 'user', 'REPORT id= — every recipient of a message you sent: delivered, read, acknowledged; who has not', async (ctx, args) => {
    const id = requireId(args);
    const { store } = ctx.services;
    // Counted before anything is read: a member's REPORT calls have a rate of their own.
    await takeReportRate(ctx.services, ctx.auth.user);
    const message = await ownMessage(store, ctx.auth.user, id);
    // Only what the report names: the message's recipients' institutions, not the member list.
    const [alert, acks, institutions] = await Promise.all([
      store.alertsOf([id]).then((a) => a.get(id)), store.acksOf([id]).then((a) => a.get(id)),
      store.institutionsOf(message.recipients.map((r) => r.userId)),
    ]);
    const rows = message.recipients.map((r) => ({ r, ackedAt: acks?.get(r.userId), state: recipientState(r, acks?.get(r.userId)) }));
    // Those who have not acknowledged first, each part by username (the store's order).
    rows.sort((a, b) => Number(a.state === 'acknowledged') - Number(b.state === 'acknowledged'));
    for (const { r, ackedAt, state } of rows) {
      ctx.item({
        username: r.username, institution: institutions.get(r.userId) ?? '', deliveredAt: r.deliveredAt ?? '', readAt: r.readAt ?? '',
        ackedAt: ackedAt ?? '', state,
      });
    }
    const acknowledged = rows.filter((x) => x.ackedAt).length;
    return {
      id, recipients: rows.length, delivered: rows.filter((x) => x.r.deliveredAt).length, read: rows.filter((x) => x.r.readAt).length,
      acknowledged, notAcknowledged: rows.length - acknowledged, ack: alert?.ack ? 1 : 0,
      priority: alert && alert.priority !== 'normal' ? alert.priority : undefined,
      // Counts alone read like a live message's, for one nobody has yet (scheduled) or gets any more.
      state: alert?.recalledAt ? 'recalled' : alert?.scheduled ? 'scheduled' : isExpired(alert) ? 'expired' : undefined,
    };
  }),

  authed('RECALL', 'user', 'RECALL id= [reason=] — withdraws a message you sent: nobody gets it any more, those who did see it withdrawn', async (ctx, args) => {
    const id = requireId(args);
    const reason = optionalText(args, 'reason', MAX_REASON_CHARS, 'Reason');
    const out = await recall(ctx.services.store, actorOf(ctx), id, reason);
    const notified = await announceRecall(ctx, out);
    return {
      id, recalledAt: out.alert.recalledAt ?? '', undelivered: out.undelivered.length, notified,
      ...(out.changed ? {} : { already: 1 }),
    };
  }),

  authed('REMIND', 'user', 'REMIND id= — pops a message you sent up again at everyone who has not acknowledged it', async (ctx, args) => {
    const id = requireId(args);
    const { message, alert } = await remindable(ctx.services.store, ctx.auth.user, id);
    // A reminder pops the message up at every recipient again: a send, under the member's rate.
    await takeSendRate(ctx.services, ctx.auth.user, 'messages or reminders', 'no reminder went out');
    const out = await remindRecipients(ctx.services, message, alert, { manual: true, actorId: ctx.auth.user.id, address: ctx.conn.remoteAddress });
    if (!out) throw new SiarError('NOT_FOUND', `No message ${id} in your outbox.`);
    ctx.afterReply(out.push);
    return { id, reminded: out.reminded, online: out.online, reminders: out.reminders };
  }),
];
