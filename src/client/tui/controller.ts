import { EventEmitter } from 'node:events';
import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AttachmentInfo, MessageRecord } from '../../protocol/index.js';
import type { ConfigStore } from '../config-store.js';
import { RemoteError } from '../connection.js';
import { openWithDefaultApp } from '../open-file.js';
import type { Decision } from '../replies.js';
import { OfflineError, type SessionEvents, type SiarSession, type SessionState } from '../session.js';
import { TransferError } from '../transfer.js';
import { field, type EditKey } from './editor.js';
import {
  COMPOSE_FOCUS, composeIsEmpty, formValues, initialState, pickerRows, reduce,
  type Action, type Audience, type FormName, type ListName, type State, type Tab,
} from './model.js';
import { validateNewPassword, validateRegistrationField, validateServer } from './validation.js';

/** A key press, as the terminal layer reports it (names follow blessed: enter, escape, tab, up…). */
export interface Key {
  name: string;
  ch?: string;
  ctrl?: boolean;
  shift?: boolean;
  meta?: boolean;
}

/**
 * What the TUI needs for attachments (issue #3's transfer client, adapted in transfers.ts):
 * sending a message together with its files, and fetching one attachment into a folder with its
 * checksum verified. Progress callbacks report bytes done and the total.
 */
export interface TuiTransfers {
  send(draft: { to?: string[]; all?: boolean; channel?: string; subject: string; body: string; files: string[] },
    onProgress: (fileIndex: number, done: number, total: number) => void): Promise<{ id: number; recipients: number }>;
  download(message: MessageRecord, attachment: AttachmentInfo, dir: string,
    onProgress: (done: number, total: number) => void): Promise<{ path: string }>;
  /**
   * Continues a message of the outbox still being sent, each upload from the server's offset, with
   * the files remembered when it was sent; resolves with its state ('sent' once the last is in).
   */
  resume(messageId: number, onProgress: (attachmentId: number, done: number, total: number) => void): Promise<{ state: string }>;
  /** Withdraws a message still being sent (CANCEL): nobody receives it; its partial uploads go. */
  cancel(messageId: number): Promise<void>;
}

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
}

/** The main screen's tabs; the channels tab only where the server has channels and groups. */
export function tabsOf(state: State): Tab[] {
  return state.channelsSupported ? ['inbox', 'outbox', 'directory', 'channels'] : ['inbox', 'outbox', 'directory'];
}
const PAGE = 10;

/**
 * The terminal client's behaviour: keys and server events in, state out. It owns the state and
 * the session's side of every action; it knows nothing about blessed (terminal.ts draws).
 */
export class TuiController extends EventEmitter<{ change: [state: State]; quit: []; redraw: [] }> {
  private _state: State;
  private readonly session: SiarSession;
  private readonly config: ConfigStore | null;
  private readonly transfers: TuiTransfers | null;
  private readonly clock: () => number;
  private ticker: NodeJS.Timeout | undefined;
  private inboxReload: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The password typed at login, for the forced change; memory only. */
  private loginPassword = '';
  private readonly unsubscribe: Array<() => void> = [];
  private readonly downloadDir: string;
  private outboxLoadedAt = 0;
  /** Outbox messages whose uploads this client is resuming now (one resume each). */
  private readonly resuming = new Set<number>();

  constructor(opts: ControllerOptions) {
    super();
    this.session = opts.session;
    this.config = opts.config ?? null;
    this.transfers = opts.transfers ?? null;
    this.clock = opts.clock ?? Date.now;
    this.downloadDir = opts.downloadDir ?? defaultDownloadDir();
    this._state = initialState({
      server: opts.server, username: opts.username, firstRun: opts.firstRun, cols: opts.cols, rows: opts.rows,
      now: this.clock(), transfers: !!opts.transfers, notice: opts.notice ?? null,
    });
    this._state = reduce(this._state, { type: 'conn', conn: connView(this.session.state) });
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
    const onLogin = (_: unknown, how: { resumed: boolean }) => {
      if (!how.resumed) return;
      this.dispatch({ type: 'toast', text: 'Reconnected and signed in again; missed popups follow.' });
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
        this.dispatch({ type: 'popup', popup });
        this.scheduleInboxReload();
      }),
      this.onPush('read', (r) => {
        if (r.id > 0 && r.by) this.dispatch({ type: 'readReceipt', id: r.id, by: r.by, at: r.at || new Date(this.clock()).toISOString() });
      }),
      this.onPush('decision', (d) => this.onDecision(d)),
      this.onPush('subscription', ({ name, subscribed, by }) => {
        if (!name) return;
        this.dispatch({ type: 'channels/subscribed', name, subscribed });
        if (by === 'admin') this.dispatch({ type: 'toast', text: `The administrator ${subscribed ? 'subscribed you to' : 'removed you from'} #${name}.` });
      }),
    );
    this.ticker = setInterval(() => {
      const now = this.clock();
      this.dispatch({ type: 'tick', now });
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

  private handleKey(k: Key): void {
    const s = this._state;
    if (k.ctrl && k.name === 'c') return this.quit();
    if (k.ctrl && k.name === 'l') {
      this.emit('redraw');
      return;
    }
    if (k.ctrl && k.name === 'r' && this.session.state.status === 'offline') {
      this.session.retryNow();
      return;
    }
    if (s.popups.length > 0) return this.popupKey(k);
    if (s.help) {
      if (['escape', 'enter', 'q', '?'].includes(k.name)) this.dispatch({ type: 'help', open: false });
      return;
    }
    if (s.confirm) return this.confirmKey(k);
    // F1 opens the help everywhere, also where "?" is typed into a field.
    if (k.name === 'f1') return this.dispatch({ type: 'help', open: true });
    switch (s.screen) {
      case 'welcome': return this.welcomeKey(k);
      case 'register': return this.formKey('register', k);
      case 'login': return this.formKey('login', k);
      case 'passwd': return this.formKey('passwd', k);
      case 'waiting': return this.waitingKey(k);
      case 'main': return this.mainKey(k);
      case 'message': return this.messageKey(k);
      case 'compose': return this.composeKey(k);
    }
  }

  private quit(): void {
    this.emit('quit');
  }

  private popupKey(k: Key): void {
    const p = this._state.popups[0];
    if (!p) return;
    if (k.name === 'enter' || k.name === 'o') {
      this.dispatch({ type: 'popup/dismiss' });
      if (this._state.me) this.openMessage(p.id, 'inbox');
    } else if (k.name === 'escape' || k.name === 'x') {
      this.dispatch({ type: 'popup/dismiss' });
    } else if (k.ch === 'a' || k.ch === 'A') {
      this.dispatch({ type: 'popup/dismissAll' });
    }
  }

  private confirmKey(k: Key): void {
    const c = this._state.confirm;
    if (!c) return;
    if (k.ch === 'y' || k.ch === 'Y') {
      this.dispatch({ type: 'confirm', confirm: null });
      if (c.kind === 'quit') this.quit();
      else if (c.kind === 'cancel') void this.cancelMessage(c.id);
      else void this.deleteMessage(c.id);
    } else if (k.ch === 'n' || k.ch === 'N' || k.name === 'escape') {
      this.dispatch({ type: 'confirm', confirm: null });
    }
  }

  private welcomeKey(k: Key): void {
    if (k.name === 'up' || k.name === 'down') this.dispatch({ type: 'welcome/move', delta: k.name === 'up' ? -1 : 1 });
    else if (k.ch === 'r' || k.ch === 'R' || (k.name === 'enter' && this._state.welcomeCursor === 0)) this.dispatch({ type: 'navigate', screen: 'register', push: true });
    else if (k.ch === 'l' || k.ch === 'L' || (k.name === 'enter' && this._state.welcomeCursor === 1)) this.dispatch({ type: 'navigate', screen: 'login', push: true });
    else if (k.ch === 'q') this.quit();
    else if (k.ch === '?') this.dispatch({ type: 'help', open: true });
  }

  private waitingKey(k: Key): void {
    const w = this._state.waiting;
    if (!w) return;
    if (k.ch === '?') return this.dispatch({ type: 'help', open: true });
    if (k.name === 'enter' && w.status === 'rejected') {
      this.dispatch({ type: 'navigate', screen: 'register' });
    } else if ((k.name === 'enter' && w.status !== 'waiting') || k.ch === 'l' || k.ch === 'L') {
      this.toLogin(w.username, w.status === 'approved' ? `Approved. Your password was e-mailed to ${w.email}.` : null);
    }
  }

  private toLogin(username: string, notice: string | null): void {
    const server = this.session.address;
    this.dispatch({ type: 'form/reset', form: 'login', server, username, notice });
    this.dispatch({ type: 'navigate', screen: 'login' });
  }

  private formKey(name: FormName, k: Key): void {
    const form = this._state[name];
    if (form.busy) return;
    const n = form.fields.length;
    if (k.name === 'escape') return this.formEscape(name);
    if (name === 'login' && k.ctrl && k.name === 'n') {
      this.dispatch({ type: 'form/reset', form: 'register', server: this.session.address, values: {} });
      this.dispatch({ type: 'navigate', screen: 'register', push: true });
      return;
    }
    if ((k.name === 'tab' && !k.shift) || k.name === 'down') return this.formFocus(name, form.focus + 1);
    if ((k.name === 'tab' && k.shift) || k.name === 'up') return this.formFocus(name, form.focus - 1);
    if (k.name === 'enter') {
      if (form.focus >= n - 1) return void this.submit(name);
      return this.formFocus(name, form.focus + 1);
    }
    if (form.focus >= n) return;
    const edit = editKeyOf(k, false);
    if (edit) this.dispatch({ type: 'form/edit', form: name, key: edit });
  }

  private formEscape(name: FormName): void {
    if (name === 'passwd') {
      // The server refuses everything else until the mailed password is replaced.
      if (this._state.passwd.forced) {
        this.dispatch({ type: 'form/status', form: 'passwd', busy: false, error: 'The mailed password works only once: choose your own to go on (Ctrl-C quits).' });
        return;
      }
      this.dispatch({ type: 'navigate', screen: 'main' });
      return;
    }
    if (this._state.history.length) this.dispatch({ type: 'back' });
    else if (name === 'register') this.dispatch({ type: 'navigate', screen: 'login' });
    else if (name === 'login') this.dispatch({ type: 'navigate', screen: 'welcome' });
  }

  /** Moves the focus; leaving a registration field checks it. */
  private formFocus(name: FormName, to: number): void {
    const form = this._state[name];
    const leaving = form.fields[form.focus];
    if (name === 'register' && leaving && to > form.focus) {
      this.dispatch({ type: 'form/fieldError', form: name, field: leaving.name, error: validateRegistrationField(leaving.name, leaving.value) });
    }
    this.dispatch({ type: 'form/focus', form: name, to: Math.max(0, Math.min(to, form.fields.length)) });
  }

  private mainKey(k: Key): void {
    const s = this._state;
    const list = s[s.tab];
    const ch = k.ch ?? '';
    if (k.name === 'tab' || k.name === 'right' || k.name === 'left') {
      const tabs = tabsOf(s);
      const i = tabs.indexOf(s.tab);
      const step = k.name === 'left' || k.shift ? -1 : 1;
      return this.switchTab(tabs[(i + step + tabs.length) % tabs.length]!);
    }
    if (ch >= '1' && ch <= '9') {
      const tab = tabsOf(s)[Number(ch) - 1];
      if (tab) this.switchTab(tab);
      return;
    }
    if (k.name === 'up' || ch === 'k') return this.dispatch({ type: 'list/move', delta: -1 });
    if (k.name === 'down' || ch === 'j') return this.dispatch({ type: 'list/move', delta: 1 });
    if (k.name === 'pageup') return this.dispatch({ type: 'list/move', delta: -PAGE });
    if (k.name === 'pagedown') return this.dispatch({ type: 'list/move', delta: PAGE });
    if (k.name === 'home') return this.dispatch({ type: 'list/moveTo', index: 0 });
    if (k.name === 'end') return this.dispatch({ type: 'list/moveTo', index: list.items.length - 1 });
    if (s.tab === 'channels') {
      const a = s.channels.items[s.channels.cursor];
      if (a && (k.name === 'space' || ch === 's' || ch === 'u')) return void this.toggleSubscription(a);
      if (a && (k.name === 'enter' || ch === 'c')) return this.composeTo(a);
    }
    if (k.name === 'enter') {
      if (s.tab === 'directory') {
        const m = s.directory.items[s.directory.cursor];
        if (m) this.openCompose({ to: [m.username] });
        return;
      }
      if (s.tab === 'inbox' || s.tab === 'outbox') {
        const m = s[s.tab].items[s[s.tab].cursor];
        if (m) this.openMessage(m.id, s.tab);
      }
      return;
    }
    switch (ch.toLowerCase()) {
      case 'c': return this.openCompose({});
      case 'r': {
        const m = s.tab === 'inbox' ? s.inbox.items[s.inbox.cursor] : undefined;
        if (m) this.reply(m);
        return;
      }
      case 'd': {
        const m = s.tab === 'inbox' ? s.inbox.items[s.inbox.cursor] : undefined;
        if (m) this.dispatch({ type: 'confirm', confirm: { kind: 'delete', id: m.id, subject: m.subject } });
        return;
      }
      case 'u':
      case 'x': {
        // A message of the outbox still waiting for its attachments: resume it, or withdraw it.
        const m = s.tab === 'outbox' ? s.outbox.items[s.outbox.cursor] : undefined;
        if (m?.state !== 'sending') return;
        if (ch.toLowerCase() === 'u') return void this.resumeMessage(m);
        return this.dispatch({ type: 'confirm', confirm: { kind: 'cancel', id: m.id, subject: m.subject } });
      }
      case 'g': return this.loadAll();
      case 'p':
        this.dispatch({ type: 'form/reset', form: 'passwd', forced: false });
        this.dispatch({ type: 'navigate', screen: 'passwd', push: true });
        return;
      case '?': return this.dispatch({ type: 'help', open: true });
      case 'q': return this.dispatch({ type: 'confirm', confirm: { kind: 'quit' } });
    }
  }

  private switchTab(tab: Tab): void {
    this.dispatch({ type: 'tab', tab });
    void this.loadList(tab);
  }

  private messageKey(k: Key): void {
    const v = this._state.message;
    if (!v) return;
    if (v.savePrompt) {
      if (k.name === 'escape') return this.dispatch({ type: 'message/savePrompt', prompt: null });
      if (k.name === 'enter') return void this.downloadAll(v.savePrompt.value);
      const edit = editKeyOf(k, false);
      if (edit) this.dispatch({ type: 'message/savePromptEdit', key: edit });
      return;
    }
    const ch = (k.ch ?? '').toLowerCase();
    if (k.name === 'escape' || ch === 'q' || k.name === 'left' || k.name === 'backspace') {
      if (this._state.history.length) this.dispatch({ type: 'back' });
      else this.dispatch({ type: 'navigate', screen: 'main' });
      return;
    }
    if (k.name === 'up' || ch === 'k') return this.dispatch({ type: 'message/scroll', delta: -1 });
    if (k.name === 'down' || ch === 'j') return this.dispatch({ type: 'message/scroll', delta: 1 });
    if (k.name === 'pageup') return this.dispatch({ type: 'message/scroll', delta: -PAGE });
    if (k.name === 'pagedown' || k.name === 'space') return this.dispatch({ type: 'message/scroll', delta: PAGE });
    if (k.name === 'home') return this.dispatch({ type: 'message/scroll', delta: -1e9 });
    if (k.ch === '?') return this.dispatch({ type: 'help', open: true });
    const m = v.record;
    if (!m) return;
    if (k.name === 'tab') return this.dispatch({ type: 'message/attachmentMove', delta: k.shift ? -1 : 1 });
    if (ch === 'o' && m.attachments.length) return void this.openAttachment();
    if (ch === 'r') return this.reply(m, v.box);
    if (ch === 'd' && v.box === 'inbox') return this.dispatch({ type: 'confirm', confirm: { kind: 'delete', id: m.id, subject: m.subject } });
    if (ch === 's' && m.attachments.length) {
      if (!this.transfers) return this.dispatch({ type: 'toast', text: 'Downloading attachments is not available in this build.', kind: 'error' });
      this.dispatch({ type: 'message/savePrompt', prompt: field('dir', 'Folder', { value: this.downloadDir }) });
    }
  }

  private composeKey(k: Key): void {
    const c = this._state.compose;
    if (!c) return;
    if (c.confirmDiscard) {
      if (k.ch === 'y' || k.ch === 'Y') this.dispatch({ type: 'compose/close' });
      else if (k.ch === 'n' || k.ch === 'N' || k.name === 'escape') this.dispatch({ type: 'compose/confirmDiscard', on: false });
      return;
    }
    if (c.sending) return;
    if (c.picker.open) return this.pickerKey(k);
    if (c.pathPrompt) {
      if (k.name === 'escape') return this.dispatch({ type: 'compose/pathPrompt', open: false });
      if (k.name === 'enter') return this.addAttachment(c.pathPrompt.value);
      const edit = editKeyOf(k, false);
      if (edit) this.dispatch({ type: 'compose/pathEdit', key: edit });
      return;
    }
    if (k.ctrl && k.name === 's') return void this.send();
    if (k.name === 'escape') {
      if (composeIsEmpty(c)) this.dispatch({ type: 'compose/close' });
      else this.dispatch({ type: 'compose/confirmDiscard', on: true });
      return;
    }
    const i = COMPOSE_FOCUS.indexOf(c.focus);
    if (k.name === 'tab') {
      const next = COMPOSE_FOCUS[(i + (k.shift ? -1 : 1) + COMPOSE_FOCUS.length) % COMPOSE_FOCUS.length]!;
      return this.dispatch({ type: 'compose/focus', focus: next });
    }
    switch (c.focus) {
      case 'to':
        if (k.name === 'enter' || k.name === 'space') return this.openPicker();
        if (k.ch === 'a' || k.ch === 'A') return this.dispatch({ type: 'compose/toggleAll' });
        if (k.name === 'backspace' || k.name === 'delete') return this.dispatch({ type: 'compose/removeRecipient' });
        if (k.name === 'down') return this.dispatch({ type: 'compose/focus', focus: 'subject' });
        return;
      case 'subject': {
        if (k.name === 'enter' || k.name === 'down') return this.dispatch({ type: 'compose/focus', focus: 'body' });
        if (k.name === 'up') return this.dispatch({ type: 'compose/focus', focus: 'to' });
        const edit = editKeyOf(k, false);
        if (edit) this.dispatch({ type: 'compose/edit', key: edit });
        return;
      }
      case 'body': {
        if (k.name === 'up' && c.body.row === 0) return this.dispatch({ type: 'compose/focus', focus: 'subject' });
        const edit = editKeyOf(k, true);
        if (edit) this.dispatch({ type: 'compose/edit', key: edit });
        return;
      }
      case 'attachments':
        if (k.name === 'enter' || k.ch === '+' || k.ch === 'a') {
          if (!this.transfers) return this.dispatch({ type: 'compose/status', error: 'Attachments are not available in this build (no transfer client).' });
          return this.dispatch({ type: 'compose/pathPrompt', open: true });
        }
        if (k.name === 'delete' || k.name === 'backspace' || k.ch === 'x') return this.dispatch({ type: 'compose/removeAttachment' });
        if (k.name === 'up') {
          if (c.attachmentCursor === 0) return this.dispatch({ type: 'compose/focus', focus: 'body' });
          return this.dispatch({ type: 'compose/attachmentMove', delta: -1 });
        }
        if (k.name === 'down') {
          if (c.attachmentCursor >= c.attachments.length - 1) return this.dispatch({ type: 'compose/focus', focus: 'send' });
          return this.dispatch({ type: 'compose/attachmentMove', delta: 1 });
        }
        return;
      case 'send':
        if (k.name === 'enter') return void this.send();
        if (k.name === 'up') return this.dispatch({ type: 'compose/focus', focus: 'attachments' });
        return;
    }
  }

  private openPicker(): void {
    this.dispatch({ type: 'compose/picker', open: true });
    void this.loadList('directory');
    if (this._state.channelsSupported) void this.loadList('channels');
  }

  private pickerKey(k: Key): void {
    const c = this._state.compose!;
    const rows = pickerRows(this._state, c);
    const row = rows[c.picker.cursor];
    const toggle = () => {
      if (!row) return;
      if (row.kind === 'all') this.dispatch({ type: 'compose/toggleAll' });
      else if (row.kind === 'channel') this.dispatch({ type: 'compose/toggleChannel', name: row.name });
      else if (row.kind === 'group') this.dispatch({ type: 'compose/toggle', username: `@${row.name}` });
      else this.dispatch({ type: 'compose/toggle', username: row.member.username });
    };
    if (k.name === 'up') return this.dispatch({ type: 'compose/pickerMove', delta: -1 });
    if (k.name === 'down') return this.dispatch({ type: 'compose/pickerMove', delta: 1 });
    if (k.name === 'pageup') return this.dispatch({ type: 'compose/pickerMove', delta: -PAGE });
    if (k.name === 'pagedown') return this.dispatch({ type: 'compose/pickerMove', delta: PAGE });
    if (k.name === 'space') return toggle();
    if (k.name === 'enter' || k.name === 'escape') {
      // Enter with nothing chosen yet takes the row under the cursor: one recipient in one key.
      if (k.name === 'enter' && c.to.length === 0 && !c.all && !c.channel) toggle();
      this.dispatch({ type: 'compose/picker', open: false });
      const after = this._state.compose;
      if (after && (after.to.length || after.all || after.channel) && k.name === 'enter') this.dispatch({ type: 'compose/focus', focus: 'subject' });
      return;
    }
    const edit = editKeyOf(k, false);
    if (edit) this.dispatch({ type: 'compose/pickerFilter', key: edit });
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
  private onPush<K extends 'popup' | 'read' | 'decision' | 'subscription'>(event: K, handle: (...args: SessionEvents[K]) => void): () => void {
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

  private onDecision(d: Decision): void {
    const w = this._state.waiting;
    if (!w || (d.id && d.id !== w.requestId)) return;
    const status = d.status === 'approved' ? 'approved' : 'rejected';
    this.dispatch({ type: 'decision', status, reason: d.reason ?? null });
    if (status === 'approved') {
      this.saveConfig({ username: d.username || w.username, pendingRegistration: undefined });
      this.dispatch({ type: 'form/reset', form: 'login', server: this.session.address, username: d.username || w.username, notice: `Approved. Your password was e-mailed to ${w.email}.` });
    } else {
      this.saveConfig({ pendingRegistration: undefined });
    }
  }

  private scheduleInboxReload(): void {
    clearTimeout(this.inboxReload);
    this.inboxReload = setTimeout(() => { void this.loadList('inbox'); }, 300);
    this.inboxReload.unref();
  }

  // -------------------------------------------------------------------------------------------
  // Actions with the server

  private async submit(name: FormName): Promise<void> {
    if (name === 'register') return this.submitRegister();
    if (name === 'login') return this.submitLogin();
    return this.submitPasswd();
  }

  private async submitRegister(): Promise<void> {
    const values = formValues(this._state.register);
    let firstBad = -1;
    this._state.register.fields.forEach((f, i) => {
      const error = validateRegistrationField(f.name, f.value);
      this.dispatch({ type: 'form/fieldError', form: 'register', field: f.name, error });
      if (error && firstBad < 0) firstBad = i;
    });
    if (firstBad >= 0) {
      this.dispatch({ type: 'form/focus', form: 'register', to: firstBad });
      this.dispatch({ type: 'form/status', form: 'register', error: 'Please correct the marked field(s).' });
      return;
    }
    this.dispatch({ type: 'form/status', form: 'register', busy: true, error: null });
    try {
      await this.ensureServer(values.server!);
      const username = values.username!.trim().toLowerCase();
      const email = values.email!.trim().toLowerCase();
      const { id: requestId } = await this.session.register({
        institution: values.institution!, contact: values.contact!, email, phone: values.phone || undefined,
        address: values.address || undefined, username, wait: true,
      });
      this.saveConfig({ server: this.session.address, pendingRegistration: { id: requestId, username, email, server: this.session.address } });
      this.dispatch({ type: 'registered', requestId, username, email });
    } catch (err) {
      const fieldFor: Record<string, string> = { DUPLICATE_USERNAME: 'username', DUPLICATE_EMAIL: 'email', BAD_EMAIL: 'email' };
      const f = err instanceof RemoteError ? fieldFor[err.code] : undefined;
      if (f) {
        this.dispatch({ type: 'form/fieldError', form: 'register', field: f, error: (err as Error).message });
        const idx = this._state.register.fields.findIndex((x) => x.name === f);
        this.dispatch({ type: 'form/focus', form: 'register', to: idx });
      }
      this.dispatch({ type: 'form/status', form: 'register', busy: false, error: describe(err) });
    }
  }

  private async submitLogin(): Promise<void> {
    const values = formValues(this._state.login);
    const server = values.server ?? '';
    const username = (values.username ?? '').trim().toLowerCase();
    const password = values.password ?? '';
    const serverError = validateServer(server);
    if (serverError) return this.loginError('server', serverError);
    if (!username) return this.loginError('username', 'Type your username.');
    if (!password) return this.loginError('password', 'Type your password.');
    this.dispatch({ type: 'form/status', form: 'login', busy: true, error: null });
    try {
      await this.ensureServer(server);
      const info = await this.session.login(username, password);
      this.loginPassword = password;
      const pending = this.config?.load().pendingRegistration;
      this.saveConfig({ server: this.session.address, username, ...(pending && pending.username === username ? { pendingRegistration: undefined } : {}) });
      this.dispatch({ type: 'loggedIn', username: info.username || username, institution: info.institution, unread: info.unread, mustChangePassword: info.mustChangePassword });
      // With the mailed password the server serves nothing until it is replaced (submitPasswd loads).
      if (!info.mustChangePassword) this.loadAll();
    } catch (err) {
      this.dispatch({ type: 'form/status', form: 'login', busy: false, error: describe(err) });
      this.dispatch({ type: 'form/focus', form: 'login', to: 2 });
    }
  }

  private loginError(fieldName: string, error: string): void {
    this.dispatch({ type: 'form/fieldError', form: 'login', field: fieldName, error });
    this.dispatch({ type: 'form/focus', form: 'login', to: this._state.login.fields.findIndex((f) => f.name === fieldName) });
  }

  private async submitPasswd(): Promise<void> {
    const p = this._state.passwd;
    const v = formValues(p);
    const old = p.forced ? this.loginPassword : (v.old ?? '');
    if (!p.forced && !old) {
      this.dispatch({ type: 'form/fieldError', form: 'passwd', field: 'old', error: 'Type your current password.' });
      return this.dispatch({ type: 'form/focus', form: 'passwd', to: 0 });
    }
    const bad = validateNewPassword(v.new ?? '', v.repeat ?? '', old);
    for (const f of p.fields) this.dispatch({ type: 'form/fieldError', form: 'passwd', field: f.name, error: bad?.field === f.name ? bad.error : null });
    if (bad) return this.dispatch({ type: 'form/focus', form: 'passwd', to: p.fields.findIndex((f) => f.name === bad.field) });
    this.dispatch({ type: 'form/status', form: 'passwd', busy: true, error: null });
    try {
      await this.session.changePassword(old, v.new!);
      this.loginPassword = v.new!;
      this.dispatch({ type: 'form/reset', form: 'passwd', forced: false });
      this.dispatch({ type: 'navigate', screen: 'main' });
      this.dispatch({ type: 'toast', text: 'Password changed. Use the new one from now on.' });
      if (p.forced) this.loadAll();
    } catch (err) {
      this.dispatch({ type: 'form/status', form: 'passwd', busy: false, error: describe(err) });
      if (err instanceof RemoteError && err.code === 'BAD_CREDENTIALS' && !p.forced) {
        this.dispatch({ type: 'form/fieldError', form: 'passwd', field: 'old', error: 'This is not your current password.' });
        this.dispatch({ type: 'form/focus', form: 'passwd', to: 0 });
      }
    }
  }

  /** Points the session at `address` and waits until it is connected there (or says why not). */
  private async ensureServer(address: string): Promise<void> {
    this.session.setAddress(address.trim());
    const ok = (s: SessionState) => s.status === 'connected' || s.status === 'online';
    if (ok(this.session.state)) return;
    if (this.session.state.status === 'offline') this.session.retryNow();
    const s = await this.session.waitFor((st) => ok(st) || st.status === 'offline', 20_000);
    if (!ok(s)) throw new OfflineError(`Cannot reach the siar server at ${s.address}: ${s.error ?? 'no answer'}. Check the address; retrying in the background.`);
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

  private async deleteMessage(id: number): Promise<void> {
    try {
      await this.session.deleteMessage(id);
      this.dispatch({ type: 'inbox/deleted', id });
      if (this._state.screen === 'message' && this._state.message?.id === id) {
        if (this._state.history.length) this.dispatch({ type: 'back' });
        else this.dispatch({ type: 'navigate', screen: 'main' });
      }
      this.dispatch({ type: 'toast', text: `Message #${id} deleted from your inbox.` });
    } catch (err) {
      this.dispatch({ type: 'toast', text: `Could not delete: ${describe(err)}`, kind: 'error' });
    }
  }

  private async resumeMessage(m: MessageRecord): Promise<void> {
    if (!this.transfers) return this.dispatch({ type: 'toast', text: 'Attachments are not available in this build.', kind: 'error' });
    if (this.resuming.has(m.id)) return this.dispatch({ type: 'toast', text: `Message #${m.id} is being resumed already.` });
    this.resuming.add(m.id);
    this.dispatch({ type: 'toast', text: `Resuming #${m.id}: each upload goes on from where the server's copy stopped…` });
    try {
      const r = await this.transfers.resume(m.id, (attachmentId, done) => {
        this.dispatch({ type: 'outbox/uploaded', id: m.id, attachmentId, uploaded: done });
      });
      this.dispatch({ type: 'toast', text: r.state === 'sent' ? `Message #${m.id} is sent: its attachments are all in.` : `Message #${m.id} is still waiting for attachments.` });
    } catch (err) {
      this.dispatch({ type: 'toast', text: `Could not resume #${m.id}: ${describe(err)}`, kind: 'error' });
    } finally {
      this.resuming.delete(m.id);
      void this.loadList('outbox');
    }
  }

  private async cancelMessage(id: number): Promise<void> {
    try {
      if (this.transfers) await this.transfers.cancel(id);
      else await this.session.cancel(id);
      this.dispatch({ type: 'toast', text: `Message #${id} withdrawn: nobody will receive it.` });
    } catch (err) {
      this.dispatch({ type: 'toast', text: `Could not withdraw #${id}: ${describe(err)}`, kind: 'error' });
    }
    void this.loadList('outbox');
  }

  private openCompose(opts: { to?: string[]; all?: boolean; channel?: string; subject?: string }): void {
    this.dispatch({ type: 'compose/open', ...opts });
    void this.loadList('directory');
    if (this._state.channelsSupported) void this.loadList('channels');
  }

  private composeTo(a: Audience): void {
    if (a.kind === 'group') return this.openCompose({ to: [`@${a.name}`] });
    if (a.archived) return this.dispatch({ type: 'toast', text: `#${a.name} is archived: it keeps its history but takes no new messages.`, kind: 'error' });
    if (!a.canPublish) {
      return this.dispatch({ type: 'toast', text: a.publish === 'named' ? `Only the publishers the administrator named may publish to #${a.name}.` : `Subscribe to #${a.name} first (Space) to publish to it.`, kind: 'error' });
    }
    this.openCompose({ channel: a.name });
  }

  private async toggleSubscription(a: Audience): Promise<void> {
    if (a.kind !== 'channel') return this.dispatch({ type: 'toast', text: `Groups are kept by the administrator; Enter writes to @${a.name}.` });
    if (!a.subscribed && !a.canSubscribe) {
      return this.dispatch({ type: 'toast', text: a.archived ? `#${a.name} is archived.` : `#${a.name} is restricted to members the administrator chose.`, kind: 'error' });
    }
    try {
      await (a.subscribed ? this.session.unsubscribe(a.name) : this.session.subscribe(a.name));
      this.dispatch({ type: 'channels/subscribed', name: a.name, subscribed: !a.subscribed });
      this.dispatch({ type: 'toast', text: a.subscribed ? `Unsubscribed from #${a.name}.` : `Subscribed to #${a.name}: its messages now pop up here.` });
      void this.loadList('channels');
    } catch (err) {
      this.dispatch({ type: 'toast', text: `Could not ${a.subscribed ? 'unsubscribe' : 'subscribe'}: ${describe(err)}`, kind: 'error' });
    }
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

  private addAttachment(input: string): void {
    const raw = input.trim();
    if (!raw) return this.dispatch({ type: 'compose/pathPrompt', open: false });
    const file = path.resolve(raw.startsWith('~/') ? path.join(os.homedir(), raw.slice(2)) : raw);
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new Error(`${raw} is not a file.`);
      size = st.size;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      this.dispatch({ type: 'compose/status', error: code === 'ENOENT' ? `No such file: ${raw}` : (err as Error).message });
      return;
    }
    this.dispatch({ type: 'compose/addAttachment', attachment: { path: file, name: path.basename(file), size, done: 0, status: 'queued' } });
  }

  private async send(): Promise<void> {
    const c = this._state.compose;
    if (!c || c.sending) return;
    if (!c.all && !c.channel && c.to.length === 0) {
      this.dispatch({ type: 'compose/focus', focus: 'to' });
      return this.dispatch({ type: 'compose/status', error: 'Choose at least one recipient: Enter on "To:" opens the directory.' });
    }
    if (!c.subject.value.trim()) {
      this.dispatch({ type: 'compose/focus', focus: 'subject' });
      return this.dispatch({ type: 'compose/status', error: 'Write a subject: it is what the popup shows first.' });
    }
    if (c.attachments.length && !this.transfers) {
      return this.dispatch({ type: 'compose/status', error: 'Attachments are not available in this build; remove them to send.' });
    }
    this.dispatch({ type: 'compose/status', sending: true, error: null });
    const body = c.body.lines.join('\n');
    const subject = c.subject.value.trim();
    try {
      let result: { id: number; recipients: number };
      if (c.attachments.length && this.transfers) {
        c.attachments.forEach((_, index) => this.dispatch({ type: 'compose/attachment', index, patch: { status: 'queued', done: 0, error: undefined } }));
        result = await this.transfers.send(
          { ...(c.all ? { all: true } : c.channel ? { channel: c.channel } : { to: c.to }), subject, body, files: c.attachments.map((a) => a.path) },
          (index, done, total) => {
            this.dispatch({ type: 'compose/attachment', index, patch: { done, size: total, status: done >= total ? 'done' : 'running' } });
          },
        );
        c.attachments.forEach((a, index) => this.dispatch({ type: 'compose/attachment', index, patch: { status: 'done', done: a.size ?? 0 } }));
      } else {
        result = await this.session.send({ to: c.all || c.channel ? undefined : c.to, all: c.all, channel: c.channel ?? undefined, subject, body });
      }
      this.dispatch({ type: 'compose/close' });
      const n = result.recipients;
      if (n === 0) {
        // Stored, but no popup went anywhere: say so rather than "sent".
        const why = c.channel ? `#${c.channel} has no subscribers besides you` : 'it had no recipients';
        this.dispatch({ type: 'toast', text: `Message #${result.id} reached nobody: ${why}.`, kind: 'warning' });
      } else {
        this.dispatch({ type: 'toast', text: `Sent message #${result.id} to ${n} recipient${n === 1 ? '' : 's'}${c.attachments.length ? ` with ${c.attachments.length} attachment(s)` : ''}.` });
      }
      void this.loadList('outbox');
    } catch (err) {
      const error = describe(err);
      this._state.compose?.attachments.forEach((a, index) => {
        if (a.status !== 'done') this.dispatch({ type: 'compose/attachment', index, patch: { status: 'failed', error: undefined } });
      });
      // Stored but not all uploaded, and the server could not be told to drop it: it waits in the outbox.
      const waiting = err instanceof TransferError && err.cancelled === false ? ` Message #${err.messageId} waits in the outbox: U there resumes it, X withdraws it.` : '';
      this.dispatch({ type: 'compose/status', sending: false, error: `Not sent: ${error}${waiting}` });
    }
  }

  private async downloadAll(dirInput: string): Promise<void> {
    const v = this._state.message;
    const m = v?.record;
    if (!v || !m || !this.transfers) return;
    const dir = path.resolve(dirInput.trim().startsWith('~/') ? path.join(os.homedir(), dirInput.trim().slice(2)) : dirInput.trim() || '.');
    this.dispatch({ type: 'message/savePrompt', prompt: null });
    this.dispatch({
      type: 'message/downloads',
      downloads: m.attachments.map((a) => ({ attachmentId: a.id, name: a.name, size: a.size, done: 0, status: 'queued' as const })),
    });
    let ok = 0;
    for (const a of m.attachments) {
      this.dispatch({ type: 'message/download', attachmentId: a.id, patch: { status: 'running' } });
      try {
        const r = await this.transfers.download(m, a, dir, (done, total) => {
          this.dispatch({ type: 'message/download', attachmentId: a.id, patch: { done, size: total } });
        });
        this.dispatch({ type: 'message/download', attachmentId: a.id, patch: { status: 'done', done: a.size, path: r.path } });
        ok++;
      } catch (err) {
        this.dispatch({ type: 'message/download', attachmentId: a.id, patch: { status: 'failed', error: describe(err) } });
      }
    }
    this.dispatch({
      type: 'toast',
      text: ok === m.attachments.length ? `Saved ${ok} attachment(s) to ${dir}; checksums verified.` : `Saved ${ok} of ${m.attachments.length} attachment(s) to ${dir}.`,
      kind: ok === m.attachments.length ? 'info' : 'error',
    });
  }

  /** Opens the chosen attachment, once saved, with the system's default application. */
  private async openAttachment(): Promise<void> {
    const v = this._state.message;
    const a = v?.record?.attachments[v.attachmentCursor];
    if (!v || !a) return;
    const saved = v.downloads.find((d) => d.attachmentId === a.id && d.status === 'done' && d.path);
    if (!saved?.path) {
      return this.dispatch({ type: 'toast', text: `Save ${a.name} first (S); O then opens it.`, kind: 'error' });
    }
    try {
      const r = await openWithDefaultApp(saved.path);
      this.dispatch(r.opened
        ? { type: 'toast', text: `Opened ${saved.path} with ${r.opener}.` }
        : { type: 'toast', text: `No ${r.opener} here to open files with; the file is at ${saved.path}.`, kind: 'warning' });
    } catch (err) {
      this.dispatch({ type: 'toast', text: `Could not open ${saved.path}: ${describe(err)}`, kind: 'error' });
    }
  }

  private saveConfig(patch: Parameters<ConfigStore['save']>[0]): void {
    try {
      this.config?.save(patch);
    } catch (err) {
      this.dispatch({ type: 'toast', text: `Could not save settings: ${(err as Error).message}`, kind: 'error' });
    }
  }
}

/** Maps a terminal key to a text edit, or null. */
export function editKeyOf(k: Key, multiline: boolean): EditKey | null {
  if (k.ctrl) {
    switch (k.name) {
      case 'a': return { kind: 'home' };
      case 'e': return { kind: 'end' };
      case 'u': return { kind: 'killStart' };
      case 'k': return { kind: 'killEnd' };
      case 'left': return { kind: 'wordLeft' };
      case 'right': return { kind: 'wordRight' };
      default: return null;
    }
  }
  if (k.meta) return null;
  switch (k.name) {
    case 'backspace': return { kind: 'backspace' };
    case 'delete': return { kind: 'delete' };
    case 'left': return { kind: 'left' };
    case 'right': return { kind: 'right' };
    case 'home': return { kind: 'home' };
    case 'end': return { kind: 'end' };
    case 'up': return multiline ? { kind: 'up' } : null;
    case 'down': return multiline ? { kind: 'down' } : null;
    case 'enter': return multiline ? { kind: 'newline' } : null;
    default:
  }
  if (k.ch && k.ch.length > 0 && !/^[\u0000-\u001f\u007f]$/.test(k.ch)) return { kind: 'insert', text: k.ch };
  return null;
}

function connView(s: SessionState) {
  return { status: s.status, address: s.address, attempt: s.attempt, retryAt: s.retryAt, error: s.error, reconnects: s.reconnects };
}

export function describe(err: unknown): string {
  if (err instanceof RemoteError) {
    switch (err.code) {
      case 'BAD_CREDENTIALS': return err.message === 'Wrong username or password.' ? 'Wrong username or password.' : err.message;
      case 'ACCOUNT_SUSPENDED': return 'This account is suspended; contact the administrator.';
      default: return `${err.message} (${err.code})`;
    }
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

function defaultDownloadDir(): string {
  const d = path.join(os.homedir(), 'Downloads');
  return existsSync(d) ? d : process.cwd();
}
