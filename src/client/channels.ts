/**
 * Channels and groups for client programs (the CLI, the terminal client's compose and
 * subscription screens, the admin console): typed calls over the protocol verbs of
 * docs/PROTOCOL-channels.md. Each takes anything with `request(verb, args)` — a SiarClient or a
 * Session — and throws RemoteError with the catalogue code on refusal (UNKNOWN_CHANNEL,
 * CHANNEL_ARCHIVED, CHANNEL_RESTRICTED, PUBLISH_DENIED, UNKNOWN_GROUP, DUPLICATE_NAME…).
 *
 * Pushes worth listening to: `SUBSCRIPTION name= subscribed=0|1 by=self|admin` (to the member's
 * sessions when its subscription changes), and, for administrators, `CHANNEL change=… <channel>`
 * and `GROUP change=… <group>` when any administrator changes one.
 */
import {
  argsToChannel, argsToDirectoryEntry, argsToGroup, argsToGroupMember, argsToMessage, argsToRoster,
  type ArgInput, type Args, type ChannelAccess, type ChannelRecord, type ChannelRole, type ChannelRosterEntry,
  type DirectoryEntry, type GroupMemberEntry, type GroupRecord, type MessageRecord, type PublishPolicy,
} from '../protocol/index.js';
import type { Reply } from './connection.js';

/** A SiarClient, a Session, or anything else that sends one request and returns its reply. */
export interface Requester {
  request(verb: string, args?: ArgInput): Promise<Reply>;
}

// --- what a member sees

/** Channels the caller can see (open ones, restricted ones it is named in, its subscriptions); archived too if asked. */
export async function listChannels(c: Requester, opts: { archived?: boolean } = {}): Promise<ChannelRecord[]> {
  return (await c.request('CHANNELS', { archived: opts.archived ? 1 : undefined })).items.map(argsToChannel);
}

/** One channel with the caller's standing; for an administrator also its roster (else []). */
export async function getChannel(c: Requester, name: string): Promise<{ channel: ChannelRecord; roster: ChannelRosterEntry[] }> {
  const reply = await c.request('CHANNEL', { name });
  return { channel: argsToChannel(reply.args), roster: reply.items.map(argsToRoster) };
}

/** Returns whether anything changed (false: it was subscribed already). */
export async function subscribe(c: Requester, name: string): Promise<boolean> {
  return (await c.request('SUBSCRIBE', { name })).args.get('changed') === '1';
}

/** Returns whether anything changed (false: it was not subscribed). */
export async function unsubscribe(c: Requester, name: string): Promise<boolean> {
  return (await c.request('UNSUBSCRIBE', { name })).args.get('changed') === '1';
}

/** Messages published to a channel, newest first (archived channels keep theirs). */
export async function channelHistory(c: Requester, name: string, page: { limit?: number; before?: number } = {}): Promise<MessageRecord[]> {
  return (await c.request('CHANNEL_HISTORY', { name, limit: page.limit, before: page.before })).items.map(argsToMessage);
}

/** Publishes; the reply's recipients are the subscribers at that instant. */
export async function publish(c: Requester, channel: string, message: { subject: string; body?: string }): Promise<{ id: number; recipients: number; sentAt: string }> {
  const r = (await c.request('SEND', { channel, subject: message.subject, body: message.body ?? '' })).args;
  return { id: Number(r.get('id')), recipients: Number(r.get('recipients')), sentAt: r.get('sentAt') ?? '' };
}

export async function listGroups(c: Requester): Promise<GroupRecord[]> {
  return (await c.request('GROUPS')).items.map(argsToGroup);
}

export async function getGroup(c: Requester, name: string): Promise<{ group: GroupRecord; members: GroupMemberEntry[] }> {
  const reply = await c.request('GROUP', { name });
  return { group: argsToGroup(reply.args), members: reply.items.map(argsToGroupMember) };
}

/** DIRECTORY: member rows first, then channels, then groups (each with `kind`). */
export async function directory(c: Requester, kind?: DirectoryEntry['kind']): Promise<DirectoryEntry[]> {
  return (await c.request('DIRECTORY', { kind })).items.map(argsToDirectoryEntry);
}

/** One addressee a compose screen can offer, and how it goes into SEND. */
export interface Addressee {
  kind: 'member' | 'group' | 'channel';
  /** What the user picks or types: `unhas`, `@ptn-sulawesi`, `#beasiswa`. */
  address: string;
  /** Human label: the institution, or the description. */
  label: string;
  /** A channel the caller may not publish to is listed but not sendable. */
  sendable: boolean;
}

/** Everything a compose screen can address, from one DIRECTORY call. */
export async function addressees(c: Requester): Promise<Addressee[]> {
  return (await directory(c)).map((e): Addressee => {
    switch (e.kind) {
      case 'member': return { kind: 'member', address: e.username, label: e.institution, sendable: true };
      case 'group': return { kind: 'group', address: `@${e.name}`, label: e.description, sendable: e.members > 0 };
      case 'channel': return { kind: 'channel', address: `#${e.name}`, label: e.description, sendable: e.canPublish };
    }
  });
}

/**
 * SEND arguments for what a compose screen collected: `#channel` alone publishes to the channel
 * (channel= cannot be combined with other addressees); usernames and `@groups` go in to=.
 */
export function addressingArgs(addresses: string[]): { channel: string } | { to: string[] } {
  const list = addresses.map((a) => a.trim()).filter(Boolean);
  const channels = list.filter((a) => a.startsWith('#'));
  if (channels.length > 0) {
    if (list.length > 1) throw new Error('A channel is addressed alone: send to one channel, or to members and groups.');
    return { channel: channels[0]!.slice(1) };
  }
  return { to: list };
}

// --- administration

export interface ChannelSettings {
  description?: string;
  access?: ChannelAccess;
  publish?: PublishPolicy;
}

export async function createChannel(
  c: Requester, name: string, settings: ChannelSettings & { members?: string[]; publishers?: string[] } = {},
): Promise<ChannelRecord> {
  const reply = await c.request('CHANNEL_CREATE', {
    name, description: settings.description, access: settings.access, publish: settings.publish,
    members: settings.members?.join(','), publishers: settings.publishers?.join(','),
  });
  return argsToChannel(reply.args);
}

/** Describes a channel or changes its rules; `dropped` counts subscriptions lost by restricting it. */
export async function updateChannel(c: Requester, name: string, settings: ChannelSettings): Promise<{ channel: ChannelRecord; dropped: number }> {
  const reply = await c.request('CHANNEL_UPDATE', { name, ...settings });
  return { channel: argsToChannel(reply.args), dropped: Number(reply.args.get('dropped') ?? 0) };
}

export async function archiveChannel(c: Requester, name: string, archived = true): Promise<ChannelRecord> {
  return argsToChannel((await c.request(archived ? 'CHANNEL_ARCHIVE' : 'CHANNEL_UNARCHIVE', { name })).args);
}

/** Names members (role member: may join a restricted channel) or publishers; returns how many were new. */
export async function grantChannel(c: Requester, name: string, usernames: string[], role: ChannelRole = 'member'): Promise<number> {
  return Number((await c.request('CHANNEL_GRANT', { name, username: usernames.join(','), role })).args.get('added') ?? 0);
}

export async function revokeChannel(c: Requester, name: string, usernames: string[], role: ChannelRole = 'member'): Promise<{ revoked: number; dropped: number }> {
  const a = (await c.request('CHANNEL_REVOKE', { name, username: usernames.join(','), role })).args;
  return { revoked: Number(a.get('revoked') ?? 0), dropped: Number(a.get('dropped') ?? 0) };
}

export async function createGroup(c: Requester, name: string, opts: { description?: string; members?: string[] } = {}): Promise<GroupRecord> {
  return argsToGroup((await c.request('GROUP_CREATE', { name, description: opts.description, members: opts.members?.join(',') })).args);
}

export async function describeGroup(c: Requester, name: string, description: string): Promise<GroupRecord> {
  return argsToGroup((await c.request('GROUP_UPDATE', { name, description })).args);
}

export async function deleteGroup(c: Requester, name: string): Promise<void> {
  await c.request('GROUP_DELETE', { name });
}

export async function addToGroup(c: Requester, name: string, usernames: string[]): Promise<number> {
  return Number((await c.request('GROUP_ADD', { name, username: usernames.join(',') })).args.get('added') ?? 0);
}

export async function removeFromGroup(c: Requester, name: string, usernames: string[]): Promise<number> {
  return Number((await c.request('GROUP_REMOVE', { name, username: usernames.join(',') })).args.get('removed') ?? 0);
}

/** Decodes a SUBSCRIPTION push. */
export function subscriptionPush(a: Args): { name: string; subscribed: boolean; by: 'self' | 'admin' } {
  return { name: a.get('name') ?? '', subscribed: a.get('subscribed') === '1', by: a.get('by') === 'admin' ? 'admin' : 'self' };
}
