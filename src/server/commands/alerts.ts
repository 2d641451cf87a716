import { SiarError } from '../../protocol/index.js';
import type { Message, RecallOutcome } from '../../core/ports/store.js';
import { isExpired, recalledError, recipientState } from '../alerts.js';
import { remindRecipients } from '../alert-jobs.js';
import { optionalText, requireId } from '../validation.js';
import { authed, type AuthedContext, type Command } from './types.js';

/**
 * The alert verbs (issue 21, docs/PROTOCOL.md §Alerts): a recipient acknowledges; the sender (or
 * the administrator) sees who has not.
 */

/** The message, when the caller sent it or is the administrator; NOT_FOUND otherwise (ids reveal nothing). */
async function ownMessage(ctx: AuthedContext, id: number): Promise<Message> {
  const message = await ctx.services.store.getMessage(id);
  if (message && (message.senderId === ctx.auth.user.id || ctx.auth.user.role === 'admin')) return message;
  throw new SiarError('NOT_FOUND', `No message ${id} in your outbox.`);
}

/** The longest recall reason, in characters. */
const MAX_REASON_CHARS = 200;

/**
 * After a recall committed: its recipients that had the popup are told (`*|RECALLED`, after the
 * reply), and the audit log records it. Returns how many recipients were online to be told.
 */
export async function announceRecall(ctx: AuthedContext, out: RecallOutcome): Promise<number> {
  const { alert } = out;
  if (!out.changed) return 0;
  await ctx.services.store.audit({
    kind: 'message_recalled', actorId: ctx.auth.user.id, subject: String(alert.messageId), address: ctx.conn.remoteAddress,
    detail: { reason: alert.recallReason ?? '', undelivered: out.undelivered.length, delivered: out.delivered.length, ...(alert.replacedBy ? { replacedBy: alert.replacedBy } : {}) },
  });
  const online = out.delivered.filter((id) => ctx.services.router.isOnline(id)).length;
  ctx.afterReply(() => {
    const push = { id: alert.messageId, reason: alert.recallReason ?? '', at: alert.recalledAt ?? '', replacedBy: alert.replacedBy ?? undefined };
    for (const userId of out.delivered) ctx.services.router.pushToUser(userId, 'RECALLED', push);
  });
  return online;
}

export const alertCommands: Command[] = [
  authed('ACK', 'user', 'ACK id= — acknowledges a message you received (its sender sees it)', async (ctx, args) => {
    const id = requireId(args);
    const { store, router } = ctx.services;
    const me = ctx.auth.user;
    const alert = (await store.alertsOf([id])).get(id);
    if (alert?.recalledAt && (await store.messageRole(id, me.id)) === 'recipient') throw recalledError(id, alert);
    const done = await store.acknowledge(id, me.id);
    if (!done) throw new SiarError('NOT_FOUND', `No message ${id} in your inbox.`);
    if (!done.already) {
      const message = await store.getMessage(id);
      if (message) ctx.afterReply(() => router.pushToUser(message.senderId, 'ACK', { id, by: me.username, at: done.ackedAt }));
    }
    return { id, ackedAt: done.ackedAt, already: done.already ? 1 : 0 };
  }),

  authed('REPORT', 'user', 'REPORT id= — every recipient of a message you sent: delivered, read, acknowledged; who has not', async (ctx, args) => {
    const id = requireId(args);
    const message = await ownMessage(ctx, id);
    const { store } = ctx.services;
    const [alert, acks, members] = await Promise.all([
      store.alertsOf([id]).then((a) => a.get(id)), store.acksOf([id]).then((a) => a.get(id)), store.listMembers(),
    ]);
    const institutions = new Map(members.map((u) => [u.id, u.institution]));
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
    };
  }),

  authed('RECALL', 'user', 'RECALL id= [reason=] — withdraws a message you sent: nobody gets it any more, those who did see it withdrawn', async (ctx, args) => {
    const id = requireId(args);
    const reason = optionalText(args, 'reason', MAX_REASON_CHARS, 'Reason');
    const message = await ownMessage(ctx, id);
    if (message.state === 'sending') throw new SiarError('BAD_ARGUMENT', `Message ${id} is still waiting for its attachments: CANCEL id=${id} withdraws it (siar cancel ${id}).`);
    const out = await ctx.services.store.recallMessage({ messageId: id, byUserId: ctx.auth.user.id, reason });
    if (!out) throw new SiarError('NOT_FOUND', `No message ${id} in your outbox.`);
    const notified = await announceRecall(ctx, out);
    return {
      id, recalledAt: out.alert.recalledAt ?? '', undelivered: out.undelivered.length, notified,
      ...(out.changed ? {} : { already: 1 }),
    };
  }),

  authed('REMIND', 'user', 'REMIND id= — pops a message you sent up again at everyone who has not acknowledged it', async (ctx, args) => {
    const id = requireId(args);
    const message = await ownMessage(ctx, id);
    const { store } = ctx.services;
    const alert = (await store.alertsOf([id])).get(id);
    if (!alert?.ack) throw new SiarError('BAD_ARGUMENT', `Message ${id} did not ask for acknowledgement: there is nobody to remind.`);
    if (alert.recalledAt) throw new SiarError('BAD_ARGUMENT', `Message ${id} was recalled: it is not reminded.`);
    if (isExpired(alert)) throw new SiarError('BAD_ARGUMENT', `Message ${id} has expired: it is not reminded.`);
    if (alert.scheduled) throw new SiarError('BAD_ARGUMENT', `Message ${id} is scheduled for ${alert.deliverAt}: nobody has it yet to be reminded.`);
    const out = await remindRecipients(ctx.services, message, alert, { manual: true, actorId: ctx.auth.user.id, address: ctx.conn.remoteAddress });
    if (!out) throw new SiarError('NOT_FOUND', `No message ${id} in your outbox.`);
    ctx.afterReply(out.push);
    return { id, reminded: out.reminded, online: out.online, reminders: out.reminders };
  }),
];
