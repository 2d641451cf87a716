/**
 * Channels (issue #4): named audiences members subscribe to. The administrator creates,
 * describes and archives them and names who may subscribe (restricted channels) and who may
 * publish (`named` policy); members list, subscribe and unsubscribe; `SEND channel=NAME`
 * publishes (recipients.ts). Policy lives here, SQL in store/channels.ts.
 */
import {
  AUDIENCE_NAME_PATTERN, CHANNEL_ACCESS, CHANNEL_ROLES, PUBLISH_POLICIES, SiarError, channelToArgs, channelVia,
  messageToArgs, rosterToArgs, type ArgInput, type Args, type ChannelAccess, type ChannelRole, type PublishPolicy,
} from '../../protocol/index.js';
import type { Channel, ChannelStanding } from '../../core/ports/store/channels.js';
import type { Message, User } from '../../core/ports/store.js';
import { USERNAME_PATTERN, optionalText, pageFrom } from '../validation.js';
import { sentArgs } from './messaging.js';
import { authed, type AuthedContext, type Command, type Services } from './types.js';

const DESCRIPTION_CHARS = 500;

/** A channel or group name from an argument; a leading `#` (channels) or `@` (groups) is allowed. */
export function audienceName(raw: string | undefined, key: string, prefix: '#' | '@'): string {
  const value = raw?.trim().toLowerCase() ?? '';
  const name = value.startsWith(prefix) ? value.slice(1) : value;
  if (!name) throw new SiarError('MISSING_ARGUMENT', `${key}= is required.`);
  if (!AUDIENCE_NAME_PATTERN.test(name)) {
    throw new SiarError('BAD_ARGUMENT', `${key} must be 2-32 characters: a-z first, then a-z, 0-9, ".", "_" or "-".`);
  }
  return name;
}

/** `username=a,b` and `username=a|username=b` both work; lower-cased, duplicates dropped. */
export function usernameList(args: Args, key: string, required: boolean): string[] {
  const names = [...new Set(args.getAll(key).flatMap((v) => v.split(',')).map((s) => s.trim().toLowerCase()).filter(Boolean))];
  if (required && names.length === 0) throw new SiarError('MISSING_ARGUMENT', `Name at least one member (${key}=).`);
  for (const n of names) {
    if (!USERNAME_PATTERN.test(n)) throw new SiarError('BAD_ARGUMENT', `"${n}" is not a valid username.`);
  }
  return names;
}

/** Looks the usernames up (any status); any that is not a member fails the whole command. */
export async function membersNamed(services: Services, names: string[]): Promise<User[]> {
  const users = await Promise.all(names.map((n) => services.store.getUserByUsername(n)));
  const missing = names.filter((_, i) => users[i]?.role !== 'member');
  if (missing.length > 0) throw new SiarError('NOT_FOUND', `No member named ${missing.join(', ')}; nothing was changed.`);
  return users as User[];
}

function choice<T extends string>(args: Args, key: string, allowed: readonly T[]): T | undefined {
  const v = args.get(key)?.trim().toLowerCase();
  if (v === undefined || v === '') return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new SiarError('BAD_ARGUMENT', `${key} must be one of ${allowed.join(', ')}.`);
  return v as T;
}

/** What a user may do with a channel. Administrators see and publish everywhere but never subscribe. */
export interface ChannelView {
  /** Open channel, or named as member or publisher of a restricted one. */
  insider: boolean;
  visible: boolean;
  canSubscribe: boolean;
  canPublish: boolean;
}

export function channelView(channel: Channel, standing: ChannelStanding, user: User): ChannelView {
  const admin = user.role === 'admin';
  const live = channel.archivedAt === null;
  const insider = channel.access === 'open' || standing.member || standing.publisher;
  const mayPublish = channel.publish === 'subscribers' ? standing.subscribed : standing.publisher;
  return {
    insider,
    visible: admin || insider || standing.subscribed,
    canSubscribe: !admin && live && insider,
    canPublish: live && (admin || (insider && mayPublish)),
  };
}

export function channelArgs(channel: Channel, standing: ChannelStanding, user: User): ArgInput {
  const view = channelView(channel, standing, user);
  return channelToArgs({
    name: channel.name, description: channel.description, access: channel.access, publish: channel.publish,
    archived: channel.archivedAt !== null, archivedAt: channel.archivedAt, createdAt: channel.createdAt,
    subscribers: channel.subscribers, subscribed: standing.subscribed,
    canSubscribe: view.canSubscribe, canPublish: view.canPublish,
  });
}

export async function channelByName(services: Services, name: string): Promise<Channel> {
  const channel = await services.store.getChannel(name);
  if (!channel) throw new SiarError('UNKNOWN_CHANNEL', `There is no channel named ${name}.`);
  return channel;
}

/**
 * The checks before `SEND channel=NAME`: the channel exists, is not archived, and the sender
 * may publish to it. The store checks "not archived" again in the transaction that stores.
 */
export async function channelForPublish(services: Services, user: User, name: string): Promise<Channel> {
  const channel = await channelByName(services, name);
  if (channel.archivedAt !== null) {
    throw new SiarError('CHANNEL_ARCHIVED', `The channel ${name} is archived; it keeps its history but takes no new messages.`);
  }
  const standing = await services.store.channelStanding(channel.id, user.id);
  const view = channelView(channel, standing, user);
  if (view.canPublish) return channel;
  if (!view.insider) {
    throw new SiarError('CHANNEL_RESTRICTED', `The channel ${name} is restricted to members the administrator chose; nothing was sent.`);
  }
  throw new SiarError(
    'PUBLISH_DENIED',
    channel.publish === 'named'
      ? `Only the publishers the administrator named may publish to ${name}; nothing was sent.`
      : `Only subscribers may publish to ${name}; subscribe first. Nothing was sent.`,
  );
}

const NO_STANDING: ChannelStanding = { member: false, publisher: false, subscribed: false };

/** The channels a user sees, with its standing in each; archived ones only when asked. */
export async function visibleChannels(
  services: Services, user: User, withArchived: boolean,
): Promise<Array<{ channel: Channel; standing: ChannelStanding }>> {
  const standings = await services.store.channelStandings(user.id);
  return (await services.store.listChannels())
    .map((channel) => ({ channel, standing: standings.get(channel.id) ?? NO_STANDING }))
    .filter(({ channel, standing }) => (withArchived || channel.archivedAt === null) && channelView(channel, standing, user).visible);
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
    attachments: m.attachments.map((a) => ({ id: a.id, name: a.name, size: a.size, sha256: a.sha256, type: a.mediaType })),
  });
}

async function auditChannel(ctx: AuthedContext, kind: string, channel: Channel, detail: Record<string, unknown> = {}): Promise<void> {
  await ctx.services.store.audit({
    kind, actorId: ctx.auth.user.id, subject: channel.name, address: ctx.conn.remoteAddress, detail,
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
    const list = await visibleChannels(ctx.services, ctx.auth.user, isSet(args, 'archived'));
    for (const { channel, standing } of list) ctx.item(channelArgs(channel, standing, ctx.auth.user));
    return { count: list.length };
  }),

  authed('CHANNEL', 'user', 'CHANNEL name= — one channel; administrators also get its roster as ITEM rows', async (ctx, args) => {
    const { store } = ctx.services;
    const channel = await channelByName(ctx.services, audienceName(args.get('name'), 'name', '#'));
    const standing = await store.channelStanding(channel.id, ctx.auth.user.id);
    if (ctx.auth.user.role === 'admin') {
      for (const r of await store.channelRoster(channel.id)) ctx.item(rosterToArgs(r));
    }
    return channelArgs(channel, standing, ctx.auth.user);
  }),

  authed('SUBSCRIBE', 'member', 'SUBSCRIBE name= — receive the channel\'s messages from now on', async (ctx, args) => {
    const { store } = ctx.services;
    const channel = await channelByName(ctx.services, audienceName(args.get('name'), 'name', '#'));
    const changed = await store.subscribe(channel.id, ctx.auth.user.id);
    if (changed) subscriptionChanged(ctx, channel.name, true);
    return { name: channel.name, subscribed: 1, changed: changed ? 1 : 0 };
  }),

  authed('UNSUBSCRIBE', 'member', 'UNSUBSCRIBE name= — stop receiving the channel\'s messages', async (ctx, args) => {
    const { store } = ctx.services;
    const channel = await channelByName(ctx.services, audienceName(args.get('name'), 'name', '#'));
    const changed = await store.unsubscribe(channel.id, ctx.auth.user.id);
    if (changed) subscriptionChanged(ctx, channel.name, false);
    return { name: channel.name, subscribed: 0, changed: changed ? 1 : 0 };
  }),

  authed('CHANNEL_HISTORY', 'user', 'CHANNEL_HISTORY name= [limit=] [before=ID] — messages published to a channel, newest first', async (ctx, args) => {
    const { store, config } = ctx.services;
    const channel = await channelByName(ctx.services, audienceName(args.get('name'), 'name', '#'));
    const standing = await store.channelStanding(channel.id, ctx.auth.user.id);
    if (!channelView(channel, standing, ctx.auth.user).visible) {
      throw new SiarError('CHANNEL_RESTRICTED', `The channel ${channel.name} is restricted to members the administrator chose.`);
    }
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
      const { store } = ctx.services;
      const name = audienceName(args.get('name'), 'name', '#');
      const description = optionalText(args, 'description', DESCRIPTION_CHARS, 'Description');
      const access: ChannelAccess = choice(args, 'access', CHANNEL_ACCESS) ?? 'open';
      const publish: PublishPolicy = choice(args, 'publish', PUBLISH_POLICIES) ?? 'subscribers';
      // Every name is checked before anything is written.
      const members = await membersNamed(ctx.services, usernameList(args, 'members', false));
      const publishers = await membersNamed(ctx.services, usernameList(args, 'publishers', false));
      let channel = await store.createChannel({ name, description, access, publish, createdBy: ctx.auth.user.id });
      if (members.length > 0) await store.grantChannelRole(channel.id, members.map((u) => u.id), 'member');
      if (publishers.length > 0) await store.grantChannelRole(channel.id, publishers.map((u) => u.id), 'publisher');
      channel = (await store.getChannel(name))!;
      await auditChannel(ctx, 'channel_created', channel, {
        access, publish, members: members.map((u) => u.username), publishers: publishers.map((u) => u.username),
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
      const channel = await channelByName(ctx.services, audienceName(args.get('name'), 'name', '#'));
      const changes: { description?: string; access?: ChannelAccess; publish?: PublishPolicy } = {};
      if (args.has('description')) changes.description = optionalText(args, 'description', DESCRIPTION_CHARS, 'Description');
      const access = choice(args, 'access', CHANNEL_ACCESS);
      if (access) changes.access = access;
      const publish = choice(args, 'publish', PUBLISH_POLICIES);
      if (publish) changes.publish = publish;
      if (Object.keys(changes).length === 0) throw new SiarError('MISSING_ARGUMENT', 'Give description=, access= or publish=.');
      const { channel: updated, dropped } = await ctx.services.store.updateChannel(channel.id, changes);
      await auditChannel(ctx, 'channel_updated', updated, { ...changes, dropped: dropped.length });
      announce(ctx, 'updated', updated, dropped);
      return { ...channelArgs(updated, NO_STANDING, ctx.auth.user), dropped: dropped.length };
    },
  ),

  authed('CHANNEL_ARCHIVE', 'admin', 'CHANNEL_ARCHIVE name= — refuses new messages from now on; history and subscriptions stay', async (ctx, args) => {
    const channel = await channelByName(ctx.services, audienceName(args.get('name'), 'name', '#'));
    const { channel: after, changed } = await ctx.services.store.setChannelArchived(channel.id, true);
    if (changed) {
      await auditChannel(ctx, 'channel_archived', after);
      announce(ctx, 'archived', after);
    }
    return { ...channelArgs(after, NO_STANDING, ctx.auth.user), changed: changed ? 1 : 0 };
  }),

  authed('CHANNEL_UNARCHIVE', 'admin', 'CHANNEL_UNARCHIVE name= — takes messages again', async (ctx, args) => {
    const channel = await channelByName(ctx.services, audienceName(args.get('name'), 'name', '#'));
    const { channel: after, changed } = await ctx.services.store.setChannelArchived(channel.id, false);
    if (changed) {
      await auditChannel(ctx, 'channel_unarchived', after);
      announce(ctx, 'unarchived', after);
    }
    return { ...channelArgs(after, NO_STANDING, ctx.auth.user), changed: changed ? 1 : 0 };
  }),

  authed(
    'CHANNEL_GRANT', 'admin',
    'CHANNEL_GRANT name= username=U[,U…] [role=member|publisher] — names members of a restricted channel, or publishers',
    async (ctx, args) => {
      const channel = await channelByName(ctx.services, audienceName(args.get('name'), 'name', '#'));
      const role: ChannelRole = choice(args, 'role', CHANNEL_ROLES) ?? 'member';
      const users = await membersNamed(ctx.services, usernameList(args, 'username', true));
      const added = await ctx.services.store.grantChannelRole(channel.id, users.map((u) => u.id), role);
      await auditChannel(ctx, 'channel_granted', channel, { role, usernames: users.map((u) => u.username), added });
      announce(ctx, 'granted', (await ctx.services.store.getChannel(channel.name))!);
      return { name: channel.name, role, added, count: users.length };
    },
  ),

  authed(
    'CHANNEL_REVOKE', 'admin',
    'CHANNEL_REVOKE name= username=U[,U…] [role=member|publisher] — takes a role away; outsiders of a restricted channel lose their subscription',
    async (ctx, args) => {
      const channel = await channelByName(ctx.services, audienceName(args.get('name'), 'name', '#'));
      const role: ChannelRole = choice(args, 'role', CHANNEL_ROLES) ?? 'member';
      const users = await membersNamed(ctx.services, usernameList(args, 'username', true));
      const { revoked, dropped } = await ctx.services.store.revokeChannelRole(channel.id, users.map((u) => u.id), role);
      await auditChannel(ctx, 'channel_revoked', channel, { role, usernames: users.map((u) => u.username), revoked, dropped: dropped.length });
      announce(ctx, 'revoked', (await ctx.services.store.getChannel(channel.name))!, dropped);
      return { name: channel.name, role, revoked, dropped: dropped.length };
    },
  ),
];
