/**
 * The console's Channels screen: every channel (archived ones too) with its rules and subscriber
 * count, the selected channel's roster below; create, describe and change rules, restrict/open,
 * archive/unarchive, and edit the named members and publishers. Cells, forms and checks are in
 * audiences.ts; this file wires them to the protocol.
 */
import type { ChannelRecord, ChannelRosterEntry } from '../../protocol/index.js';
import {
  CHANNEL_COLUMNS, channelCells, channelChanges, channelForm, listChanges, parseNames, rosterLines, rosterNames, validateChannelForm,
} from './audiences.js';
import { newForm, pickedNames, type PickInput } from './form.js';
import type { ConsoleHost, Screen } from './host.js';
import { memberItems } from './members.js';
import { NamedList } from './named-list.js';
import { pickList } from './widgets.js';

type Detail = { channel: ChannelRecord; roster: ChannelRosterEntry[] };

export function channelsScreen(host: ConsoleHost, key: string): Screen {
  const view = new NamedList<ChannelRecord, Detail>(host, host.area(), {
    noun: 'channel', columns: CHANNEL_COLUMNS, cells: channelCells, label: 'Channels',
    empty: '(no channels yet — press n to create one)',
    panelLabel: 'Roster', panelLines: 4,
    placeholder: 'Select a channel to see who may subscribe, who may publish, and who is subscribed.',
    fetchList: () => host.session.channels({ archived: true }),
    fetchDetail: (name) => host.session.channel(name),
    detailLines: (d, width) => rosterLines(d.channel, d.roster, width),
  });

  const create = () => host.withModal(async () => {
    const items = await memberItems(host.session);
    const known = items ? new Set(items.map((i) => i.name)) : null;
    const pick = (input: PickInput) => pickList(host.screen, input.label, items ?? [], pickedNames(input));
    await view.form(newForm('New channel', channelForm()), (v) => validateChannelForm(v, known), async (v) => {
      const c = await host.session.admin.createChannel(v.name!, {
        description: v.description?.trim() || undefined, access: v.access as ChannelRecord['access'], publish: v.publish as ChannelRecord['publish'],
        members: parseNames(v.members ?? ''), publishers: parseNames(v.publishers ?? ''),
      });
      return { message: `created #${c.name} (${c.access}, ${c.publish} publish)`, select: c.name };
    }, pick);
  });

  const edit = () => host.withModal(async () => {
    const s = await view.selected();
    if (!s) return;
    const c = s.channel;
    await view.form(newForm(`Describe #${c.name}`, channelForm(c)), (v) => validateChannelForm(v, null), async (v) => {
      const changes = channelChanges(c, v);
      if (Object.keys(changes).length === 0) return `#${c.name}: nothing changed`;
      const r = await host.session.admin.updateChannel(c.name, changes);
      return `updated #${r.channel.name}${r.dropped ? `; ${r.dropped} subscription(s) dropped` : ''}`;
    });
  });

  const toggleAccess = () => host.withModal(() => view.confirmed(
    ({ channel: c }) => (c.access === 'open'
      ? `Restrict #${c.name}? Only named members and publishers may then subscribe; other subscribers lose their subscription.`
      : `Open #${c.name} to every member?`),
    async ({ channel: c }) => {
      const r = await host.session.admin.updateChannel(c.name, { access: c.access === 'open' ? 'restricted' : 'open' });
      return `#${c.name} is now ${r.channel.access}${r.dropped ? `; ${r.dropped} subscription(s) dropped` : ''}`;
    },
  ));

  const toggleArchive = () => host.withModal(() => view.confirmed(
    ({ channel: c }) => (c.archived
      ? `Unarchive #${c.name}? It takes new messages and subscriptions again.`
      : `Archive #${c.name}? It keeps its history and subscribers but takes no new messages.`),
    async ({ channel: c }) => `#${c.name} ${(await host.session.admin.archiveChannel(c.name, !c.archived)).archived ? 'archived' : 'unarchived'}`,
  ));

  /** The named members (role member) or publishers, chosen from every member; grants and revokes the difference. */
  const editRole = (role: 'member' | 'publisher') => host.withModal(async () => {
    const s = await view.selected();
    if (!s) return;
    const c = s.channel;
    const current = rosterNames(s.roster, role);
    const items = await memberItems(host.session);
    if (!items) return host.say('the member list could not be read; try again (g refreshes)');
    const title = role === 'member' ? `Members of #${c.name} (may subscribe when restricted)` : `Publishers of #${c.name} (publish under "named")`;
    const chosen = await pickList(host.screen, title, items, current);
    if (!chosen) return;
    await view.changed(async () => {
      const { add, remove } = listChanges(current, chosen);
      if (add.length === 0 && remove.length === 0) return `#${c.name}: nothing changed`;
      const added = add.length > 0 ? await host.session.admin.grantChannel(c.name, add, role) : 0;
      const revoked = remove.length > 0 ? await host.session.admin.revokeChannel(c.name, remove, role) : { revoked: 0, dropped: 0 };
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
    key, title: 'Channels', short: 'Chans', pushEvent: 'channel',
    help: 'n new  e edit  r access  x archive  m members  p publishers  ↵ roster',
    everyKey: 'n new  e describe, rules  r restrict or open  x archive or unarchive  m named members  p publishers  Enter roster',
    keys: {
      n: create, e: edit, r: toggleAccess, x: toggleArchive, m: () => editRole('member'), p: () => editRole('publisher'), enter: showRoster,
    },
  });
}
