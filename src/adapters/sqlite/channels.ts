/**
 * The SQL of channels and groups (issue #4), used by SqliteStore (contract in src/core/ports/store/channels.ts).
 * Kept apart from rows.ts so the core store stays readable. Multi-step changes run in
 * IMMEDIATE transactions; a check and the change it guards are always in the same one.
 */
import Sqlite from 'better-sqlite3';
import type { Database, Transaction } from 'better-sqlite3';
import { archived, nameTaken, notFound, restricted, type StoreError } from '../../core/ports/store/errors.js';
import type { Channel, ChannelChanges, ChannelRole, ChannelRosterRow, ChannelStanding, Group, NewChannel } from '../../core/ports/store/channels.js';
import { toUser, type UserRow } from '../sql-common/account-rows.js';
import { toChannel, toGroup } from '../sql-common/channel-rows.js';
import { MESSAGE_COLUMNS, type MessageRow } from '../sql-common/message-rows.js';
import { channelVia } from '../../protocol/channel-records.js';
import type { NewMessage, User } from '../../core/ports/store.js';

interface ChannelRow {
  id: number;
  name: string;
  description: string;
  access: Channel['access'];
  publish: Channel['publish'];
  created_by: number | null;
  created_at: string;
  archived_at: string | null;
  subscribers: number;
}

interface GroupRow {
  id: number;
  name: string;
  description: string;
  created_by: number | null;
  created_at: string;
  members: number;
}

interface RosterRow {
  user_id: number;
  username: string;
  institution: string;
  member: number;
  publisher: number;
  subscribed: number;
}

const CHANNEL_COLUMNS = `c.*, (SELECT count(*) FROM channel_subscriptions s WHERE s.channel_id = c.id) AS subscribers`;
const GROUP_COLUMNS = `g.*, (SELECT count(*) FROM group_members gm WHERE gm.group_id = g.id) AS members`;

/** Rows of users who hold no role in a restricted channel: their subscriptions are dropped. */
const DROP_OUTSIDERS = `
  DELETE FROM channel_subscriptions
  WHERE channel_id = @channel
    AND (SELECT access FROM channels WHERE id = @channel) = 'restricted'
    AND user_id NOT IN (SELECT user_id FROM channel_roles WHERE channel_id = @channel)
  RETURNING user_id`;

function prepare(db: Database) {
  return {
    insertChannel: db
      .prepare<[string, string, string, string, number, string], number>(`
        INSERT INTO channels (name, description, access, publish, created_by, created_at)
        VALUES (?, ?, ?, ?, ?, ?) RETURNING id`)
      .pluck(),
    channelById: db.prepare<[number], ChannelRow>(`SELECT ${CHANNEL_COLUMNS} FROM channels c WHERE c.id = ?`),
    channelByName: db.prepare<[string], ChannelRow>(`SELECT ${CHANNEL_COLUMNS} FROM channels c WHERE c.name = ?`),
    channels: db.prepare<[], ChannelRow>(`SELECT ${CHANNEL_COLUMNS} FROM channels c ORDER BY c.name`),
    updateChannel: db.prepare<{ id: number; description: string | null; access: string | null; publish: string | null }>(`
      UPDATE channels
      SET description = coalesce(@description, description), access = coalesce(@access, access),
          publish = coalesce(@publish, publish)
      WHERE id = @id`),
    setArchived: db.prepare<[string | null, number]>(`UPDATE channels SET archived_at = ? WHERE id = ?`),
    rolesOf: db.prepare<[number, number], ChannelRole>(`SELECT role FROM channel_roles WHERE channel_id = ? AND user_id = ?`).pluck(),
    isSubscribed: db
      .prepare<[number, number], 1>(`SELECT 1 FROM channel_subscriptions WHERE channel_id = ? AND user_id = ?`)
      .pluck(),
    rolesOfUser: db.prepare<[number], { channel_id: number; role: ChannelRole }>(
      `SELECT channel_id, role FROM channel_roles WHERE user_id = ?`,
    ),
    subscriptionsOfUser: db
      .prepare<[number], number>(`SELECT channel_id FROM channel_subscriptions WHERE user_id = ?`)
      .pluck(),
    roster: db.prepare<{ channel: number }, RosterRow>(`
      SELECT u.id AS user_id, u.username, u.institution,
        EXISTS (SELECT 1 FROM channel_roles r WHERE r.channel_id = @channel AND r.user_id = u.id AND r.role = 'member') AS member,
        EXISTS (SELECT 1 FROM channel_roles r WHERE r.channel_id = @channel AND r.user_id = u.id AND r.role = 'publisher') AS publisher,
        EXISTS (SELECT 1 FROM channel_subscriptions s WHERE s.channel_id = @channel AND s.user_id = u.id) AS subscribed
      FROM users u
      WHERE u.id IN (SELECT user_id FROM channel_roles WHERE channel_id = @channel
                     UNION SELECT user_id FROM channel_subscriptions WHERE channel_id = @channel)
      ORDER BY u.username`),
    grantRole: db.prepare<[number, number, ChannelRole, string]>(
      `INSERT OR IGNORE INTO channel_roles (channel_id, user_id, role, granted_at) VALUES (?, ?, ?, ?)`,
    ),
    revokeRole: db.prepare<[number, number, ChannelRole]>(
      `DELETE FROM channel_roles WHERE channel_id = ? AND user_id = ? AND role = ?`,
    ),
    dropOutsiders: db.prepare<{ channel: number }, number>(DROP_OUTSIDERS).pluck(),
    subscribe: db.prepare<[number, number, string]>(
      `INSERT OR IGNORE INTO channel_subscriptions (channel_id, user_id, subscribed_at) VALUES (?, ?, ?)`,
    ),
    unsubscribe: db.prepare<[number, number]>(`DELETE FROM channel_subscriptions WHERE channel_id = ? AND user_id = ?`),
    // Who a message published now reaches: active members subscribed, still allowed in, not the sender.
    publishRecipients: db
      .prepare<{ channel: number; sender: number }, number>(`
        SELECT s.user_id
        FROM channel_subscriptions s
        JOIN users u ON u.id = s.user_id
        JOIN channels c ON c.id = s.channel_id
        WHERE s.channel_id = @channel AND s.user_id <> @sender AND u.role = 'member' AND u.status = 'active'
          AND (c.access = 'open' OR EXISTS (SELECT 1 FROM channel_roles r WHERE r.channel_id = c.id AND r.user_id = s.user_id))
        ORDER BY s.user_id`)
      .pluck(),
    setAddressing: db.prepare<[number | null, string | null, number]>(`UPDATE messages SET channel_id = ?, via = ? WHERE id = ?`),
    insertRoute: db.prepare<[number, number, string]>(
      `INSERT INTO message_routes (message_id, recipient_id, via) VALUES (?, ?, ?)`,
    ),
    channelMessages: db.prepare<[number, number, number], MessageRow>(`
      SELECT ${MESSAGE_COLUMNS} FROM messages m JOIN users s ON s.id = m.sender_id
      WHERE m.channel_id = ? AND m.state = 'sent' AND m.pending_recipients IS NULL AND m.id < ?
      ORDER BY m.id DESC LIMIT ?`),

    insertGroup: db
      .prepare<[string, string, number, string], number>(
        `INSERT INTO institution_groups (name, description, created_by, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
      )
      .pluck(),
    groupById: db.prepare<[number], GroupRow>(`SELECT ${GROUP_COLUMNS} FROM institution_groups g WHERE g.id = ?`),
    groupByName: db.prepare<[string], GroupRow>(`SELECT ${GROUP_COLUMNS} FROM institution_groups g WHERE g.name = ?`),
    groups: db.prepare<[], GroupRow>(`SELECT ${GROUP_COLUMNS} FROM institution_groups g ORDER BY g.name`),
    groupsNamed: db.prepare<[string], GroupRow>(
      `SELECT ${GROUP_COLUMNS} FROM institution_groups g WHERE g.name IN (SELECT value FROM json_each(?))`,
    ),
    setGroupDescription: db.prepare<[string, number]>(`UPDATE institution_groups SET description = ? WHERE id = ?`),
    deleteGroupMembers: db.prepare<[number]>(`DELETE FROM group_members WHERE group_id = ?`),
    deleteGroup: db.prepare<[number]>(`DELETE FROM institution_groups WHERE id = ?`),
    groupMembers: db.prepare<[number], UserRow>(`
      SELECT u.* FROM group_members gm JOIN users u ON u.id = gm.user_id
      WHERE gm.group_id = ? ORDER BY u.username`),
    addGroupMember: db.prepare<[number, number, string]>(
      `INSERT OR IGNORE INTO group_members (group_id, user_id, added_at) VALUES (?, ?, ?)`,
    ),
    removeGroupMember: db.prepare<[number, number]>(`DELETE FROM group_members WHERE group_id = ? AND user_id = ?`),
    groupsOfUser: db.prepare<[number], number>(`SELECT group_id FROM group_members WHERE user_id = ?`).pluck(),
    activeMembersOfGroups: db.prepare<[string], { group_id: number; user_id: number }>(`
      SELECT gm.group_id, gm.user_id
      FROM group_members gm JOIN users u ON u.id = gm.user_id
      WHERE gm.group_id IN (SELECT value FROM json_each(?)) AND u.role = 'member' AND u.status = 'active'
      ORDER BY gm.group_id, u.username`),
  };
}

const now = (): string => new Date().toISOString();

const NO_STANDING: ChannelStanding = { member: false, publisher: false, subscribed: false };

/** A second object with the same name: a UNIQUE violation on the name column. */
function duplicateName(err: unknown, what: 'channel' | 'group', name: string): StoreError<'conflict'> | null {
  if (err instanceof Sqlite.SqliteError && err.code === 'SQLITE_CONSTRAINT_UNIQUE' && /\.name\b/.test(err.message)) {
    return nameTaken(what, name);
  }
  return null;
}

/** Channels and groups over one database; every public method commits before it returns. */
export class ChannelGroupSql {
  private readonly sql: ReturnType<typeof prepare>;
  private readonly updateChannelTx: Transaction<(id: number, changes: ChannelChanges) => { channel: Channel; dropped: number[] }>;
  private readonly grantTx: Transaction<(channelId: number, userIds: number[], role: ChannelRole) => number>;
  private readonly revokeTx: Transaction<(channelId: number, userIds: number[], role: ChannelRole) => { revoked: number; dropped: number[] }>;
  private readonly subscribeTx: Transaction<(channelId: number, userId: number) => boolean>;
  private readonly deleteGroupTx: Transaction<(groupId: number) => void>;
  private readonly addMembersTx: Transaction<(groupId: number, userIds: number[]) => number>;
  private readonly removeMembersTx: Transaction<(groupId: number, userIds: number[]) => number>;

  constructor(db: Database) {
    const sql = (this.sql = prepare(db));
    this.updateChannelTx = db.transaction((id, changes) => {
      sql.updateChannel.run({
        id, description: changes.description ?? null, access: changes.access ?? null, publish: changes.publish ?? null,
      });
      const dropped = sql.dropOutsiders.all({ channel: id });
      return { channel: this.channelById(id), dropped };
    });
    this.grantTx = db.transaction((channelId, userIds, role) => {
      const at = now();
      let added = 0;
      for (const userId of userIds) added += sql.grantRole.run(channelId, userId, role, at).changes;
      return added;
    });
    this.revokeTx = db.transaction((channelId, userIds, role) => {
      let revoked = 0;
      for (const userId of userIds) revoked += sql.revokeRole.run(channelId, userId, role).changes;
      return { revoked, dropped: sql.dropOutsiders.all({ channel: channelId }) };
    });
    this.subscribeTx = db.transaction((channelId, userId) => {
      const channel = this.channelById(channelId);
      if (channel.archivedAt !== null) throw archived(channel.name);
      if (channel.access === 'restricted' && sql.rolesOf.all(channelId, userId).length === 0) {
        throw restricted(channel.name);
      }
      return sql.subscribe.run(channelId, userId, now()).changes > 0;
    });
    this.deleteGroupTx = db.transaction((groupId) => {
      sql.deleteGroupMembers.run(groupId);
      sql.deleteGroup.run(groupId);
    });
    this.addMembersTx = db.transaction((groupId, userIds) => {
      const at = now();
      let added = 0;
      for (const userId of userIds) added += sql.addGroupMember.run(groupId, userId, at).changes;
      return added;
    });
    this.removeMembersTx = db.transaction((groupId, userIds) => {
      let removed = 0;
      for (const userId of userIds) removed += sql.removeGroupMember.run(groupId, userId).changes;
      return removed;
    });
  }

  // --- channels

  createChannel(input: NewChannel): Channel {
    try {
      const id = this.sql.insertChannel.get(input.name, input.description, input.access, input.publish, input.createdBy, now())!;
      return this.channelById(id);
    } catch (err) {
      throw duplicateName(err, 'channel', input.name) ?? err;
    }
  }

  getChannel(name: string): Channel | null {
    const row = this.sql.channelByName.get(name);
    return row ? toChannel(row) : null;
  }

  listChannels(): Channel[] {
    return this.sql.channels.all().map(toChannel);
  }

  updateChannel(channelId: number, changes: ChannelChanges): { channel: Channel; dropped: number[] } {
    return this.updateChannelTx.immediate(channelId, changes);
  }

  setChannelArchived(channelId: number, archived: boolean): { channel: Channel; changed: boolean } {
    const before = this.channelById(channelId);
    if ((before.archivedAt !== null) === archived) return { channel: before, changed: false };
    this.sql.setArchived.run(archived ? now() : null, channelId);
    return { channel: this.channelById(channelId), changed: true };
  }

  channelStanding(channelId: number, userId: number): ChannelStanding {
    const roles = this.sql.rolesOf.all(channelId, userId);
    return {
      member: roles.includes('member'),
      publisher: roles.includes('publisher'),
      subscribed: this.sql.isSubscribed.get(channelId, userId) !== undefined,
    };
  }

  channelStandings(userId: number): Map<number, ChannelStanding> {
    const out = new Map<number, ChannelStanding>();
    const of = (channelId: number): ChannelStanding => {
      let s = out.get(channelId);
      if (!s) out.set(channelId, (s = { ...NO_STANDING }));
      return s;
    };
    for (const r of this.sql.rolesOfUser.all(userId)) of(r.channel_id)[r.role] = true;
    for (const channelId of this.sql.subscriptionsOfUser.all(userId)) of(channelId).subscribed = true;
    return out;
  }

  channelRoster(channelId: number): ChannelRosterRow[] {
    return this.sql.roster.all({ channel: channelId }).map((r) => ({
      userId: r.user_id, username: r.username, institution: r.institution,
      member: r.member !== 0, publisher: r.publisher !== 0, subscribed: r.subscribed !== 0,
    }));
  }

  grantChannelRole(channelId: number, userIds: number[], role: ChannelRole): number {
    return this.grantTx.immediate(channelId, userIds, role);
  }

  revokeChannelRole(channelId: number, userIds: number[], role: ChannelRole): { revoked: number; dropped: number[] } {
    return this.revokeTx.immediate(channelId, userIds, role);
  }

  subscribe(channelId: number, userId: number): boolean {
    return this.subscribeTx.immediate(channelId, userId);
  }

  unsubscribe(channelId: number, userId: number): boolean {
    return this.sql.unsubscribe.run(channelId, userId).changes > 0;
  }

  /**
   * For the transaction storing a message to the channel: refuses an archived channel and
   * returns who receives it at this instant.
   */
  publishRecipients(channelId: number, senderId: number): { channel: Channel; recipientIds: number[] } {
    const channel = this.channelById(channelId);
    if (channel.archivedAt !== null) {
      throw archived(channel.name, true);
    }
    return { channel, recipientIds: this.sql.publishRecipients.all({ channel: channelId, sender: senderId }) };
  }

  /**
   * Inside the transaction that stores a message: a channel message gets the channel's
   * subscribers of this instant as recipients, each reached through '#channel'. The audience
   * column keeps 'list' (its CHECK predates channels); readers see 'channel' from channel_id.
   */
  routeChannelMessage(m: NewMessage): NewMessage {
    if (m.channelId === undefined) return m;
    const { channel, recipientIds } = this.publishRecipients(m.channelId, m.senderId);
    const via = channelVia(channel.name);
    return { ...m, audience: 'list', recipientIds, via, recipientVia: new Map(recipientIds.map((id) => [id, via])) };
  }

  /**
   * Inside the same transaction, once the message row exists: its channel, via and (with `rows`)
   * each recipient's route; an audience snapshot keeps the routes instead (../sql-common/message-rows.ts snapshotRoutes).
   */
  recordRoutes(messageId: number, m: NewMessage, rows = true): void {
    if (m.channelId === undefined && !m.via && !m.recipientVia?.size) return;
    this.sql.setAddressing.run(m.channelId ?? null, m.via ?? null, messageId);
    if (!rows) return;
    for (const [recipientId, via] of m.recipientVia ?? []) this.sql.insertRoute.run(messageId, recipientId, via);
  }

  channelMessageRows(channelId: number, beforeId: number, limit: number): MessageRow[] {
    return this.sql.channelMessages.all(channelId, beforeId, limit);
  }

  private channelById(id: number): Channel {
    const row = this.sql.channelById.get(id);
    if (!row) throw notFound('channel', id);
    return toChannel(row);
  }

  // --- groups

  createGroup(input: { name: string; description: string; createdBy: number }): Group {
    try {
      const id = this.sql.insertGroup.get(input.name, input.description, input.createdBy, now())!;
      return toGroup(this.sql.groupById.get(id)!);
    } catch (err) {
      throw duplicateName(err, 'group', input.name) ?? err;
    }
  }

  getGroup(name: string): Group | null {
    const row = this.sql.groupByName.get(name);
    return row ? toGroup(row) : null;
  }

  listGroups(): Group[] {
    return this.sql.groups.all().map(toGroup);
  }

  setGroupDescription(groupId: number, description: string): Group {
    this.sql.setGroupDescription.run(description, groupId);
    const row = this.sql.groupById.get(groupId);
    if (!row) throw notFound('group', groupId);
    return toGroup(row);
  }

  deleteGroup(groupId: number): void {
    this.deleteGroupTx.immediate(groupId);
  }

  groupMembers(groupId: number): User[] {
    return this.sql.groupMembers.all(groupId).map(toUser);
  }

  addGroupMembers(groupId: number, userIds: number[]): number {
    return this.addMembersTx.immediate(groupId, userIds);
  }

  removeGroupMembers(groupId: number, userIds: number[]): number {
    return this.removeMembersTx.immediate(groupId, userIds);
  }

  groupsOf(userId: number): Set<number> {
    return new Set(this.sql.groupsOfUser.all(userId));
  }

  resolveGroups(names: string[]): { found: Array<{ name: string; memberIds: number[] }>; missing: string[] } {
    const wanted = [...new Set(names)];
    const rows = this.sql.groupsNamed.all(JSON.stringify(wanted));
    const byName = new Map(rows.map((r) => [r.name, r.id]));
    const members = new Map<number, number[]>();
    for (const r of this.sql.activeMembersOfGroups.all(JSON.stringify(rows.map((g) => g.id)))) {
      let list = members.get(r.group_id);
      if (!list) members.set(r.group_id, (list = []));
      list.push(r.user_id);
    }
    const found: Array<{ name: string; memberIds: number[] }> = [];
    const missing: string[] = [];
    for (const name of wanted) {
      const id = byName.get(name);
      if (id === undefined) missing.push(name);
      else found.push({ name, memberIds: members.get(id) ?? [] });
    }
    return { found, missing };
  }
}
