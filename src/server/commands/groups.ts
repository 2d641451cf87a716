/**
 * Groups of institutions (issue #4): kept by the administrator, addressed by members as
 * `SEND to=@NAME` (expanded in core/services/audiences.ts at send time). The rules are in
 * core/services/groups.ts; these handlers read the arguments, call them, push and answer.
 */
import { SiarError, groupToArgs, type ArgInput, type Args } from '../../protocol/index.js';
import type { Group } from '../../core/ports/store/channels.js';
import * as groups from '../../core/services/groups.js';
import { groupByName } from '../../core/services/groups.js';
import { visibleChannels } from '../../core/services/channels.js';
import { optionalText } from '../validation.js';
import { audienceName, usernameList } from './audience-args.js';
import { channelArgs } from './channels.js';
import { actorOf, authed, type AuthedContext, type Command } from './types.js';

const DESCRIPTION_CHARS = 500;

/** The group an argument names (`name=`, a leading `@` allowed). */
function named(args: Args): string {
  return audienceName(args.get('name'), 'name', '@');
}

export function groupArgs(g: Group, isMember: boolean): ArgInput {
  return groupToArgs({ name: g.name, description: g.description, members: g.members, createdAt: g.createdAt, isMember });
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
    const group = await groupByName(store, named(args));
    const members = await store.groupMembers(group.id);
    const online = await router.onlineAmong(members.map((u) => u.id));
    for (const u of members) {
      ctx.item({ username: u.username, institution: u.institution, status: u.status, online: online.has(u.id) ? 1 : 0 });
    }
    return groupArgs(group, members.some((u) => u.id === ctx.auth.user.id));
  }),

  authed('GROUP_CREATE', 'admin', 'GROUP_CREATE name= [description=] [members=U,U…] — defines a group of institutions', async (ctx, args) => {
    const name = named(args);
    const description = optionalText(args, 'description', DESCRIPTION_CHARS, 'Description');
    const group = await groups.createGroup(ctx.services.store, actorOf(ctx), { name, description, members: usernameList(args, 'members', false) });
    announce(ctx, 'created', group);
    return groupArgs(group, false);
  }),

  authed('GROUP_UPDATE', 'admin', 'GROUP_UPDATE name= description= — describes a group', async (ctx, args) => {
    const name = named(args);
    if (!args.has('description')) throw new SiarError('MISSING_ARGUMENT', 'Give description=.');
    const description = optionalText(args, 'description', DESCRIPTION_CHARS, 'Description');
    const updated = await groups.describeGroup(ctx.services.store, actorOf(ctx), name, description);
    announce(ctx, 'updated', updated);
    return groupArgs(updated, false);
  }),

  authed('GROUP_DELETE', 'admin', 'GROUP_DELETE name= — removes a group; messages sent to it keep their recipients', async (ctx, args) => {
    const group = await groups.deleteGroup(ctx.services.store, actorOf(ctx), named(args));
    announce(ctx, 'deleted', group);
    return { name: group.name, deleted: 1 };
  }),

  authed('GROUP_ADD', 'admin', 'GROUP_ADD name= username=U[,U…] — adds institutions to a group', async (ctx, args) => {
    const { group, changed } = await groups.changeGroupMembers(ctx.services.store, actorOf(ctx), named(args), usernameList(args, 'username', true), 'add');
    announce(ctx, 'members', group);
    return { name: group.name, added: changed, members: group.members };
  }),

  authed('GROUP_REMOVE', 'admin', 'GROUP_REMOVE name= username=U[,U…] — removes institutions from a group', async (ctx, args) => {
    const { group, changed } = await groups.changeGroupMembers(ctx.services.store, actorOf(ctx), named(args), usernameList(args, 'username', true), 'remove');
    announce(ctx, 'members', group);
    return { name: group.name, removed: changed, members: group.members };
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
    for (const { channel, standing } of await visibleChannels(ctx.services.store, ctx.auth.user, false)) {
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
