import { SiarError, groupsVia } from '../../protocol/index.js';
import type { AccountStore, Audience, ChannelGroupStore, User } from '../ports/store.js';
import { channelForPublish } from './channels.js';

/**
 * Audiences: turns a SEND's addressing (read from its arguments by
 * src/server/commands/audience-args.ts) into recipient ids, resolved at send time and recorded with the
 * message. Any name that is not an active member, or any `@group` that does not exist, fails the
 * whole send: nothing goes half-way. A channel's recipients are its subscribers at the instant
 * the message is stored, so the store resolves those (NewMessage.channelId).
 */
export interface RecipientRequest {
  /** Usernames and `@group` names, already split and lower-cased. */
  to: string[];
  /** Broadcast to every active member but the sender. */
  all: boolean;
  /** Publish to this channel (`channel=NAME`). */
  channel?: string | undefined;
}

export interface ResolvedRecipients {
  audience: Audience;
  /** Empty for a channel: the store adds the subscribers when it stores the message. */
  ids: number[];
  channelId?: number;
  /** How it was addressed beyond usernames: the groups, '@a,@b' (a channel's is set by the store). */
  via?: string | null;
  /** Recipients reached only through groups → those groups ('@a,@b'). */
  recipientVia?: Map<number, string>;
}

/** Active members by username, in one call for a list (AccountStore.resolveActiveMembers, or a cache in front of it). */
export type ActiveMembersLookup = (usernames: string[]) => Promise<{ found: Array<Pick<User, 'id'>>; missing: string[] }>;

export async function resolveRecipients(
  store: AccountStore & ChannelGroupStore, sender: User, request: RecipientRequest,
  activeMembers: ActiveMembersLookup = (names) => store.resolveActiveMembers(names),
): Promise<ResolvedRecipients> {
  const { to, all, channel } = request;
  if ([to.length > 0, all, channel !== undefined].filter(Boolean).length > 1) {
    throw new SiarError('BAD_ARGUMENT', 'Give one of to=, all=1 or channel=, not several.');
  }
  if (channel !== undefined) {
    const c = await channelForPublish(store, sender, channel);
    return { audience: 'channel', ids: [], channelId: c.id };
  }
  if (all) {
    const ids = (await store.listActiveMemberIds()).filter((id) => id !== sender.id);
    if (ids.length === 0) throw new SiarError('NO_RECIPIENTS', 'There are no other active members to broadcast to.');
    return { audience: 'all', ids };
  }
  if (to.length === 0) throw new SiarError('NO_RECIPIENTS', 'Name at least one recipient (to=), a group (to=@NAME), a channel (channel=) or broadcast (all=1).');
  const groupNames = to.filter((n) => n.startsWith('@')).map((n) => n.slice(1));
  const usernames = to.filter((n) => !n.startsWith('@'));
  const { found, missing } = await activeMembers(usernames);
  if (missing.length > 0) {
    throw new SiarError('UNKNOWN_RECIPIENT', `Not an active member: ${missing.join(', ')}. Nothing was sent.`);
  }
  if (groupNames.length === 0) {
    return { audience: found.length === 1 ? 'direct' : 'list', ids: found.map((u) => u.id) };
  }
  const groups = await store.resolveGroups(groupNames);
  if (groups.missing.length > 0) {
    throw new SiarError('UNKNOWN_GROUP', `No such group: ${groups.missing.map((g) => `@${g}`).join(', ')}. Nothing was sent.`);
  }
  // Each institution once: named directly, or through the first group that holds it. Members
  // named directly have no via; the others remember every addressed group they are in.
  const ids = found.map((u) => u.id);
  const direct = new Set(ids);
  const through = new Map<number, string[]>();
  for (const g of groups.found) {
    for (const id of g.memberIds) {
      if (id === sender.id || direct.has(id)) continue;
      let list = through.get(id);
      if (!list) {
        through.set(id, (list = []));
        ids.push(id);
      }
      list.push(g.name);
    }
  }
  if (ids.length === 0) {
    throw new SiarError('NO_RECIPIENTS', `${groupsVia(groupNames)} holds no other active member. Nothing was sent.`);
  }
  // The message's via names only the groups that reached someone: a group whose members were all
  // named directly (or are the sender) brought nobody, and saying otherwise would misdescribe it.
  const reaching = new Set([...through.values()].flat());
  if (reaching.size === 0) return { audience: ids.length === 1 ? 'direct' : 'list', ids };
  const recipientVia = new Map([...through].map(([id, names]) => [id, groupsVia(names)]));
  const via = groupsVia(groups.found.map((g) => g.name).filter((name) => reaching.has(name)));
  return { audience: 'list', ids, via, recipientVia };
}
