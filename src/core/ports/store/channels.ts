/**
 * The store's contract for channels and groups (issue #4); part of the Store interface in
 * types.ts. A channel's subscribers are read inside the transaction that stores a message to it
 * (NewMessage.channelId), so "subscribed at that moment" means "at the commit".
 */
import type { ChannelAccess, ChannelRole, PublishPolicy } from '../../../protocol/channel-records.js';
import type { Page } from './page.js';
import type { User } from './accounts.js';
import type { Message } from './messages.js';

export type { ChannelAccess, ChannelRole, PublishPolicy };

export interface Channel {
  id: number;
  name: string;
  description: string;
  access: ChannelAccess;
  publish: PublishPolicy;
  createdAt: string;
  archivedAt: string | null;
  /** Subscription rows (members who are subscribed). */
  subscribers: number;
}

/** One user's standing in one channel. */
export interface ChannelStanding {
  member: boolean;
  publisher: boolean;
  subscribed: boolean;
}

export interface ChannelRosterRow extends ChannelStanding {
  userId: number;
  username: string;
  institution: string;
}

export interface NewChannel {
  name: string;
  description: string;
  access: ChannelAccess;
  publish: PublishPolicy;
  createdBy: number;
}

export interface ChannelChanges {
  description?: string;
  access?: ChannelAccess;
  publish?: PublishPolicy;
}

export interface Group {
  id: number;
  name: string;
  description: string;
  createdAt: string;
  /** How many institutions it holds (any status). */
  members: number;
}

export interface ChannelGroupStore {
  // channels
  /** Throws SiarError DUPLICATE_NAME when the name is taken. */
  createChannel(input: NewChannel): Promise<Channel>;
  getChannel(name: string): Promise<Channel | null>;
  /** Every channel, archived ones too, by name. */
  listChannels(): Promise<Channel[]>;
  /**
   * In one transaction; making a channel restricted drops the subscriptions of members who are
   * neither named members nor publishers. Returns the ids whose subscriptions were dropped.
   */
  updateChannel(channelId: number, changes: ChannelChanges): Promise<{ channel: Channel; dropped: number[] }>;
  /** Returns the channel after the change and whether anything changed. */
  setChannelArchived(channelId: number, archived: boolean): Promise<{ channel: Channel; changed: boolean }>;
  channelStanding(channelId: number, userId: number): Promise<ChannelStanding>;
  /** The user's standing in every channel where it has one (others: all false). */
  channelStandings(userId: number): Promise<Map<number, ChannelStanding>>;
  /** Named members, publishers and subscribers, by username. */
  channelRoster(channelId: number): Promise<ChannelRosterRow[]>;
  /** Names users for a role; returns how many were new. */
  grantChannelRole(channelId: number, userIds: number[], role: ChannelRole): Promise<number>;
  /**
   * Takes a role away in one transaction; on a restricted channel a user left with no role loses
   * its subscription. Returns how many roles were removed and whose subscriptions were dropped.
   */
  revokeChannelRole(channelId: number, userIds: number[], role: ChannelRole): Promise<{ revoked: number; dropped: number[] }>;
  /**
   * Subscribes, checking in the same transaction that the channel is not archived
   * (StoreError 'archived') and, if restricted, that the user is named for it (StoreError 'restricted').
   * Returns false when already subscribed.
   */
  subscribe(channelId: number, userId: number): Promise<boolean>;
  /** Returns false when not subscribed. */
  unsubscribe(channelId: number, userId: number): Promise<boolean>;
  /** Messages published to the channel that went out (state 'sent': not waiting for attachments, not cancelled), newest first. */
  channelHistory(channelId: number, page: Page): Promise<Message[]>;

  // groups
  /** Throws SiarError DUPLICATE_NAME when the name is taken. */
  createGroup(input: { name: string; description: string; createdBy: number }): Promise<Group>;
  getGroup(name: string): Promise<Group | null>;
  listGroups(): Promise<Group[]>;
  setGroupDescription(groupId: number, description: string): Promise<Group>;
  /** Deletes the group and its membership; messages keep their recorded recipients and via. */
  deleteGroup(groupId: number): Promise<void>;
  /** Members of the group (any status), by username. */
  groupMembers(groupId: number): Promise<User[]>;
  /** Returns how many were new. */
  addGroupMembers(groupId: number, userIds: number[]): Promise<number>;
  /** Returns how many were removed. */
  removeGroupMembers(groupId: number, userIds: number[]): Promise<number>;
  /** Ids of the groups the user belongs to. */
  groupsOf(userId: number): Promise<Set<number>>;
  /**
   * The active members of each named group, in the caller's order; names that are not groups
   * are returned in `missing`.
   */
  resolveGroups(names: string[]): Promise<{ found: Array<{ name: string; memberIds: number[] }>; missing: string[] }>;
}
