/**
 * The SQL of channels and groups (issue #4) for the PostgreSQL store; the operations are in
 * channels.ts. Rows are mapped to the records of src/core/ports/store/channels.ts here.
 */
import type { QueryResultRow } from 'pg';
import type { MessageRow } from '../sql-common/message-rows.js';
import type { Channel, ChannelRole, ChannelRosterRow, Group } from '../../core/ports/store/channels.js';
import { sql, statements } from './connection.js';
import { MESSAGE_COLUMNS } from '../sql-common/message-rows.js';
import type { PgUserRow } from './sql.js';

export interface ChannelRow extends QueryResultRow {
  id: number;
  name: string;
  description: string;
  access: Channel['access'];
  publish: Channel['publish'];
  created_at: string;
  archived_at: string | null;
  subscribers: number;
}

export interface GroupRow extends QueryResultRow {
  id: number;
  name: string;
  description: string;
  created_at: string;
  members: number;
}

interface RosterRow extends QueryResultRow {
  user_id: number;
  username: string;
  institution: string;
  member: boolean;
  publisher: boolean;
  subscribed: boolean;
}

type Ids = { ids: number[] } & QueryResultRow;
type Id = { id: number } & QueryResultRow;

const CHANNEL = `SELECT c.*, (SELECT count(*) FROM channel_subscriptions s WHERE s.channel_id = c.id) AS subscribers FROM channels c`;
const GROUP = `SELECT g.*, (SELECT count(*) FROM group_members gm WHERE gm.group_id = g.id) AS members FROM institution_groups g`;

export const C = statements('siar.cg', {
  insertChannel: sql<[string, string, string, string, number, string], Id>(`
    INSERT INTO channels (name, description, access, publish, created_by, created_at)
    VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`),
  channelById: sql<[number], ChannelRow>(`${CHANNEL} WHERE c.id = $1`),
  /** Held until the transaction ends: a change to the channel waits for, or is waited for by, subscribes and publishes. */
  channelToChange: sql<[number], ChannelRow>(`${CHANNEL} WHERE c.id = $1 FOR UPDATE OF c`),
  /** Subscribing and publishing read the channel under a share lock: it cannot be archived or restricted meanwhile. */
  channelToUse: sql<[number], ChannelRow>(`${CHANNEL} WHERE c.id = $1 FOR SHARE OF c`),
  channelByName: sql<[string], ChannelRow>(`${CHANNEL} WHERE c.name = $1`),
  channels: sql<[], ChannelRow>(`${CHANNEL} ORDER BY c.name`),
  updateChannel: sql<[number, string | null, string | null, string | null]>(`
    UPDATE channels
    SET description = coalesce($2, description), access = coalesce($3, access), publish = coalesce($4, publish)
    WHERE id = $1`),
  setArchived: sql<[string | null, number]>(`UPDATE channels SET archived_at = $1 WHERE id = $2`),
  rolesOf: sql<[number, number], { role: ChannelRole } & QueryResultRow>(
    `SELECT role FROM channel_roles WHERE channel_id = $1 AND user_id = $2`,
  ),
  isSubscribed: sql<[number, number], { found: number } & QueryResultRow>(
    `SELECT 1 AS found FROM channel_subscriptions WHERE channel_id = $1 AND user_id = $2`,
  ),
  rolesOfUser: sql<[number], { channel_id: number; role: ChannelRole } & QueryResultRow>(
    `SELECT channel_id, role FROM channel_roles WHERE user_id = $1`,
  ),
  subscriptionsOfUser: sql<[number], { channel_id: number } & QueryResultRow>(
    `SELECT channel_id FROM channel_subscriptions WHERE user_id = $1`,
  ),
  roster: sql<[number], RosterRow>(`
    SELECT u.id AS user_id, u.username, u.institution,
      EXISTS (SELECT 1 FROM channel_roles r WHERE r.channel_id = $1 AND r.user_id = u.id AND r.role = 'member') AS member,
      EXISTS (SELECT 1 FROM channel_roles r WHERE r.channel_id = $1 AND r.user_id = u.id AND r.role = 'publisher') AS publisher,
      EXISTS (SELECT 1 FROM channel_subscriptions s WHERE s.channel_id = $1 AND s.user_id = u.id) AS subscribed
    FROM users u
    WHERE u.id IN (SELECT user_id FROM channel_roles WHERE channel_id = $1
                   UNION SELECT user_id FROM channel_subscriptions WHERE channel_id = $1)
    ORDER BY u.username`),
  grantRoles: sql<[number, number[], ChannelRole, string]>(`
    INSERT INTO channel_roles (channel_id, user_id, role, granted_at)
    SELECT $1, u, $3, $4 FROM unnest($2::bigint[]) AS u
    ON CONFLICT DO NOTHING`),
  revokeRoles: sql<[number, number[], ChannelRole]>(
    `DELETE FROM channel_roles WHERE channel_id = $1 AND user_id = ANY($2::bigint[]) AND role = $3`,
  ),
  /** Subscriptions of users who hold no role in the channel, when it is restricted: dropped. */
  dropOutsiders: sql<[number], Ids>(`
    WITH dropped AS (
      DELETE FROM channel_subscriptions s
      WHERE s.channel_id = $1
        AND (SELECT access FROM channels WHERE id = $1) = 'restricted'
        AND NOT EXISTS (SELECT 1 FROM channel_roles r WHERE r.channel_id = $1 AND r.user_id = s.user_id)
      RETURNING s.user_id
    )
    SELECT coalesce(array_agg(user_id ORDER BY user_id), '{}') AS ids FROM dropped`),
  subscribe: sql<[number, number, string]>(`
    INSERT INTO channel_subscriptions (channel_id, user_id, subscribed_at) VALUES ($1, $2, $3)
    ON CONFLICT DO NOTHING`),
  unsubscribe: sql<[number, number]>(`DELETE FROM channel_subscriptions WHERE channel_id = $1 AND user_id = $2`),
  // Who a message published now reaches: active members subscribed, still allowed in, not the sender.
  publishRecipients: sql<[number, number], Ids>(`
    SELECT coalesce(array_agg(s.user_id ORDER BY s.user_id), '{}') AS ids
    FROM channel_subscriptions s
    JOIN users u ON u.id = s.user_id
    JOIN channels c ON c.id = s.channel_id
    WHERE s.channel_id = $1 AND s.user_id <> $2 AND u.role = 'member' AND u.status = 'active'
      AND (c.access = 'open' OR EXISTS (SELECT 1 FROM channel_roles r WHERE r.channel_id = c.id AND r.user_id = s.user_id))`),
  channelMessages: sql<[number, number, number], MessageRow & QueryResultRow>(`
    SELECT ${MESSAGE_COLUMNS} FROM messages m JOIN users s ON s.id = m.sender_id
    WHERE m.channel_id = $1 AND m.state = 'sent' AND m.pending_recipients IS NULL AND m.id < $2
    ORDER BY m.id DESC LIMIT $3`),

  insertGroup: sql<[string, string, number, string], Id>(
    `INSERT INTO institution_groups (name, description, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
  ),
  groupById: sql<[number], GroupRow>(`${GROUP} WHERE g.id = $1`),
  groupByName: sql<[string], GroupRow>(`${GROUP} WHERE g.name = $1`),
  groups: sql<[], GroupRow>(`${GROUP} ORDER BY g.name`),
  groupsNamed: sql<[string[]], GroupRow>(`${GROUP} WHERE g.name = ANY($1::text[])`),
  setGroupDescription: sql<[string, number]>(`UPDATE institution_groups SET description = $1 WHERE id = $2`),
  deleteGroupMembers: sql<[number]>(`DELETE FROM group_members WHERE group_id = $1`),
  deleteGroup: sql<[number]>(`DELETE FROM institution_groups WHERE id = $1`),
  groupMembers: sql<[number], PgUserRow & QueryResultRow>(`
    SELECT u.* FROM group_members gm JOIN users u ON u.id = gm.user_id WHERE gm.group_id = $1 ORDER BY u.username`),
  addGroupMembers: sql<[number, number[], string]>(`
    INSERT INTO group_members (group_id, user_id, added_at) SELECT $1, u, $3 FROM unnest($2::bigint[]) AS u
    ON CONFLICT DO NOTHING`),
  removeGroupMembers: sql<[number, number[]]>(`DELETE FROM group_members WHERE group_id = $1 AND user_id = ANY($2::bigint[])`),
  groupsOfUser: sql<[number], { group_id: number } & QueryResultRow>(`SELECT group_id FROM group_members WHERE user_id = $1`),
  activeMembersOfGroups: sql<[number[]], { group_id: number; user_id: number } & QueryResultRow>(`
    SELECT gm.group_id, gm.user_id
    FROM group_members gm JOIN users u ON u.id = gm.user_id
    WHERE gm.group_id = ANY($1::bigint[]) AND u.role = 'member' AND u.status = 'active'
    ORDER BY gm.group_id, u.username`),
});

export { toChannel, toGroup } from '../sql-common/channel-rows.js';

export function toRosterRow(r: RosterRow): ChannelRosterRow {
  return {
    userId: r.user_id, username: r.username, institution: r.institution,
    member: r.member, publisher: r.publisher, subscribed: r.subscribed,
  };
}
