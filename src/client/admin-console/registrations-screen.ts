/**
 * The console's Registrations screen: pending requests, live (REGISTRATION pushes); approve or
 * reject, several at once (Space marks the selected row and stays on it, * marks all); each
 * decision shows whether its mail went out (MAIL pushes). `h` shows every request with its
 * status, so approved and rejected ones tell apart.
 */
import blessed from 'blessed';
import type { RegistrationRecord } from '../../protocol/index.js';
import { escapeTags, shortTime } from './format.js';
import type { ConsoleHost, Screen } from './host.js';
import { Table, ask, confirm } from './widgets.js';

interface Decision {
  id: number;
  username: string;
  status: string;
  at: string;
  mailId: number | null;
  email: string;
  mail: string;
}

/** Space's behaviour is said in the footer: it marks the row under the cursor, which stays there. */
export const REGISTRATION_HELP = 'Space mark (stays)  a approve  r reject  h history  ↵ details';
export const REGISTRATION_KEYS = 'Space mark (the cursor stays)  * mark all  a approve  r reject  h history  Enter details';

export function registrationsScreen(host: ConsoleHost, key: string): Screen {
  const box = host.area();
  const marked = new Set<number>();
  const decisions: Decision[] = [];
  const mailSeen = new Map<number, string>();
  let history = false;

  const table = new Table<RegistrationRecord>(
    box,
    [
      { title: ' ', max: 1, min: 1 }, { title: 'ID', max: 6, min: 2 }, { title: 'USERNAME', max: 16 }, { title: 'INSTITUTION', max: 32, min: 8 },
      { title: 'CONTACT', max: 20, min: 6 }, { title: 'EMAIL', max: 30, min: 8 }, { title: 'FROM', max: 16, min: 4 }, { title: 'STATUS', max: 9, min: 8 },
      { title: 'REQUESTED', max: 16, min: 10 },
    ],
    (r) => [marked.has(r.id) ? '*' : ' ', String(r.id), r.username, r.institution, r.contact, r.email, r.fromAddress ?? '', r.status, shortTime(r.createdAt).slice(0, 16)],
    { top: 0, height: '100%-8', label: 'Registration requests' },
    '(no pending requests — new ones appear here as they arrive)',
  );
  const decisionsBox = blessed.box({
    parent: box, bottom: 0, left: 0, width: '100%', height: 8, border: { type: 'line' }, label: ' Decisions (and their mail) ',
    tags: true, style: { border: { fg: 'cyan' } },
  });

  const drawDecisions = () => {
    if (decisions.length === 0) {
      decisionsBox.setContent(' Approve (a) or reject (r) a request; its mail status shows here.');
      return;
    }
    decisionsBox.setContent(decisions.slice(0, 6).map((d) => {
      const mail = d.mailId === null ? '' : ` — ${d.status === 'approved' ? 'credentials' : 'notice'} mail #${d.mailId}${d.email ? ` to ${escapeTags(d.email)}` : ''}: ${
        d.mail === 'sent' ? '{green-fg}sent{/green-fg}' : d.mail.startsWith('failed') ? `{red-fg}${escapeTags(d.mail)}{/red-fg}` : `{yellow-fg}${d.mail || 'queued'}{/yellow-fg}`}`;
      return ` ${shortTime(d.at).slice(11)} #${d.id} ${escapeTags(d.username)} ${d.status}${mail}`;
    }).join('\n'));
  };

  const recordDecision = (d: Decision) => {
    const existing = decisions.findIndex((x) => x.id === d.id);
    if (existing >= 0) decisions.splice(existing, 1);
    decisions.unshift(d);
    decisions.length = Math.min(decisions.length, 50);
    drawDecisions();
  };

  /** The mail may have gone out before the reply arrived: ask once. */
  const checkMail = async (mailId: number) => {
    try {
      const row = await host.session.admin.mail(mailId);
      const d = decisions.find((x) => x.mailId === mailId);
      if (!row || !d || d.mail !== 'queued') return;
      if (row.status === 'sent') d.mail = 'sent';
      else if (row.status === 'failed') d.mail = `failed: ${row.lastError ?? ''}`;
      drawDecisions();
      host.screen.render();
    } catch {
      // the MAIL push will tell
    }
  };

  /** The marked requests, or the selected one when none is marked. */
  const chosen = (): RegistrationRecord[] => {
    const picked = table.all.filter((r) => marked.has(r.id));
    if (picked.length > 0) return picked;
    const r = table.selected;
    return r && r.status === 'pending' ? [r] : [];
  };

  const decide = async (status: 'approved' | 'rejected', requests: RegistrationRecord[], reason?: string) => {
    for (const r of requests) {
      try {
        const { mailId, email } = status === 'approved'
          ? await host.session.admin.approve(r.id)
          : { ...(await host.session.admin.reject(r.id, reason ?? '')), email: r.email };
        marked.delete(r.id);
        recordDecision({
          id: r.id, username: r.username, status, at: new Date().toISOString(), mailId, email, mail: mailSeen.get(mailId) ?? 'queued',
        });
        host.say(status === 'approved'
          ? `approved #${r.id}: member ${escapeTags(r.username)} created; credentials mail #${mailId} queued`
          : `rejected #${r.id} (${escapeTags(r.username)})`);
        void checkMail(mailId);
      } catch (err) {
        host.fail(err);
      }
    }
    await host.refresh();
  };

  const approve = async () => {
    const requests = chosen();
    if (requests.length === 0) return host.say('nothing to approve');
    if (requests.length > 1 && !(await host.withModal(() => confirm(host.screen, `Approve ${requests.length} requests: ${requests.map((r) => r.username).join(', ')}?`)))) return;
    await decide('approved', requests);
  };

  const reject = async () => {
    const requests = chosen();
    if (requests.length === 0) return host.say('nothing to reject');
    const reason = await host.withModal(() => ask(host.screen, `Reason for rejecting ${requests.map((r) => `#${r.id} ${r.username}`).join(', ')} (mailed to the registrant; Esc cancels):`));
    if (reason === null || reason.trim() === '') return host.say('not rejected: a reason is needed');
    await decide('rejected', requests, reason);
  };

  const list = table.list;
  // Space marks or unmarks the selected request and stays on it: Space, ↓, Space marks two neighbours.
  list.key('space', () => {
    const r = table.selected;
    if (!r || r.status !== 'pending') return;
    if (marked.has(r.id)) marked.delete(r.id);
    else marked.add(r.id);
    table.render();
    host.screen.render();
  });
  list.key('*', () => {
    const open = table.all.filter((r) => r.status === 'pending');
    if (open.every((r) => marked.has(r.id))) marked.clear();
    else open.forEach((r) => marked.add(r.id));
    table.render();
    host.screen.render();
  });
  list.key('enter', () => {
    const r = table.selected;
    if (!r) return;
    host.details(`Registration request #${r.id}`, {
      id: String(r.id), status: r.status, username: r.username, institution: r.institution, contact: r.contact,
      email: r.email, phone: r.phone, address: r.address, 'requested at': shortTime(r.createdAt), 'request came from': r.fromAddress ?? '(unknown)',
      ...(r.reason ? { reason: r.reason } : {}),
    });
  });
  list.key('a', () => void approve());
  list.key('r', () => void reject());
  list.key('h', () => {
    history = !history;
    host.say(history ? 'showing every request with its status (h: pending only)' : 'showing pending requests');
    void host.refresh();
  });
  drawDecisions();

  host.on('registration', (r) => {
    host.say(`new registration request #${r.id} from ${escapeTags(r.username)} (${escapeTags(r.institution)}, ${escapeTags(r.fromAddress ?? '?')})`);
    void host.refresh();
  });
  host.on('decided', (d) => {
    marked.delete(d.id);
    if (!decisions.some((x) => x.id === d.id)) {
      recordDecision({ id: d.id, username: d.username, status: d.status, at: new Date().toISOString(), mailId: d.mailId ?? null, email: '', mail: '' });
    }
    void host.refresh();
  });
  host.on('mail', (m) => {
    const status = m.status === 'sent' ? 'sent' : `failed: ${m.error ?? ''}`;
    mailSeen.set(m.id, status);
    const d = decisions.find((x) => x.mailId === m.id);
    if (d) {
      d.mail = status;
      drawDecisions();
      host.say(`mail #${m.id} for ${escapeTags(d.username)}: ${status === 'sent' ? '{green-fg}sent{/green-fg}' : `{red-fg}${escapeTags(status)}{/red-fg}`}`);
    }
  });

  return {
    key, title: 'Registrations', short: 'Regs', box, live: false,
    help: REGISTRATION_HELP, everyKey: REGISTRATION_KEYS,
    focus: () => list.focus(),
    badge: () => {
      const n = table.all.filter((r) => r.status === 'pending').length;
      return n ? ` (${n})` : '';
    },
    load: async () => {
      const records = await host.session.admin.pending({ status: history ? 'all' : 'pending' });
      for (const id of [...marked]) if (!records.some((r) => r.id === id && r.status === 'pending')) marked.delete(id);
      table.setRecords(records, (a, b) => a.id === b.id);
      (list.parent as blessed.Widgets.BoxElement).setLabel(history ? ` Every registration request (${records.length}) ` : ' Registration requests ');
    },
  };
}
