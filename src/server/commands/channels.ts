/**
 * Channels (issue #4): named audiences members subscribe to. The administrator creates,
 * describes and archives them and names who may subscribe (restricted channels) and who may
 * publish (`named` policy); members list, subscribe and unsubscribe; `SEND channel=NAME`
 * publishes (core/services/audiences.ts). The rules are in core/services/channels.ts; these
 * handlers read the arguments, call them, push the changes and answer.
 */
import {
  CHANNEL_ACCESS, CHANNEL_ROLES, PUBLISH_POLICIES, channelToArgs, channelVia,
  messageToArgs, rosterToArgs, type ArgInput, type Args, type ChannelAccess, type ChannelRole, type PublishPolicy,
} from '../../protocol/index.js';
import type { Channel, ChannelStanding } from '../../core/ports/store/channels.js';
import type { Message, User } from '../../core/ports/store.js';
import * as channels from '../../core/services/channels.js';
import { NO_STANDING, channelByName, channelView, readableChannel, visibleChannels } from '../../core/services/channels.js';
import { optionalText, pageFrom } from '../../protocol/arguments.js';
import { audienceName, choice, usernameList } from './audience-args.js';
import { sentArgs, toAttachmentInfo } from './message-args.js';
import { actorOf, authed, type AuthedContext, type Command } from './types.js';

const DESCRIPTION_CHARS = 500;

export function channelArgs(channel: Channel, standing: ChannelStanding, user: User): ArgInput {
  const view = channelView(channel, standing, user);
  return channelToArgs({
    name: channel.name, description: channel.description, access: channel.access, publish: channel.publish,
    archived: channel.archivedAt !== null, archivedAt: channel.archivedAt, createdAt: channel.createdAt,
    subscribers: channel.subscribers, subscribed: standing.subscribed,
    canSubscribe: view.canSubscribe, canPublish: view.canPublish,
  });
}

/** The channel an argument names (`name=`, a leading `#` allowed). */
function named(args: Args): string {
  return audienceName(args.get('name'), 'name', '#');
}

function isSet(args: Args, key: string): boolean {
  const v = args.get(key);
  return v === '1' || v === 'true' || v === 'yes';
}

/** A channel message as a reader of the channel's history sees it (no per-recipient state). */
function historyArgs(m: Message, channel: Channel): ArgInput {
  return messageToArgs({
    id: m.id, from: m.sender, to: [channelVia(channel.name)], audience: 'channel', subject: m.subject, body: m.body,
    sentAt: m.sentAt, via: channelVia(channel.name),
    attachments: m.attachments.map((a) => toAttachmentInfo(a)),
  });
}

/** Tells admin sessions (consoles) a channel changed, and dropped subscribers that they were dropped. */
function announce(ctx: AuthedContext, change: string, channel: Channel, dropped: number[] = []): void {
  const { router } = ctx.services;
  const args = { change, ...channelArgs(channel, NO_STANDING, ctx.auth.user) };
  ctx.afterReply(() => {
    router.pushToAdmins('CHANNEL', args);
    for (const userId of dropped) router.pushToUser(userId, 'SUBSCRIPTION', { name: channel.name, subscribed: 0, by: 'admin' });
  });
}

/** Tells every session of the member that its subscription changed (another screen may show it). */
function subscriptionChanged(ctx: AuthedContext, name: string, subscribed: boolean): void {
  const userId = ctx.auth.user.id;
  ctx.afterReply(() => ctx.services.router.pushToUser(userId, 'SUBSCRIPTION', { name, subscribed: subscribed ? 1 : 0, by: 'self' }));
}

export const channelCommands: Command[] = [
  authed('CHANNELS', 'user', 'CHANNELS [archived=1] — channels you can see, with your standing in each', async (ctx, args) => {
    const list = await visibleChannels(ctx.services.store, ctx.auth.user, isSet(args, 'archived'));
    for (const { channel, standing } of list) ctx.item(channelArgs(channel, standing, ctx.auth.user));
    return { count: list.length };
  }),

  authed('CHANNEL', 'user', 'CHANNEL name= — one channel; administrators also get its roster as ITEM rows', async (ctx, args) => {
    const { store } = ctx.services;
    const channel = await channelByName(store, named(args));
    const standing = await store.channelStanding(channel.id, ctx.auth.user.id);
    if (ctx.auth.user.role === 'admin') {
      for (const r of await store.channelRoster(channel.id)) ctx.item(rosterToArgs(r));
    }
    return channelArgs(channel, standing, ctx.auth.user);
  }),

  authed('SUBSCRIBE', 'member', 'SUBSCRIBE name= — receive the channel\'s messages from now on', async (ctx, args) => {
    const { store } = ctx.services;
    const channel = await channelByName(store, named(args));
    const changed = await store.subscribe(channel.id, ctx.auth.user.id);
    if (changed) subscriptionChanged(ctx, channel.name, true);
    return { name: channel.name, subscribed: 1, changed: changed ? 1 : 0 };
  }),

  authed('UNSUBSCRIBE', 'member', 'UNSUBSCRIBE name= — stop receiving the channel\'s messages', async (ctx, args) => {
    const { store } = ctx.services;
    const channel = await channelByName(store, named(args));
    const changed = await store.unsubscribe(channel.id, ctx.auth.user.id);
    if (changed) subscriptionChanged(ctx, channel.name, false);
    return { name: channel.name, subscribed: 0, changed: changed ? 1 : 0 };
  }),

  authed('CHANNEL_HISTORY', 'user', 'CHANNEL_HISTORY name= [limit=] [before=ID] — messages published to a channel, newest first', async (ctx, args) => {
    const { store, config } = ctx.services;
    const channel = await readableChannel(store, ctx.auth.user, named(args));
    const messages = await store.channelHistory(channel.id, pageFrom(args, config.maxPageSize));
    const admin = ctx.auth.user.role === 'admin';
    for (const m of messages) ctx.item(admin || m.senderId === ctx.auth.user.id ? sentArgs(m) : historyArgs(m, channel));
    return { name: channel.name, count: messages.length };
  }),

  // --- administration

  authed(
    'CHANNEL_CREATE', 'admin',
    'CHANNEL_CREATE name= [description=] [access=open|restricted] [publish=subscribers|named] [members=U,U] [publishers=U,U]',
    async (ctx, args) => {
      const name = named(args);
      const description = optionalText(args, 'description', DESCRIPTION_CHARS, 'Description');
      const access: ChannelAccess = choice(args, 'access', CHANNEL_ACCESS) ?? 'open';
      const publish: PublishPolicy = choice(args, 'publish', PUBLISH_POLICIES) ?? 'subscribers';
      const channel = await channels.createChannel(ctx.services.store, actorOf(ctx), {
        name, description, access, publish, members: usernameList(args, 'members', false), publishers: usernameList(args, 'publishers', false),
      });
      ctx.log.info({ channel: name, access, publish }, 'channel created');
      announce(ctx, 'created', channel);
      return channelArgs(channel, NO_STANDING, ctx.auth.user);
    },
  ),

  authed(
    'CHANNEL_UPDATE', 'admin',
    'CHANNEL_UPDATE name= [description=] [access=open|restricted] [publish=subscribers|named] — describes a channel or changes its rules',
    async (ctx, args) => {
      const name = named(args);
      const changes: channels.ChannelChanges = {};
      if (args.has('description')) changes.description = optionalText(args, 'description', DESCRIPTION_CHARS, 'Description');
      const access = choice(args, 'access', CHANNEL_ACCESS);
      if (access) changes.access = access;
      const publish = choice(args, 'publish', PUBLISH_POLICIES);
      if (publish) changes.publish = publish;
      const { channel: updated, dropped } = await channels.updateChannel(ctx.services.store, actorOf(ctx), name, changes);
      announce(ctx, 'updated', updated, dropped);
      return { ...channelArgs(updated, NO_STANDING, ctx.auth.user), dropped: dropped.length };
    },
  ),

  authed('CHANNEL_ARCHIVE', 'admin', 'CHANNEL_ARCHIVE name= — refuses new messages from now on; history and subscriptions stay', async (ctx, args) => {
    const { channel: after, changed } = await channels.setChannelArchived(ctx.services.store, actorOf(ctx), named(args), true);
    if (changed) announce(ctx, 'archived', after);
    return { ...channelArgs(after, NO_STANDING, ctx.auth.user), changed: changed ? 1 : 0 };
  }),

  authed('CHANNEL_UNARCHIVE', 'admin', 'CHANNEL_UNARCHIVE name= — takes messages again', async (ctx, args) => {
    const { channel: after, changed } = await channels.setChannelArchived(ctx.services.store, actorOf(ctx), named(args), false);
    if (changed) announce(ctx, 'unarchived', after);
    return { ...channelArgs(after, NO_STANDING, ctx.auth.user), changed: changed ? 1 : 0 };
  }),

  authed(
    'CHANNEL_GRANT', 'admin',
    'CHANNEL_GRANT name= username=U[,U…] [role=member|publisher] — names members of a restricted channel, or publishers',
    async (ctx, args) => {
      const name = named(args);
      const role: ChannelRole = choice(args, 'role', CHANNEL_ROLES) ?? 'member';
      const { channel, added, count } = await channels.grantChannelRole(ctx.services.store, actorOf(ctx), name, usernameList(args, 'username', true), role);
      announce(ctx, 'granted', channel);
      return { name: channel.name, role, added, count };
    },
  ),

  authed(
    'CHANNEL_REVOKE', 'admin',
    'CHANNEL_REVOKE name= username=U[,U…] [role=member|publisher] — takes a role away; outsiders of a restricted channel lose their subscription',
    async (ctx, args) => {
      const name = named(args);
      const role: ChannelRole = choice(args, 'role', CHANNEL_ROLES) ?? 'member';
      const { channel, revoked, dropped } = await channels.revokeChannelRole(ctx.services.store, actorOf(ctx), name, usernameList(args, 'username', true), role);
      announce(ctx, 'revoked', channel, dropped);
      return { name: channel.name, role, revoked, dropped: dropped.length };
    },
  ),
];
