/** The console's Online screen: who is connected, from which addresses, since when; refreshed every 2 s. */
import blessed from 'blessed';
import type { OnlineUser } from '../replies.js';
import { shortTime } from './format.js';
import type { ConsoleHost, Screen } from './host.js';
import { Table } from './widgets.js';

export function onlineScreen(host: ConsoleHost, key: string): Screen {
  const box = host.area();
  const summary = blessed.box({ parent: box, top: 0, left: 1, width: '100%-2', height: 1, tags: true });
  const table = new Table<OnlineUser>(
    box,
    [{ title: 'USERNAME', max: 20 }, { title: 'CONNECTIONS', max: 11 }, { title: 'SINCE', max: 19 }, { title: 'ADDRESSES', max: 60 }],
    (o) => [o.username, String(o.connections), shortTime(o.since), o.addresses.join(',')],
    { top: 1, height: '100%-1', label: 'Online now' },
    '(nobody is online)',
  );
  return {
    key, title: 'Online', box, live: true,
    help: 'refreshes every 2 s',
    focus: () => table.list.focus(),
    load: async () => {
      const online = await host.session.admin.online();
      table.setRecords(online.users, (a, b) => a.username === b.username);
      summary.setContent(online.note ?? `${online.count} user(s) online over ${online.connections} connection(s) in all`);
    },
  };
}
