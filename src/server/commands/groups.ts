/**
 * Groups of institutions (issue #4): kept by the administrator, addressed by members as
 * `SEND to=@NAME` (expanded in recipients.ts at send time).
 */
import { SiarError, groupToArgs, type ArgInput } from '../../protocol/index.js';
import type { Group } from '../../core/ports/store/channels.js';
import { optionalText } from '../validation.js';
import { audienceName, channelArgs, membersNamed, usernameList, visibleChannels } from './channels.js';
import { authed, type AuthedContext, type Command, type Services } from './types.js';

const DESCRIPTION_CHARS = 500;

export async function groupByName(services: Services, name: string): Promise<Group> {
  const group = await services.store.getGroup(name);
  if (!group) throw new SiarError('UNKNOWN_GROUP', `There is no group named ${name}.`);
  return group;
}

export function groupArgs(g: Group, isMember: boolean): ArgInput {
  return groupToArgs({ name: g.name, description: g.description, members: g.members, createdAt: g.createdAt, isMember });
}

async function auditGroup(ctx: AuthedContext, kind: string, group: Group, detail: Record<string, unknown> = {}): Promise<void> {
  await ctx.services.store.audit({ kind, actorId: ctx.auth.user.id, subject: group.name, address: ctx.conn.remoteAddress, detail });
}

function announce(ctx: AuthedContext, change: string, group: Group): void {
  const args = { change, ...groupArgs(group, false) };
  ctx.afterReply(() => ctx.services.router.pushToAdmins('GROUP', args));
}

export const groupCommands: Command[] = [
  authed('GROUPS', 'user', 'GROUPS — groups of institutions, addressed as to=@NAME', async (ctx) => {
    const { store } = ctx.services;
    const groups = await store.listGroups();
    const mine = await store.groupsOf(ctx.auth.user.id);
    for (const g of groups) ctx.item(groupArgs(g, mine.has(g.id)));
    return { count: groups.length };
  }),

  authed('GROUP', 'user', 'GROUP name= — one group, its institutions as ITEM rows', async (ctx, args) => {
    const { store, router } = ctx.services;
    const group = await groupByName(ctx.services, audienceName(args.get('name'), 'name', '@'));
    const members = await store.groupMembers(group.id);
    for (const u of members) {
      ctx.item({ username: u.username, institution: u.institution, status: u.status, online: router.isOnline(u.id) ? 1 : 0 });
    }
    return groupArgs(group, members.some((u) => u.id === ctx.auth.user.id));
  }),

  authed('GROUP_CREATE', 'admin', 'GROUP_CREATE name= [description=] [members=U,U…] — defines a group of institutions', async (ctx, args) => {
    const { store } = ctx.services;
    const name = audienceName(args.get('name'), 'name', '@');
    const description = optionalText(args, 'description', DESCRIPTION_CHARS, 'Description');
    const members = await membersNamed(ctx.services, usernameList(args, 'members', false));
    let group = await store.createGroup({ name, description, createdBy: ctx.auth.user.id });
    if (members.length > 0) await store.addGroupMembers(group.id, members.map((u) => u.id));
    group = (await store.getGroup(name))!;
    await auditGroup(ctx, 'group_created', group, { members: members.map((u) => u.username) });
    announce(ctx, 'created', group);
    return groupArgs(group, false);
  }),

  authed('GROUP_UPDATE', 'admin', 'GROUP_UPDATE name= description= — describes a group', async (ctx, args) => {
    const group = await groupByName(ctx.services, audienceName(args.get('name'), 'name', '@'));
    if (!args.has('description')) throw new SiarError('MISSING_ARGUMENT', 'Give description=.');
    const description = optionalText(args, 'description', DESCRIPTION_CHARS, 'Description');
    const updated = await ctx.services.store.setGroupDescription(group.id, description);
    await auditGroup(ctx, 'group_updated', updated, { description });
    announce(ctx, 'updated', updated);
    return groupArgs(updated, false);
  }),

  authed('GROUP_DELETE', 'admin', 'GROUP_DELETE name= — removes a group; messages sent to it keep their recipients', async (ctx, args) => {
    const group = await groupByName(ctx.services, audienceName(args.get('name'), 'name', '@'));
    await ctx.services.store.deleteGroup(group.id);
    await auditGroup(ctx, 'group_deleted', group, { members: group.members });
    announce(ctx, 'deleted', group);
    return { name: group.name, deleted: 1 };
  }),

  authed('GROUP_ADD', 'admin', 'GROUP_ADD name= username=U[,U…] — adds institutions to a group', async (ctx, args) => {
    const group = await groupByName(ctx.services, audienceName(args.get('name'), 'name', '@'));
    const users = await membersNamed(ctx.services, usernameList(args, 'username', true));
    const added = await ctx.services.store.addGroupMembers(group.id, users.map((u) => u.id));
    const after = (await ctx.services.store.getGroup(group.name))!;
    await auditGroup(ctx, 'group_members_added', after, { usernames: users.map((u) => u.username), added });
    announce(ctx, 'members', after);
    return { name: group.name, added, members: after.members };
  }),

  authed('GROUP_REMOVE', 'admin', 'GROUP_REMOVE name= username=U[,U…] — removes institutions from a group', async (ctx, args) => {
    const group = await groupByName(ctx.services, audienceName(args.get('name'), 'name', '@'));
    const users = await membersNamed(ctx.services, usernameList(args, 'username', true));
    const removed = await ctx.services.store.removeGroupMembers(group.id, users.map((u) => u.id));
    const after = (await ctx.services.store.getGroup(group.name))!;
    await auditGroup(ctx, 'group_members_removed', after, { usernames: users.map((u) => u.username), removed });
    announce(ctx, 'members', after);
    return { name: group.name, removed, members: after.members };
  }),
];

/**
 * DIRECTORY's channel and group rows (after its member rows): the channels the caller can see
 * (not archived) and every group, each with `kind=`. Returns how many of each it wrote.
 */
export async function directoryAudiences(ctx: AuthedContext, kind: string | undefined): Promise<{ channels: number; groups: number }> {
  let channels = 0;
  let groups = 0;
  if (kind === undefined || kind === 'channel') {
    for (const { channel, standing } of await visibleChannels(ctx.services, ctx.auth.user, false)) {
      ctx.item({ kind: 'channel', ...channelArgs(channel, standing, ctx.auth.user) });
      channels++;
    }
  }
  if (kind === undefined || kind === 'group') {
    const mine = await ctx.services.store.groupsOf(ctx.auth.user.id);
    for (const g of await ctx.services.store.listGroups()) {
      ctx.item({ kind: 'group', ...groupArgs(g, mine.has(g.id)) });
      groups++;
    }
  }
  return { channels, groups };
}
