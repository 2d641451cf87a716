/**
 * `siar admin console`: the administrator's full-screen terminal console (blessed). It logs in as
 * the admin over the protocol (from the server machine or from anywhere), keeps the connection
 * alive through SiarSession (reconnecting and logging in again after a loss), and shows nine
 * screens, switched with the keys 1-9 or Tab:
 *
 *   1 Registrations  pending requests, live (REGISTRATION pushes); approve/reject, several at once;
 *                    each decision shows whether its mail went out (registrations-screen.ts)
 *   2 Members        list and search; suspend, reactivate, reset password; last login and address
 *                    (members-screen.ts)
 *   3 Online         who is connected, from where, since when, over how many connections (online-screen.ts)
 *   4 Traffic        live counters and per-minute charts; shadow listeners and transfers (traffic-screen.ts)
 *   5 Mail           unsent and failed mail with errors; retry one or all (mail-screen.ts)
 *   6 Audit          the audit log, filtered by kind, member and time (audit-screen.ts)
 *   7 Backups        past backups; take one with progress (backups-screen.ts)
 *   8 Channels       channels with rules and subscribers; create, describe, restrict/open, archive,
 *                    named members and publishers (channels-screen.ts)
 *   9 Groups         groups of institutions; create, describe, delete, add/remove (groups-screen.ts)
 */
import blessed from 'blessed';
import { CliError, readPassword, tlsOptions, type ClientOptions } from '../cli/common.js';
import { count } from '../counts.js';
import { SiarSession, type SessionEvents, type SessionState } from '../session.js';
import { describe } from '../tui/describe.js';
import { auditScreen } from './audit-screen.js';
import { backupsScreen } from './backups-screen.js';
import { channelsScreen } from './channels-screen.js';
import { fieldLines, headerLines, helpLine, shortTime } from './format.js';
import { groupsScreen } from './groups-screen.js';
import type { ConsoleHost, ConsolePush, Screen } from './host.js';
import { keysHelp } from './keys-help.js';
import { mailScreen } from './mail-screen.js';
import { membersScreen } from './members-screen.js';
import { onlineScreen } from './online-screen.js';
import { registrationsScreen } from './registrations-screen.js';
import { trafficScreen } from './traffic-screen.js';
import { showText } from './widgets.js';

type Obj = Record<string, string>;

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

  constructor(private readonly session: SiarSession, private readonly user: string) {
    this.state = session.state;
    this.screen = blessed.screen({ smartCSR: true, fullUnicode: true, forceUnicode: true, title: 'siar admin console', autoPadding: true });
    this.header = blessed.box({ parent: this.screen, top: 0, left: 0, width: '100%', height: 1, tags: true, style: { bg: 'blue', fg: 'white' } });
    this.status = blessed.box({ parent: this.screen, bottom: 1, left: 0, width: '100%', height: 1, tags: true });
    this.helpLine = blessed.box({ parent: this.screen, bottom: 0, left: 0, width: '100%', height: 1, tags: true, style: { bg: 'black', fg: 'cyan' } });

    this.add(registrationsScreen(this.host(), '1'));
    this.add(membersScreen(this.host(), '2'));
    this.add(onlineScreen(this.host(), '3'));
    this.add(trafficScreen(this.host(), '4'));
    this.add(mailScreen(this.host(), '5'));
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

    this.on('registration', (r) => this.notify(`New registration #${r.id}: ${r.username} — ${r.institution}`));
    this.on('loginAlert', (a) => {
      // Someone is guessing one username's password from several addresses: slowed, never locked.
      this.notify(`Login alert: ${count(a.failures, 'wrong password')} for ${a.username} from ${count(a.addresses.length, 'address', 'addresses')}`);
      this.say(`{red-fg}login alert: ${count(a.failures, 'wrong password')} for ${blessed.escape(a.username)} in ${a.windowMinutes} min from ${blessed.escape(a.addresses.join(', '))}; further guesses are slowed, the account is not locked (audit: login_alert){/red-fg}`);
    });
    session.on('state', (s) => {
      this.state = s;
      this.drawHeader();
      if (s.status === 'offline') this.say(`{red-fg}connection lost (${blessed.escape(s.error ?? 'closed')}); reconnecting…{/red-fg}`);
      this.screen.render();
    });
    session.on('login', (_info, how) => {
      if (!how.resumed) return;
      this.say(`{green-fg}reconnected to ${blessed.escape(session.address)}; ${how.byToken ? 'session resumed' : 'logged in again'}{/green-fg}`);
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
      on: (event, handler) => this.on(event, handler),
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

  /** Runs `handler` on each push of that kind, then redraws. */
  private on<K extends ConsolePush>(event: K, handler: (...args: SessionEvents[K]) => void): void {
    const listener = (...args: SessionEvents[K]) => {
      handler(...args);
      this.screen.render();
    };
    this.session.on(event, listener as Parameters<SiarSession['on']>[1]);
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
