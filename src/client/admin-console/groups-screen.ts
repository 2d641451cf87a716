/**
 * The console's Groups screen: every group with its size, the selected group's institutions
 * below; create, describe, delete, add and remove institutions. Cells, forms and checks are in
 * audiences.ts.
 */
import type { GroupMemberEntry, GroupRecord } from '../../protocol/index.js';
import {
  DESCRIPTION_CHARS, GROUP_COLUMNS, checkDescription, groupCells, groupForm, groupMemberLines, listChanges, parseNames, validateGroupForm,
} from './audiences.js';
import { newForm, pickedNames, textInput, type PickInput } from './form.js';
import type { ConsoleHost, Screen } from './host.js';
import { memberItems } from './members.js';
import { NamedList } from './named-list.js';
import { pickList } from './widgets.js';

type Detail = { group: GroupRecord; members: GroupMemberEntry[] };

export function groupsScreen(host: ConsoleHost, key: string): Screen {
  const view = new NamedList<GroupRecord, Detail>(host, host.area(), {
    noun: 'group', columns: GROUP_COLUMNS, cells: groupCells, label: 'Groups',
    empty: '(no groups yet — press n to create one)',
    panelLabel: 'Institutions', panelLines: 3,
    placeholder: 'Select a group to see its institutions.',
    fetchList: () => host.session.groups(),
    fetchDetail: (name) => host.session.group(name),
    detailLines: (d, width) => groupMemberLines(d.group, d.members, width),
  });

  const create = () => host.withModal(async () => {
    const items = await memberItems(host.session);
    const known = items ? new Set(items.map((i) => i.name)) : null;
    const pick = (input: PickInput) => pickList(host.screen, 'Institutions', items ?? [], pickedNames(input));
    await view.form(newForm('New group', groupForm()), (v) => validateGroupForm(v, known), async (v) => {
      const g = await host.session.admin.createGroup(v.name!, { description: v.description?.trim() || undefined, members: parseNames(v.members ?? '') });
      return { message: `created @${g.name} with ${g.members} institution(s)`, select: g.name };
    }, pick);
  });

  const edit = () => host.withModal(async () => {
    const s = await view.selected();
    if (!s) return;
    const g = s.group;
    const form = newForm(`Describe @${g.name}`, [textInput('description', 'Description', { value: g.description, maxChars: DESCRIPTION_CHARS })]);
    const check = (v: Record<string, string>) => {
      const error = checkDescription(v.description ?? '');
      return error ? { description: error } : null;
    };
    await view.form(form, check, async (v) => {
      await host.session.admin.describeGroup(g.name, (v.description ?? '').trim());
      return `described @${g.name}`;
    });
  });

  const remove = () => host.withModal(() => view.confirmed(
    ({ group: g, members }) => `Delete @${g.name} (${members.length} institution(s))? Messages already sent to it keep their recipients.`,
    async ({ group: g }) => {
      await host.session.admin.deleteGroup(g.name);
      return `deleted @${g.name}`;
    },
  ));

  /** The group's institutions, chosen from every member; adds and removes the difference. */
  const editMembers = () => host.withModal(async () => {
    const s = await view.selected();
    if (!s) return;
    const g = s.group;
    const current = s.members.map((m) => m.username);
    const items = await memberItems(host.session);
    if (!items) return host.say('the member list could not be read; try again (g refreshes)');
    const chosen = await pickList(host.screen, `Institutions in @${g.name}`, items, current);
    if (!chosen) return;
    await view.changed(async () => {
      const { add, remove } = listChanges(current, chosen);
      if (add.length === 0 && remove.length === 0) return `@${g.name}: nothing changed`;
      const added = add.length > 0 ? await host.session.admin.addToGroup(g.name, add) : 0;
      const removed = remove.length > 0 ? await host.session.admin.removeFromGroup(g.name, remove) : 0;
      return `@${g.name}: ${added} institution(s) added, ${removed} removed`;
    });
  });

  const showMembers = async () => {
    const s = await view.selected();
    if (!s) return;
    const { group: g, members: m } = s;
    host.details(`Group @${g.name}`, {
      description: g.description || '(none)', created: g.createdAt, size: String(m.length),
      institutions: m.map((e) => `${e.username} (${e.institution})${e.status === 'active' ? '' : ` ${e.status}`}`).join('\n') || '(none)',
    });
  };

  return view.screen({
    key, title: 'Groups', pushEvent: 'group',
    help: 'n new  e describe  d delete  m institutions  ↵ details',
    keys: { n: create, e: edit, d: remove, m: editMembers, enter: showMembers },
  });
}
