import { SiarError, messageToArgs, type ArgInput, type MessageRecord } from '../../protocol/index.js';
import { parseAlert, recalledError, recipientAlertRecord, senderAlertRecord } from '../alerts.js';
import { announceRecall } from './alerts.js';
import { publishStored, pushableRecipients } from '../delivery.js';
import { admitMessage } from '../sending-limits.js';
import { channelArgument, recipientNames, resolveRecipients } from '../recipients.js';
import type { Audience, InboxEntry, Message } from '../../core/ports/store.js';
import { flag, optionalRawText, pageFrom, requireId, requireText } from '../validation.js';
import { directoryAudiences } from './groups.js';
import { attachmentFields, parseAttachmentDeclarations, sendingReply } from './attachments.js';
import { authed, type AuthedContext, type Command } from './types.js';

/**
 * A message's `to=`, the same in INBOX, READ and OUTBOX, for its recipients and its sender: `*`
 * for a broadcast, the channel (`#name`) for a channel message, otherwise every recipient.
 */
function audienceTo(audience: Audience, via: string | null | undefined, recipients: readonly string[]): string[] {
  if (audience === 'all') return ['*'];
  if (audience === 'channel' && via) return [via];
  return [...recipients];
}

function inboxArgs(e: InboxEntry, extra: Partial<MessageRecord>): ArgInput {
  return messageToArgs({
    id: e.id, from: e.sender, to: audienceTo(e.audience, e.messageVia, e.recipients), audience: e.audience,
    subject: e.subject, body: e.body, sentAt: e.sentAt,
    attachments: e.attachments.map((a) => toAttachmentInfo(a)), deliveredAt: e.deliveredAt, readAt: e.readAt,
    ...(e.via ? { via: e.via } : {}),
    // The alert fields last: a withdrawn message's body and attachments are emptied.
    ...extra,
  });
}

function toAttachmentInfo(a: Message['attachments'][number], uploaded?: number) {
  return { id: a.id, name: a.name, size: a.size, sha256: a.sha256, type: a.mediaType, ...(uploaded !== undefined ? { uploaded } : {}) };
}

/**
 * The message as the sender sees it: every recipient's state; while it is 'sending', when it
 * expires and how many bytes of each attachment the server holds (`uploaded`, by attachment id).
 */
export function sentArgs(m: Message, uploaded?: ReadonlyMap<number, number>, extra: Partial<MessageRecord> = {}): ArgInput {
  return messageToArgs({
    ...extra,
    id: m.id, from: m.sender, to: audienceTo(m.audience, m.via, m.recipients.map((r) => r.username)), audience: m.audience,
    subject: m.subject, body: m.body, sentAt: m.sentAt, attachments: m.attachments.map((a) => toAttachmentInfo(a, uploaded?.get(a.id))),
    recipients: m.recipients.map((r) => ({ username: r.username, deliveredAt: r.deliveredAt, readAt: r.readAt, ...(r.via ? { via: r.via } : {}) })),
    ...(m.via ? { via: m.via } : {}),
    // Only the sender sees a message that is not out yet: 'sending', 'expired' or 'cancelled'.
    ...(m.state !== 'sent' ? { state: m.state } : {}),
    ...(m.state === 'sending' && m.uploadDeadline ? { uploadDeadline: m.uploadDeadline } : {}),
  });
}

/** How far each attachment of a message still being sent got (nothing for the others). */
async function uploadProgress(ctx: AuthedContext, m: Message): Promise<Map<number, number> | undefined> {
  const transfers = ctx.services.transfers;
  if (m.state !== 'sending' || !transfers) return undefined;
  return new Map(await Promise.all(m.attachments.map(async (a) => [a.id, await transfers.uploadedBytes(a)] as const)));
}

/** The sender's alert fields of these messages (two queries for a page). */
async function senderAlerts(ctx: AuthedContext, messages: readonly Message[]): Promise<(m: Message) => Partial<MessageRecord>> {
  const ids = messages.map((m) => m.id);
  const [alerts, acks] = await Promise.all([ctx.services.store.alertsOf(ids), ctx.services.store.acksOf(ids)]);
  return (m) => senderAlertRecord(m, alerts.get(m.id), acks.get(m.id));
}

/** A recipient's alert fields of these messages: the alert and its own acknowledgement. */
async function recipientAlerts(ctx: AuthedContext, ids: readonly number[]): Promise<(id: number) => Partial<MessageRecord>> {
  const [alerts, acks] = await Promise.all([ctx.services.store.alertsOf(ids), ctx.services.store.acksOf(ids)]);
  const me = ctx.auth.user.id;
  return (id) => recipientAlertRecord(alerts.get(id), acks.get(id)?.get(me));
}

export const messagingCommands: Command[] = [
  authed('SEND', 'user', 'SEND (to=USER|@GROUP[,…] | all=1 | channel=NAME) subject= [body=] — stores, then pops up at every recipient', async (ctx, args) => {
    const { config, store } = ctx.services;
    const subject = requireText(args, 'subject', config.maxSubjectChars, 'Subject');
    const body = optionalRawText(args, 'body', config.maxBodyChars, 'Body');
    const attachments = parseAttachmentDeclarations(args, config);
    const alert = parseAlert(args, ctx.auth.user, config);
    if (alert?.deliverAt && attachments.length > 0) {
      throw new SiarError('BAD_ARGUMENT', 'This server does not schedule messages with attachments yet: send it without at=, or schedule a notice that says where the files are. Nothing was sent.');
    }
    if (alert?.replaces) {
      // Only a message of one's own (the administrator: any) can be replaced; ids reveal nothing.
      const old = await store.getMessage(alert.replaces.messageId);
      if (!old || (old.senderId !== ctx.auth.user.id && ctx.auth.user.role !== 'admin')) {
        throw new SiarError('NOT_FOUND', `No message ${alert.replaces.messageId} in your outbox to replace. Nothing was sent.`);
      }
    }
    const limits = await admitMessage(ctx.services, ctx.auth.user, { subject, body, attachments });
    const { audience, ids, ...routing } = await resolveRecipients(ctx.services, ctx.auth.user, {
      to: recipientNames(args.getAll('to')), all: flag(args, 'all'), channel: channelArgument(args.get('channel')),
    });
    const input = {
      senderId: ctx.auth.user.id, audience, recipientIds: ids, subject, body, ...routing, ...attachmentFields(attachments, config),
      pushedAfterCommit: pushableRecipients(ctx.services.router.local),
    };
    const { message, alert: stored, replaced } = await (alert ? store.storeAlertedMessage(input, alert, limits) : store.storeMessage(input, limits).then((m) => ({ message: m, alert: null, replaced: null })));
    if (replaced) await announceRecall(ctx, replaced);
    if (stored?.scheduled) {
      await store.audit({
        kind: 'message_scheduled', actorId: ctx.auth.user.id, subject: String(message.id), address: ctx.conn.remoteAddress,
        detail: { deliverAt: stored.deliverAt, recipients: message.recipients.length },
      });
    }
    ctx.log.info({ messageId: message.id, audience, recipients: message.recipients.length, via: message.via, priority: stored?.priority }, 'message stored');
    const reply = {
      id: message.id, sentAt: message.sentAt, recipients: message.recipients.length, audience, via: message.via ?? undefined,
      priority: stored && stored.priority !== 'normal' ? stored.priority : undefined, ack: stored?.ack ? 1 : undefined,
      expiresAt: stored?.expiresAt ?? undefined, replaces: stored?.replacesId ?? undefined,
      remind: stored?.remindEverySeconds ?? undefined, remindMax: stored?.remindEverySeconds ? stored.remindMax : undefined,
      deliverAt: stored?.deliverAt ?? undefined, state: stored?.scheduled ? 'scheduled' : undefined,
    };
    // With attachments, the popups go out when the last one is uploaded (docs/PROTOCOL-transfer.md).
    if (message.state === 'sending') return { ...reply, ...sendingReply(message) };
    // A scheduled message goes out at its time: the due-jobs runner releases it (alert-jobs.ts).
    if (stored?.scheduled) return reply;
    // Popups go out after the OK (the sender's acknowledgement follows the commit, never a push).
    const institution = ctx.auth.user.institution;
    ctx.afterReply(() => publishStored(ctx.services, message, institution, stored));
    return reply;
  }),

  authed('INBOX', 'user', 'INBOX [limit=] [before=ID] [unread=1] — received messages, newest first', async (ctx, args) => {
    const { store, config } = ctx.services;
    const entries = await store.inbox(ctx.auth.user.id, pageFrom(args, config.maxPageSize), { unreadOnly: flag(args, 'unread') });
    const alerts = await recipientAlerts(ctx, entries.map((e) => e.id));
    for (const e of entries) ctx.item(inboxArgs(e, alerts(e.id)));
    return { count: entries.length, unread: await store.unreadCount(ctx.auth.user.id) };
  }),

  authed('OUTBOX', 'user', 'OUTBOX [limit=] [before=ID] — sent messages with each recipient\'s delivered/read state', async (ctx, args) => {
    const messages = await ctx.services.store.outbox(ctx.auth.user.id, pageFrom(args, ctx.services.config.maxPageSize));
    const alerts = await senderAlerts(ctx, messages);
    for (const m of messages) ctx.item(sentArgs(m, await uploadProgress(ctx, m), alerts(m)));
    return { count: messages.length };
  }),

  authed('READ', 'user', 'READ id= — opens a message (marks it read for a recipient)', async (ctx, args) => {
    const { store, router } = ctx.services;
    const id = requireId(args);
    const me = ctx.auth.user;
    const message = await store.getMessage(id);
    const mine = message?.recipients.find((r) => r.userId === me.id);
    const alert = mine ? (await store.alertsOf([id])).get(id) : undefined;
    // A withdrawn message is not opened (nor marked read): RECALLED, with the reason (issue 21).
    if (alert?.recalledAt && mine && (await store.messageRole(id, me.id)) === 'recipient') throw recalledError(id, alert);
    if (message && mine && (await store.markRead(id, me.id))) {
      const fresh = (await store.getMessage(id))!;
      const state = fresh.recipients.find((r) => r.userId === me.id)!;
      if (!mine.readAt) router.pushToUser(message.senderId, 'READ', { id, by: me.username, at: state.readAt ?? '' });
      // A recipient sees who else it went to, but not the others' state (nor a channel's subscribers).
      return messageToArgs({
        id, from: fresh.sender, to: audienceTo(fresh.audience, fresh.via, fresh.recipients.map((r) => r.username)),
        audience: fresh.audience, subject: fresh.subject, body: fresh.body, sentAt: fresh.sentAt,
        attachments: fresh.attachments.map((a) => toAttachmentInfo(a)), deliveredAt: state.deliveredAt, readAt: state.readAt,
        ...(state.via ? { via: state.via } : {}),
        ...(await recipientAlerts(ctx, [id]))(id),
      });
    }
    if (message && message.senderId === me.id) return sentArgs(message, await uploadProgress(ctx, message), (await senderAlerts(ctx, [message]))(message));
    // Same answer whether the message does not exist or belongs to others: ids reveal nothing.
    throw new SiarError('NOT_FOUND', `No message ${id} in your inbox or outbox.`);
  }),

  authed('DELETE', 'user', 'DELETE id= — removes a message from your own inbox', async (ctx, args) => {
    const id = requireId(args);
    const { store } = ctx.services;
    if (!(await store.deleteFromInbox(id, ctx.auth.user.id))) {
      // Your own message still being sent is not in any inbox: CANCEL is what withdraws it.
      const own = await store.getMessage(id);
      if (own?.senderId === ctx.auth.user.id && own.state === 'sending') {
        throw new SiarError('NOT_FOUND', `Message ${id} is your own, still waiting for its attachments: CANCEL id=${id} withdraws it (siar cancel ${id}).`);
      }
      throw new SiarError('NOT_FOUND', `No message ${id} in your inbox.`);
    }
    return { deleted: id };
  }),

  authed('DIRECTORY', 'user', 'DIRECTORY [kind=member|channel|group] — active member institutions, then channels and groups, for addressing', async (ctx, args) => {
    const kind = args.get('kind') || undefined;
    if (kind !== undefined && !['member', 'channel', 'group'].includes(kind)) {
      throw new SiarError('BAD_ARGUMENT', 'kind must be one of member, channel, group.');
    }
    const members = kind === undefined || kind === 'member' ? (await ctx.services.store.listMembers()).filter((u) => u.status === 'active') : [];
    const online = await ctx.services.router.onlineAmong(members.map((u) => u.id));
    for (const u of members) {
      ctx.item({ kind: 'member', username: u.username, institution: u.institution, online: online.has(u.id) ? 1 : 0 });
    }
    // Channels (kind=channel) and groups (kind=group) follow the member rows (issue #4).
    const { channels, groups } = await directoryAudiences(ctx, kind);
    return { count: members.length + channels + groups, members: members.length, channels, groups };
  }),
];
