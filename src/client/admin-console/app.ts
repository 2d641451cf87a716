/**
 * `siar admin console`: the administrator's full-screen terminal console (blessed). It logs in as
 * the admin over the protocol (from the server machine or from anywhere), keeps the connection
 * alive through SiarSession (reconnecting and logging in again after a loss), and shows nine
 * screens, switched with the keys 1-9 or Tab:
 *
 *   1 Registrations  pending requests, live (REGISTRATION pushes); approve/reject, several at once;
 *                    each decision shows whether its mail went out (registrations-screen.ts)
 *   2 Members        list and search; suspend, reactivate, reset password; last login and address
 *   3 Online         who is connected, from where, since when, over how many connections
 *   4 Traffic        live counters and per-minute charts; shadow listeners and transfers
 *   5 Mail           unsent and failed mail with errors; retry one or all
 *   6 Audit          the audit log, filtered by kind, member and time (audit-screen.ts)
 *   7 Backups        past backups; take one with progress (backups-screen.ts)
 *   8 Channels       channels with rules and subscribers; create, describe, restrict/open, archive,
 *                    named members and publishers (channels-screen.ts)
 *   9 Groups         groups of institutions; create, describe, delete, add/remove (groups-screen.ts)
 */
import blessed from 'blessed';
import type { Args } from '../../protocol/index.js';
import type { Reply } from '../connection.js';
import { CliError, readPassword, tlsOptions, type ClientOptions } from '../cli/common.js';
import { SiarSession, type SessionState } from '../session.js';
import { describe } from '../tui/controller.js';
import { auditScreen } from './audit-screen.js';
import { backupsScreen } from './backups-screen.js';
import { channelsScreen } from './channels-screen.js';
import { MAIL_FIELDS, MEMBER_FIELDS, readableFields, recordOf } from './fields.js';
import { barChart, fieldLines, formatBytes, headerLines, helpLine, memberUsage, progressBar, shortTime, sparkline } from './format.js';
import { groupsScreen } from './groups-screen.js';
import type { ConsoleHost, Screen } from './host.js';
import { keysHelp } from './keys-help.js';
import { registrationsScreen } from './registrations-screen.js';
import { Table, ask, confirm, showText } from './widgets.js';

type Obj = Record<string, string>;
const obj = recordOf;

export class AdminConsole {
  readonly screen: blessed.Widgets.Screen;
  private readonly header: blessed.Widgets.BoxElement;
  private readonly status: blessed.Widgets.BoxElement;
  private readonly helpLine: blessed.Widgets.BoxElement;
  private readonly screens: Screen[] = [];
  private current = 0;
  /** Dialogs open (a form can open while the last action's reload still runs), so one closing does not free the keys. */
  private modals = 0;
  private get modal(): boolean {
    return this.modals > 0;
  }
  private state: SessionState;
  private ticker: NodeJS.Timeout | undefined;
  private loading = new Set<number>();
  private popupTimer: NodeJS.Timeout | undefined;
  private popup: blessed.Widgets.BoxElement | null = null;

  // members
  private members!: Table<Obj>;
  private memberSearch = '';
  // online
  private online!: Table<Obj>;
  private onlineSummary!: blessed.Widgets.BoxElement;
  // traffic
  private traffic!: blessed.Widgets.BoxElement;
  // mail
  private mail!: Table<Obj>;
  private mailFilter: 'unsent' | 'failed' | 'all' = 'unsent';
  private unsentCount = 0;
  constructor(private readonly session: SiarSession, private readonly user: string) {
    this.state = session.state;
    this.screen = blessed.screen({ smartCSR: true, fullUnicode: true, forceUnicode: true, title: 'siar admin console', autoPadding: true });
    this.header = blessed.box({ parent: this.screen, top: 0, left: 0, width: '100%', height: 1, tags: true, style: { bg: 'blue', fg: 'white' } });
    this.status = blessed.box({ parent: this.screen, bottom: 1, left: 0, width: '100%', height: 1, tags: true });
    this.helpLine = blessed.box({ parent: this.screen, bottom: 0, left: 0, width: '100%', height: 1, tags: true, style: { bg: 'black', fg: 'cyan' } });

    this.add(registrationsScreen(this.host(), '1'));
    this.buildMembers();
    this.buildOnline();
    this.buildTraffic();
    this.buildMail();
    this.add(auditScreen(this.host(), '6'));
    this.add(backupsScreen(this.host(), '7'));
    this.add(channelsScreen(this.host(), '8'));
    this.add(groupsScreen(this.host(), '9'));

    const global = (fn: () => void) => () => { if (!this.modal) fn(); };
    this.screen.key(['C-c'], () => this.quit());
    this.screen.key(['q'], global(() => this.quit()));
    this.screen.key(['tab'], global(() => this.show((this.current + 1) % this.screens.length)));
    this.screen.key(['S-tab'], global(() => this.show((this.current + this.screens.length - 1) % this.screens.length)));
    this.screens.forEach((s, i) => {
      this.screen.key([s.key, `f${i + 1}`], global(() => this.show(i)));
    });
    this.screen.key(['g', 'f5'], global(() => void this.reload(this.current)));
    this.screen.key(['?'], global(() => this.helpScreen()));
    this.screen.on('resize', () => {
      this.drawHeader();
      this.drawHelp();
    });

    session.on('push', (event, args) => this.onPush(event, args));
    session.on('state', (s) => {
      this.state = s;
      this.drawHeader();
      if (s.status === 'offline') this.say(`{red-fg}connection lost (${blessed.escape(s.error ?? 'closed')}); reconnecting…{/red-fg}`);
      this.screen.render();
    });
    session.on('login', (_info, how) => {
      if (!how.resumed) return;
      this.say('{green-fg}reconnected and logged in again{/green-fg}');
      void this.reloadAll();
    });
    session.on('authLost', (err) => this.say(`{red-fg}the server ended the admin session: ${blessed.escape(describe(err))}; press q to quit{/red-fg}`));
  }

  start(): void {
    this.show(0);
    void this.reloadAll();
    this.ticker = setInterval(() => {
      const s = this.screens[this.current];
      if (s?.live && !this.modal) void this.reload(this.current);
    }, 2000);
    this.say(`logged in as ${blessed.escape(this.user)} — press ? for help`);
  }

  private quit(): void {
    clearInterval(this.ticker);
    clearTimeout(this.popupTimer);
    this.screen.destroy();
    void this.session.close().finally(() => process.exit(0));
  }

  // --- frame ---

  private add(s: Screen): void {
    s.box.hide();
    this.screens.push(s);
  }

  /** What a screen module gets from the console; `refresh` reloads the screen added next. */
  private host(): ConsoleHost {
    const index = this.screens.length;
    return {
      screen: this.screen,
      session: this.session,
      area: () => this.area(),
      say: (text) => this.say(text),
      fail: (err) => this.fail(err),
      refresh: () => this.reload(index),
      withModal: (fn) => this.withModal(fn),
      isModal: () => this.modal,
      details: (title, fields) => this.details(title, fields),
    };
  }

  /** Every screen's box, moved down when the header takes two lines (80 columns). */
  private readonly areas: blessed.Widgets.BoxElement[] = [];

  private area(): blessed.Widgets.BoxElement {
    const box = blessed.box({ parent: this.screen, top: Number(this.header.height) || 1, left: 0, width: '100%', bottom: 2 });
    this.areas.push(box);
    return box;
  }

  private show(i: number): void {
    this.screens.forEach((s, j) => (j === i ? s.box.show() : s.box.hide()));
    this.current = i;
    const s = this.screens[i]!;
    s.focus();
    this.drawHeader();
    this.drawHelp();
    this.screen.render();
    void this.reload(i);
  }

  private drawHeader(): void {
    const lines = headerLines({
      user: this.user, address: this.state.address, status: this.state.status, current: this.current, width: Number(this.screen.width) || 80,
      tabs: this.screens.map((s) => ({ key: s.key, title: s.title, short: s.short ?? s.title, badge: s.badge?.() ?? '' })),
    });
    this.header.setContent(lines.join('\n'));
    if (Number(this.header.height) !== lines.length) {
      this.header.height = lines.length;
      for (const box of this.areas) box.top = lines.length;
    }
  }

  private drawHelp(): void {
    const s = this.screens[this.current];
    if (s) this.helpLine.setContent(helpLine(s.help, this.screens.length, Number(this.screen.width) || 80));
  }

  private say(text: string): void {
    this.status.setContent(` ${shortTime(new Date().toISOString()).slice(11)} ${text}`);
    this.screen.render();
  }

  private fail(err: unknown): void {
    this.say(`{red-fg}error: ${blessed.escape(describe(err))}{/red-fg}`);
  }

  private async request(verb: string, args: Record<string, string | number | undefined> = {}): Promise<Reply> {
    return this.session.request(verb, args);
  }

  private async reload(i: number): Promise<void> {
    if (this.loading.has(i) || !this.session.isOnline) return;
    this.loading.add(i);
    try {
      await this.screens[i]!.load();
    } catch (err) {
      if (i === this.current) this.fail(err);
    } finally {
      this.loading.delete(i);
      this.drawHeader();
      this.screen.render();
    }
  }

  private async reloadAll(): Promise<void> {
    await Promise.all(this.screens.map((_, i) => this.reload(i)));
  }

  private async withModal<T>(fn: () => Promise<T>): Promise<T> {
    this.modals++;
    try {
      return await fn();
    } finally {
      this.modals--;
      this.screens[this.current]!.focus();
      this.screen.render();
    }
  }

  /** Text width of a details box: the screen less 2 columns, less its border, scroll bar and a margin. */
  private detailsWidth(): number {
    return (Number(this.screen.width) || 80) - 6;
  }

  private details(title: string, fields: Obj): void {
    this.modals++;
    const text = fieldLines(fields, this.detailsWidth()).join('\n');
    showText(this.screen, title, `${text}\n\n(Enter or Esc closes)`, () => {
      this.modals--;
      this.screens[this.current]!.focus();
    });
  }

  /** Every key, the screens by number first; fits 80×24. */
  private helpScreen(): void {
    this.details('Keys', keysHelp(this.screens, this.detailsWidth()));
  }

  /** Shows a transient notice in the top right corner without taking the focus. */
  private notify(text: string): void {
    clearTimeout(this.popupTimer);
    this.popup?.destroy();
    this.popup = blessed.box({
      parent: this.screen, top: Number(this.header.height) || 1, right: 0, width: Math.min(70, text.length + 4), height: 3, border: { type: 'line' },
      style: { border: { fg: 'yellow' }, fg: 'yellow', bold: true }, content: text, tags: false,
    });
    this.popupTimer = setTimeout(() => {
      this.popup?.destroy();
      this.popup = null;
      this.screen.render();
    }, 8000);
    this.popupTimer.unref();
    this.screen.render();
  }

  // --- pushes ---

  private onPush(event: string, args: Args): void {
    if (event === 'REGISTRATION') this.notify(`New registration #${args.get('id') ?? '?'}: ${args.get('username') ?? ''} — ${args.get('institution') ?? ''}`);
    if (event === 'MAIL') void this.reload(this.screens.findIndex((s) => s.title === 'Mail'));
    if (event === 'LOGIN_ALERT') {
      // Someone is guessing one username's password from several addresses: slowed, never locked.
      const who = args.get('username') ?? '?';
      const addresses = (args.get('addresses') ?? '').split(',').filter(Boolean);
      this.notify(`Login alert: ${args.get('failures') ?? '?'} wrong passwords for ${who} from ${addresses.length} address(es)`);
      this.say(`{red-fg}login alert: ${blessed.escape(args.get('failures') ?? '?')} wrong passwords for ${blessed.escape(who)} in ${blessed.escape(args.get('windowMinutes') ?? '?')} min from ${blessed.escape(addresses.join(', '))}; further guesses are slowed, the account is not locked (audit: login_alert){/red-fg}`);
    }
    for (const s of this.screens) s.onPush?.(event, args);
    this.screen.render();
  }

  // --- 2 members ---

  private buildMembers(): void {
    const box = this.area();
    this.members = new Table<Obj>(
      box,
      [
        { title: 'USERNAME', max: 16 }, { title: 'STATUS', max: 9 }, { title: 'ONLINE', max: 6 }, { title: 'STORED / QUOTA', max: 20 },
        { title: 'SENT/MIN', max: 11 }, { title: 'INSTITUTION', max: 30 }, { title: 'EMAIL', max: 28 }, { title: 'LAST LOGIN', max: 19 },
        { title: 'FROM', max: 40 },
      ],
      (m) => {
        const { stored, sending } = memberUsage(m);
        return [m.username ?? '', m.status ?? '', m.online === '1' ? 'yes' : '', stored, sending, m.institution ?? '', m.email ?? '',
          shortTime(m.lastLoginAt), m.lastLoginAddress ?? ''];
      },
      { top: 0, height: '100%', label: 'Members' },
      '(no members)',
    );
    const list = this.members.list;
    list.key('/', () => void this.withModal(async () => {
      const q = await ask(this.screen, 'Search username, institution or e-mail (empty: all):', this.memberSearch);
      if (q !== null) this.memberSearch = q.trim();
    }).then(() => this.reload(1)));
    list.key('enter', () => {
      const m = this.members.selected;
      if (m) this.details(`Member ${m.username}`, readableFields(m, MEMBER_FIELDS));
    });
    list.key('s', () => void this.memberAction('suspend'));
    list.key('u', () => void this.memberAction('reactivate'));
    list.key('p', () => void this.memberAction('reset'));
    this.add({
      key: '2', title: 'Members', box,
      help: '/ search  ↵ details  s suspend  u reactivate  p reset password',
      focus: () => list.focus(),
      load: async () => {
        const reply = await this.request('MEMBERS', { q: this.memberSearch || undefined });
        this.members.setRecords(reply.items.map(obj), (a, b) => a.username === b.username);
        (this.members.list.parent as blessed.Widgets.BoxElement).setLabel(` Members${this.memberSearch ? ` matching "${this.memberSearch}"` : ''} (${reply.items.length}) `);
      },
    });
  }

  private async memberAction(action: 'suspend' | 'reactivate' | 'reset'): Promise<void> {
    const m = this.members.selected;
    if (!m?.username) return;
    const username = m.username;
    const question = {
      suspend: `Suspend ${username}? Its live sessions are closed at once.`,
      reactivate: `Reactivate ${username}?`,
      reset: `Reset the password of ${username}? A new one is mailed to ${m.email ?? ''}; its sessions are closed.`,
    }[action];
    if (!(await this.withModal(() => confirm(this.screen, question)))) return;
    try {
      if (action === 'suspend') {
        const r = await this.request('SUSPEND', { username });
        this.say(`suspended ${blessed.escape(username)}: ${r.args.get('connections')} connection(s) closed`);
      } else if (action === 'reactivate') {
        await this.request('REACTIVATE', { username });
        this.say(`reactivated ${blessed.escape(username)}`);
      } else {
        const r = await this.request('RESETPASSWORD', { username });
        this.say(`password of ${blessed.escape(username)} reset; mail #${r.args.get('mailId')} queued to ${blessed.escape(r.args.get('email') ?? '')}`);
      }
    } catch (err) {
      this.fail(err);
    }
    await this.reload(1);
  }

  // --- 3 online ---

  private buildOnline(): void {
    const box = this.area();
    this.onlineSummary = blessed.box({ parent: box, top: 0, left: 1, width: '100%-2', height: 1, tags: true });
    this.online = new Table<Obj>(
      box,
      [{ title: 'USERNAME', max: 20 }, { title: 'CONNECTIONS', max: 11 }, { title: 'SINCE', max: 19 }, { title: 'ADDRESSES', max: 60 }],
      (o) => [o.username ?? '', o.connections ?? '', shortTime(o.since), o.address ?? ''],
      { top: 1, height: '100%-1', label: 'Online now' },
      '(nobody is online)',
    );
    this.add({
      key: '3', title: 'Online', box, live: true,
      help: 'refreshes every 2 s',
      focus: () => this.online.list.focus(),
      load: async () => {
        const reply = await this.request('ONLINE');
        this.online.setRecords(reply.items.map(obj), (a, b) => a.username === b.username);
        this.onlineSummary.setContent(`${reply.args.get('count')} user(s) online over ${reply.args.get('connections')} connection(s) in all`);
      },
    });
  }

  // --- 4 traffic ---

  private buildTraffic(): void {
    const box = this.area();
    this.traffic = blessed.box({
      parent: box, top: 0, left: 0, width: '100%', height: '100%', border: { type: 'line' }, label: ' Traffic ',
      tags: false, scrollable: true, keys: true, style: { border: { fg: 'cyan' } },
    });
    this.add({
      key: '4', title: 'Traffic', box, live: true,
      help: 'live counters, refreshed every 2 s',
      focus: () => this.traffic.focus(),
      load: async () => {
        const width = Math.max(10, (this.traffic.width as number) - 16);
        const reply = await this.request('STATS', { minutes: Math.min(60, width) });
        this.traffic.setContent(this.trafficText(reply, width).join('\n'));
      },
    });
  }

  private trafficText(reply: Reply, width: number): string[] {
    const a = reply.args;
    const n = (k: string) => Number(a.get(k) ?? 0);
    const minutes = reply.items.map(obj).slice(-width);
    const series = (k: string) => minutes.map((m) => Number(m[k] ?? 0));
    const running = minutes[minutes.length - 1];
    const lines = [
      ` since ${shortTime(a.get('startedAt'))}          this minute`,
      ` messages      ${String(n('messages')).padStart(12)}   ${running?.messages ?? 0}`,
      ` popups        ${String(n('popups')).padStart(12)}   ${running?.popups ?? 0}`,
      ` bytes in      ${formatBytes(n('bytesIn')).padStart(12)}   ${formatBytes(Number(running?.bytesIn ?? 0))}`,
      ` bytes out     ${formatBytes(n('bytesOut')).padStart(12)}   ${formatBytes(Number(running?.bytesOut ?? 0))}`,
      ` connections   ${String(n('connections')).padStart(12)}   open now (${n('connectionsOpened')} opened since start, ${a.get('online')} user(s) logged in)`,
      ` shadow listeners ${String(n('liveListeners')).padStart(9)}   transfers in progress: ${n('transfers')}`,
      ` loop late ms  ${String(n('loopMaxEverMs')).padStart(12)}   p99 ${n('loopP99Ms')}, max ${n('loopMaxMs')}   (left: the worst since start)`,
      '',
      ` messages per minute, last ${minutes.length} minute(s):`,
      ...barChart(series('messages'), 6, 'min').map((l) => ` ${l}`),
      '',
      ` popups/min    ${sparkline(series('popups'))}`,
      ` bytes in/min  ${sparkline(series('bytesIn'))}`,
      ` bytes out/min ${sparkline(series('bytesOut'))}`,
      ` connections   ${sparkline(series('connections'))}`,
      ` listeners     ${sparkline(series('liveListeners'))}`,
      ` loop late max ${sparkline(series('loopMaxMs'))}`,
    ];
    const transfers = a.getAll('transfer');
    lines.push('', transfers.length ? ' transfers in progress:' : ' no transfers in progress');
    for (const t of transfers) {
      const [id = '', direction = '', bytes = '0', size = '0', user = '', ...name] = t.split(',');
      const fraction = Number(size) > 0 ? Number(bytes) / Number(size) : 0;
      lines.push(`  ${id} ${direction === 'down' ? '↓' : '↑'} ${user} ${name.join(',')} ${progressBar(fraction, 20)} ${formatBytes(Number(bytes))}${Number(size) ? ` of ${formatBytes(Number(size))}` : ''}`);
    }
    return lines;
  }

  // --- 5 mail ---

  private buildMail(): void {
    const box = this.area();
    this.mail = new Table<Obj>(
      box,
      [
        { title: 'ID', max: 6 }, { title: 'STATUS', max: 7 }, { title: 'KIND', max: 14 }, { title: 'TO', max: 30 }, { title: 'TRIES', max: 5 },
        { title: 'NEXT ATTEMPT', max: 19 }, { title: 'ERROR', max: 80 },
      ],
      (m) => [m.id ?? '', m.status ?? '', m.kind ?? '', m.to ?? '', m.attempts ?? '', shortTime(m.nextAttemptAt), m.lastError ?? ''],
      { top: 0, height: '100%', label: 'Mail queue' },
      '(no mail waiting)',
    );
    const list = this.mail.list;
    list.key('t', () => {
      const m = this.mail.selected;
      if (!m?.id || m.status === 'sent') return this.say('select an unsent mail');
      void this.retryMail(Number(m.id));
    });
    list.key('S-t', () => void this.retryMail());
    list.key('f', () => {
      this.mailFilter = this.mailFilter === 'unsent' ? 'failed' : this.mailFilter === 'failed' ? 'all' : 'unsent';
      void this.reload(4);
    });
    list.key('enter', () => {
      const m = this.mail.selected;
      if (m) this.details(`Mail #${m.id}`, readableFields(m, MAIL_FIELDS));
    });
    this.add({
      key: '5', title: 'Mail', box,
      help: 't retry  T retry all  f unsent/failed/all  ↵ details',
      focus: () => list.focus(),
      badge: () => (this.unsentCount ? ` (${this.unsentCount})` : ''),
      load: async () => {
        const reply = await this.request('MAILQUEUE', { status: this.mailFilter, limit: 200 });
        const rows = reply.items.map(obj);
        if (this.mailFilter === 'unsent') this.unsentCount = rows.length;
        this.mail.setRecords(rows, (a, b) => a.id === b.id);
        (list.parent as blessed.Widgets.BoxElement).setLabel(` Mail queue: ${this.mailFilter} (${rows.length}) `);
      },
    });
  }

  private async retryMail(id?: number): Promise<void> {
    try {
      const r = await this.request('MAILRETRY', { id });
      this.say(id ? `mail #${id} will be sent now` : `${r.args.get('count')} mail(s) made due now`);
    } catch (err) {
      this.fail(err);
    }
    await this.reload(4);
  }
}

/** Connects, logs in as the admin, and runs the console until q. */
export async function runConsole(opts: ClientOptions & { data: string }, fallback: { user: string; passwordFile: string }): Promise<void> {
  const user = opts.user || fallback.user;
  const password = readPassword(opts, fallback.passwordFile);
  const session = new SiarSession({ address: opts.server || '127.0.0.1:7400', ...tlsOptions(opts) });
  session.start();
  try {
    await session.waitFor((s) => s.status === 'connected' || s.status === 'online', 15_000);
  } catch {
    // The session's error already names the server (SiarClient.connect's messages do).
    const error = session.state.error ?? `Could not reach the siar server at ${session.address}: no answer.`;
    await session.close();
    throw new CliError(error, 2);
  }
  try {
    const info = await session.login(user, password);
    if (info.role !== 'admin') throw new CliError(`${user} is not an administrator.`);
  } catch (err) {
    await session.close();
    throw err;
  }
  const app = new AdminConsole(session, user);
  app.start();
  await new Promise<never>(() => undefined);
}
