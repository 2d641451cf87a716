/**
 * `siar channels`, `siar subscribe NAME…`, `siar unsubscribe NAME…`, `siar channel NAME`,
 * `siar groups`, `siar group NAME`, and the administrator's `siar admin channel …` and
 * `siar admin group …` (issue #4). Every command takes --json (one JSON object per line).
 */
import type { Argv, CommandModule } from 'yargs';
import {
  CHANNEL_ACCESS, CHANNEL_ROLES, PUBLISH_POLICIES, type ChannelRecord, type GroupRecord, type MessageRecord,
} from '../../protocol/index.js';
import type { ChannelSettings } from '../calls.js';
import type { SiarClient } from '../connection.js';
import { commandGroup } from './command-menu.js';
import { CliError, commaList, defineCommand, oneLine, print, printJson, table, withClient, withLogin, type ClientOptions } from './common.js';

type AdminOpts = ClientOptions & { data: string };
type Builder = (y: Argv) => Argv<any>;
type Runner = (opts: AdminOpts, body: (c: SiarClient) => Promise<unknown>) => Promise<void>;

function rules(c: ChannelRecord): string {
  return `${c.access}, ${c.publish === 'named' ? 'named publishers' : 'subscribers publish'}${c.archived ? ', archived' : ''}`;
}

function standing(c: ChannelRecord): string {
  const parts = [];
  if (c.subscribed) parts.push('subscribed');
  else if (c.canSubscribe) parts.push('may subscribe');
  if (c.canPublish) parts.push('may publish');
  return parts.join(', ') || '-';
}

function printChannels(channels: ChannelRecord[], json: boolean, admin = false): void {
  if (json) {
    channels.forEach((c) => printJson(c));
    return;
  }
  if (channels.length === 0) {
    print('(no channels)\n');
    return;
  }
  const rows = channels.map((c) => [
    `#${c.name}`, admin ? String(c.subscribers) : standing(c), rules(c), c.description,
  ]);
  print(table(rows, ['CHANNEL', admin ? 'SUBSCRIBERS' : 'YOU', 'RULES', 'DESCRIPTION']));
}

function printGroups(groups: GroupRecord[], json: boolean): void {
  if (json) {
    groups.forEach((g) => printJson(g));
    return;
  }
  if (groups.length === 0) {
    print('(no groups)\n');
    return;
  }
  print(table(groups.map((g) => [`@${g.name}`, String(g.members), g.isMember ? 'yes' : '', g.description]), ['GROUP', 'MEMBERS', 'YOU', 'DESCRIPTION']));
}

function printHistory(messages: MessageRecord[]): void {
  if (messages.length === 0) {
    print('(no messages)\n');
    return;
  }
  const rows = messages.map((m) => [String(m.id), m.sentAt.replace('T', ' ').slice(0, 16), m.from, m.attachments.length ? `+${m.attachments.length}` : '', m.subject]);
  print(table(rows, ['ID', 'SENT', 'FROM', 'ATT', 'SUBJECT']));
}

function withAliases(aliases: string[], command: CommandModule<object, any>): CommandModule<object, any> {
  return { ...command, aliases };
}

function names(opts: { names: string[] }): string[] {
  return opts.names.map(String).flatMap((n) => n.split(',')).map((n) => n.trim()).filter(Boolean);
}

export const channelCommands: CommandModule<object, any>[] = [
  defineCommand({
    command: 'channels',
    describe: 'list the channels you can subscribe to, with your subscriptions',
    builder: (y: Argv) => withLogin(y).option('archived', { type: 'boolean', describe: 'include archived channels' }),
    handler: async (opts: ClientOptions & { archived?: boolean }) => {
      await withClient(opts, async (c) => printChannels(await c.channels({ archived: opts.archived }), !!opts.json));
    },
  }),
  defineCommand({
    command: 'subscribe <names..>',
    describe: 'subscribe to channels: their messages pop up from now on',
    builder: (y: Argv) => withLogin(y).positional('names', { type: 'string', array: true }),
    handler: async (opts: ClientOptions & { names: string[] }) => {
      await withClient(opts, async (c) => {
        for (const name of names(opts)) {
          const { changed } = await c.subscribe(name);
          if (opts.json) printJson({ name: name.replace(/^#/, ''), subscribed: true, changed });
          else print(`${changed ? 'subscribed to' : 'already subscribed to'} #${name.replace(/^#/, '')}\n`);
        }
      });
    },
  }),
  defineCommand({
    command: 'unsubscribe <names..>',
    describe: 'unsubscribe from channels',
    builder: (y: Argv) => withLogin(y).positional('names', { type: 'string', array: true }),
    handler: async (opts: ClientOptions & { names: string[] }) => {
      await withClient(opts, async (c) => {
        for (const name of names(opts)) {
          const { changed } = await c.unsubscribe(name);
          if (opts.json) printJson({ name: name.replace(/^#/, ''), subscribed: false, changed });
          else print(`${changed ? 'unsubscribed from' : 'was not subscribed to'} #${name.replace(/^#/, '')}\n`);
        }
      });
    },
  }),
  defineCommand({
    command: 'channel <name>',
    describe: 'one channel: its rules and your standing; --history lists its messages',
    builder: (y: Argv) => withLogin(y)
      .positional('name', { type: 'string' })
      .option('history', { type: 'boolean', describe: 'list the messages published to it, newest first' })
      .option('limit', { type: 'number', default: 50 }),
    handler: async (opts: ClientOptions & { name: string; history?: boolean; limit: number }) => {
      await withClient(opts, async (c) => {
        if (opts.history) {
          const messages = await c.channelHistory(opts.name, { limit: opts.limit });
          if (opts.json) messages.forEach((m) => printJson(m));
          else printHistory(messages);
          return;
        }
        const { channel } = await c.channel(opts.name);
        if (opts.json) printJson(channel);
        else {
          print([
            `Channel:     #${channel.name}`,
            `Description: ${oneLine(channel.description)}`,
            `Rules:       ${rules(channel)}`,
            `Subscribers: ${channel.subscribers}`,
            `You:         ${standing(channel)}`,
          ].join('\n') + '\n');
        }
      });
    },
  }),
  defineCommand({
    command: 'groups',
    describe: 'list the groups of institutions you can address as --to @NAME',
    builder: (y: Argv) => withLogin(y),
    handler: async (opts: ClientOptions) => {
      await withClient(opts, async (c) => printGroups(await c.groups(), !!opts.json));
    },
  }),
  defineCommand({
    command: 'group <name>',
    describe: 'the institutions in a group',
    builder: (y: Argv) => withLogin(y).positional('name', { type: 'string' }),
    handler: async (opts: ClientOptions & { name: string }) => {
      await withClient(opts, async (c) => {
        const { group, members } = await c.group(opts.name);
        if (opts.json) printJson({ ...group, institutions: members });
        else {
          print(`Group @${group.name}: ${oneLine(group.description)}\n`);
          print(table(members.map((m) => [m.username, m.status === 'active' ? '' : m.status, m.institution]), ['USERNAME', 'STATUS', 'INSTITUTION']));
        }
      });
    },
  }),
];

function settingsFrom(opts: { description?: string; access?: string; publish?: string; restricted?: boolean }): ChannelSettings {
  const s: ChannelSettings = {};
  if (opts.description !== undefined) s.description = opts.description;
  if (opts.restricted) s.access = 'restricted';
  if (opts.access !== undefined) s.access = opts.access as ChannelSettings['access'];
  if (opts.publish !== undefined) s.publish = opts.publish as ChannelSettings['publish'];
  return s;
}

function printChannel(channel: ChannelRecord, json: boolean, what: string): void {
  if (json) printJson(channel);
  else print(`${what} #${channel.name} (${rules(channel)})\n`);
}

function printGroup(group: GroupRecord, json: boolean, what: string): void {
  if (json) printJson(group);
  else print(`${what} @${group.name} (${group.members} institution(s))\n`);
}

/** `siar admin channel …` and `siar admin group …`, built with admin.ts's options and runner. */
export function adminChannelSubcommands(adminOptions: Builder, run: Runner): CommandModule<object, any>[] {
  const channelOptions = (y: Argv) => adminOptions(y)
    .option('description', { type: 'string', describe: 'what the channel is for' })
    .option('access', { type: 'string', choices: CHANNEL_ACCESS as string[], describe: 'open: any member may subscribe; restricted: only named members' })
    .option('publish', { type: 'string', choices: PUBLISH_POLICIES as string[], describe: 'subscribers: any subscriber may publish; named: only named publishers' });
  const role = (y: Argv) => y.option('role', { type: 'string', choices: CHANNEL_ROLES as string[], default: 'member', describe: 'member (may join a restricted channel) or publisher' });

  const channel: CommandModule<object, any>[] = [
    defineCommand({
      command: 'list',
      describe: 'every channel, archived ones too, with its subscriber count',
      builder: (y: Argv) => adminOptions(y),
      handler: (opts: AdminOpts) => run(opts, async (c) => printChannels(await c.channels({ archived: true }), !!opts.json, true)),
    }),
    defineCommand({
      command: 'create <name>',
      describe: 'create a channel',
      builder: (y: Argv) => channelOptions(y)
        .positional('name', { type: 'string' })
        .option('restricted', { type: 'boolean', describe: 'same as --access restricted' })
        .option('members', { type: 'string', array: true, describe: 'usernames allowed in a restricted channel (a,b,…; repeatable)' })
        .option('publishers', { type: 'string', array: true, describe: 'usernames who may publish under --publish named (a,b,…; repeatable)' }),
      handler: (opts: AdminOpts & { name: string; description?: string; access?: string; publish?: string; restricted?: boolean; members?: string[]; publishers?: string[] }) =>
        run(opts, async (c) => {
          const created = await c.admin.createChannel(opts.name, { ...settingsFrom(opts), members: commaList(opts.members), publishers: commaList(opts.publishers) });
          printChannel(created, !!opts.json, 'created');
        }),
    }),
    withAliases(['update'], defineCommand({
      command: 'describe <name>',
      describe: 'change a channel\'s description or rules (restricting it drops outsiders\' subscriptions)',
      builder: (y: Argv) => channelOptions(y).positional('name', { type: 'string' }),
      handler: (opts: AdminOpts & { name: string; description?: string; access?: string; publish?: string }) => run(opts, async (c) => {
        const settings = settingsFrom(opts);
        if (Object.keys(settings).length === 0) throw new CliError('Give --description, --access or --publish.');
        const { channel: updated, dropped } = await c.admin.updateChannel(opts.name, settings);
        if (opts.json) printJson({ ...updated, dropped });
        else print(`updated #${updated.name} (${rules(updated)})${dropped ? `; ${dropped} subscription(s) dropped` : ''}\n`);
      }),
    })),
    defineCommand({
      command: 'archive <name>',
      describe: 'archive a channel: no new messages, history kept',
      builder: (y: Argv) => adminOptions(y).positional('name', { type: 'string' }),
      handler: (opts: AdminOpts & { name: string }) => run(opts, async (c) => printChannel(await c.admin.archiveChannel(opts.name, true), !!opts.json, 'archived')),
    }),
    defineCommand({
      command: 'unarchive <name>',
      describe: 'take an archived channel back into use',
      builder: (y: Argv) => adminOptions(y).positional('name', { type: 'string' }),
      handler: (opts: AdminOpts & { name: string }) => run(opts, async (c) => printChannel(await c.admin.archiveChannel(opts.name, false), !!opts.json, 'unarchived')),
    }),
    defineCommand({
      command: 'grant <name> <usernames..>',
      describe: 'name members of a restricted channel (--role member) or publishers (--role publisher)',
      builder: (y: Argv) => role(adminOptions(y).positional('name', { type: 'string' }).positional('usernames', { type: 'string', array: true })),
      handler: (opts: AdminOpts & { name: string; usernames: string[]; role: 'member' | 'publisher' }) => run(opts, async (c) => {
        const added = await c.admin.grantChannel(opts.name, commaList(opts.usernames.map(String)), opts.role);
        if (opts.json) printJson({ name: opts.name, role: opts.role, added });
        else print(`${added} new ${opts.role}(s) of #${opts.name.replace(/^#/, '')}\n`);
      }),
    }),
    defineCommand({
      command: 'revoke <name> <usernames..>',
      describe: 'take a role away (outsiders of a restricted channel lose their subscription)',
      builder: (y: Argv) => role(adminOptions(y).positional('name', { type: 'string' }).positional('usernames', { type: 'string', array: true })),
      handler: (opts: AdminOpts & { name: string; usernames: string[]; role: 'member' | 'publisher' }) => run(opts, async (c) => {
        const r = await c.admin.revokeChannel(opts.name, commaList(opts.usernames.map(String)), opts.role);
        if (opts.json) printJson({ name: opts.name, role: opts.role, ...r });
        else print(`${r.revoked} ${opts.role}(s) removed from #${opts.name.replace(/^#/, '')}; ${r.dropped} subscription(s) dropped\n`);
      }),
    }),
    defineCommand({
      command: 'show <name>',
      describe: 'a channel with its named members, publishers and subscribers',
      builder: (y: Argv) => adminOptions(y).positional('name', { type: 'string' }),
      handler: (opts: AdminOpts & { name: string }) => run(opts, async (c) => {
        const { channel: ch, roster } = await c.channel(opts.name);
        if (opts.json) {
          printJson({ ...ch, roster });
          return;
        }
        print(`#${ch.name}: ${oneLine(ch.description)}\n${rules(ch)}; ${ch.subscribers} subscriber(s)\n`);
        const yes = (b: boolean) => (b ? 'yes' : '');
        if (roster.length > 0) {
          print(table(roster.map((r) => [r.username, yes(r.member), yes(r.publisher), yes(r.subscribed), r.institution]), ['USERNAME', 'MEMBER', 'PUBLISHER', 'SUBSCRIBED', 'INSTITUTION']));
        }
      }),
    }),
  ];

  const group: CommandModule<object, any>[] = [
    defineCommand({
      command: 'list',
      describe: 'every group with its size',
      builder: (y: Argv) => adminOptions(y),
      handler: (opts: AdminOpts) => run(opts, async (c) => printGroups(await c.groups(), !!opts.json)),
    }),
    defineCommand({
      command: 'create <name>',
      describe: 'define a group of institutions (addressed as --to @NAME)',
      builder: (y: Argv) => adminOptions(y).positional('name', { type: 'string' })
        .option('description', { type: 'string' })
        .option('members', { type: 'string', array: true, describe: 'usernames (a,b,…; repeatable)' }),
      handler: (opts: AdminOpts & { name: string; description?: string; members?: string[] }) => run(opts, async (c) => {
        printGroup(await c.admin.createGroup(opts.name, { description: opts.description, members: commaList(opts.members) }), !!opts.json, 'created');
      }),
    }),
    defineCommand({
      command: 'describe <name>',
      describe: 'change a group\'s description',
      builder: (y: Argv) => adminOptions(y).positional('name', { type: 'string' }).option('description', { type: 'string', demandOption: true }),
      handler: (opts: AdminOpts & { name: string; description: string }) => run(opts, async (c) => {
        printGroup(await c.admin.describeGroup(opts.name, opts.description), !!opts.json, 'updated');
      }),
    }),
    defineCommand({
      command: 'delete <name>',
      describe: 'remove a group (messages sent to it keep their recipients)',
      builder: (y: Argv) => adminOptions(y).positional('name', { type: 'string' }),
      handler: (opts: AdminOpts & { name: string }) => run(opts, async (c) => {
        await c.admin.deleteGroup(opts.name);
        if (opts.json) printJson({ name: opts.name.replace(/^@/, ''), deleted: true });
        else print(`deleted @${opts.name.replace(/^@/, '')}\n`);
      }),
    }),
    defineCommand({
      command: 'add <name> <usernames..>',
      describe: 'add institutions to a group',
      builder: (y: Argv) => adminOptions(y).positional('name', { type: 'string' }).positional('usernames', { type: 'string', array: true }),
      handler: (opts: AdminOpts & { name: string; usernames: string[] }) => run(opts, async (c) => {
        const added = await c.admin.addToGroup(opts.name, commaList(opts.usernames.map(String)));
        if (opts.json) printJson({ name: opts.name, added });
        else print(`${added} institution(s) added to @${opts.name.replace(/^@/, '')}\n`);
      }),
    }),
    defineCommand({
      command: 'remove <name> <usernames..>',
      describe: 'remove institutions from a group',
      builder: (y: Argv) => adminOptions(y).positional('name', { type: 'string' }).positional('usernames', { type: 'string', array: true }),
      handler: (opts: AdminOpts & { name: string; usernames: string[] }) => run(opts, async (c) => {
        const removed = await c.admin.removeFromGroup(opts.name, commaList(opts.usernames.map(String)));
        if (opts.json) printJson({ name: opts.name, removed });
        else print(`${removed} institution(s) removed from @${opts.name.replace(/^@/, '')}\n`);
      }),
    }),
    defineCommand({
      command: 'show <name>',
      describe: 'the institutions in a group',
      builder: (y: Argv) => adminOptions(y).positional('name', { type: 'string' }),
      handler: (opts: AdminOpts & { name: string }) => run(opts, async (c) => {
        const { group: g, members } = await c.group(opts.name);
        if (opts.json) printJson({ ...g, institutions: members });
        else {
          print(`@${g.name}: ${oneLine(g.description)}\n`);
          print(table(members.map((m) => [m.username, m.status === 'active' ? '' : m.status, m.institution]), ['USERNAME', 'STATUS', 'INSTITUTION']));
        }
      }),
    }),
  ];

  return [
    commandGroup('siar admin channel', 'manage channels: list, create, describe, archive, unarchive, grant, revoke, show', channel),
    commandGroup('siar admin group', 'manage groups of institutions: list, create, describe, delete, add, remove, show', group),
  ];
}
