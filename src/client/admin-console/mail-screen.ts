/**
 * The console's Mail screen: unsent, failed or all queued mail with its error; `t` retries the
 * selected mail, `T` all of it, `f` changes the filter. MAIL pushes reload it.
 */
import blessed from 'blessed';
import type { MailFilter } from '../calls.js';
import { wireArgs, type MailRow } from '../replies.js';
import { MAIL_FIELDS, readableFields, recordOf } from './fields.js';
import { shortTime } from './format.js';
import type { ConsoleHost, Screen } from './host.js';
import { Table } from './widgets.js';

const NEXT_FILTER: Record<MailFilter, MailFilter> = { unsent: 'failed', failed: 'all', all: 'unsent' };

export function mailScreen(host: ConsoleHost, key: string): Screen {
  const box = host.area();
  let filter: MailFilter = 'unsent';
  let unsent = 0;
  const table = new Table<MailRow>(
    box,
    [
      { title: 'ID', max: 6 }, { title: 'STATUS', max: 7 }, { title: 'KIND', max: 14 }, { title: 'TO', max: 30 }, { title: 'TRIES', max: 5 },
      { title: 'NEXT ATTEMPT', max: 19 }, { title: 'ERROR', max: 80 },
    ],
    (m) => [String(m.id), m.status, m.kind, m.to, String(m.attempts), shortTime(m.nextAttemptAt ?? ''), m.lastError ?? ''],
    { top: 0, height: '100%', label: 'Mail queue' },
    '(no mail waiting)',
  );

  const retry = async (id?: number) => {
    try {
      const r = await host.session.admin.retryMail(id);
      host.say(id ? `mail #${id} will be sent now` : `${r.count} mail(s) made due now`);
    } catch (err) {
      host.fail(err);
    }
    await host.refresh();
  };

  const list = table.list;
  list.key('t', () => {
    const m = table.selected;
    if (!m?.id || m.status === 'sent') return host.say('select an unsent mail');
    void retry(m.id);
  });
  list.key('S-t', () => void retry());
  list.key('f', () => {
    filter = NEXT_FILTER[filter];
    void host.refresh();
  });
  list.key('enter', () => {
    const m = table.selected;
    if (m) host.details(`Mail #${m.id}`, readableFields(recordOf(wireArgs(m)), MAIL_FIELDS));
  });
  host.on('mail', () => void host.refresh());

  return {
    key, title: 'Mail', box,
    help: 't retry  T retry all  f unsent/failed/all  ↵ details',
    focus: () => list.focus(),
    badge: () => (unsent ? ` (${unsent})` : ''),
    load: async () => {
      const rows = await host.session.admin.mailQueue({ status: filter, limit: 200 });
      if (filter === 'unsent') unsent = rows.length;
      table.setRecords(rows, (a, b) => a.id === b.id);
      (list.parent as blessed.Widgets.BoxElement).setLabel(` Mail queue: ${filter} (${rows.length}) `);
    },
  };
}
