import type { ChannelRecord, GroupRecord, MessageRecord, PopupRecord } from '../../protocol/index.js';
import type { SessionState } from '../session.js';
import { editArea, editLine, field, setValue, textArea, type EditKey, type LineField, type TextArea } from './editor.js';

/**
 * The terminal client's whole state, and the pure reducer that changes it. Screens render from
 * this state (view.ts); the controller turns keys and server events into actions (controller.ts).
 * Nothing here does I/O, so every transition is testable without a terminal or a server.
 */

export type Screen = 'welcome' | 'register' | 'waiting' | 'login' | 'passwd' | 'main' | 'compose' | 'message';
export type Tab = 'inbox' | 'outbox' | 'directory' | 'channels';
export type FormName = 'register' | 'login' | 'passwd';

export interface Form {
  fields: LineField[];
  /** Index of the focused field; fields.length is the submit button. */
  focus: number;
  busy: boolean;
  error: string | null;
  notice: string | null;
}

export interface Member {
  username: string;
  institution: string;
  online: boolean;
}

/** A row of the channels tab: a channel (subscribe, publish) or a group (address it as @name). */
export type Audience = ({ kind: 'channel' } & ChannelRecord) | ({ kind: 'group' } & GroupRecord);

export interface ListState<T> {
  items: T[];
  cursor: number;
  loading: boolean;
  loaded: boolean;
  error: string | null;
}

export type TransferStatus = 'queued' | 'running' | 'done' | 'failed';

export interface AttachmentDraft {
  path: string;
  name: string;
  size: number | null;
  done: number;
  status: TransferStatus;
  error?: string;
}

export type ComposeFocus = 'to' | 'subject' | 'body' | 'attachments' | 'send';
export const COMPOSE_FOCUS: readonly ComposeFocus[] = ['to', 'subject', 'body', 'attachments', 'send'];

export interface ComposeState {
  /** Usernames and `@group` names. */
  to: string[];
  all: boolean;
  /** Publishing to a channel excludes other addressing. */
  channel: string | null;
  subject: LineField;
  body: TextArea;
  attachments: AttachmentDraft[];
  attachmentCursor: number;
  focus: ComposeFocus;
  /** The recipient picker over the compose screen. */
  picker: { open: boolean; cursor: number; filter: LineField };
  /** The "add a file by path" prompt. */
  pathPrompt: LineField | null;
  sending: boolean;
  error: string | null;
  confirmDiscard: boolean;
}

export interface DownloadState {
  attachmentId: number;
  name: string;
  size: number;
  done: number;
  status: TransferStatus;
  path?: string;
  error?: string;
}

export interface MessageView {
  id: number;
  box: 'inbox' | 'outbox';
  record: MessageRecord | null;
  loading: boolean;
  error: string | null;
  scroll: number;
  downloads: DownloadState[];
  savePrompt: LineField | null;
  /** The attachment O opens (Tab moves it). */
  attachmentCursor: number;
}

export interface WaitingState {
  requestId: number;
  username: string;
  email: string;
  status: 'waiting' | 'approved' | 'rejected' | 'lost';
  reason: string | null;
}

export interface Toast {
  text: string;
  kind: 'info' | 'warning' | 'error';
  at: number;
}

export type Confirm = { kind: 'quit' } | { kind: 'delete'; id: number; subject: string }
  /** Withdraw (CANCEL) a message of the outbox still being sent. */
  | { kind: 'cancel'; id: number; subject: string };

/** A popup as shown: withdrawn (RECALLED) while waiting or on screen, it says so instead. */
export type ShownPopup = PopupRecord & { withdrawn?: { reason: string; replacedBy?: number } };

/** An urgent popup still to be dealt with: it covers the whole screen. */
export function isUrgentAlert(p: ShownPopup | undefined): boolean {
  return !!p && p.priority === 'urgent' && !p.withdrawn;
}

export type ConnView = Pick<SessionState, 'status' | 'address' | 'attempt' | 'retryAt' | 'error' | 'reconnects'>;

export interface State {
  screen: Screen;
  /** Screens to return to with Esc. */
  history: Screen[];
  cols: number;
  rows: number;
  now: number;
  conn: ConnView;
  me: { username: string; institution: string } | null;
  welcomeCursor: number;
  register: Form;
  waiting: WaitingState | null;
  login: Form;
  passwd: Form & { forced: boolean };
  tab: Tab;
  inbox: ListState<MessageRecord>;
  unread: number;
  outbox: ListState<MessageRecord>;
  directory: ListState<Member>;
  /** Channels and groups (issue #4); `channelsSupported` false when the server has none of it. */
  channels: ListState<Audience>;
  channelsSupported: boolean;
  message: MessageView | null;
  compose: ComposeState | null;
  /** Popups waiting to be seen, urgent ones first, else oldest first; the first is on screen. */
  popups: ShownPopup[];
  /** Ids of popups already shown (a replay after a reconnection must not pop twice). */
  seenPopups: number[];
  /** Reminders already shown, as `id:N` (a reminder pops again; its replay does not). */
  seenReminders: string[];
  /** Rings of the terminal bell asked for beyond one per new popup (an urgent alert's repeats). */
  bells: number;
  /** When the bell last rang for the urgent alert on screen (ms). */
  alertBellAt: number;
  /** When the urgent alert on screen appeared (ms): keys typed a moment before it do not act on it. */
  alertSince: number;
  toast: Toast | null;
  help: boolean;
  /** A yes/no question over the screen. */
  confirm: Confirm | null;
  /** Whether attachments can be sent and fetched (the transfer client is available). */
  transfers: boolean;
}

export function registerForm(server: string, values: Partial<Record<string, string>> = {}): Form {
  return {
    fields: [
      field('server', 'Server', { value: values.server ?? server, hint: 'host:port of your siar server' }),
      field('institution', 'Institution', { value: values.institution ?? '', maxChars: 200 }),
      field('contact', 'Contact person', { value: values.contact ?? '', maxChars: 200 }),
      field('email', 'E-mail', { value: values.email ?? '', maxChars: 254, hint: 'your password is sent here' }),
      field('phone', 'Phone', { value: values.phone ?? '', optional: true, maxChars: 50 }),
      field('address', 'Address', { value: values.address ?? '', optional: true, maxChars: 500 }),
      field('username', 'Username', { value: values.username ?? '', maxChars: 32, hint: 'a-z first, then a-z 0-9 . _ -' }),
    ],
    focus: values.server || !server ? 0 : 1,
    busy: false,
    error: null,
    notice: null,
  };
}

export function loginForm(server: string, username = '', notice: string | null = null): Form {
  return {
    fields: [
      field('server', 'Server', { value: server }),
      field('username', 'Username', { value: username, maxChars: 64 }),
      field('password', 'Password', { secret: true, maxChars: 1024 }),
    ],
    focus: username ? 2 : server ? 1 : 0,
    busy: false,
    error: null,
    notice,
  };
}

export function passwdForm(forced: boolean): Form & { forced: boolean } {
  const fields = [
    field('new', 'New password', { secret: true, maxChars: 1024, hint: 'at least 10 characters' }),
    field('repeat', 'Repeat it', { secret: true, maxChars: 1024 }),
  ];
  if (!forced) fields.unshift(field('old', 'Current password', { secret: true, maxChars: 1024 }));
  return { fields, focus: 0, busy: false, error: null, notice: null, forced };
}

function emptyList<T>(): ListState<T> {
  return { items: [], cursor: 0, loading: false, loaded: false, error: null };
}

export function newCompose(opts: { to?: string[]; all?: boolean; channel?: string; subject?: string; body?: string } = {}): ComposeState {
  return {
    to: opts.to ?? [],
    all: opts.all ?? false,
    channel: opts.channel ?? null,
    subject: field('subject', 'Subject', { value: opts.subject ?? '', maxChars: 200 }),
    body: textArea(opts.body ?? ''),
    attachments: [],
    attachmentCursor: 0,
    focus: (opts.to?.length || opts.all || opts.channel) ? (opts.subject ? 'body' : 'subject') : 'to',
    picker: { open: false, cursor: 0, filter: field('filter', 'Filter') },
    pathPrompt: null,
    sending: false,
    error: null,
    confirmDiscard: false,
  };
}

export function initialState(opts: { server: string; username?: string; firstRun: boolean; cols?: number; rows?: number; now?: number; transfers?: boolean; notice?: string | null }): State {
  return {
    screen: opts.firstRun ? 'welcome' : 'login',
    history: [],
    cols: opts.cols ?? 80,
    rows: opts.rows ?? 24,
    now: opts.now ?? Date.now(),
    conn: { status: 'connecting', address: opts.server, attempt: 0, retryAt: null, error: null, reconnects: 0 },
    me: null,
    welcomeCursor: 0,
    register: registerForm(opts.server),
    waiting: null,
    login: loginForm(opts.server, opts.username ?? '', opts.notice ?? null),
    passwd: passwdForm(true),
    tab: 'inbox',
    inbox: emptyList(),
    unread: 0,
    outbox: emptyList(),
    directory: emptyList(),
    channels: emptyList(),
    channelsSupported: true,
    message: null,
    compose: null,
    popups: [],
    seenPopups: [],
    seenReminders: [],
    bells: 0,
    alertBellAt: 0,
    alertSince: 0,
    toast: null,
    help: false,
    confirm: null,
    transfers: opts.transfers ?? false,
  };
}

export type ListName = 'inbox' | 'outbox' | 'directory' | 'channels';

export type Action =
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'tick'; now: number }
  | { type: 'conn'; conn: ConnView }
  | { type: 'navigate'; screen: Screen; push?: boolean }
  | { type: 'back' }
  | { type: 'welcome/move'; delta: number }
  | { type: 'form/edit'; form: FormName; key: EditKey }
  | { type: 'form/focus'; form: FormName; to: number }
  | { type: 'form/fieldError'; form: FormName; field: string; error: string | null }
  | { type: 'form/status'; form: FormName; busy?: boolean; error?: string | null; notice?: string | null }
  | { type: 'form/reset'; form: 'register'; values: Partial<Record<string, string>>; server: string }
  | { type: 'form/reset'; form: 'login'; server: string; username: string; notice: string | null; error?: string | null }
  | { type: 'form/reset'; form: 'passwd'; forced: boolean }
  | { type: 'registered'; requestId: number; username: string; email: string }
  | { type: 'decision'; status: 'approved' | 'rejected'; reason: string | null }
  | { type: 'waiting/lost' }
  | { type: 'loggedIn'; username: string; institution: string; unread: number; mustChangePassword: boolean }
  | { type: 'loggedOut'; error: string | null }
  | { type: 'tab'; tab: Tab }
  | { type: 'list/loading'; list: ListName }
  | { type: 'list/loaded'; list: 'inbox'; items: MessageRecord[]; unread: number }
  | { type: 'list/loaded'; list: 'outbox'; items: MessageRecord[] }
  | { type: 'list/loaded'; list: 'directory'; items: Member[] }
  | { type: 'list/loaded'; list: 'channels'; items: Audience[] }
  | { type: 'channels/unsupported' }
  | { type: 'channels/subscribed'; name: string; subscribed: boolean }
  | { type: 'list/error'; list: ListName; error: string }
  | { type: 'list/move'; delta: number }
  | { type: 'list/moveTo'; index: number }
  | { type: 'popup'; popup: PopupRecord }
  | { type: 'popup/dismiss' }
  | { type: 'popup/dismissAll' }
  /** The member acknowledged message `id` (ACK answered): its popups go, the records say when. */
  | { type: 'acked'; id: number; at: string }
  /** `*|ACK`: a recipient acknowledged a message this member sent. */
  | { type: 'ackReceipt'; id: number; by: string; at: string }
  /** `*|RECALLED`: a message received was withdrawn. */
  | { type: 'recalled'; id: number; reason: string; at: string; replacedBy?: number }
  /** Ring the bell again for the urgent alert on screen. */
  | { type: 'alert/bell'; now: number }
  | { type: 'readReceipt'; id: number; by: string; at: string }
  | { type: 'message/open'; id: number; box: 'inbox' | 'outbox' }
  | { type: 'message/loaded'; record: MessageRecord }
  | { type: 'message/error'; error: string }
  | { type: 'message/scroll'; delta: number }
  | { type: 'message/savePrompt'; prompt: LineField | null }
  | { type: 'message/savePromptEdit'; key: EditKey }
  | { type: 'message/downloads'; downloads: DownloadState[] }
  | { type: 'message/attachmentMove'; delta: number }
  | { type: 'message/download'; attachmentId: number; patch: Partial<DownloadState> }
  | { type: 'inbox/deleted'; id: number }
  /** A resumed upload moved: the outbox row shows how much of the attachment the server holds. */
  | { type: 'outbox/uploaded'; id: number; attachmentId: number; uploaded: number }
  | { type: 'compose/open'; to?: string[]; all?: boolean; channel?: string; subject?: string; body?: string }
  | { type: 'compose/focus'; focus: ComposeFocus }
  | { type: 'compose/edit'; key: EditKey }
  | { type: 'compose/picker'; open: boolean }
  | { type: 'compose/pickerMove'; delta: number }
  | { type: 'compose/pickerFilter'; key: EditKey }
  | { type: 'compose/toggle'; username: string }
  | { type: 'compose/toggleAll' }
  | { type: 'compose/toggleChannel'; name: string }
  | { type: 'compose/removeRecipient'; username?: string }
  | { type: 'compose/pathPrompt'; open: boolean }
  | { type: 'compose/pathEdit'; key: EditKey }
  | { type: 'compose/addAttachment'; attachment: AttachmentDraft }
  | { type: 'compose/removeAttachment' }
  | { type: 'compose/attachmentMove'; delta: number }
  | { type: 'compose/attachment'; index: number; patch: Partial<AttachmentDraft> }
  | { type: 'compose/status'; sending?: boolean; error?: string | null }
  | { type: 'compose/confirmDiscard'; on: boolean }
  | { type: 'compose/close' }
  | { type: 'toast'; text: string; kind?: Toast['kind'] }
  | { type: 'toast/clear' }
  | { type: 'help'; open: boolean }
  | { type: 'confirm'; confirm: Confirm | null };

const MAX_SEEN = 2000;

export function reduce(state: State, action: Action): State {
  switch (action.type) {
    case 'resize':
      return { ...state, cols: Math.max(1, action.cols | 0), rows: Math.max(1, action.rows | 0) };
    case 'tick':
      return { ...state, now: action.now, toast: state.toast && action.now - state.toast.at > 8000 ? null : state.toast };
    case 'conn':
      return { ...state, conn: action.conn };
    case 'navigate': {
      if (action.screen === state.screen) return state;
      const history = action.push ? [...state.history, state.screen].slice(-10) : [];
      return { ...state, screen: action.screen, history, help: false };
    }
    case 'back': {
      const history = state.history.slice();
      const prev = history.pop();
      if (!prev) return state;
      return { ...state, screen: prev, history, message: prev === 'message' ? state.message : state.screen === 'message' ? null : state.message };
    }
    case 'welcome/move':
      return { ...state, welcomeCursor: clamp(state.welcomeCursor + action.delta, 0, 1) };
    case 'form/edit':
      return withForm(state, action.form, (f) => {
        const i = f.focus;
        const fld = f.fields[i];
        if (!fld) return f;
        const fields = f.fields.slice();
        fields[i] = { ...editLine(fld, action.key), error: fld.error && action.key.kind === 'insert' ? null : fld.error };
        return { ...f, fields, error: null };
      });
    case 'form/focus':
      return withForm(state, action.form, (f) => ({ ...f, focus: clamp(action.to, 0, f.fields.length) }));
    case 'form/fieldError':
      return withForm(state, action.form, (f) => ({
        ...f, fields: f.fields.map((x) => (x.name === action.field ? { ...x, error: action.error } : x)),
      }));
    case 'form/status':
      return withForm(state, action.form, (f) => ({
        ...f,
        busy: action.busy ?? f.busy,
        error: action.error !== undefined ? action.error : f.error,
        // An error replaces the notice: "Approved…" beside "Wrong password" would contradict it.
        notice: action.notice !== undefined ? action.notice : action.error ? null : f.notice,
      }));
    case 'form/reset':
      if (action.form === 'register') return { ...state, register: registerForm(action.server, action.values) };
      if (action.form === 'login') {
        return { ...state, login: { ...loginForm(action.server, action.username, action.notice), error: action.error ?? null } };
      }
      return { ...state, passwd: passwdForm(action.forced) };
    case 'registered':
      return {
        ...state,
        screen: 'waiting',
        history: [],
        waiting: { requestId: action.requestId, username: action.username, email: action.email, status: 'waiting', reason: null },
        register: { ...state.register, busy: false, error: null },
      };
    case 'decision':
      if (!state.waiting) return state;
      return { ...state, waiting: { ...state.waiting, status: action.status, reason: action.reason } };
    case 'waiting/lost':
      if (!state.waiting || state.waiting.status !== 'waiting') return state;
      return { ...state, waiting: { ...state.waiting, status: 'lost' } };
    case 'loggedIn': {
      const next: State = {
        ...state,
        me: { username: action.username, institution: action.institution },
        unread: action.unread,
        login: { ...state.login, busy: false, error: null, notice: null, fields: state.login.fields.map((f) => (f.secret ? setValue(f, '') : f)) },
        waiting: null,
      };
      if (action.mustChangePassword) return { ...next, screen: 'passwd', history: [], passwd: passwdForm(true) };
      return { ...next, screen: 'main', history: [] };
    }
    case 'loggedOut':
      return {
        ...state,
        me: null,
        screen: 'login',
        history: [],
        login: { ...state.login, busy: false, error: action.error, focus: 2, fields: state.login.fields.map((f) => (f.secret ? setValue(f, '') : f)) },
        inbox: emptyList(), outbox: emptyList(), directory: emptyList(), channels: emptyList(), unread: 0, message: null,
        // A draft survives a forced re-login.
        help: false, confirm: null,
      };
    case 'tab':
      return { ...state, tab: action.tab, screen: state.screen === 'main' ? 'main' : state.screen };
    case 'list/loading':
      return setList(state, action.list, (l) => ({ ...l, loading: true }));
    case 'list/loaded': {
      if (action.list === 'inbox') {
        const next = setList(state, 'inbox', (l) => keepCursor(l, action.items, (m) => m.id));
        return { ...next, unread: action.unread };
      }
      if (action.list === 'outbox') {
        const outbox = keepCursor(state.outbox, action.items, (m) => m.id);
        let message = state.message;
        if (message?.record && message.box === 'outbox') {
          const fresh = action.items.find((m) => m.id === message!.id);
          if (fresh) message = { ...message, record: { ...message.record, recipients: fresh.recipients } };
        }
        return { ...state, outbox, message };
      }
      if (action.list === 'channels') return { ...state, channels: keepCursor(state.channels, action.items, (a) => `${a.kind}:${a.name}`) };
      return { ...state, directory: keepCursor(state.directory, action.items, (m) => m.username) };
    }
    case 'channels/unsupported':
      return { ...state, channelsSupported: false, channels: emptyList(), tab: state.tab === 'channels' ? 'inbox' : state.tab };
    case 'channels/subscribed':
      return {
        ...state,
        channels: {
          ...state.channels,
          items: state.channels.items.map((a) => (a.kind === 'channel' && a.name === action.name && a.subscribed !== action.subscribed
            ? { ...a, subscribed: action.subscribed, subscribers: Math.max(0, a.subscribers + (action.subscribed ? 1 : -1)) }
            : a)),
        },
      };
    case 'list/error':
      return setList(state, action.list, (l) => ({ ...l, loading: false, error: action.error }));
    case 'list/move':
      return setList(state, state.tab, (l) => ({ ...l, cursor: clamp(l.cursor + action.delta, 0, Math.max(0, l.items.length - 1)) }));
    case 'list/moveTo':
      return setList(state, state.tab, (l) => ({ ...l, cursor: clamp(action.index, 0, Math.max(0, l.items.length - 1)) }));
    case 'popup': {
      const p = action.popup;
      if (p.reminder) return reminderArrived(state, p);
      if (state.seenPopups.includes(p.id)) return state;
      const seenPopups = [...state.seenPopups, p.id].slice(-MAX_SEEN);
      // The inbox shows it at once, before the next INBOX reload fills in the details.
      const known = state.inbox.items.some((m) => m.id === p.id);
      const inbox = known ? state.inbox : {
        ...state.inbox,
        items: [popupAsMessage(p, state.me?.username ?? ''), ...state.inbox.items],
        cursor: state.inbox.items.length ? state.inbox.cursor + 1 : 0,
      };
      return { ...queuePopup(state, p), seenPopups, inbox, unread: known ? state.unread : state.unread + 1 };
    }
    case 'popup/dismiss':
      return { ...state, popups: state.popups.slice(1) };
    case 'popup/dismissAll':
      // An urgent alert is never dismissed with the rest: it waits for Enter or A.
      return { ...state, popups: state.popups.filter(isUrgentAlert) };
    case 'acked': {
      const mark = (m: MessageRecord): MessageRecord => (m.id === action.id ? { ...m, ackedAt: m.ackedAt || action.at } : m);
      const message = state.message?.record ? { ...state.message, record: mark(state.message.record) } : state.message;
      return { ...state, popups: state.popups.filter((p) => p.id !== action.id), inbox: { ...state.inbox, items: state.inbox.items.map(mark) }, message };
    }
    case 'ackReceipt': {
      const mark = (m: MessageRecord): MessageRecord => {
        if (m.id !== action.id || m.acked?.some((a) => a.username === action.by)) return m;
        return { ...m, acked: [...(m.acked ?? []), { username: action.by, at: action.at }] };
      };
      const outbox = { ...state.outbox, items: state.outbox.items.map(mark) };
      const message = state.message?.record ? { ...state.message, record: mark(state.message.record) } : state.message;
      return { ...state, outbox, message };
    }
    case 'recalled': {
      const { id, reason, at, replacedBy } = action;
      const mark = (m: MessageRecord): MessageRecord => (m.id === id ? { ...m, recalledAt: m.recalledAt || at, recallReason: reason, ...(replacedBy ? { replacedBy } : {}) } : m);
      const popups = state.popups.map((p) => (p.id === id ? { ...p, withdrawn: { reason, ...(replacedBy ? { replacedBy } : {}) } } : p));
      const message = state.message?.record && state.message.box === 'inbox' ? { ...state.message, record: mark(state.message.record) } : state.message;
      return { ...state, popups, inbox: { ...state.inbox, items: state.inbox.items.map(mark) }, message };
    }
    case 'alert/bell':
      return { ...state, bells: state.bells + 1, alertBellAt: action.now };
    case 'readReceipt': {
      const mark = (m: MessageRecord): MessageRecord => {
        if (m.id !== action.id || !m.recipients) return m;
        return {
          ...m,
          recipients: m.recipients.map((r) => (r.username === action.by
            ? { ...r, readAt: r.readAt ?? action.at, deliveredAt: r.deliveredAt ?? action.at }
            : r)),
        };
      };
      const outbox = { ...state.outbox, items: state.outbox.items.map(mark) };
      const message = state.message?.record ? { ...state.message, record: mark(state.message.record) } : state.message;
      return { ...state, outbox, message };
    }
    case 'message/open': {
      const fromList = (action.box === 'inbox' ? state.inbox : state.outbox).items.find((m) => m.id === action.id) ?? null;
      const message: MessageView = {
        id: action.id, box: action.box, record: fromList, loading: true, error: null, scroll: 0, downloads: [],
        savePrompt: null, attachmentCursor: 0,
      };
      const history = state.screen === 'message' ? state.history : [...state.history, state.screen].slice(-10);
      return { ...state, message, screen: 'message', history, help: false };
    }
    case 'message/loaded': {
      if (!state.message || state.message.id !== action.record.id) return state;
      const wasUnread = state.inbox.items.some((m) => m.id === action.record.id && !m.readAt);
      const inbox = {
        ...state.inbox,
        items: state.inbox.items.map((m) => (m.id === action.record.id ? { ...m, ...pickReaderState(action.record), body: action.record.body, attachments: action.record.attachments } : m)),
      };
      const unread = wasUnread && action.record.readAt ? Math.max(0, state.unread - 1) : state.unread;
      return { ...state, inbox, unread, message: { ...state.message, record: action.record, loading: false, error: null } };
    }
    case 'message/error':
      return state.message ? { ...state, message: { ...state.message, loading: false, error: action.error } } : state;
    case 'message/scroll':
      return state.message ? { ...state, message: { ...state.message, scroll: Math.max(0, state.message.scroll + action.delta) } } : state;
    case 'message/savePrompt':
      return state.message ? { ...state, message: { ...state.message, savePrompt: action.prompt } } : state;
    case 'message/savePromptEdit':
      return state.message?.savePrompt ? { ...state, message: { ...state.message, savePrompt: editLine(state.message.savePrompt, action.key) } } : state;
    case 'message/downloads':
      return state.message ? { ...state, message: { ...state.message, downloads: action.downloads } } : state;
    case 'message/attachmentMove': {
      const n = state.message?.record?.attachments.length ?? 0;
      if (!state.message || n === 0) return state;
      return { ...state, message: { ...state.message, attachmentCursor: (state.message.attachmentCursor + action.delta + n) % n } };
    }
    case 'message/download':
      return state.message ? {
        ...state,
        message: {
          ...state.message,
          downloads: state.message.downloads.map((d) => (d.attachmentId === action.attachmentId ? { ...d, ...action.patch } : d)),
        },
      } : state;
    case 'outbox/uploaded': {
      const items = state.outbox.items.map((m) => (m.id !== action.id ? m : {
        ...m, attachments: m.attachments.map((a) => (a.id === action.attachmentId ? { ...a, uploaded: action.uploaded } : a)),
      }));
      return { ...state, outbox: { ...state.outbox, items } };
    }
    case 'inbox/deleted': {
      const wasUnread = state.inbox.items.some((m) => m.id === action.id && !m.readAt);
      const items = state.inbox.items.filter((m) => m.id !== action.id);
      return {
        ...state,
        inbox: { ...state.inbox, items, cursor: clamp(state.inbox.cursor, 0, Math.max(0, items.length - 1)) },
        unread: wasUnread ? Math.max(0, state.unread - 1) : state.unread,
      };
    }
    case 'compose/open': {
      const compose = newCompose(action);
      const history = [...state.history, state.screen].filter((s) => s !== 'compose').slice(-10);
      return { ...state, compose, screen: 'compose', history, help: false };
    }
    case 'compose/focus':
      return withCompose(state, (c) => ({ ...c, focus: action.focus }));
    case 'compose/edit':
      return withCompose(state, (c) => {
        if (c.focus === 'subject') return { ...c, subject: editLine(c.subject, action.key), error: null };
        if (c.focus === 'body') return { ...c, body: editArea(c.body, action.key, 48 * 1024), error: null };
        return c;
      });
    case 'compose/picker':
      return withCompose(state, (c) => ({ ...c, picker: { ...c.picker, open: action.open, cursor: action.open ? 0 : c.picker.cursor } }));
    case 'compose/pickerMove':
      return withCompose(state, (c) => {
        const n = pickerRows(state, c).length;
        return { ...c, picker: { ...c.picker, cursor: clamp(c.picker.cursor + action.delta, 0, Math.max(0, n - 1)) } };
      });
    case 'compose/pickerFilter':
      return withCompose(state, (c) => ({ ...c, picker: { ...c.picker, cursor: 0, filter: editLine(c.picker.filter, action.key) } }));
    case 'compose/toggle':
      return withCompose(state, (c) => ({
        ...c,
        all: false,
        channel: null,
        error: null,
        to: c.to.includes(action.username) ? c.to.filter((u) => u !== action.username) : [...c.to, action.username],
      }));
    case 'compose/toggleAll':
      return withCompose(state, (c) => ({ ...c, all: !c.all, channel: null, error: null }));
    case 'compose/toggleChannel':
      return withCompose(state, (c) => (c.channel === action.name
        ? { ...c, channel: null, error: null }
        : { ...c, channel: action.name, all: false, to: [], error: null }));
    case 'compose/removeRecipient':
      return withCompose(state, (c) => {
        if (c.all) return { ...c, all: false };
        if (c.channel) return { ...c, channel: null };
        const name = action.username ?? c.to[c.to.length - 1];
        return { ...c, to: c.to.filter((u) => u !== name) };
      });
    case 'compose/pathPrompt':
      return withCompose(state, (c) => ({ ...c, pathPrompt: action.open ? field('path', 'File', { hint: 'path of the file to attach' }) : null }));
    case 'compose/pathEdit':
      return withCompose(state, (c) => (c.pathPrompt ? { ...c, pathPrompt: editLine(c.pathPrompt, action.key) } : c));
    case 'compose/addAttachment':
      return withCompose(state, (c) => {
        if (c.attachments.some((a) => a.path === action.attachment.path)) return { ...c, pathPrompt: null };
        const attachments = [...c.attachments, action.attachment];
        return { ...c, attachments, attachmentCursor: attachments.length - 1, pathPrompt: null, error: null };
      });
    case 'compose/removeAttachment':
      return withCompose(state, (c) => {
        if (c.sending) return c;
        const attachments = c.attachments.filter((_, i) => i !== c.attachmentCursor);
        return { ...c, attachments, attachmentCursor: clamp(c.attachmentCursor, 0, Math.max(0, attachments.length - 1)) };
      });
    case 'compose/attachmentMove':
      return withCompose(state, (c) => ({ ...c, attachmentCursor: clamp(c.attachmentCursor + action.delta, 0, Math.max(0, c.attachments.length - 1)) }));
    case 'compose/attachment':
      return withCompose(state, (c) => ({
        ...c, attachments: c.attachments.map((a, i) => (i === action.index ? { ...a, ...action.patch } : a)),
      }));
    case 'compose/status':
      return withCompose(state, (c) => ({
        ...c, sending: action.sending ?? c.sending, error: action.error !== undefined ? action.error : c.error,
      }));
    case 'compose/confirmDiscard':
      return withCompose(state, (c) => ({ ...c, confirmDiscard: action.on }));
    case 'compose/close': {
      const history = state.history.slice();
      let prev = history.pop();
      while (prev === 'compose') prev = history.pop();
      return { ...state, compose: null, screen: prev ?? (state.me ? 'main' : 'login'), history };
    }
    case 'toast':
      return { ...state, toast: { text: action.text, kind: action.kind ?? 'info', at: state.now } };
    case 'toast/clear':
      return { ...state, toast: null };
    case 'help':
      return { ...state, help: action.open };
    case 'confirm':
      return { ...state, confirm: action.confirm };
    default:
      return state;
  }
}

export type PickerRow =
  | { kind: 'all' }
  | { kind: 'channel'; name: string; description: string }
  | { kind: 'group'; name: string; description: string; members: number }
  | { kind: 'member'; member: Member };

/**
 * The picker's rows: "all members" first, then the channels one may publish to, the groups, and
 * the directory's members (minus oneself); a filter matches names, institutions and descriptions.
 */
export function pickerRows(state: State, c: ComposeState): PickerRow[] {
  const q = c.picker.filter.value.trim().toLowerCase().replace(/^[#@]/, '');
  const match = (...texts: string[]) => !q || texts.some((t) => t.toLowerCase().includes(q));
  const rows: PickerRow[] = [];
  if (!q) rows.push({ kind: 'all' });
  for (const a of state.channels.items) {
    if (a.kind === 'channel' && a.canPublish && !a.archived && match(a.name, a.description)) rows.push({ kind: 'channel', name: a.name, description: a.description });
  }
  for (const a of state.channels.items) {
    if (a.kind === 'group' && match(a.name, a.description)) rows.push({ kind: 'group', name: a.name, description: a.description, members: a.members });
  }
  for (const member of state.directory.items) {
    if (member.username !== state.me?.username && match(member.username, member.institution)) rows.push({ kind: 'member', member });
  }
  return rows;
}

/** The addressees as one line: "all members", "#channel", or the names. */
export function recipientsText(c: ComposeState): string {
  if (c.all) return 'all members (broadcast)';
  if (c.channel) return `#${c.channel} (its subscribers)`;
  return c.to.join(', ');
}

export function composeIsEmpty(c: ComposeState): boolean {
  return c.to.length === 0 && !c.all && !c.channel && !c.subject.value.trim() && !c.body.lines.join('').trim() && c.attachments.length === 0;
}

function pickReaderState(m: MessageRecord): Partial<MessageRecord> {
  const out: Partial<MessageRecord> = {};
  if (m.readAt !== undefined) out.readAt = m.readAt;
  if (m.deliveredAt !== undefined) out.deliveredAt = m.deliveredAt;
  return out;
}

export function popupAsMessage(p: PopupRecord, me: string): MessageRecord {
  return {
    id: p.id, from: p.from, to: me ? [me] : [], audience: 'direct', subject: p.subject, body: p.preview, sentAt: p.sentAt,
    attachments: p.attachments.map((name, i) => ({ id: -(i + 1), name, size: 0, sha256: '', type: '' })),
    deliveredAt: p.sentAt, readAt: null,
  };
}

/** Queues a popup: urgent ones go before every other (after the urgent ones already waiting). */
function queuePopup(state: State, p: ShownPopup): State {
  if (p.priority !== 'urgent') return { ...state, popups: [...state.popups, p] };
  const at = state.popups.findIndex((q) => !isUrgentAlert(q));
  const popups = at < 0 ? [...state.popups, p] : [...state.popups.slice(0, at), p, ...state.popups.slice(at)];
  // A new urgent alert on screen: its first bell is the new-popup one; repeats count from now.
  const first = at === 0 || state.popups.length === 0;
  return { ...state, popups, alertBellAt: first ? state.now : state.alertBellAt, alertSince: first ? state.now : state.alertSince };
}

/** A reminder pops again (once per reminder): it replaces the same message's popup still waiting. */
function reminderArrived(state: State, p: PopupRecord): State {
  const key = `${p.id}:${p.reminder}`;
  if (state.seenReminders.includes(key)) return state;
  const seenReminders = [...state.seenReminders, key].slice(-MAX_SEEN);
  const seenPopups = state.seenPopups.includes(p.id) ? state.seenPopups : [...state.seenPopups, p.id].slice(-MAX_SEEN);
  const waiting = state.popups.findIndex((q) => q.id === p.id);
  if (waiting >= 0) {
    const popups = state.popups.slice();
    popups[waiting] = p;
    return { ...state, popups, seenReminders, seenPopups, bells: state.bells + 1 };
  }
  return { ...queuePopup(state, p), seenReminders, seenPopups };
}

function keepCursor<T>(l: ListState<T>, items: T[], key: (x: T) => unknown): ListState<T> {
  const current = l.items[l.cursor];
  let cursor = current === undefined ? 0 : items.findIndex((x) => key(x) === key(current));
  if (cursor < 0) cursor = Math.min(l.cursor, items.length - 1);
  return { items, cursor: Math.max(0, cursor), loading: false, loaded: true, error: null };
}

function setList(state: State, list: ListName, f: (l: ListState<any>) => ListState<any>): State {
  return { ...state, [list]: f(state[list]) };
}

function withForm(state: State, name: FormName, f: (form: Form) => Form): State {
  if (name === 'passwd') return { ...state, passwd: { ...f(state.passwd), forced: state.passwd.forced } };
  return { ...state, [name]: f(state[name]) };
}

function withCompose(state: State, f: (c: ComposeState) => ComposeState): State {
  return state.compose ? { ...state, compose: f(state.compose) } : state;
}

export function clamp(n: number, lo: number, hi: number): number {
  return Math.min(Math.max(n, lo), hi);
}

export function formValues(form: Form): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of form.fields) out[f.name] = f.value;
  return out;
}
