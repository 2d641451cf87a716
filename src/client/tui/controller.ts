import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { MessageRecord, PopupRecord } from '../../protocol/index.js';
import type { ClientConfig, ConfigStore } from '../config-store.js';
import { RemoteError } from '../connection.js';
import type { SessionEvents, SiarSession, SessionState } from '../session.js';
import { composeKey } from './compose-screen.js';
import { describe } from './describe.js';
import type { ComposeStart, TuiHost, TuiTransfers } from './host.js';
import type { Key } from './keys.js';
import { loginKey } from './login-screen.js';
import { mainKey, tabsOf } from './main-screen.js';
import { ALERT_BELL_MS, alertKey } from './alert-overlay.js';
import { messageKey } from './message-screen.js';
import { initialState, isUrgentAlert, reduce, type Action, type Audience, type ListName, type State } from './model.js';
import { confirmKey, helpKey, popupKey } from './overlay-keys.js';
import { passwdKey } from './passwd-screen.js';
import { registerKey } from './register-screen.js';
import { decisionArrived, waitingKey } from './waiting-screen.js';
import { welcomeKey } from './welcome-screen.js';

export { describe } from './describe.js';
export type { TuiTransfers } from './host.js';
export { editKeyOf, type Key } from './keys.js';
export { tabsOf } from './main-screen.js';

export interface ControllerOptions {
  session: SiarSession;
  config?: ConfigStore | null;
  server: string;
  username?: string;
  /** No remembered username: start with the welcome screen (register or log in). */
  firstRun: boolean;
  notice?: string | null;
  transfers?: TuiTransfers | null;
  cols?: number;
  rows?: number;
  clock?: () => number;
  /** Where "save attachments" proposes to save (default ~/Downloads, else the working directory). */
  downloadDir?: string;
  /** Called once per popup that pops (not for a replay of one already shown): desktop notifications. */
  onNewPopup?: (popup: PopupRecord) => void;
}

/**
 * The terminal client's behaviour: keys and server events in, state out. It owns the state and
 * the session; each screen's keys and actions are its own module (*-screen.ts), given the
 * controller's side as a TuiHost. It knows nothing about blessed (terminal.ts draws).
 */
export class TuiController extends EventEmitter<{ change: [state: State]; quit: []; redraw: [] }> {
  private _state: State;
  private readonly session: SiarSession;
  private readonly config: ConfigStore | null;
  private readonly clock: () => number;
  private ticker: NodeJS.Timeout | undefined;
  private inboxReload: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly unsubscribe: Array<() => void> = [];
  private outboxLoadedAt = 0;
  private readonly onNewPopup: ((popup: PopupRecord) => void) | null;
  /** What the screen modules get. */
  private readonly host: TuiHost;

  constructor(opts: ControllerOptions) {
    super();
    this.session = opts.session;
    this.config = opts.config ?? null;
    this.clock = opts.clock ?? Date.now;
    this.onNewPopup = opts.onNewPopup ?? null;
    this._state = initialState({
      server: opts.server, username: opts.username, firstRun: opts.firstRun, cols: opts.cols, rows: opts.rows,
      now: this.clock(), transfers: !!opts.transfers, notice: opts.notice ?? null,
    });
    this._state = reduce(this._state, { type: 'conn', conn: connView(this.session.state) });
    this.host = this.hostFor(opts.transfers ?? null, opts.downloadDir ?? defaultDownloadDir());
  }

  get state(): State {
    return this._state;
  }

  dispatch(action: Action): void {
    const next = reduce(this._state, action);
    if (next === this._state) return;
    this._state = next;
    if (!this.stopped) this.emit('change', next);
  }

  /** Starts listening to the session and connects. */
  start(): void {
    const onState = (s: SessionState) => this.onSessionState(s);
    const onLogin = (_: unknown, how: { resumed: boolean; byToken?: boolean }) => {
      if (!how.resumed) return;
      const text = how.byToken
        ? `Reconnected to ${this.session.address}; session resumed, missed popups follow.`
        : `Reconnected to ${this.session.address} and signed in again; missed popups follow.`;
      this.dispatch({ type: 'toast', text });
      this.loadAll();
    };
    const onAuthLost = (err: Error) => {
      this.dispatch({ type: 'loggedOut', error: `Please log in again: ${err.message}` });
    };
    this.session.on('state', onState);
    this.session.on('login', onLogin);
    this.session.on('authLost', onAuthLost);
    this.unsubscribe.push(
      () => this.session.off('state', onState), () => this.session.off('login', onLogin), () => this.session.off('authLost', onAuthLost),
      this.onPush('popup', (popup) => {
        if (!(popup.id > 0)) return;
        const isNew = !this._state.seenPopups.includes(popup.id);
        // The state's clock is the second's tick: bring it up to now for the popup's times.
        this.dispatch({ type: 'tick', now: this.clock() });
        this.dispatch({ type: 'popup', popup });
        if (isNew) this.onNewPopup?.(popup);
        this.scheduleInboxReload();
      }),
      this.onPush('read', (r) => {
        if (r.id > 0 && r.by) this.dispatch({ type: 'readReceipt', id: r.id, by: r.by, at: r.at || new Date(this.clock()).toISOString() });
      }),
      this.onPush('ack', (r) => {
        if (r.id > 0 && r.by) this.dispatch({ type: 'ackReceipt', id: r.id, by: r.by, at: r.at || new Date(this.clock()).toISOString() });
      }),
      this.onPush('recalled', (n) => {
        if (!(n.id > 0)) return;
        this.dispatch({ type: 'recalled', id: n.id, reason: n.reason, at: n.at || new Date(this.clock()).toISOString(), ...(n.replacedBy ? { replacedBy: n.replacedBy } : {}) });
        this.scheduleInboxReload();
      }),
      this.onPush('decision', (d) => decisionArrived(this.host, d)),
      this.onPush('subscription', ({ name, subscribed, by }) => {
        if (!name) return;
        this.dispatch({ type: 'channels/subscribed', name, subscribed });
        if (by === 'admin') this.dispatch({ type: 'toast', text: `The administrator ${subscribed ? 'subscribed you to' : 'removed you from'} #${name}.` });
      }),
    );
    this.ticker = setInterval(() => {
      const now = this.clock();
      this.dispatch({ type: 'tick', now });
      // An urgent alert rings again until it is opened or acknowledged.
      if (isUrgentAlert(this._state.popups[0]) && now - this._state.alertBellAt >= ALERT_BELL_MS) this.dispatch({ type: 'alert/bell', now });
      // Delivered state has no push (read state has): refresh the outbox while it is on screen.
      const st = this._state;
      if (st.screen === 'main' && st.tab === 'outbox' && st.conn.status === 'online' && now - this.outboxLoadedAt > 15_000) void this.loadList('outbox');
    }, 1000);
    this.ticker.unref();
    this.session.start();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.ticker);
    clearTimeout(this.inboxReload);
    for (const off of this.unsubscribe.splice(0)) off();
  }

  resize(cols: number, rows: number): void {
    this.dispatch({ type: 'resize', cols, rows });
  }

  // -------------------------------------------------------------------------------------------
  // Keys

  key(k: Key): void {
    try {
      this.handleKey(k);
    } catch (err) {
      this.dispatch({ type: 'toast', text: `Unexpected error: ${(err as Error).message}`, kind: 'error' });
    }
  }

  /** Types a string, one key per character (for tests and pasting). */
  type(text: string): void {
    for (const ch of text) this.key(ch === '\n' ? { name: 'enter' } : { name: ch, ch });
  }

  /** Keys that work everywhere, then whatever covers the screen, then the screen's own. */
  private handleKey(k: Key): void {
    const s = this._state;
    const host = this.host;
    if (k.ctrl && k.name === 'c') return this.quit();
    if (k.ctrl && k.name === 'l') {
      this.emit('redraw');
      return;
    }
    if (k.ctrl && k.name === 'r' && this.session.state.status === 'offline') {
      this.session.retryNow();
      return;
    }
    if (isUrgentAlert(s.popups[0])) return alertKey(host, k);
    if (s.popups.length > 0) return popupKey(host, k);
    if (s.help) return helpKey(host, k);
    if (s.confirm) return confirmKey(host, k);
    // F1 opens the help everywhere, also where "?" is typed into a field.
    if (k.name === 'f1') return this.dispatch({ type: 'help', open: true });
    switch (s.screen) {
      case 'welcome': return welcomeKey(host, k);
      case 'register': return registerKey(host, k);
      case 'login': return loginKey(host, k);
      case 'passwd': return passwdKey(host, k);
      case 'waiting': return waitingKey(host, k);
      case 'main': return mainKey(host, k);
      case 'message': return messageKey(host, k);
      case 'compose': return composeKey(host, k);
    }
  }

  private quit(): void {
    this.emit('quit');
  }

  /** The controller as the screen modules see it. */
  private hostFor(transfers: TuiTransfers | null, downloadDir: string): TuiHost {
    const state = () => this._state;
    return {
      get state() { return state(); },
      dispatch: (action) => this.dispatch(action),
      session: this.session,
      transfers,
      downloadDir,
      loginPassword: '',
      now: () => this.clock(),
      quit: () => this.quit(),
      loadConfig: () => this.loadConfig(),
      saveConfig: (patch) => this.saveConfig(patch),
      loadList: (list) => this.loadList(list),
      loadAll: () => this.loadAll(),
      openMessage: (id, box) => this.openMessage(id, box),
      openCompose: (start) => this.openCompose(start),
      reply: (m, box) => this.reply(m, box),
      toLogin: (username, notice) => this.toLogin(username, notice),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Server events

  private onSessionState(s: SessionState): void {
    this.dispatch({ type: 'conn', conn: connView(s) });
    if (this._state.waiting?.status === 'waiting' && (s.status === 'offline' || s.status === 'connecting')) {
      this.dispatch({ type: 'waiting/lost' });
    }
  }

  /** Handles one kind of push; a handler that fails is reported, not fatal. Returns the unsubscription. */
  private onPush<K extends 'popup' | 'read' | 'ack' | 'recalled' | 'decision' | 'subscription'>(event: K, handle: (...args: SessionEvents[K]) => void): () => void {
    const listener = ((...args: SessionEvents[K]) => {
      try {
        handle(...args);
      } catch (err) {
        this.dispatch({ type: 'toast', text: `Ignored a malformed ${event} from the server: ${(err as Error).message}`, kind: 'error' });
      }
    }) as Parameters<SiarSession['on']>[1];
    this.session.on(event, listener);
    return () => { this.session.off(event, listener); };
  }

  private scheduleInboxReload(): void {
    clearTimeout(this.inboxReload);
    this.inboxReload = setTimeout(() => { void this.loadList('inbox'); }, 300);
    this.inboxReload.unref();
  }

  // -------------------------------------------------------------------------------------------
  // What several screens do

  private toLogin(username: string, notice: string | null): void {
    const server = this.session.serverList;
    this.dispatch({ type: 'form/reset', form: 'login', server, username, notice });
    this.dispatch({ type: 'navigate', screen: 'login' });
  }

  loadAll(): void {
    for (const tab of tabsOf(this._state)) void this.loadList(tab);
  }

  private async loadList(list: ListName): Promise<void> {
    if (!this._state.me) return;
    this.dispatch({ type: 'list/loading', list });
    try {
      if (list === 'inbox') {
        const page = await this.session.inbox({ limit: 200 });
        const items = page.messages.filter((m) => m.id > 0).sort((a, b) => b.id - a.id);
        this.dispatch({ type: 'list/loaded', list, items, unread: page.unread || items.filter((m) => !m.readAt).length });
      } else if (list === 'outbox') {
        this.outboxLoadedAt = this.clock();
        const items = (await this.session.outbox({ limit: 200 })).filter((m) => m.id > 0).sort((a, b) => b.id - a.id);
        this.dispatch({ type: 'list/loaded', list, items });
      } else if (list === 'directory') {
        // Member rows (kind=member, or no kind from servers without channels); channels and groups have their own tab.
        const items = (await this.session.directory())
          .flatMap((e) => (e.kind === 'member' ? [{ username: e.username, institution: e.institution, online: e.online }] : []))
          .filter((m) => m.username);
        this.dispatch({ type: 'list/loaded', list, items });
      } else {
        const [channels, groups] = await Promise.all([this.session.channels(), this.session.groups()]);
        const items: Audience[] = [
          ...channels.map((c) => ({ kind: 'channel' as const, ...c })),
          ...groups.map((g) => ({ kind: 'group' as const, ...g })),
        ].filter((a) => a.name);
        this.dispatch({ type: 'list/loaded', list, items });
      }
    } catch (err) {
      if (list === 'channels' && err instanceof RemoteError && err.code === 'UNKNOWN_COMMAND') {
        this.dispatch({ type: 'channels/unsupported' });
        return;
      }
      this.dispatch({ type: 'list/error', list, error: describe(err) });
    }
  }

  openMessage(id: number, box: 'inbox' | 'outbox'): void {
    this.dispatch({ type: 'message/open', id, box });
    if (!this._state.directory.loaded) void this.loadList('directory');
    void (async () => {
      try {
        const record = await this.session.read(id);
        if (!(record.id > 0)) throw new Error('The server sent an unreadable message.');
        this.dispatch({ type: 'message/loaded', record });
      } catch (err) {
        this.dispatch({ type: 'message/error', error: describe(err) });
      }
    })();
  }

  private openCompose(start: ComposeStart): void {
    this.dispatch({ type: 'compose/open', ...start });
    void this.loadList('directory');
    if (this._state.channelsSupported) void this.loadList('channels');
  }

  private reply(m: MessageRecord, box: 'inbox' | 'outbox' = 'inbox'): void {
    const subject = /^re:/i.test(m.subject) ? m.subject : `Re: ${m.subject}`;
    if (box === 'outbox') {
      const to = (m.recipients?.map((r) => r.username) ?? m.to).filter((u) => u && u !== '*');
      this.openCompose(m.audience === 'all' ? { all: true, subject } : { to, subject });
    } else {
      this.openCompose({ to: [m.from], subject });
    }
  }

  private loadConfig(): ClientConfig | null {
    return this.config?.load() ?? null;
  }

  private saveConfig(patch: Partial<ClientConfig>): void {
    try {
      this.config?.save(patch);
    } catch (err) {
      this.dispatch({ type: 'toast', text: `Could not save settings: ${(err as Error).message}`, kind: 'error' });
    }
  }
}

function connView(s: SessionState) {
  return { status: s.status, address: s.address, attempt: s.attempt, retryAt: s.retryAt, error: s.error, reconnects: s.reconnects };
}

function defaultDownloadDir(): string {
  const d = path.join(os.homedir(), 'Downloads');
  return existsSync(d) ? d : process.cwd();
}
