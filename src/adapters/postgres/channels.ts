/**
 * Channels and groups (issue #4) on PostgreSQL, for PostgresStore (contract in src/core/ports/store/channels.ts).
 * A check and the change it guards share a transaction, and the channel row is locked while they
 * run: FOR UPDATE to change a channel, FOR SHARE to subscribe or publish to it, so a channel
 * archived or restricted by another node can never take a subscription or message meanwhile.
 */
import type { Pool } from 'pg';
import { channelVia } from '../../protocol/channel-records.js';
import { archived, nameTaken, notFound, restricted } from '../../core/ports/store/errors.js';
import type { MessageRow } from '../sql-common/message-rows.js';
import type { Channel, ChannelChanges, ChannelRole, ChannelRosterRow, ChannelStanding, Group, NewChannel } from '../../core/ports/store/channels.js';
import type { NewMessage, User } from '../../core/ports/store.js';
import { C, toChannel, toGroup, toRosterRow, type ChannelRow } from './channel-sql.js';
import { transaction, type Queryable } from './connection.js';
import { violates } from './errors.js';
import { toUser } from './sql.js';

const now = (): string => new Date().toISOString();

const NO_STANDING: ChannelStanding = { member: false, publisher: false, subscribed: false };

function found(row: ChannelRow | undefined, id: number): Channel {
  if (!row) throw notFound('channel', id);
  return toChannel(row);
}

/** A second object with the same name: the name's unique constraint. */
function duplicateName(err: unknown, constraint: string, what: 'channel' | 'group', name: string): unknown {
  return violates(err, constraint) ? nameTaken(what, name) : err;
}

export class PgChannelsGroups {
  constructor(private readonly pool: Pool) {}

  // --- channels

  async createChannel(input: NewChannel): Promise<Channel> {
    try {
      const row = await C.insertChannel.get(this.pool, input.name, input.description, input.access, input.publish, input.createdBy, now());
      return found(await C.channelById.get(this.pool, row!.id), row!.id);
    } catch (err) {
      throw duplicateName(err, 'channels_name_unique', 'channel', input.name);
    }
  }

  async getChannel(name: string): Promise<Channel | null> {
    const row = await C.channelByName.get(this.pool, name);
    return row ? toChannel(row) : null;
  }

  async listChannels(): Promise<Channel[]> {
    return (await C.channels.all(this.pool)).map(toChannel);
  }

  async updateChannel(channelId: number, changes: ChannelChanges): Promise<{ channel: Channel; dropped: number[] }> {
    return transaction(this.pool, async (tx) => {
      found(await C.channelToChange.get(tx, channelId), channelId);
      await C.updateChannel.run(tx, channelId, changes.description ?? null, changes.access ?? null, changes.publish ?? null);
      const dropped = (await C.dropOutsiders.get(tx, channelId))!.ids;
      return { channel: found(await C.channelById.get(tx, channelId), channelId), dropped };
    });
  }

  async setChannelArchived(channelId: number, archived: boolean): Promise<{ channel: Channel; changed: boolean }> {
    return transaction(this.pool, async (tx) => {
      const before = found(await C.channelToChange.get(tx, channelId), channelId);
      if ((before.archivedAt !== null) === archived) return { channel: before, changed: false };
      await C.setArchived.run(tx, archived ? now() : null, channelId);
      return { channel: found(await C.channelById.get(tx, channelId), channelId), changed: true };
    });
  }

  async channelStanding(channelId: number, userId: number): Promise<ChannelStanding> {
    const [roles, subscribed] = await Promise.all([
      C.rolesOf.all(this.pool, channelId, userId),
      C.isSubscribed.get(this.pool, channelId, userId),
    ]);
    return {
      member: roles.some((r) => r.role === 'member'),
      publisher: roles.some((r) => r.role === 'publisher'),
      subscribed: subscribed !== undefined,
    };
  }

  async channelStandings(userId: number): Promise<Map<number, ChannelStanding>> {
    const out = new Map<number, ChannelStanding>();
    const of = (channelId: number): ChannelStanding => {
      let s = out.get(channelId);
      if (!s) out.set(channelId, (s = { ...NO_STANDING }));
      return s;
    };
    const [roles, subscriptions] = await Promise.all([C.rolesOfUser.all(this.pool, userId), C.subscriptionsOfUser.all(this.pool, userId)]);
    for (const r of roles) of(r.channel_id)[r.role] = true;
    for (const r of subscriptions) of(r.channel_id).subscribed = true;
    return out;
  }

  async channelRoster(channelId: number): Promise<ChannelRosterRow[]> {
    return (await C.roster.all(this.pool, channelId)).map(toRosterRow);
  }

  async grantChannelRole(channelId: number, userIds: number[], role: ChannelRole): Promise<number> {
    return C.grantRoles.run(this.pool, channelId, userIds, role, now());
  }

  async revokeChannelRole(channelId: number, userIds: number[], role: ChannelRole): Promise<{ revoked: number; dropped: number[] }> {
    return transaction(this.pool, async (tx) => {
      await C.channelToChange.get(tx, channelId);
      const revoked = await C.revokeRoles.run(tx, channelId, userIds, role);
      return { revoked, dropped: (await C.dropOutsiders.get(tx, channelId))!.ids };
    });
  }

  async subscribe(channelId: number, userId: number): Promise<boolean> {
    return transaction(this.pool, async (tx) => {
      const channel = found(await C.channelToUse.get(tx, channelId), channelId);
      if (channel.archivedAt !== null) throw archived(channel.name);
      if (channel.access === 'restricted' && (await C.rolesOf.all(tx, channelId, userId)).length === 0) {
        throw restricted(channel.name);
      }
      return (await C.subscribe.run(tx, channelId, userId, now())) > 0;
    });
  }

  async unsubscribe(channelId: number, userId: number): Promise<boolean> {
    return (await C.unsubscribe.run(this.pool, channelId, userId)) > 0;
  }

  /**
   * Inside the transaction that stores a message: a channel message gets the channel's
   * subscribers of this instant as recipients, each reached through '#channel' (the channel is
   * share-locked until that transaction ends). An archived channel takes nothing (CHANNEL_ARCHIVED).
   */
  async routeChannelMessage(tx: Queryable, m: NewMessage): Promise<NewMessage> {
    if (m.channelId === undefined) return m;
    const channel = found(await C.channelToUse.get(tx, m.channelId), m.channelId);
    if (channel.archivedAt !== null) {
      throw archived(channel.name, true);
    }
    const recipientIds = (await C.publishRecipients.get(tx, m.channelId, m.senderId))!.ids;
    const via = channelVia(channel.name);
    return { ...m, audience: 'list', recipientIds, via, recipientVia: new Map(recipientIds.map((id) => [id, via])) };
  }

  async channelMessageRows(channelId: number, beforeId: number, limit: number): Promise<MessageRow[]> {
    return C.channelMessages.all(this.pool, channelId, beforeId, limit);
  }

  // --- groups

  async createGroup(input: { name: string; description: string; createdBy: number }): Promise<Group> {
    try {
      const row = await C.insertGroup.get(this.pool, input.name, input.description, input.createdBy, now());
      return toGroup((await C.groupById.get(this.pool, row!.id))!);
    } catch (err) {
      throw duplicateName(err, 'institution_groups_name_unique', 'group', input.name);
    }
  }

  async getGroup(name: string): Promise<Group | null> {
    const row = await C.groupByName.get(this.pool, name);
    return row ? toGroup(row) : null;
  }

  async listGroups(): Promise<Group[]> {
    return (await C.groups.all(this.pool)).map(toGroup);
  }

  async setGroupDescription(groupId: number, description: string): Promise<Group> {
    await C.setGroupDescription.run(this.pool, description, groupId);
    const row = await C.groupById.get(this.pool, groupId);
    if (!row) throw notFound('group', groupId);
    return toGroup(row);
  }

  async deleteGroup(groupId: number): Promise<void> {
    await transaction(this.pool, async (tx) => {
      await C.deleteGroupMembers.run(tx, groupId);
      await C.deleteGroup.run(tx, groupId);
    });
  }

  async groupMembers(groupId: number): Promise<User[]> {
    return (await C.groupMembers.all(this.pool, groupId)).map(toUser);
  }

  async addGroupMembers(groupId: number, userIds: number[]): Promise<number> {
    return C.addGroupMembers.run(this.pool, groupId, userIds, now());
  }

  async removeGroupMembers(groupId: number, userIds: number[]): Promise<number> {
    return C.removeGroupMembers.run(this.pool, groupId, userIds);
  }

  async groupsOf(userId: number): Promise<Set<number>> {
    return new Set((await C.groupsOfUser.all(this.pool, userId)).map((r) => r.group_id));
  }

  async resolveGroups(names: string[]): Promise<{ found: Array<{ name: string; memberIds: number[] }>; missing: string[] }> {
    const wanted = [...new Set(names)];
    const rows = await C.groupsNamed.all(this.pool, wanted);
    const byName = new Map(rows.map((r) => [r.name, r.id]));
    const members = new Map<number, number[]>();
    for (const r of await C.activeMembersOfGroups.all(this.pool, rows.map((g) => g.id))) {
      let list = members.get(r.group_id);
      if (!list) members.set(r.group_id, (list = []));
      list.push(r.user_id);
    }
    const result: { found: Array<{ name: string; memberIds: number[] }>; missing: string[] } = { found: [], missing: [] };
    for (const name of wanted) {
      const id = byName.get(name);
      if (id === undefined) result.missing.push(name);
      else result.found.push({ name, memberIds: members.get(id) ?? [] });
    }
    return result;
  }
}
