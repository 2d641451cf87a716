import type { ArgInput, Args } from './frames.js';

/**
 * Channels and groups as key=value arguments (docs/PROTOCOL.md §Channels and groups), shared by
 * the server (to encode) and every client (to decode).
 *
 * A channel is a named audience members subscribe to; a message to it goes to the subscribers of
 * the moment it is stored (`SEND channel=NAME`). A group is a set of institutions the
 * administrator keeps; it is addressed as a recipient (`SEND to=@NAME`). How a message came is
 * its `via`: `#channel`, or `@group[,@group…]`; absent for plain addressing.
 */

/** Names of channels and groups: like usernames, 2-32 of a-z first, then a-z 0-9 . _ - */
export const AUDIENCE_NAME_PATTERN = /^[a-z][a-z0-9._-]{1,31}$/;

export type ChannelAccess = 'open' | 'restricted';
export type PublishPolicy = 'subscribers' | 'named';
export type ChannelRole = 'member' | 'publisher';
export const CHANNEL_ACCESS: readonly ChannelAccess[] = ['open', 'restricted'];
export const PUBLISH_POLICIES: readonly PublishPolicy[] = ['subscribers', 'named'];
export const CHANNEL_ROLES: readonly ChannelRole[] = ['member', 'publisher'];

export interface ChannelRecord {
  name: string;
  description: string;
  /** open: any member may subscribe; restricted: only the members the administrator chose. */
  access: ChannelAccess;
  /** subscribers: anyone subscribed may publish; named: only the named publishers. */
  publish: PublishPolicy;
  archived: boolean;
  archivedAt: string | null;
  createdAt: string;
  /** How many members are subscribed. */
  subscribers: number;
  /** The caller's standing: subscribed now, may subscribe, may publish. */
  subscribed: boolean;
  canSubscribe: boolean;
  canPublish: boolean;
}

const bit = (b: boolean): number => (b ? 1 : 0);
const isSet = (a: Args, key: string): boolean => a.get(key) === '1';

export function channelToArgs(c: ChannelRecord): ArgInput {
  return {
    name: c.name,
    description: c.description,
    access: c.access,
    publish: c.publish,
    archived: bit(c.archived),
    archivedAt: c.archivedAt ?? undefined,
    createdAt: c.createdAt,
    subscribers: c.subscribers,
    subscribed: bit(c.subscribed),
    canSubscribe: bit(c.canSubscribe),
    canPublish: bit(c.canPublish),
  };
}

export function argsToChannel(a: Args): ChannelRecord {
  return {
    name: a.get('name') ?? '',
    description: a.get('description') ?? '',
    access: a.get('access') === 'restricted' ? 'restricted' : 'open',
    publish: a.get('publish') === 'named' ? 'named' : 'subscribers',
    archived: isSet(a, 'archived'),
    archivedAt: a.get('archivedAt') || null,
    createdAt: a.get('createdAt') ?? '',
    subscribers: Number(a.get('subscribers') ?? 0),
    subscribed: isSet(a, 'subscribed'),
    canSubscribe: isSet(a, 'canSubscribe'),
    canPublish: isSet(a, 'canPublish'),
  };
}

/** One row of a channel's roster (administrators only): the members named for it and its subscribers. */
export interface ChannelRosterEntry {
  username: string;
  institution: string;
  /** Named as a member (may subscribe to a restricted channel). */
  member: boolean;
  /** Named as a publisher (may publish under the `named` policy). */
  publisher: boolean;
  subscribed: boolean;
}

export function rosterToArgs(r: ChannelRosterEntry): ArgInput {
  return {
    username: r.username, institution: r.institution,
    member: bit(r.member), publisher: bit(r.publisher), subscribed: bit(r.subscribed),
  };
}

export function argsToRoster(a: Args): ChannelRosterEntry {
  return {
    username: a.get('username') ?? '',
    institution: a.get('institution') ?? '',
    member: isSet(a, 'member'),
    publisher: isSet(a, 'publisher'),
    subscribed: isSet(a, 'subscribed'),
  };
}

export interface GroupRecord {
  name: string;
  description: string;
  /** How many institutions the group holds. */
  members: number;
  createdAt: string;
  /** The caller belongs to the group. */
  isMember: boolean;
}

export function groupToArgs(g: GroupRecord): ArgInput {
  return { name: g.name, description: g.description, members: g.members, createdAt: g.createdAt, isMember: bit(g.isMember) };
}

export function argsToGroup(a: Args): GroupRecord {
  return {
    name: a.get('name') ?? '',
    description: a.get('description') ?? '',
    members: Number(a.get('members') ?? 0),
    createdAt: a.get('createdAt') ?? '',
    isMember: isSet(a, 'isMember'),
  };
}

/** One institution of a group (GROUP name=). */
export interface GroupMemberEntry {
  username: string;
  institution: string;
  /** active or suspended; suspended members are skipped when the group is addressed. */
  status: string;
}

export function argsToGroupMember(a: Args): GroupMemberEntry {
  return { username: a.get('username') ?? '', institution: a.get('institution') ?? '', status: a.get('status') ?? '' };
}

/** One DIRECTORY row: every row has `kind`; member rows keep their old keys (username, institution, online). */
export type DirectoryEntry =
  | { kind: 'member'; username: string; institution: string; online: boolean }
  | ({ kind: 'channel' } & ChannelRecord)
  | ({ kind: 'group' } & GroupRecord);

export function argsToDirectoryEntry(a: Args): DirectoryEntry {
  switch (a.get('kind')) {
    case 'channel': return { kind: 'channel', ...argsToChannel(a) };
    case 'group': return { kind: 'group', ...argsToGroup(a) };
    default:
      return { kind: 'member', username: a.get('username') ?? '', institution: a.get('institution') ?? '', online: isSet(a, 'online') };
  }
}

/** What a `via` value says: the channel a message came through, or the groups. */
export function parseVia(via: string | null | undefined): { channel: string | null; groups: string[] } {
  const parts = (via ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const channel = parts.find((p) => p.startsWith('#'));
  return {
    channel: channel ? channel.slice(1) : null,
    groups: parts.filter((p) => p.startsWith('@')).map((p) => p.slice(1)),
  };
}

/** The `via` of a channel message. */
export function channelVia(name: string): string {
  return `#${name}`;
}

/** The `via` of a message addressed to groups. */
export function groupsVia(names: readonly string[]): string {
  return names.map((n) => `@${n}`).join(',');
}
