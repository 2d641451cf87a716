/**
 * The console's Channels screen: every channel (archived ones too) with its rules and subscriber
 * count, the selected channel's roster below; create, describe and change rules, restrict/open,
 * archive/unarchive, and edit the named members and publishers. Cells, forms and checks are in
 * audiences.ts; this file wires them to the protocol.
 */
import type { ChannelRecord, ChannelRosterEntry } from '../../protocol/index.js';
import {
  archiveChannel, createChannel, getChannel, grantChannel, listChannels, revokeChannel, updateChannel,
} from '../channels.js';
import {
  CHANNEL_COLUMNS, channelCells, channelChanges, channelForm, listChanges, parseNames, rosterLines, rosterNames,
  validateChannelForm, validateNamesForm,
} from './audiences.js';
import { newForm, textInput } from './form.js';
import type { ConsoleHost, Screen } from './host.js';
import { knownMembers } from './members.js';
import { NamedList } from './named-list.js';

type Detail = { channel: ChannelRecord; roster: ChannelRosterEntry[] };

export function channelsScreen(host: ConsoleHost, key: string): Screen {
  const view = new NamedList<ChannelRecord, Detail>(host, host.area(), {
    noun: 'channel', columns: CHANNEL_COLUMNS, cells: channelCells, label: 'Channels',
    empty: '(no channels yet — press n to create one)',
    panelLabel: 'Roster', panelLines: 4,
    placeholder: 'Select a channel to see who may subscribe, who may publish, and who is subscribed.',
    fetchList: () => listChannels(host.session, { archived: true }),
    fetchDetail: (name) => getChannel(host.session, name),
    detailLines: (d, width) => rosterLines(d.channel, d.roster, width),
  });

  const create = () => host.withModal(async () => {
    const known = await knownMembers(host.session);
    await view.form(newForm('New channel', channelForm()), (v) => validateChannelForm(v, known), async (v) => {
      const c = await createChannel(host.session, v.name!, {
        description: v.description?.trim() || undefined, access: v.access as ChannelRecord['access'], publish: v.publish as ChannelRecord['publish'],
        members: parseNames(v.members ?? ''), publishers: parseNames(v.publishers ?? ''),
      });
      return { message: `created #${c.name} (${c.access}, ${c.publish} publish)`, select: c.name };
    });
  });

  const edit = () => host.withModal(async () => {
    const s = await view.selected();
    if (!s) return;
    const c = s.channel;
    await view.form(newForm(`Describe #${c.name}`, channelForm(c)), (v) => validateChannelForm(v, null), async (v) => {
      const changes = channelChanges(c, v);
      if (Object.keys(changes).length === 0) return `#${c.name}: nothing changed`;
      const r = await updateChannel(host.session, c.name, changes);
      return `updated #${r.channel.name}${r.dropped ? `; ${r.dropped} subscription(s) dropped` : ''}`;
    });
  });

  const toggleAccess = () => host.withModal(() => view.confirmed(
    ({ channel: c }) => (c.access === 'open'
      ? `Restrict #${c.name}? Only named members and publishers may then subscribe; other subscribers lose their subscription.`
      : `Open #${c.name} to every member?`),
    async ({ channel: c }) => {
      const r = await updateChannel(host.session, c.name, { access: c.access === 'open' ? 'restricted' : 'open' });
      return `#${c.name} is now ${r.channel.access}${r.dropped ? `; ${r.dropped} subscription(s) dropped` : ''}`;
    },
  ));

  const toggleArchive = () => host.withModal(() => view.confirmed(
    ({ channel: c }) => (c.archived
      ? `Unarchive #${c.name}? It takes new messages and subscriptions again.`
      : `Archive #${c.name}? It keeps its history and subscribers but takes no new messages.`),
    async ({ channel: c }) => `#${c.name} ${(await archiveChannel(host.session, c.name, !c.archived)).archived ? 'archived' : 'unarchived'}`,
  ));

  /** Edits the named members (role member) or publishers as one list; grants and revokes the difference. */
  const editRole = (role: 'member' | 'publisher') => host.withModal(async () => {
    const s = await view.selected();
    if (!s) return;
    const c = s.channel;
    const current = rosterNames(s.roster, role);
    const known = await knownMembers(host.session);
    const hint = role === 'member'
      ? 'usernames allowed to subscribe (restricted channel); removing one drops its subscription'
      : 'usernames who may publish (policy "named"); a, b, …';
    const title = role === 'member' ? `Members of #${c.name}` : `Publishers of #${c.name}`;
    const input = textInput('names', role === 'member' ? 'Members' : 'Publishers', { value: current.join(', '), hint });
    // An empty list is allowed here: it takes the role from everyone.
    const check = (v: Record<string, string>) => {
      const error = parseNames(v.names ?? '').length === 0 ? null : validateNamesForm(v.names ?? '', known);
      return error ? { names: error } : null;
    };
    await view.form(newForm(title, [input]), check, async (v) => {
      const { add, remove } = listChanges(current, parseNames(v.names ?? ''));
      if (add.length === 0 && remove.length === 0) return `${title}: nothing changed`;
      const added = add.length > 0 ? await grantChannel(host.session, c.name, add, role) : 0;
      const revoked = remove.length > 0 ? await revokeChannel(host.session, c.name, remove, role) : { revoked: 0, dropped: 0 };
      return `#${c.name}: ${added} ${role}(s) added, ${revoked.revoked} removed${revoked.dropped ? `, ${revoked.dropped} subscription(s) dropped` : ''}`;
    });
  });

  const showRoster = async () => {
    const s = await view.selected();
    if (!s) return;
    const { channel: c, roster: r } = s;
    const names = (pick: (e: ChannelRosterEntry) => boolean) => r.filter(pick).map((e) => `${e.username} (${e.institution})`).join('\n') || '(none)';
    host.details(`Channel #${c.name}`, {
      description: c.description || '(none)', access: c.access, publish: c.publish,
      archived: c.archived ? `yes, since ${c.archivedAt ?? '?'}` : 'no', created: c.createdAt, subscribers: String(c.subscribers),
      'named members': names((e) => e.member), publishers: names((e) => e.publisher), subscribed: names((e) => e.subscribed),
    });
  };

  return view.screen({
    key, title: 'Channels', pushEvent: 'CHANNEL',
    help: 'n new  e edit  r restrict/open  x archive  m members  p publishers  ↵ roster',
    keys: {
      n: create, e: edit, r: toggleAccess, x: toggleArchive, m: () => editRole('member'), p: () => editRole('publisher'), enter: showRoster,
    },
  });
}
