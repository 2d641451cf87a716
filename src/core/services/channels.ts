/**
 * Channels (issue #4), the rules: who sees a channel, who may subscribe and publish, and the
 * administrator's changes with their audit. The store keeps them (src/core/ports/store/channels.ts);
 * the command handlers (src/server/commands/channels.ts) read the arguments, call these and answer.
 */
import { SiarError, type ChannelAccess, type ChannelRole, type PublishPolicy } from '../../protocol/index.js';
import type { AuditStore } from '../ports/store/audit.js';
import type { Channel, ChannelGroupStore, ChannelStanding } from '../ports/store/channels.js';
import type { AccountStore, User } from '../ports/store.js';
import type { Actor } from './actor.js';

type ChannelPorts = ChannelGroupStore & AuditStore;

/** What a user may do with a channel. Administrators see and publish everywhere but never subscribe. */
export interface ChannelView {
  /** Open channel, or named as member or publisher of a restricted one. */
  insider: boolean;
  visible: boolean;
  canSubscribe: boolean;
  canPublish: boolean;
}

export const NO_STANDING: ChannelStanding = { member: false, publisher: false, subscribed: false };

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

/** Looks the usernames up (any status); any that is not a member fails the whole command. */
export async function membersNamed(store: Pick<AccountStore, 'getUserByUsername'>, names: string[]): Promise<User[]> {
  const users = await Promise.all(names.map((n) => store.getUserByUsername(n)));
  const missing = names.filter((_, i) => users[i]?.role !== 'member');
  if (missing.length > 0) throw new SiarError('NOT_FOUND', `No member named ${missing.join(', ')}; nothing was changed.`);
  return users as User[];
}

export async function channelByName(store: Pick<ChannelGroupStore, 'getChannel'>, name: string): Promise<Channel> {
  const channel = await store.getChannel(name);
  if (!channel) throw new SiarError('UNKNOWN_CHANNEL', `There is no channel named ${name}.`);
  return channel;
}

/**
 * The checks before `SEND channel=NAME`: the channel exists, is not archived, and the sender
 * may publish to it. The store checks "not archived" again in the transaction that stores.
 */
export async function channelForPublish(store: ChannelGroupStore, user: User, name: string): Promise<Channel> {
  const channel = await channelByName(store, name);
  if (channel.archivedAt !== null) {
    throw new SiarError('CHANNEL_ARCHIVED', `The channel ${name} is archived; it keeps its history but takes no new messages.`);
  }
  const standing = await store.channelStanding(channel.id, user.id);
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

/** The channels a user sees, with its standing in each; archived ones only when asked. */
export async function visibleChannels(
  store: ChannelGroupStore, user: User, withArchived: boolean,
): Promise<Array<{ channel: Channel; standing: ChannelStanding }>> {
  const standings = await store.channelStandings(user.id);
  return (await store.listChannels())
    .map((channel) => ({ channel, standing: standings.get(channel.id) ?? NO_STANDING }))
    .filter(({ channel, standing }) => (withArchived || channel.archivedAt === null) && channelView(channel, standing, user).visible);
}

/** CHANNEL_HISTORY's rule: only a user who sees the channel reads its messages. */
export async function readableChannel(store: ChannelGroupStore, user: User, name: string): Promise<Channel> {
  const channel = await channelByName(store, name);
  const standing = await store.channelStanding(channel.id, user.id);
  if (!channelView(channel, standing, user).visible) {
    throw new SiarError('CHANNEL_RESTRICTED', `The channel ${channel.name} is restricted to members the administrator chose.`);
  }
  return channel;
}

async function auditChannel(store: AuditStore, by: Actor, kind: string, channel: Channel, detail: Record<string, unknown> = {}): Promise<void> {
  await store.audit({ kind, actorId: by.user.id, subject: channel.name, address: by.address, detail });
}

export interface ChannelSpec {
  name: string;
  description: string;
  access: ChannelAccess;
  publish: PublishPolicy;
  /** Usernames named members (of a restricted channel) and publishers. */
  members: string[];
  publishers: string[];
}

/** CHANNEL_CREATE: every name is checked before anything is written. */
export async function createChannel(store: ChannelPorts & AccountStore, by: Actor, spec: ChannelSpec): Promise<Channel> {
  const { name, description, access, publish } = spec;
  const members = await membersNamed(store, spec.members);
  const publishers = await membersNamed(store, spec.publishers);
  let channel = await store.createChannel({ name, description, access, publish, createdBy: by.user.id });
  if (members.length > 0) await store.grantChannelRole(channel.id, members.map((u) => u.id), 'member');
  if (publishers.length > 0) await store.grantChannelRole(channel.id, publishers.map((u) => u.id), 'publisher');
  channel = (await store.getChannel(name))!;
  await auditChannel(store, by, 'channel_created', channel, {
    access, publish, members: members.map((u) => u.username), publishers: publishers.map((u) => u.username),
  });
  return channel;
}

export type ChannelChanges = { description?: string; access?: ChannelAccess; publish?: PublishPolicy };

/** CHANNEL_UPDATE: the changed channel and the subscribers a stricter rule dropped. */
export async function updateChannel(store: ChannelPorts, by: Actor, name: string, changes: ChannelChanges): Promise<{ channel: Channel; dropped: number[] }> {
  const channel = await channelByName(store, name);
  if (Object.keys(changes).length === 0) throw new SiarError('MISSING_ARGUMENT', 'Give description=, access= or publish=.');
  const out = await store.updateChannel(channel.id, changes);
  await auditChannel(store, by, 'channel_updated', out.channel, { ...changes, dropped: out.dropped.length });
  return out;
}

/** CHANNEL_ARCHIVE and CHANNEL_UNARCHIVE; audited only when it changed something. */
export async function setChannelArchived(store: ChannelPorts, by: Actor, name: string, archived: boolean): Promise<{ channel: Channel; changed: boolean }> {
  const channel = await channelByName(store, name);
  const out = await store.setChannelArchived(channel.id, archived);
  if (out.changed) await auditChannel(store, by, archived ? 'channel_archived' : 'channel_unarchived', out.channel);
  return out;
}

/** CHANNEL_GRANT: how many got the role; the channel as it is after. */
export async function grantChannelRole(
  store: ChannelPorts & AccountStore, by: Actor, name: string, usernames: string[], role: ChannelRole,
): Promise<{ channel: Channel; added: number; count: number }> {
  const channel = await channelByName(store, name);
  const users = await membersNamed(store, usernames);
  const added = await store.grantChannelRole(channel.id, users.map((u) => u.id), role);
  await auditChannel(store, by, 'channel_granted', channel, { role, usernames: users.map((u) => u.username), added });
  return { channel: (await store.getChannel(channel.name))!, added, count: users.length };
}

/** CHANNEL_REVOKE: outsiders of a restricted channel lose their subscription (dropped). */
export async function revokeChannelRole(
  store: ChannelPorts & AccountStore, by: Actor, name: string, usernames: string[], role: ChannelRole,
): Promise<{ channel: Channel; revoked: number; dropped: number[] }> {
  const channel = await channelByName(store, name);
  const users = await membersNamed(store, usernames);
  const { revoked, dropped } = await store.revokeChannelRole(channel.id, users.map((u) => u.id), role);
  await auditChannel(store, by, 'channel_revoked', channel, { role, usernames: users.map((u) => u.username), revoked, dropped: dropped.length });
  return { channel: (await store.getChannel(channel.name))!, revoked, dropped };
}
