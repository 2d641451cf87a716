/**
 * The console's Members screen: every member with status, online, storage against the quota,
 * messages sent in the last minute against the rate, last login and its address;
 * `/` searches, Enter shows every field, `s` suspends, `u` reactivates, `p` resets the password.
 */
import blessed from 'blessed';
import { wireArgs, type MemberRow } from '../replies.js';
import { MEMBER_FIELDS, readableFields, recordOf } from './fields.js';
import { memberUsage, shortTime } from './format.js';
import type { ConsoleHost, Screen } from './host.js';
import { Table, ask, confirm } from './widgets.js';

type Action = 'suspend' | 'reactivate' | 'reset';

export function membersScreen(host: ConsoleHost, key: string): Screen {
  const box = host.area();
  let search = '';
  const table = new Table<MemberRow>(
    box,
    [
      { title: 'USERNAME', max: 16 }, { title: 'STATUS', max: 9 }, { title: 'ONLINE', max: 6 }, { title: 'STORED / QUOTA', max: 20 },
      { title: 'SENT/MIN', max: 11 }, { title: 'INSTITUTION', max: 30 }, { title: 'EMAIL', max: 28 }, { title: 'LAST LOGIN', max: 19 },
      { title: 'FROM', max: 40 },
    ],
    (m) => {
      const { stored, sending } = memberUsage(m);
      return [m.username, m.status, m.online ? 'yes' : '', stored, sending, m.institution, m.email, shortTime(m.lastLoginAt ?? ''), m.lastLoginAddress ?? ''];
    },
    { top: 0, height: '100%', label: 'Members' },
    '(no members)',
  );

  const act = async (action: Action) => {
    const m = table.selected;
    if (!m?.username) return;
    const { username } = m;
    const question = {
      suspend: `Suspend ${username}? Its live sessions are closed at once.`,
      reactivate: `Reactivate ${username}?`,
      reset: `Reset the password of ${username}? A new one is mailed to ${m.email}; its sessions are closed.`,
    }[action];
    if (!(await host.withModal(() => confirm(host.screen, question)))) return;
    try {
      if (action === 'suspend') {
        const r = await host.session.admin.suspend(username);
        host.say(`suspended ${blessed.escape(username)}: ${r.connections} connection(s) closed`);
      } else if (action === 'reactivate') {
        await host.session.admin.reactivate(username);
        host.say(`reactivated ${blessed.escape(username)}`);
      } else {
        const r = await host.session.admin.resetPassword(username);
        host.say(`password of ${blessed.escape(username)} reset; mail #${r.mailId} queued to ${blessed.escape(r.email ?? '')}`);
      }
    } catch (err) {
      host.fail(err);
    }
    await host.refresh();
  };

  const list = table.list;
  list.key('/', () => void host.withModal(async () => {
    const q = await ask(host.screen, 'Search username, institution or e-mail (empty: all):', search);
    if (q !== null) search = q.trim();
  }).then(() => host.refresh()));
  list.key('enter', () => {
    const m = table.selected;
    if (m) host.details(`Member ${m.username}`, readableFields(recordOf(wireArgs(m)), MEMBER_FIELDS));
  });
  list.key('s', () => void act('suspend'));
  list.key('u', () => void act('reactivate'));
  list.key('p', () => void act('reset'));

  return {
    key, title: 'Members', box,
    help: '/ search  ↵ details  s suspend  u reactivate  p reset password',
    focus: () => list.focus(),
    load: async () => {
      const members = await host.session.admin.members({ q: search || undefined });
      table.setRecords(members, (a, b) => a.username === b.username);
      (list.parent as blessed.Widgets.BoxElement).setLabel(` Members${search ? ` matching "${search}"` : ''} (${members.length}) `);
    },
  };
}
