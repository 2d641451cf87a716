/**
 * `siar admin console`: the administrator's full-screen terminal console (blessed). It logs in as
 * the admin over the protocol (from the server machine or from anywhere), keeps the connection
 * alive through SiarSession (reconnecting and logging in again after a loss), and shows nine
 * screens, switched with the keys 1-9 or Tab:
 *
 *   1 Registrations  pending requests, live (REGISTRATION pushes); approve/reject, several at once;
 *                    each decision shows whether its mail went out (MAIL pushes)
 *   2 Members        list and search; suspend, reactivate, reset password; last login and address
 *   3 Online         who is connected, from where, since when, over how many connections
 *   4 Traffic        live counters and per-minute charts; shadow listeners and transfers
 *   5 Mail           unsent and failed mail with errors; retry one or all
 *   6 Audit          the audit log, filtered by kind, member and time
 *   7 Backups        past backups; take one with progress
 *   8 Channels       channels with rules and subscribers; create, describe, restrict/open, archive,
 *                    named members and publishers (channels-screen.ts)
 *   9 Groups         groups of institutions; create, describe, delete, add/remove (groups-screen.ts)
 */
import blessed from 'blessed';
import type { Args } from '../../protocol/index.js';
import { argsToRegistration, type RegistrationRecord } from '../../protocol/index.js';
import type { Reply } from '../connection.js';
import { CliError, readPassword, tlsOptions, type ClientOptions } from '../cli/common.js';
import { SiarSession, type SessionState } from '../session.js';
import { describe } from '../tui/controller.js';
import { channelsScreen } from './channels-screen.js';
import { barChart, fieldLines, formatBytes, headerLine, helpLine, progressBar, shortTime, sparkline } from './format.js';
import { groupsScreen } from './groups-screen.js';
import type { ConsoleHost, Screen } from './host.js';
import { Table, ask, confirm, showText } from './widgets.js';

type Obj = Record<string, string>;

function obj(a: Args): Obj {
  const out: Obj = {};
  for (const [k, v] of a.pairs) out[k] = out[k] === undefined ? v : `${out[k]},${v}`;
  return out;
}

interface Decision {
  id: number;
  username: string;
  status: string;
  at: string;
  mailId: number | null;
  email: string;
  mail: string;
}

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

  // registrations
  private pending!: Table<RegistrationRecord>;
  private decisionsBox!: blessed.Widgets.BoxElement;
  private readonly marked = new Set<number>();
  private readonly decisions: Decision[] = [];
  private readonly mailSeen = new Map<number, string>();
  private history = false;
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
  // audit
  private audit!: Table<Obj>;
  private auditFilter: Obj = {};
  private auditFilterBox!: blessed.Widgets.BoxElement;
  // backups
  private backups!: Table<Obj>;
  private backupBox!: blessed.Widgets.BoxElement;
  private backupJob: Obj | null = null;

  constructor(private readonly session: SiarSession, private readonly user: string) {
    this.state = session.state;
    this.screen = blessed.screen({ smartCSR: true, fullUnicode: true, forceUnicode: true, title: 'siar admin console', autoPadding: true });
    this.header = blessed.box({ parent: this.screen, top: 0, left: 0, width: '100%', height: 1, tags: true, style: { bg: 'blue', fg: 'white' } });
    this.status = blessed.box({ parent: this.screen, bottom: 1, left: 0, width: '100%', height: 1, tags: true });
    this.helpLine = blessed.box({ parent: this.screen, bottom: 0, left: 0, width: '100%', height: 1, tags: true, style: { bg: 'black', fg: 'cyan' } });

    this.buildRegistrations();
    this.buildMembers();
    this.buildOnline();
    this.buildTraffic();
    this.buildMail();
    this.buildAudit();
    this.buildBackups();
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

  private area(): blessed.Widgets.BoxElement {
    return blessed.box({ parent: this.screen, top: 1, left: 0, width: '100%', bottom: 2 });
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
    this.header.setContent(headerLine({
      user: this.user, address: this.state.address, status: this.state.status, current: this.current, width: Number(this.screen.width) || 80,
      tabs: this.screens.map((s) => ({ key: s.key, title: s.title, badge: s.badge?.() ?? '' })),
    }));
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

  private details(title: string, fields: Obj): void {
    this.modals++;
    // showText's box is 80% of the screen wide, less its border and scrollbar.
    const text = fieldLines(fields, Math.floor((Number(this.screen.width) || 80) * 0.8) - 3).join('\n');
    showText(this.screen, title, `${text}\n\n(Enter or Esc closes)`, () => {
      this.modals--;
      this.screens[this.current]!.focus();
    });
  }

  private helpScreen(): void {
    this.details('Keys', {
      '1-9, F1-F9, Tab': 'switch screen',
      'g, F5': 'refresh the screen',
      q: 'quit',
      Registrations: 'space mark · * mark all · Enter details · a approve · r reject · h history',
      Members: '/ search · Enter details · s suspend · u reactivate · p reset password',
      Mail: 't retry selected · T retry all · f filter unsent/failed/all',
      Audit: 'k kind · m member · s since · u until · c clear · Enter details',
      Backups: 'b backup (attachments listed) · B backup (attachments copied)',
      Channels: 'n new · e describe/rules · r restrict/open · x archive/unarchive · m named members · p publishers · Enter roster',
      Groups: 'n new · e describe · d delete · a add institutions · r remove institutions · Enter institutions',
      Forms: 'Tab/↑/↓ move · ←/→ or space change a choice · Enter save · Esc cancel',
    });
  }

  /** Shows a transient notice in the top right corner without taking the focus. */
  private notify(text: string): void {
    clearTimeout(this.popupTimer);
    this.popup?.destroy();
    this.popup = blessed.box({
      parent: this.screen, top: 1, right: 0, width: Math.min(70, text.length + 4), height: 3, border: { type: 'line' },
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
    switch (event) {
      case 'REGISTRATION': {
        const r = argsToRegistration(args);
        this.notify(`New registration #${r.id}: ${r.username} — ${r.institution}`);
        this.say(`new registration request #${r.id} from ${blessed.escape(r.username)} (${blessed.escape(r.institution)}, ${blessed.escape(r.fromAddress ?? '?')})`);
        void this.reload(0);
        break;
      }
      case 'DECIDED': {
        const id = Number(args.get('id'));
        this.marked.delete(id);
        if (!this.decisions.some((d) => d.id === id)) {
          this.recordDecision({
            id, username: args.get('username') ?? '', status: args.get('status') ?? '', at: new Date().toISOString(),
            mailId: args.has('mailId') ? Number(args.get('mailId')) : null, email: '', mail: '',
          });
        }
        void this.reload(0);
        break;
      }
      case 'MAIL': {
        const id = Number(args.get('id'));
        const status = args.get('status') === 'sent' ? 'sent' : `failed: ${args.get('error') ?? ''}`;
        this.mailSeen.set(id, status);
        const d = this.decisions.find((x) => x.mailId === id);
        if (d) {
          d.mail = status;
          this.drawDecisions();
          this.say(`mail #${id} for ${blessed.escape(d.username)}: ${status === 'sent' ? '{green-fg}sent{/green-fg}' : `{red-fg}${blessed.escape(status)}{/red-fg}`}`);
        }
        void this.reload(4);
        break;
      }
      case 'LOGIN_ALERT': {
        // Someone is guessing one username's password from several addresses: slowed, never locked.
        const who = args.get('username') ?? '?';
        const addresses = (args.get('addresses') ?? '').split(',').filter(Boolean);
        this.notify(`Login alert: ${args.get('failures') ?? '?'} wrong passwords for ${who} from ${addresses.length} address(es)`);
        this.say(`{red-fg}login alert: ${blessed.escape(args.get('failures') ?? '?')} wrong passwords for ${blessed.escape(who)} in ${blessed.escape(args.get('windowMinutes') ?? '?')} min from ${blessed.escape(addresses.join(', '))}; further guesses are slowed, the account is not locked (audit: login_alert){/red-fg}`);
        break;
      }
      case 'BACKUP': {
        this.backupJob = obj(args);
        this.drawBackupJob();
        if (args.get('status') !== 'running') void this.reload(6);
        break;
      }
      default:
        break;
    }
    for (const s of this.screens) s.onPush?.(event, args);
    this.screen.render();
  }

  // --- 1 registrations ---

  private buildRegistrations(): void {
    const box = this.area();
    this.pending = new Table<RegistrationRecord>(
      box,
      [
        { title: ' ', max: 1 }, { title: 'ID', max: 6 }, { title: 'USERNAME', max: 16 }, { title: 'INSTITUTION', max: 32 },
        { title: 'CONTACT', max: 20 }, { title: 'EMAIL', max: 30 }, { title: 'FROM', max: 16 }, { title: 'STATUS', max: 9 }, { title: 'REQUESTED', max: 19 },
      ],
      (r) => [this.marked.has(r.id) ? '*' : ' ', String(r.id), r.username, r.institution, r.contact, r.email, r.fromAddress ?? '', r.status, shortTime(r.createdAt)],
      { top: 0, height: '100%-8', label: 'Registration requests' },
      '(no pending requests — new ones appear here as they arrive)',
    );
    this.decisionsBox = blessed.box({
      parent: box, bottom: 0, left: 0, width: '100%', height: 8, border: { type: 'line' }, label: ' Decisions (and their mail) ',
      tags: true, style: { border: { fg: 'cyan' } },
    });
    this.drawDecisions();
    const list = this.pending.list;
    list.key('space', () => {
      const r = this.pending.selected;
      if (!r || r.status !== 'pending') return;
      if (this.marked.has(r.id)) this.marked.delete(r.id);
      else this.marked.add(r.id);
      this.pending.render();
      list.down(1);
      this.screen.render();
    });
    list.key('*', () => {
      const open = this.pending.all.filter((r) => r.status === 'pending');
      if (open.every((r) => this.marked.has(r.id))) this.marked.clear();
      else open.forEach((r) => this.marked.add(r.id));
      this.pending.render();
      this.screen.render();
    });
    list.key('enter', () => {
      const r = this.pending.selected;
      if (!r) return;
      this.details(`Registration request #${r.id}`, {
        id: String(r.id), status: r.status, username: r.username, institution: r.institution, contact: r.contact,
        email: r.email, phone: r.phone, address: r.address, 'requested at': r.createdAt, 'request came from': r.fromAddress ?? '(unknown)',
        ...(r.reason ? { reason: r.reason } : {}),
      });
    });
    list.key('a', () => void this.approve());
    list.key('r', () => void this.reject());
    list.key('h', () => {
      this.history = !this.history;
      this.say(this.history ? 'showing every request (h: pending only)' : 'showing pending requests');
      void this.reload(0);
    });
    this.add({
      key: '1', title: 'Registrations', box, live: false,
      help: 'space mark  * all  Enter details  a approve  r reject  h history',
      focus: () => list.focus(),
      badge: () => {
        const n = this.pending.all.filter((r) => r.status === 'pending').length;
        return n ? ` (${n})` : '';
      },
      load: async () => {
        const reply = await this.request('PENDING', { status: this.history ? 'all' : 'pending' });
        const records = reply.items.map(argsToRegistration);
        for (const id of [...this.marked]) if (!records.some((r) => r.id === id && r.status === 'pending')) this.marked.delete(id);
        this.pending.setRecords(records, (a, b) => a.id === b.id);
      },
    });
  }

  /** The marked requests, or the selected one when none is marked. */
  private chosen(): RegistrationRecord[] {
    const marked = this.pending.all.filter((r) => this.marked.has(r.id));
    if (marked.length > 0) return marked;
    const r = this.pending.selected;
    return r && r.status === 'pending' ? [r] : [];
  }

  private async approve(): Promise<void> {
    const chosen = this.chosen();
    if (chosen.length === 0) return this.say('nothing to approve');
    if (chosen.length > 1 && !(await this.withModal(() => confirm(this.screen, `Approve ${chosen.length} requests: ${chosen.map((r) => r.username).join(', ')}?`)))) return;
    for (const r of chosen) {
      try {
        const reply = await this.request('APPROVE', { id: r.id });
        const mailId = Number(reply.args.get('mailId'));
        this.marked.delete(r.id);
        this.recordDecision({
          id: r.id, username: r.username, status: 'approved', at: new Date().toISOString(), mailId,
          email: reply.args.get('email') ?? r.email, mail: this.mailSeen.get(mailId) ?? 'queued',
        });
        this.say(`approved #${r.id}: member ${blessed.escape(r.username)} created; credentials mail #${mailId} queued`);
        void this.checkMail(mailId);
      } catch (err) {
        this.fail(err);
      }
    }
    await this.reload(0);
  }

  private async reject(): Promise<void> {
    const chosen = this.chosen();
    if (chosen.length === 0) return this.say('nothing to reject');
    const reason = await this.withModal(() => ask(this.screen, `Reason for rejecting ${chosen.map((r) => `#${r.id} ${r.username}`).join(', ')} (mailed to the registrant; Esc cancels):`));
    if (reason === null || reason.trim() === '') return this.say('not rejected: a reason is needed');
    for (const r of chosen) {
      try {
        const reply = await this.request('REJECT', { id: r.id, reason });
        const mailId = Number(reply.args.get('mailId'));
        this.marked.delete(r.id);
        this.recordDecision({
          id: r.id, username: r.username, status: 'rejected', at: new Date().toISOString(), mailId, email: r.email,
          mail: this.mailSeen.get(mailId) ?? 'queued',
        });
        this.say(`rejected #${r.id} (${blessed.escape(r.username)})`);
        void this.checkMail(mailId);
      } catch (err) {
        this.fail(err);
      }
    }
    await this.reload(0);
  }

  /** The mail may have gone out before the reply arrived: ask once. */
  private async checkMail(mailId: number): Promise<void> {
    try {
      const row = (await this.request('MAILQUEUE', { id: mailId })).items[0];
      const d = this.decisions.find((x) => x.mailId === mailId);
      if (!row || !d || d.mail !== 'queued') return;
      const st = row.get('status');
      if (st === 'sent') d.mail = 'sent';
      else if (st === 'failed') d.mail = `failed: ${row.get('lastError') ?? ''}`;
      this.drawDecisions();
      this.screen.render();
    } catch {
      // the MAIL push will tell
    }
  }

  private recordDecision(d: Decision): void {
    const existing = this.decisions.findIndex((x) => x.id === d.id);
    if (existing >= 0) this.decisions.splice(existing, 1);
    this.decisions.unshift(d);
    this.decisions.length = Math.min(this.decisions.length, 50);
    this.drawDecisions();
  }

  private drawDecisions(): void {
    if (this.decisions.length === 0) {
      this.decisionsBox.setContent(' Approve (a) or reject (r) a request; its mail status shows here.');
      return;
    }
    this.decisionsBox.setContent(this.decisions.slice(0, 6).map((d) => {
      const mail = d.mailId === null ? '' : ` — ${d.status === 'approved' ? 'credentials' : 'notice'} mail #${d.mailId}${d.email ? ` to ${blessed.escape(d.email)}` : ''}: ${
        d.mail === 'sent' ? '{green-fg}sent{/green-fg}' : d.mail.startsWith('failed') ? `{red-fg}${blessed.escape(d.mail)}{/red-fg}` : `{yellow-fg}${d.mail || 'queued'}{/yellow-fg}`}`;
      return ` ${shortTime(d.at).slice(11)} #${d.id} ${blessed.escape(d.username)} ${d.status}${mail}`;
    }).join('\n'));
  }

  // --- 2 members ---

  private buildMembers(): void {
    const box = this.area();
    this.members = new Table<Obj>(
      box,
      [
        { title: 'USERNAME', max: 16 }, { title: 'STATUS', max: 9 }, { title: 'ONLINE', max: 6 }, { title: 'INSTITUTION', max: 30 },
        { title: 'EMAIL', max: 28 }, { title: 'LAST LOGIN', max: 19 }, { title: 'FROM', max: 40 },
      ],
      (m) => [m.username ?? '', m.status ?? '', m.online === '1' ? 'yes' : '', m.institution ?? '', m.email ?? '', shortTime(m.lastLoginAt), m.lastLoginAddress ?? ''],
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
      if (m) this.details(`Member ${m.username}`, m);
    });
    list.key('s', () => void this.memberAction('suspend'));
    list.key('u', () => void this.memberAction('reactivate'));
    list.key('p', () => void this.memberAction('reset'));
    this.add({
      key: '2', title: 'Members', box,
      help: '/ search  Enter details  s suspend  u reactivate  p reset password',
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
      if (m) this.details(`Mail #${m.id}`, m);
    });
    this.add({
      key: '5', title: 'Mail', box,
      help: 't retry selected  T retry all  f filter (unsent/failed/all)  Enter details',
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

  // --- 6 audit ---

  private buildAudit(): void {
    const box = this.area();
    this.auditFilterBox = blessed.box({ parent: box, top: 0, left: 1, width: '100%-2', height: 1 });
    this.audit = new Table<Obj>(
      box,
      [
        { title: 'ID', max: 7 }, { title: 'AT', max: 19 }, { title: 'KIND', max: 24 }, { title: 'ACTOR', max: 14 }, { title: 'SUBJECT', max: 18 },
        { title: 'ADDRESS', max: 16 }, { title: 'DETAIL', max: 80 },
      ],
      (e) => [e.id ?? '', shortTime(e.at), e.kind ?? '', e.actor ?? '', e.subject ?? '', e.address ?? '', e.detail === '{}' ? '' : e.detail ?? ''],
      { top: 1, height: '100%-1', label: 'Audit log' },
      '(no events match)',
    );
    const list = this.audit.list;
    const filter = (key: string, question: string) => () => void this.withModal(async () => {
      const v = await ask(this.screen, question, this.auditFilter[key] ?? '');
      if (v === null) return;
      if (v.trim()) this.auditFilter[key] = v.trim();
      else delete this.auditFilter[key];
    }).then(() => this.reload(5));
    list.key('k', filter('kind', 'Kind (login_failed, registration_approved, registration_rejected, member_suspended, password_reset, transfer_refused, backup_created…):'));
    list.key('m', filter('member', 'Member (events about or by this username; admin = the admin\'s actions):'));
    list.key('s', filter('since', 'Since (ISO time, or an age: 30m, 24h, 7d):'));
    list.key('u', filter('until', 'Until (ISO time, or an age):'));
    list.key('c', () => {
      this.auditFilter = {};
      void this.reload(5);
    });
    list.key('enter', () => {
      const e = this.audit.selected;
      if (e) this.details(`Audit event #${e.id}`, e);
    });
    this.add({
      key: '6', title: 'Audit', box,
      help: 'k kind  m member  s since  u until  c clear filters  Enter details',
      focus: () => list.focus(),
      load: async () => {
        const reply = await this.request('AUDIT', { ...this.auditFilter, limit: 500 });
        const f = Object.entries(this.auditFilter).map(([k, v]) => `${k}=${v}`).join('  ');
        this.auditFilterBox.setContent(f ? `filter: ${f}` : 'no filter (newest 500 events)');
        this.audit.setRecords(reply.items.map(obj), (a, b) => a.id === b.id);
      },
    });
  }

  // --- 7 backups ---

  private buildBackups(): void {
    const box = this.area();
    this.backupBox = blessed.box({
      parent: box, top: 0, left: 0, width: '100%', height: 4, border: { type: 'line' }, label: ' Backup ', tags: true,
      style: { border: { fg: 'cyan' } },
    });
    this.backups = new Table<Obj>(
      box,
      [
        { title: 'NAME', max: 32 }, { title: 'CREATED', max: 19 }, { title: 'SIZE', max: 10 }, { title: 'MESSAGES', max: 8 },
        { title: 'MEMBERS', max: 7 }, { title: 'ATTACHMENTS', max: 11 }, { title: 'FILE', max: 100 },
      ],
      (b) => [b.name ?? '', shortTime(b.createdAt), formatBytes(Number(b.bytes ?? 0)), b.messages ?? '', b.members ?? '',
        b.attachments === undefined ? '' : `${b.attachments} ${b.attachmentMode ?? ''}`, b.file ?? ''],
      { top: 4, height: '100%-4', label: 'Past backups' },
      '(no backups yet — press b)',
    );
    this.drawBackupJob();
    const list = this.backups.list;
    list.key('b', () => void this.startBackup('list'));
    list.key('S-b', () => void this.startBackup('copy'));
    list.key('enter', () => {
      const b = this.backups.selected;
      if (b) this.details(`Backup ${b.name}`, { ...b, restore: `siar restore ${b.file ?? ''} --data DIR (with the server stopped)` });
    });
    this.add({
      key: '7', title: 'Backups', box,
      help: 'b backup (attachments listed)  B backup (attachments copied)  Enter details',
      focus: () => list.focus(),
      load: async () => {
        const reply = await this.request('BACKUPS');
        this.backups.setRecords(reply.items.map(obj), (a, b) => a.name === b.name);
      },
    });
  }

  private async startBackup(attachments: 'list' | 'copy'): Promise<void> {
    try {
      const r = await this.request('BACKUP', { attachments });
      this.backupJob = obj(r.args);
      this.drawBackupJob();
      this.say(`backup ${blessed.escape(r.args.get('name') ?? '')} started`);
    } catch (err) {
      this.fail(err);
    }
    this.screen.render();
  }

  private drawBackupJob(): void {
    const j = this.backupJob;
    if (!j) {
      this.backupBox.setContent(' An online backup copies the database while the server keeps serving.\n Press b to take one now.');
      return;
    }
    const percent = Number(j.percent ?? 0);
    if (j.status === 'running') {
      this.backupBox.setContent(` ${blessed.escape(j.name ?? '')}: ${j.phase} ${progressBar(percent / 100, 30)} ${percent}%  (${Number(j.totalPages ?? 0) - Number(j.remainingPages ?? 0)} of ${j.totalPages} pages)`);
    } else if (j.status === 'done') {
      this.backupBox.setContent(` {green-fg}${blessed.escape(j.name ?? '')} done{/green-fg}: ${formatBytes(Number(j.bytes ?? 0))}, ${j.messages} messages, ${j.members} members, integrity ${j.integrity}\n` +
        ` attachments: ${j.attachments} ${j.attachmentMode === 'copy' ? 'copied' : 'listed in the manifest'}${Number(j.attachmentsMissing ?? 0) ? `, {red-fg}${j.attachmentsMissing} missing{/red-fg}` : ''}`);
    } else {
      this.backupBox.setContent(` {red-fg}${blessed.escape(j.name ?? '')} failed: ${blessed.escape(j.error ?? '')}{/red-fg}`);
    }
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
