/**
 * Groups of institutions (issue #4), the rules: kept by the administrator (every change audited),
 * addressed by members as `SEND to=@NAME` (expanded in audiences.ts at send time). The command
 * handlers (src/server/commands/groups.ts) read the arguments, call these and answer.
 */
import { SiarError } from '../../protocol/index.js';
import type { AuditStore } from '../ports/store/audit.js';
import type { ChannelGroupStore, Group } from '../ports/store/channels.js';
import type { AccountStore } from '../ports/store.js';
import type { Actor } from './actor.js';
import { membersNamed } from './channels.js';

type GroupPorts = ChannelGroupStore & AuditStore & AccountStore;

export async function groupByName(store: Pick<ChannelGroupStore, 'getGroup'>, name: string): Promise<Group> {
  const group = await store.getGroup(name);
  if (!group) throw new SiarError('UNKNOWN_GROUP', `There is no group named ${name}.`);
  return group;
}

async function auditGroup(store: AuditStore, by: Actor, kind: string, group: Group, detail: Record<string, unknown> = {}): Promise<void> {
  await store.audit({ kind, actorId: by.user.id, subject: group.name, address: by.address, detail });
}

/** GROUP_CREATE: every name is checked before anything is written. */
export async function createGroup(store: GroupPorts, by: Actor, spec: { name: string; description: string; members: string[] }): Promise<Group> {
  const members = await membersNamed(store, spec.members);
  let group = await store.createGroup({ name: spec.name, description: spec.description, createdBy: by.user.id });
  if (members.length > 0) await store.addGroupMembers(group.id, members.map((u) => u.id));
  group = (await store.getGroup(spec.name))!;
  await auditGroup(store, by, 'group_created', group, { members: members.map((u) => u.username) });
  return group;
}

export async function describeGroup(store: GroupPorts, by: Actor, name: string, description: string): Promise<Group> {
  const group = await groupByName(store, name);
  const updated = await store.setGroupDescription(group.id, description);
  await auditGroup(store, by, 'group_updated', updated, { description });
  return updated;
}

/** GROUP_DELETE: messages sent to the group keep their recipients. */
export async function deleteGroup(store: GroupPorts, by: Actor, name: string): Promise<Group> {
  const group = await groupByName(store, name);
  await store.deleteGroup(group.id);
  await auditGroup(store, by, 'group_deleted', group, { members: group.members });
  return group;
}

/** GROUP_ADD and GROUP_REMOVE: how many changed, and the group after. */
export async function changeGroupMembers(
  store: GroupPorts, by: Actor, name: string, usernames: string[], change: 'add' | 'remove',
): Promise<{ group: Group; changed: number }> {
  const group = await groupByName(store, name);
  const users = await membersNamed(store, usernames);
  const ids = users.map((u) => u.id);
  const changed = change === 'add' ? await store.addGroupMembers(group.id, ids) : await store.removeGroupMembers(group.id, ids);
  const after = (await store.getGroup(group.name))!;
  const usernamesDone = users.map((u) => u.username);
  await auditGroup(store, by, change === 'add' ? 'group_members_added' : 'group_members_removed', after,
    change === 'add' ? { usernames: usernamesDone, added: changed } : { usernames: usernamesDone, removed: changed });
  return { group: after, changed };
}
