import { SiarError, messageToArgs, type MessageRecord } from '../../protocol/index.js';
import { parseAlert, recipientAlertRecord, senderAlertRecord } from '../alerts.js';
import { announceRecall, recordAlertSent } from './alerts.js';
import { auditRecall } from '../../core/services/alerts.js';
import { publishStored } from '../delivery.js';
import { pushableRecipients } from '../../core/services/delivery.js';
import { admitMessage } from '../sending-limits.js';
import { deleteFromInbox, openMessage, sendMessage } from '../../core/services/messaging.js';
import type { Message } from '../../core/ports/store.js';
import { flag, optionalRawText, pageFrom, requireId, requireText } from '../../protocol/arguments.js';
import { channelArgument, recipientNames } from './audience-args.js';
import { directoryAudiences } from './groups.js';
import { audienceTo, inboxArgs, sentArgs, toAttachmentInfo } from './message-args.js';
import { attachmentFields, parseAttachmentDeclarations, sendingReply } from './attachments.js';
import { actorOf, authed, type AuthedContext, type Command } from './types.js';

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
    const { config } = ctx.services;
    const subject = requireText(args, 'subject', config.maxSubjectChars, 'Subject');
    const body = optionalRawText(args, 'body', config.maxBodyChars, 'Body');
    const attachments = parseAttachmentDeclarations(args, config);
    const alert = parseAlert(args, ctx.auth.user, config);
    const to = { to: recipientNames(args.getAll('to')), all: flag(args, 'all'), channel: channelArgument(args.get('channel')) };
    const { message, alert: stored, replaced } = await sendMessage({
      store: ctx.services.store,
      admit: (sender, draft) => admitMessage(ctx.services, sender, draft),
      pushedAfterCommit: pushableRecipients(ctx.services.router.local),
      activeMembers: (names) => ctx.services.accounts.activeMembers(names, (unknown) => ctx.services.store.resolveActiveMembers(unknown)),
    }, actorOf(ctx), { subject, body, ...attachmentFields(attachments, config), to, alert });
    const { audience } = message;
    if (replaced) {
      await auditRecall(ctx.services.store, actorOf(ctx), replaced);
      await announceRecall(ctx, replaced);
    }
    await recordAlertSent(ctx, message, audience, stored);
    ctx.log.info({ messageId: message.id, audience, recipients: message.recipients.length, via: message.via, priority: stored?.priority }, 'message stored');
    const reply = {
      id: message.id, sentAt: message.sentAt, recipients: message.recipients.length, audience, via: message.via ?? undefined,
      priority: stored && stored.priority !== 'normal' ? stored.priority : undefined, ack: stored?.ack ? 1 : undefined,
      expiresAt: stored?.expiresAt ?? undefined, replaces: stored?.replacesId ?? undefined,
      remind: stored?.remindEverySeconds ?? undefined, remindMax: stored?.remindEverySeconds ? stored.remindMax : undefined,
      deliverAt: stored?.deliverAt ?? undefined, state: stored?.scheduled ? 'scheduled' : undefined,
    };
    // With attachments, the popups go out when the last one is uploaded (docs/PROTOCOL-transfer.md);
    // a scheduled one's, at its time once the last one is uploaded, whichever comes later.
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
    const id = requireId(args);
    const me = ctx.auth.user;
    const opened = await openMessage(ctx.services.store, me, id);
    if (opened.as === 'sender') return sentArgs(opened.message, await uploadProgress(ctx, opened.message), (await senderAlerts(ctx, [opened.message]))(opened.message));
    const { message: fresh, state } = opened;
    if (opened.firstRead) ctx.services.router.pushToUser(fresh.senderId, 'READ', { id, by: me.username, at: state.readAt ?? '' });
    // A recipient sees who else it went to, but not the others' state (nor a channel's subscribers).
    return messageToArgs({
      id, from: fresh.sender, to: audienceTo(fresh.audience, fresh.via, fresh.recipients.map((r) => r.username)),
      audience: fresh.audience, subject: fresh.subject, body: fresh.body, sentAt: fresh.sentAt,
      attachments: fresh.attachments.map((a) => toAttachmentInfo(a)), deliveredAt: state.deliveredAt, readAt: state.readAt,
      ...(state.via ? { via: state.via } : {}),
      ...(await recipientAlerts(ctx, [id]))(id),
    });
  }),

  authed('DELETE', 'user', 'DELETE id= — removes a message from your own inbox', async (ctx, args) => {
    const id = requireId(args);
    await deleteFromInbox(ctx.services.store, ctx.auth.user, id);
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
