/** The console's Audit screen: the audit log, newest first, filtered by kind, member and time. */
import blessed from 'blessed';
import type { AuditFilter } from '../calls.js';
import { wireArgs, type AuditEvent } from '../replies.js';
import { AUDIT_FIELDS, readableFields, recordOf } from './fields.js';
import { shortTime } from './format.js';
import type { ConsoleHost, Screen } from './host.js';
import { Table, ask } from './widgets.js';

type Asked = 'kind' | 'member' | 'since' | 'until';

const QUESTIONS: Record<Asked, string> = {
  kind: 'Kind of event, e.g. login_failed, registration_approved, registration_rejected, member_suspended, password_reset, transfer_refused, backup_created (empty: every kind):',
  member: 'Member: events about or by this username (admin: the administrator\'s actions; empty: everyone):',
  since: 'Since: an ISO time, or an age such as 30m, 24h, 7d (empty: from the start):',
  until: 'Until: an ISO time, or an age (empty: up to now):',
};

export function auditScreen(host: ConsoleHost, key: string): Screen {
  const box = host.area();
  let filter: AuditFilter = {};
  const filterBox = blessed.box({ parent: box, top: 0, left: 1, width: '100%-2', height: 1 });
  const table = new Table<AuditEvent>(
    box,
    [
      { title: 'ID', max: 7, min: 2 }, { title: 'AT', max: 19, min: 10 }, { title: 'KIND', max: 24, min: 12 }, { title: 'ACTOR', max: 14, min: 5 },
      { title: 'SUBJECT', max: 18, min: 6 }, { title: 'ADDRESS', max: 16, min: 7 }, { title: 'DETAIL', max: 80 },
    ],
    (e) => [String(e.id), shortTime(e.at), e.kind, e.actor, e.subject, e.address, detailText(e)],
    { top: 1, height: '100%-1', label: 'Audit log' },
    '(no events match)',
  );
  const list = table.list;
  const ask1 = (name: Asked) => () => void host.withModal(async () => {
    const v = await ask(host.screen, QUESTIONS[name], filter[name] ?? '');
    if (v === null) return;
    if (v.trim()) filter[name] = v.trim();
    else delete filter[name];
  }).then(() => host.refresh());
  list.key('k', ask1('kind'));
  list.key('m', ask1('member'));
  list.key('s', ask1('since'));
  list.key('u', ask1('until'));
  list.key('c', () => {
    filter = {};
    void host.refresh();
  });
  list.key('enter', () => {
    const e = table.selected;
    if (e) host.details(`Audit event #${e.id}`, readableFields({ ...recordOf(wireArgs(e)), detail: detailText(e) }, AUDIT_FIELDS));
  });
  return {
    key, title: 'Audit', short: 'Audit', box,
    help: 'k kind  m member  s since  u until  c clear  ↵ details',
    focus: () => list.focus(),
    load: async () => {
      const events = await host.session.admin.audit({ ...filter, limit: 500 });
      const f = Object.entries(filter).map(([k, v]) => `${k}=${v}`).join('  ');
      filterBox.setContent(f ? `filter: ${f}` : 'no filter (newest 500 events)');
      table.setRecords(events, (a, b) => a.id === b.id);
    },
  };
}

/** The event's details as the server recorded them; blank when there are none. */
function detailText(e: AuditEvent): string {
  const text = wireArgs(e).get('detail') ?? '';
  return text === '{}' ? '' : text;
}
