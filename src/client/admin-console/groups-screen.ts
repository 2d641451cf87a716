/**
 * The console's Groups screen: every group with its size, the selected group's institutions
 * below; create, describe, delete, add and remove institutions. Cells, forms and checks are in
 * audiences.ts.
 */
import type { GroupMemberEntry, GroupRecord } from '../../protocol/index.js';
import { addToGroup, createGroup, deleteGroup, describeGroup, getGroup, listGroups, removeFromGroup } from '../channels.js';
import {
  DESCRIPTION_CHARS, GROUP_COLUMNS, checkDescription, groupCells, groupForm, groupMemberLines, parseNames, validateGroupForm,
  validateNamesForm,
} from './audiences.js';
import { newForm, textInput } from './form.js';
import type { ConsoleHost, Screen } from './host.js';
import { knownMembers } from './members.js';
import { NamedList } from './named-list.js';

type Detail = { group: GroupRecord; members: GroupMemberEntry[] };

export function groupsScreen(host: ConsoleHost, key: string): Screen {
  const view = new NamedList<GroupRecord, Detail>(host, host.area(), {
    noun: 'group', columns: GROUP_COLUMNS, cells: groupCells, label: 'Groups',
    empty: '(no groups yet — press n to create one)',
    panelLabel: 'Institutions', panelLines: 3,
    placeholder: 'Select a group to see its institutions.',
    fetchList: () => listGroups(host.session),
    fetchDetail: (name) => getGroup(host.session, name),
    detailLines: (d, width) => groupMemberLines(d.group, d.members, width),
  });

  const create = () => host.withModal(async () => {
    const known = await knownMembers(host.session);
    await view.form(newForm('New group', groupForm()), (v) => validateGroupForm(v, known), async (v) => {
      const g = await createGroup(host.session, v.name!, { description: v.description?.trim() || undefined, members: parseNames(v.members ?? '') });
      return { message: `created @${g.name} with ${g.members} institution(s)`, select: g.name };
    });
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
      await describeGroup(host.session, g.name, (v.description ?? '').trim());
      return `described @${g.name}`;
    });
  });

  const remove = () => host.withModal(() => view.confirmed(
    ({ group: g, members }) => `Delete @${g.name} (${members.length} institution(s))? Messages already sent to it keep their recipients.`,
    async ({ group: g }) => {
      await deleteGroup(host.session, g.name);
      return `deleted @${g.name}`;
    },
  ));

  /** Adds institutions to, or removes them from, the selected group. */
  const changeMembers = (action: 'add' | 'remove') => host.withModal(async () => {
    const s = await view.selected();
    if (!s) return;
    const g = s.group;
    const inGroup = new Set(s.members.map((m) => m.username));
    const known = action === 'add' ? await knownMembers(host.session) : null;
    const title = action === 'add' ? `Add institutions to @${g.name}` : `Remove institutions from @${g.name}`;
    const hint = action === 'add' ? 'usernames: a, b, …' : `in the group: ${[...inGroup].join(', ') || '(none)'}`;
    const check = (v: Record<string, string>) => {
      const error = validateNamesForm(v.names ?? '', known, action === 'remove' ? inGroup : undefined);
      return error ? { names: error } : null;
    };
    await view.form(newForm(title, [textInput('names', 'Usernames', { hint })]), check, async (v) => {
      const names = parseNames(v.names ?? '');
      if (action === 'add') return `${await addToGroup(host.session, g.name, names)} institution(s) added to @${g.name}`;
      return `${await removeFromGroup(host.session, g.name, names)} institution(s) removed from @${g.name}`;
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
    key, title: 'Groups', pushEvent: 'GROUP',
    help: 'n new  e describe  d delete  a add  r remove  ↵ institutions',
    keys: { n: create, e: edit, d: remove, a: () => changeMembers('add'), r: () => changeMembers('remove'), enter: showMembers },
  });
}
