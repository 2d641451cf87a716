import type { MessageRecord } from '../../protocol/index.js';
import { addressingText, audienceText } from '../audience.js';
import { attachmentsText } from '../attachments-text.js';
import { formatBytes } from '../../protocol/units.js';
import type { LineField, TextArea } from './editor.js';
import { charWidth, clean, clip, clipStart, line, padEnd, progressBar, shortTime, strWidth, wrap, type Seg } from './format.js';
import {
  ackSummary, messageAlertLines, notAckedLine, popupTitle, recipientState, rowMarks, urgentAlertLines, withdrawnLines,
} from './alert-overlay.js';
import { COMPOSE_FOCUS, isUrgentAlert, pickerRows, recipientsText, type Audience, type ComposeState, type Form, type State } from './model.js';

/**
 * Pure rendering: state + terminal size → the lines of the screen (blessed-tagged, each at most
 * `cols` wide) and at most one overlay box (a popup, the help, the recipient picker, a prompt).
 * The blessed layer only copies this into two boxes, so layout is testable without a terminal.
 */

export interface Overlay {
  kind: 'popup' | 'alert' | 'help' | 'picker' | 'prompt' | 'confirm';
  title: string;
  lines: string[];
  width: number;
  height: number;
}

export interface Frame {
  lines: string[];
  overlay: Overlay | null;
}

export const MIN_COLS = 40;
export const MIN_ROWS = 12;

export function render(state: State): Frame {
  const cols = Math.max(1, state.cols);
  const rows = Math.max(1, state.rows);
  if (cols < MIN_COLS || rows < MIN_ROWS) return tooSmall(cols, rows);
  const bodyRows = rows - 3;
  const body = screenBody(state, cols, bodyRows);
  const lines = [header(state, cols), ...fitRows(body, bodyRows), statusLine(state, cols), helpBar(state, cols)];
  return { lines, overlay: overlay(state, cols, rows) };
}

function tooSmall(cols: number, rows: number): Frame {
  const msg = [`Terminal too small (${cols}×${rows}).`, `siar needs ${MIN_COLS}×${MIN_ROWS}.`, 'Ctrl-C quits.'];
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) lines.push(line([msg[i] ?? ''], cols));
  return { lines, overlay: null };
}

function fitRows(body: string[], n: number): string[] {
  const out = body.slice(0, n);
  while (out.length < n) out.push('');
  return out;
}

// ---------------------------------------------------------------------------------------------
// Frame parts

function header(state: State, cols: number): string {
  const who = state.me ? `${state.me.username} · ${clean(state.me.institution)}` : 'popup messages between institutions';
  const right = connText(state);
  const leftWidth = Math.max(0, cols - strWidth(right) - 1);
  return line([{ t: padEnd(` siar │ ${who}`, leftWidth) + ' ' + right, s: 'inverse' }], cols);
}

export function connText(state: State): string {
  const c = state.conn;
  switch (c.status) {
    case 'connecting': return c.error ? `○ reconnecting to ${c.address}… ` : `○ connecting to ${c.address}… `;
    case 'connected': return `● connected ${c.address} `;
    case 'authenticating': return '◐ signing in again… ';
    case 'online': return `● online ${c.address} `;
    case 'offline': {
      const secs = c.retryAt ? Math.max(0, Math.ceil((c.retryAt - state.now) / 1000)) : 0;
      return `○ offline · retry in ${secs} s `;
    }
    case 'closed': return '○ closed ';
    default: return '';
  }
}

const TOAST_STYLE = { info: 'green-fg', warning: 'yellow-fg,bold', error: 'red-fg,bold' } as const;

function statusLine(state: State, cols: number): string {
  if (state.conn.status === 'offline' || (state.conn.status === 'connecting' && state.conn.error)) {
    const why = state.conn.error ? `: ${clean(state.conn.error)}` : '';
    const what = state.conn.reconnects > 0 || state.me ? 'Connection lost' : 'No connection to the server';
    return line([{ t: `${what}${why}. Retrying (attempt ${state.conn.attempt + 1}); Ctrl-R retries now.`, s: 'yellow-fg' }], cols);
  }
  if (state.toast) return line([{ t: clean(state.toast.text), s: TOAST_STYLE[state.toast.kind] }], cols);
  return '';
}

/** A key for the footer; `keep` ones (help, quit, the way back) are never left out for want of room. */
type Hint = [key: string, what: string, keep?: 'keep'];

/** Where `?` is a key (no text being typed) it opens the help; on forms and in compose F1 does. */
const HELP: Hint = ['?', 'help', 'keep'];
const F1_HELP: Hint = ['F1', 'help', 'keep'];
const QUIT: Hint = ['Ctrl-C', 'quit', 'keep'];

function helpBar(state: State, cols: number): string {
  const segs: Seg[] = [];
  for (const [k, what] of fitHints(hints(state), cols)) {
    if (segs.length) segs.push('  ');
    segs.push({ t: k, s: 'inverse' }, ` ${what}`);
  }
  return line(segs, cols);
}

/** The hints that fit in `cols`: the last ones not kept go first, so help and quit always show. */
export function fitHints(all: Hint[], cols: number): Hint[] {
  const width = (hs: Hint[]) => hs.reduce((n, [k, what]) => n + strWidth(k) + 1 + strWidth(what) + 2, 0) - 2;
  const shown = all.slice();
  while (width(shown) > cols) {
    let drop = -1;
    for (let i = shown.length - 1; i >= 0 && drop < 0; i--) if (!shown[i]![2]) drop = i;
    if (drop < 0) break;
    shown.splice(drop, 1);
  }
  return shown;
}

export function hints(state: State): Hint[] {
  if (isUrgentAlert(state.popups[0])) return [['Enter', 'open', 'keep'], ['A', 'acknowledge', 'keep'], QUIT];
  if (state.popups[0]?.withdrawn) return [['Esc', 'dismiss', 'keep'], QUIT];
  if (state.popups[0]?.ack) return [['Enter', 'open', 'keep'], ['Esc', 'dismiss', 'keep'], ['A', 'acknowledge', 'keep'], QUIT];
  if (state.popups.length > 0) return [['Enter', 'open', 'keep'], ['Esc', 'dismiss', 'keep'], ['A', 'dismiss all'], QUIT];
  if (state.help) return [['Esc', 'close help', 'keep']];
  if (state.confirm) {
    const yes = { quit: 'quit', delete: 'delete', cancel: 'withdraw' }[state.confirm.kind];
    return [['Y', yes, 'keep'], ['N', state.confirm.kind === 'cancel' ? 'keep' : 'cancel', 'keep']];
  }
  switch (state.screen) {
    case 'welcome': return [['↑↓', 'choose'], ['Enter', 'select'], ['R', 'register'], ['L', 'log in'], HELP, QUIT];
    case 'register': return [['Tab', 'next'], ['S-Tab', 'previous'], ['Enter', 'next / send'], ['Esc', 'back'], F1_HELP, QUIT];
    case 'waiting':
      if (state.waiting?.status === 'rejected') return [['Enter', 'correct and register again', 'keep'], ['L', 'log in'], HELP, QUIT];
      if (state.waiting?.status === 'waiting') return [['L', 'log in instead'], HELP, QUIT];
      return [['Enter', 'log in', 'keep'], HELP, QUIT];
    case 'login': return [['Tab', 'next'], ['Enter', 'log in'], ['Ctrl-N', 'register'], F1_HELP, QUIT];
    case 'passwd': return state.passwd.forced
      ? [['Tab', 'next'], ['Enter', 'change'], F1_HELP, QUIT]
      : [['Tab', 'next'], ['Enter', 'change'], F1_HELP, ['Esc', 'cancel', 'keep']];
    case 'main': {
      const quit: Hint = ['Q', 'quit', 'keep'];
      if (state.tab === 'channels') return [['Tab', 'switch'], ['↑↓', 'move'], ['Space', 'subscribe/unsubscribe'], ['Enter', 'write to it'], HELP, quit];
      const h: Hint[] = [['Tab', 'switch'], ['↑↓', 'move'], ['Enter', state.tab === 'directory' ? 'write' : 'open']];
      h.push(['C', 'compose']);
      if (state.tab === 'inbox') h.push(['R', 'reply'], ['D', 'delete']);
      if (state.tab === 'outbox' && state.outbox.items[state.outbox.cursor]?.state === 'sending') h.push(['U', 'resume upload', 'keep'], ['X', 'withdraw', 'keep']);
      h.push(['G', 'refresh'], HELP, quit);
      return h;
    }
    case 'compose': {
      const c = state.compose;
      if (!c) return [];
      if (c.confirmDiscard) return [['Y', 'discard', 'keep'], ['N', 'keep editing', 'keep']];
      if (c.picker.open) return [['↑↓', 'move'], ['Space', 'select', 'keep'], ['type', 'filter'], ['Enter', 'done', 'keep']];
      if (c.pathPrompt) return [['Enter', 'attach', 'keep'], ['Esc', 'cancel', 'keep']];
      const send: Hint = ['Ctrl-S', 'send', 'keep'];
      const cancel: Hint = ['Esc', 'cancel', 'keep'];
      switch (c.focus) {
        case 'to': return [['Enter', 'choose'], ['A', 'all members'], ['Bksp', 'remove'], ['Tab', 'next'], send, F1_HELP, cancel];
        case 'body': return [['Enter', 'new line'], ['Tab', 'next'], send, F1_HELP, cancel];
        case 'attachments': return [['Enter', 'add file'], ['Del', 'remove'], ['Tab', 'next'], send, F1_HELP, cancel];
        case 'send': return [['Enter', 'send', 'keep'], ['S-Tab', 'back'], F1_HELP, cancel];
        default: return [['Tab', 'next'], ['S-Tab', 'previous'], send, F1_HELP, cancel];
      }
    }
    case 'message': {
      const m = state.message;
      if (m?.savePrompt) return [['Enter', 'save', 'keep'], ['Esc', 'cancel', 'keep']];
      const h: Hint[] = [['↑↓', 'scroll'], ['R', 'reply']];
      const files = m?.record?.attachments.length ?? 0;
      // Removed attachments (expired past the server's grace) cannot be saved any more.
      if (m?.record?.attachments.some((a) => !a.removedAt)) h.push(['S', 'save files'], ['O', 'open']);
      if (files > 1) h.push(['Tab', 'next file']);
      if (m?.box === 'inbox') h.push(['D', 'delete']);
      h.push(HELP, ['Esc', 'back', 'keep']);
      return h;
    }
    default: return [];
  }
}

// ---------------------------------------------------------------------------------------------
// Screens

function screenBody(state: State, cols: number, rows: number): string[] {
  switch (state.screen) {
    case 'welcome': return welcome(state, cols);
    case 'register': return formScreen(state.register, cols, rows, 'Register your institution',
      ['Your institution\'s details, each checked before anything is sent. The',
        'administrator approves the request; your password then comes by e-mail.'], 'Send request');
    case 'waiting': return waiting(state, cols);
    case 'login': return formScreen(state.login, cols, rows, 'Log in',
      ['Your username and password (the first time: the password from the e-mail).'], 'Log in',
      ['No account yet? Ctrl-N opens the registration form.']);
    case 'passwd': return formScreen(state.passwd, cols, rows, 'Choose your own password',
      state.passwd.forced
        ? ['The password from the e-mail is for the first login only.', 'Choose a new one of at least 10 characters to go on.']
        : ['Change your password: at least 10 characters.'], 'Change password');
    case 'main': return mainScreen(state, cols, rows);
    case 'compose': return state.compose ? compose(state, state.compose, cols, rows) : [];
    case 'message': return messageScreen(state, cols, rows);
    default: return [];
  }
}

function welcome(state: State, cols: number): string[] {
  const choices = ['Register my institution (first time here)', 'Log in (I have a username and password)'];
  return [
    '',
    line([{ t: '  Welcome to siar', s: 'bold' }, ' — popup messages between institutions'], cols),
    '',
    line([`  Server: ${state.register.fields[0]?.value ?? ''}`], cols),
    '',
    ...choices.map((c, i) => line([i === state.welcomeCursor ? { t: `  ▶ ${c} `, s: 'inverse' } : `    ${c}`], cols)),
    '',
    line([{ t: '  ↑/↓ and Enter, or press R to register, L to log in.', s: 'cyan-fg' }], cols),
  ];
}

function formScreen(form: Form, cols: number, rows: number, title: string, intro: string[], submit: string, outro: string[] = []): string[] {
  const out: string[] = [line([{ t: ` ${title}`, s: 'bold' }], cols)];
  for (const t of intro) out.push(line([` ${t}`], cols));
  out.push('');
  const labelW = Math.min(18, Math.max(...form.fields.map((f) => strWidth(f.label))) + 2);
  const inputW = Math.max(8, Math.min(48, cols - labelW - 4));
  let focusLine = 0;
  form.fields.forEach((f, i) => {
    const focused = form.focus === i && !form.busy;
    if (focused) focusLine = out.length;
    out.push(line([` ${padEnd(f.label, labelW)}`, ...inputSegs(f, inputW, focused), f.optional ? { t: ' (optional)', s: 'cyan-fg' } : ''], cols));
    if (f.error) out.push(line([' '.repeat(labelW + 1), { t: `✗ ${f.error}`, s: 'red-fg' }], cols));
    else if (focused && f.hint) out.push(line([' '.repeat(labelW + 1), { t: f.hint, s: 'cyan-fg' }], cols));
  });
  out.push('');
  const onSubmit = form.focus === form.fields.length;
  if (onSubmit) focusLine = out.length;
  out.push(line([' '.repeat(labelW + 1), form.busy ? { t: `[ ${submit}… ]`, s: 'yellow-fg' } : { t: `[ ${submit} ]`, s: onSubmit ? 'inverse' : 'bold' }], cols));
  if (form.busy) out.push(line([{ t: ' Please wait…', s: 'yellow-fg' }], cols));
  if (form.error) out.push(...wrap(form.error, cols - 4).map((l) => line([{ t: `  ${l}`, s: 'red-fg,bold' }], cols)));
  if (form.notice) out.push(...wrap(form.notice, cols - 4).map((l) => line([{ t: `  ${l}`, s: 'green-fg,bold' }], cols)));
  if (outro.length) out.push('', ...outro.map((t) => line([` ${t}`], cols)));
  return window(out, focusLine, rows);
}

/** Input box segments: the value (secret shown as •), with an inverse cursor cell when focused. */
function inputSegs(f: LineField, width: number, focused: boolean): Seg[] {
  const shown = f.secret ? '•'.repeat(Array.from(f.value).length) : clean(f.value);
  const chars = Array.from(shown);
  const cursor = Math.min(f.cursor, chars.length);
  // Scroll horizontally so the cursor stays inside the box.
  let start = 0;
  const widthOf = (a: string[]) => a.reduce((n, ch) => n + charWidth(ch.codePointAt(0)!), 0);
  while (start < cursor && widthOf(chars.slice(start, cursor)) > width - 1) start++;
  const visible = chars.slice(start);
  if (!focused) return [{ t: padEnd(visible.join(''), width), s: 'underline' }];
  const before = visible.slice(0, cursor - start).join('');
  const at = visible[cursor - start] ?? ' ';
  const after = visible.slice(cursor - start + 1).join('');
  const restW = Math.max(0, width - strWidth(before) - charWidth(at.codePointAt(0)!));
  return [
    { t: before, s: 'underline' },
    { t: at, s: 'inverse' },
    { t: padEnd(after, restW), s: 'underline' },
  ];
}

function waiting(state: State, cols: number): string[] {
  const w = state.waiting;
  if (!w) return [];
  const out = ['', line([{ t: ` Registration request #${w.requestId} for "${clean(w.username)}"`, s: 'bold' }], cols), ''];
  const say = (t: string, s?: string) => out.push(...wrap(t, cols - 4).map((l) => line([s ? { t: `  ${l}`, s } : `  ${l}`], cols)));
  switch (w.status) {
    case 'waiting':
      say('Waiting for the administrator\'s decision…', 'yellow-fg,bold');
      say('This screen changes by itself when the administrator decides. You may leave it open.');
      say(`The decision also comes by e-mail to ${clean(w.email)}.`);
      break;
    case 'approved':
      say('✓ Approved!', 'green-fg,bold');
      say(`Your username is ${clean(w.username)}. Check your e-mail (${clean(w.email)}): the password is in it.`);
      say('Press Enter to log in.');
      break;
    case 'rejected':
      say('✗ The administrator rejected the request.', 'red-fg,bold');
      say(`Reason: ${clean(w.reason ?? 'no reason given')}`);
      say('Press Enter to correct the form and send it again.');
      break;
    case 'lost':
      say('The connection dropped while waiting.', 'yellow-fg,bold');
      say(`Your request #${w.requestId} stays pending; the decision will come by e-mail to ${clean(w.email)}.`);
      say('Press Enter to log in once you have the password.');
      break;
  }
  return out;
}

const TABS: Array<{ tab: State['tab']; label: (s: State) => string }> = [
  { tab: 'inbox', label: (s) => `1 Inbox (${s.unread} unread)` },
  { tab: 'outbox', label: () => '2 Outbox' },
  { tab: 'directory', label: () => '3 Directory' },
  { tab: 'channels', label: () => '4 Channels' },
];

function mainScreen(state: State, cols: number, rows: number): string[] {
  const tabs: Seg[] = [' '];
  for (const t of TABS.filter((x) => x.tab !== 'channels' || state.channelsSupported)) tabs.push(t.tab === state.tab ? { t: ` ${t.label(state)} `, s: 'inverse,bold' } : ` ${t.label(state)} `, '  ');
  const out = [line(tabs, cols)];
  const listRows = rows - 2;
  const list = state[state.tab];
  let rowsOut: string[];
  if (state.tab === 'inbox') {
    out.push(line([{ t: `   ${padEnd('SENT', 17)}${padEnd('FROM', 15)}SUBJECT`, s: 'bold' }], cols));
    rowsOut = state.inbox.items.map((m, i) => inboxRow(m, i === state.inbox.cursor, cols));
  } else if (state.tab === 'outbox') {
    out.push(line([{ t: ` ${padEnd('SENT', 17)}${padEnd('TO', 17)}${padEnd('SUBJECT', Math.max(4, cols - 55))} STATE`, s: 'bold' }], cols));
    rowsOut = state.outbox.items.map((m, i) => outboxRow(m, i === state.outbox.cursor, cols));
  } else if (state.tab === 'channels') {
    out.push(line([{ t: `   ${padEnd('NAME', 22)}${padEnd('', 16)}DESCRIPTION`, s: 'bold' }], cols));
    rowsOut = state.channels.items.map((a, i) => audienceRow(a, i === state.channels.cursor, cols));
  } else {
    out.push(line([{ t: ` ${padEnd('', 9)}${padEnd('USERNAME', 18)}INSTITUTION`, s: 'bold' }], cols));
    rowsOut = state.directory.items.map((m, i) => line([
      i === state.directory.cursor ? { t: '▶', s: 'bold' } : ' ',
      m.online ? { t: padEnd('● online', 9), s: 'green-fg' } : padEnd('', 9),
      padEnd(clean(m.username), 18),
      clean(m.institution),
    ].map((s) => (i === state.directory.cursor ? asInverse(s) : s)), cols));
  }
  if (rowsOut.length === 0) {
    const empty = list.loading ? 'Loading…' : list.error ? `Could not load: ${list.error}`
      : state.tab === 'inbox' ? 'No messages yet. New ones pop up here the moment they are sent.'
        : state.tab === 'outbox' ? 'Nothing sent yet. Press C to compose a message.'
          : state.tab === 'channels' ? 'No channels or groups yet: the administrator creates them.' : 'No members yet.';
    out.push('', line([{ t: `  ${clean(empty)}`, s: list.error ? 'red-fg' : 'cyan-fg' }], cols));
    return out;
  }
  out.push(...window(rowsOut, list.cursor, listRows));
  return out;
}

function asInverse(s: Seg): Seg {
  if (typeof s === 'string') return { t: s, s: 'inverse' };
  return { ...s, s: s.s ? `${s.s},inverse` : 'inverse' };
}

function audienceRow(a: Audience, selected: boolean, cols: number): string {
  let name: string;
  let info: string;
  if (a.kind === 'channel') {
    name = `${a.subscribed ? '[x]' : '[ ]'} #${clean(a.name)}`;
    info = a.archived ? 'archived' : `${a.subscribers} subscriber${a.subscribers === 1 ? '' : 's'}${a.access === 'restricted' ? ', restricted' : ''}`;
  } else {
    name = `    @${clean(a.name)}`;
    info = `group of ${a.members}${a.isMember ? ', you too' : ''}`;
  }
  const segs: Seg[] = [selected ? '▶ ' : '  ', padEnd(name, 23), { t: padEnd(info, 22), s: 'cyan-fg' }, ' ', clean(a.description)];
  return line(selected ? segs.map(asInverse) : segs, cols);
}

/** ` +N` attachments, marked when the server removed them (expired past its grace). */
function attachmentMark(m: MessageRecord): string {
  const text = attachmentsText(m);
  return text ? ` ${text}` : '';
}

function inboxRow(m: MessageRecord, selected: boolean, cols: number): string {
  const unread = !m.readAt;
  const att = attachmentMark(m);
  const subjectW = Math.max(4, cols - 35 - att.length);
  const segs: Seg[] = [
    selected ? '▶' : ' ',
    unread ? { t: '● ', s: 'yellow-fg,bold' } : '  ',
    padEnd(shortTime(m.sentAt), 17),
    padEnd(clean(m.from) + (m.via ? ` ${clean(m.via)}` : ''), 15),
    ...marked(m, 'inbox', subjectW, unread ? 'bold' : undefined),
    { t: att, s: 'cyan-fg' },
  ];
  return line(selected ? segs.map(asInverse) : segs, cols);
}

/** The subject in `width` columns after the row's alert marks (urgent, withdrawn, expired…). */
function marked(m: MessageRecord, box: 'inbox' | 'outbox', width: number, style?: string): Seg[] {
  const marks = rowMarks(m, box);
  const used = marks.reduce((n, x) => n + strWidth(typeof x === 'string' ? x : x.t), 0);
  const subject = padEnd(clean(m.subject), Math.max(1, width - used));
  return [...marks, style ? { t: subject, s: style } : subject];
}

export function recipientSummary(m: MessageRecord): string {
  if (m.state === 'sending') return `sending ${uploadedPercent(m)}%`;
  if (m.state === 'scheduled' && m.deliverAt) return `scheduled ${shortTime(m.deliverAt)}`;
  if (m.state && m.state !== 'sent') return m.state;
  const r = m.recipients ?? [];
  if (r.length === 0) return '';
  const read = r.filter((x) => x.readAt).length;
  const delivered = r.filter((x) => x.deliveredAt || x.readAt).length;
  const ack = ackSummary(m);
  if (ack) return read === r.length ? `${ack} · read ${read}` : `${ack} · read ${read} · got ${delivered}`;
  if (read === r.length) return `read ${read}/${r.length}`;
  return `read ${read}/${r.length} · got ${delivered}/${r.length}`;
}

/** How much of a 'sending' message's attachments the server holds, in whole percent. */
export function uploadedPercent(m: MessageRecord): number {
  const total = m.attachments.reduce((n, a) => n + a.size, 0);
  const held = m.attachments.reduce((n, a) => n + (a.uploaded ?? 0), 0);
  return total === 0 ? 100 : Math.floor((held / total) * 100);
}

function outboxRow(m: MessageRecord, selected: boolean, cols: number): string {
  const to = clean(addressingText(m));
  const segs: Seg[] = [
    selected ? '▶' : ' ',
    padEnd(shortTime(m.sentAt), 17),
    padEnd(to, 17),
    ...marked({ ...m, subject: m.subject + attachmentMark(m) }, 'outbox', Math.max(4, cols - 55)),
    ' ',
    { t: recipientSummary(m), s: 'cyan-fg' },
  ];
  return line(selected ? segs.map(asInverse) : segs, cols);
}

function messageScreen(state: State, cols: number, rows: number): string[] {
  const v = state.message;
  if (!v) return [];
  const m = v.record;
  const out: string[] = [];
  if (!m) {
    out.push('', line([{ t: v.error ? `  Could not open message #${v.id}: ${clean(v.error)}` : `  Opening message #${v.id}…`, s: v.error ? 'red-fg' : 'yellow-fg' }], cols));
    return out;
  }
  const institution = state.directory.items.find((d) => d.username === m.from)?.institution;
  const labelled = (label: string, value: string, style?: string) => line([{ t: padEnd(` ${label}`, 10), s: 'bold' }, style ? { t: value, s: style } : value], cols);
  out.push(labelled('From:', clean(m.from) + (institution ? ` — ${clean(institution)}` : '')));
  out.push(labelled('To:', clean(audienceText(m))));
  out.push(labelled('Sent:', shortTime(m.sentAt) + (m.via ? `  via ${clean(m.via)}` : '') + (m.state && m.state !== 'sent' ? `  (${clean(m.state)})` : '')));
  out.push(...messageAlertLines(m, v.box, cols));
  // The subject in full: wrapped under its label, never cut.
  wrap(clean(m.subject), Math.max(10, cols - 11)).forEach((part, i) => {
    out.push(i === 0 ? labelled('Subject:', part, 'bold') : line([' '.repeat(10), { t: part, s: 'bold' }], cols));
  });
  if (v.error) out.push(line([{ t: ` ${clean(v.error)}`, s: 'red-fg' }], cols));
  if (m.attachments.length) {
    out.push(line([{ t: ` Attachments (${m.attachments.length}):`, s: 'bold' }], cols));
    m.attachments.forEach((a, i) => {
      const d = v.downloads.find((x) => x.attachmentId === a.id);
      const meta = a.size || a.type ? `${formatBytes(a.size)}  ${clean(a.type || '?')}` : '';
      const chosen = m.attachments.length > 1 && i === v.attachmentCursor;
      const segs: Seg[] = [chosen ? { t: ' ▶ ', s: 'bold' } : '   ', `${padEnd(clean(a.name), Math.max(10, cols - 52))} `, padEnd(meta, 24)];
      if (d) segs.push(...transferSegs(d.status, d.done, d.size, d.error, d.status === 'done' ? 'saved ✓ sha256' : undefined));
      // Its content is gone (the message expired longer ago than the server keeps attachments).
      else if (a.removedAt) segs.push({ t: 'removed (expired)', s: 'yellow-fg' });
      out.push(line(segs, cols));
      // Where it went (the name may differ from the attachment's when a file of that name existed).
      if (d?.status === 'done' && d.path) out.push(line([{ t: `     → ${clipStart(clean(d.path), cols - 8)}`, s: 'green-fg' }], cols));
    });
  }
  if (m.recipients?.length) {
    const notAcked = notAckedLine(m);
    out.push(line([{ t: ` Recipients: ${recipientSummary(m)}`, s: 'bold' }, notAcked ? { t: `  ${notAcked}`, s: 'yellow-fg,bold' } : ''], cols));
    // Asked to acknowledge: those who have not come first.
    const acked = new Set((m.acked ?? []).map((a) => a.username));
    const ordered = m.ack ? [...m.recipients].sort((a, b) => Number(acked.has(a.username)) - Number(acked.has(b.username))) : m.recipients;
    const shown = ordered.slice(0, 8);
    for (const r of shown) out.push(line([`   ${padEnd(clean(r.username), 20)} `, recipientState(m, r)], cols));
    if (m.recipients.length > shown.length) out.push(line([`   … and ${m.recipients.length - shown.length} more`], cols));
  }
  if (v.savePrompt) out.push(line([' Save to folder: ', ...inputSegs(v.savePrompt, Math.max(10, cols - 20), true)], cols));
  out.push(line([{ t: '─'.repeat(cols) }], cols));
  const room = Math.max(1, rows - out.length);
  const body = wrap(m.body || '(no text)', cols - 2).map((l) => line([` ${l}`], cols));
  const maxScroll = Math.max(0, body.length - room);
  const scroll = Math.min(v.scroll, maxScroll);
  out.push(...body.slice(scroll, scroll + room));
  if (maxScroll > 0 && out.length >= rows) {
    out[rows - 1] = line([{ t: ` ── ${scroll + room < body.length ? `↓ more (${body.length - scroll - room} lines)` : 'end'} ──`, s: 'cyan-fg' }], cols);
  }
  return out;
}

function transferSegs(status: string, done: number, size: number | null, error?: string, doneText?: string, queuedText = 'waiting'): Seg[] {
  switch (status) {
    case 'queued': return [{ t: queuedText, s: 'cyan-fg' }];
    case 'running': return [{ t: progressBar(done, size, 22), s: 'yellow-fg' }];
    case 'done': return [{ t: doneText ?? '✓ sent', s: 'green-fg' }];
    case 'failed': return [{ t: `✗ ${clean(error ?? 'failed')}`, s: 'red-fg' }];
    default: return [];
  }
}

function compose(state: State, c: ComposeState, cols: number, rows: number): string[] {
  const out: string[] = [];
  const label = (name: string, focus: boolean) => ({ t: padEnd(` ${name}`, 14), s: focus ? 'inverse,bold' : 'bold' });
  const chosen = c.all || !!c.channel || c.to.length > 0;
  const recipients = chosen ? recipientsText(c) : '(none yet)';
  out.push(line([label('To:', c.focus === 'to'), { t: clean(recipients), s: chosen ? '' : 'cyan-fg' },
    c.focus === 'to' ? { t: '  Enter: choose, A: all', s: 'cyan-fg' } : ''], cols));
  out.push(line([label('Subject:', c.focus === 'subject'), ...inputSegs(c.subject, Math.max(10, cols - 16), c.focus === 'subject')], cols));
  out.push(line([label('Message:', c.focus === 'body'), { t: c.focus === 'body' ? 'Enter: new line, Tab: next field' : '', s: 'cyan-fg' }], cols));
  const attRows = Math.min(Math.max(1, c.attachments.length), 4);
  const footer = 2 + attRows + 1 + (c.error ? 1 : 0);
  const bodyRows = Math.max(1, rows - out.length - footer);
  out.push(...textAreaLines(c.body, cols, bodyRows, c.focus === 'body'));
  out.push(line([label('Attachments:', c.focus === 'attachments'),
    { t: c.attachments.length ? `${c.attachments.length} file(s)` : state.transfers ? 'none' : 'none (attachments need the transfer service)', s: 'cyan-fg' },
    c.focus === 'attachments' ? { t: '  Enter: add a file, Del: remove', s: 'cyan-fg' } : ''], cols));
  if (c.pathPrompt) {
    out.push(line(['   File path: ', ...inputSegs(c.pathPrompt, Math.max(10, cols - 16), true)], cols));
  } else if (c.attachments.length === 0) {
    out.push('');
  }
  const attWindow = window(c.attachments.map((a, i) => {
    const sel = c.focus === 'attachments' && i === c.attachmentCursor;
    return line([
      sel ? { t: '▶', s: 'bold' } : ' ',
      `  ${padEnd(clean(a.name), Math.max(10, cols - 44))} ${padEnd(formatBytes(a.size), 8)} `,
      ...transferSegs(a.status, a.done, a.size, a.error, '✓ uploaded', c.sending ? 'waiting' : 'ready'),
    ], cols);
  }), c.attachmentCursor, c.pathPrompt ? attRows - 1 : attRows);
  out.push(...attWindow);
  const sendFocus = c.focus === 'send';
  out.push(line([' '.repeat(14), c.sending ? { t: '[ Sending… ]', s: 'yellow-fg,bold' } : { t: '[ Send  Ctrl-S ]', s: sendFocus ? 'inverse,bold' : 'bold' },
    c.confirmDiscard ? { t: '   Discard this draft? Y / N', s: 'yellow-fg,bold' } : ''], cols));
  if (c.error) out.push(line([{ t: ` ✗ ${clean(c.error)}`, s: 'red-fg,bold' }], cols));
  return out.slice(0, rows);
}

function textAreaLines(area: TextArea, cols: number, rows: number, focused: boolean): string[] {
  const width = Math.max(4, cols - 4);
  // Visual rows: each logical line wrapped by width; the cursor's visual row stays in view.
  const visual: Array<{ text: string; row: number; start: number }> = [];
  area.lines.forEach((l, row) => {
    const cs = Array.from(clean(l));
    if (cs.length === 0) visual.push({ text: '', row, start: 0 });
    for (let start = 0; start < cs.length; start += width) {
      visual.push({ text: cs.slice(start, start + width).join(''), row, start });
    }
    if (cs.length > 0 && cs.length % width === 0 && row === area.row && area.col === cs.length) {
      visual.push({ text: '', row, start: cs.length });
    }
  });
  let cursorVisual = visual.findIndex((v, i) => v.row === area.row && area.col >= v.start
    && (area.col < v.start + width || visual[i + 1]?.row !== area.row));
  if (cursorVisual < 0) cursorVisual = visual.length - 1;
  const shown = window(visual.map((v, i) => {
    const prefix: Seg = { t: ' │ ', s: focused ? 'bold' : '' };
    if (!focused || i !== cursorVisual) return line([prefix, v.text], cols);
    const cs = Array.from(v.text);
    const at = area.col - v.start;
    return line([prefix, cs.slice(0, at).join(''), { t: cs[at] ?? ' ', s: 'inverse' }, cs.slice(at + 1).join('')], cols);
  }), cursorVisual, rows);
  while (shown.length < rows) shown.push(line([{ t: ' │', s: focused ? 'bold' : '' }], cols));
  return shown;
}

/** The `rows` lines around `focus`, so a long list or form scrolls with its cursor. */
export function window<T>(items: T[], focus: number, rows: number): T[] {
  if (rows <= 0) return [];
  if (items.length <= rows) return items;
  const start = Math.min(Math.max(0, focus - Math.floor(rows / 2)), items.length - rows);
  return items.slice(start, start + rows);
}

// ---------------------------------------------------------------------------------------------
// Overlays

function overlay(state: State, cols: number, rows: number): Overlay | null {
  if (isUrgentAlert(state.popups[0])) {
    const { title, lines } = urgentAlertLines(state, state.popups[0]!, cols, rows);
    return { kind: 'alert', title, lines, width: cols, height: rows };
  }
  if (state.popups.length > 0) return popupOverlay(state, cols, rows);
  if (state.help) return helpOverlay(state, cols, rows);
  if (state.confirm?.kind === 'quit') {
    return box('confirm', ' Quit ', ['', 'Quit siar? Popups that arrive meanwhile', 'wait for your next login.', '', 'Y quit    N stay'], cols, rows, 48);
  }
  if (state.confirm?.kind === 'delete') {
    return box('confirm', ' Delete ', ['', `Delete "${clip(clean(state.confirm.subject), 30)}"`, 'from your inbox?', '', 'Y delete    N keep'], cols, rows, 48);
  }
  if (state.confirm?.kind === 'cancel') {
    const what = `Withdraw #${state.confirm.id} "${clip(clean(state.confirm.subject), 24)}"?`;
    return box('confirm', ' Withdraw ', ['', what, 'Nobody will receive it; its partial', 'uploads are deleted.', '', 'Y withdraw    N keep'], cols, rows, 48);
  }
  if (state.screen === 'compose' && state.compose?.picker.open) return pickerOverlay(state, state.compose, cols, rows);
  return null;
}

/**
 * An overlay's width: `wanted`, centred, where that leaves a margin of two columns or more each
 * side; else the whole width, so no single column of the screen beneath shows beside the box.
 */
export function overlayWidth(wanted: number, cols: number): number {
  return cols - wanted >= 4 ? wanted : cols;
}

/** A box of plain (untagged) text lines. */
function box(kind: Overlay['kind'], title: string, content: string[], cols: number, rows: number, wanted: number): Overlay {
  const width = overlayWidth(wanted, cols);
  const height = Math.max(3, Math.min(content.length + 2, rows - 2));
  const inner = width - 4;
  const lines = content.slice(0, height - 2).map((l) => line([l], inner));
  return { kind, title: clip(title, width - 4), lines, width, height };
}

function popupOverlay(state: State, cols: number, rows: number): Overlay {
  const p = state.popups[0]!;
  const width = overlayWidth(64, cols);
  const inner = width - 4;
  const queued = state.popups.length - 1;
  const lines: string[] = [];
  lines.push(line([{ t: 'From: ', s: 'bold' }, `${clean(p.from)}${p.institution ? ` — ${clean(p.institution)}` : ''}`], inner));
  const maxPreview = Math.max(1, Math.min(5, rows - 12));
  const preview = wrap(p.preview.trim() || '(no text)', inner).slice(0, maxPreview);
  // A long subject takes up to three lines where the rows allow; the message itself shows all of it.
  const subject = wrap(clean(p.subject), inner - 9);
  const subjectRows = Math.max(1, Math.min(3, rows - 4 - (6 + preview.length + (p.attachments.length ? 1 : 0))));
  subject.slice(0, subjectRows).forEach((part, i) => {
    const cut = i === subjectRows - 1 && subject.length > subjectRows ? clip(`${part} …`, inner - 9) : part;
    lines.push(line([{ t: i === 0 ? 'Subject: ' : ' '.repeat(9), s: 'bold' }, { t: cut, s: 'bold' }], inner));
  });
  lines.push(line([{ t: 'Sent: ', s: 'bold' }, shortTime(p.sentAt), p.via ? `  via ${clean(p.via)}` : ''], inner));
  lines.push('', ...(p.withdrawn ? withdrawnLines(p, inner) : preview.map((l) => line([l], inner))));
  if (p.attachments.length && !p.withdrawn) {
    lines.push(line([{ t: `+ ${p.attachments.length} attachment${p.attachments.length > 1 ? 's' : ''}: `, s: 'cyan-fg' }, p.attachments.map(clean).join(', ')], inner));
  }
  const keys: Seg[] = p.withdrawn ? [{ t: 'Esc', s: 'inverse' }, ' dismiss']
    : [{ t: 'Enter', s: 'inverse' }, ' open  ', { t: 'Esc', s: 'inverse' }, ' dismiss  ', { t: 'A', s: 'inverse' }, p.ack ? ' acknowledge' : ' dismiss all'];
  lines.push('', line(keys, inner));
  const height = Math.max(3, Math.min(lines.length + 2, rows - 2));
  const title = popupTitle(p, queued);
  return { kind: 'popup', title: clip(title, width - 4), lines: lines.slice(0, height - 2), width, height };
}

function helpOverlay(state: State, cols: number, rows: number): Overlay {
  const keys: Array<[string, string]> = [
    ['1-4, Tab', 'inbox, outbox, directory, channels'],
    ['↑ ↓ PgUp PgDn', 'move in lists, scroll a message'],
    ['Enter', 'open the selected message / compose to a member'],
    ['C', 'compose a new message'],
    ['R', 'reply to the selected message'],
    ['D', 'delete from your inbox'],
    ['U / X', 'resume / withdraw an unsent message (outbox)'],
    ['Space', 'subscribe / unsubscribe (channels tab)'],
    ['G', 'reload the lists'],
    ['P', 'change your password'],
    ['Ctrl-R', 'reconnect now when offline'],
    ['Ctrl-L', 'redraw the screen'],
    ['Q', 'quit (Ctrl-C quits at once)'],
    ['?, F1', 'this help (F1 also where you type text)'],
    ['', ''],
    ['Popups', 'Enter opens, Esc dismisses, A dismisses all'],
    ['Alerts', 'A acknowledges (popup, message); urgent: Enter or A'],
    ['Compose', 'Tab moves between fields; Ctrl-S sends'],
    ['Message', 'S saves the files; Tab chooses one, O opens it'],
  ];
  const width = overlayWidth(70, cols);
  const inner = width - 4;
  const lines = keys.map(([k, what]) => line([{ t: padEnd(k, 16), s: 'bold' }, what], inner));
  const height = Math.max(3, Math.min(lines.length + 2, rows - 2));
  const shown = lines.slice(0, height - 2);
  // Too short a terminal: say so rather than cut the list without a sign.
  if (shown.length < lines.length) shown[shown.length - 1] = line([{ t: `… ${lines.length - shown.length + 1} more (a taller terminal shows all)`, s: 'cyan-fg' }], inner);
  return { kind: 'help', title: ` Keys (${state.screen}) `, lines: shown, width, height };
}

function pickerOverlay(state: State, c: ComposeState, cols: number, rows: number): Overlay {
  const width = overlayWidth(70, cols);
  const inner = width - 4;
  const all = pickerRows(state, c);
  const height = Math.max(5, rows - 4);
  const listRows = Math.max(1, height - 5);
  const lines: string[] = [];
  lines.push(line([{ t: 'Filter: ', s: 'bold' }, ...inputSegs(c.picker.filter, Math.max(4, inner - 10), true)], inner));
  const chosen = c.all || c.channel ? recipientsText(c) : `${c.to.length} selected${c.to.length ? `: ${c.to.join(', ')}` : ''}`;
  lines.push(line([{ t: clean(chosen), s: 'cyan-fg' }], inner));
  const rendered = all.map((r, i) => {
    const sel = i === c.picker.cursor;
    let on: boolean;
    let text: string;
    switch (r.kind) {
      case 'all': on = c.all; text = 'All members (broadcast)'; break;
      case 'channel': on = c.channel === r.name; text = `${padEnd(`#${clean(r.name)}`, 16)} channel: ${clean(r.description)}`; break;
      case 'group': on = c.to.includes(`@${r.name}`); text = `${padEnd(`@${clean(r.name)}`, 16)} group of ${r.members}: ${clean(r.description)}`; break;
      default: on = c.to.includes(r.member.username); text = `${padEnd(clean(r.member.username), 16)} ${clean(r.member.institution)}`;
    }
    const online = r.kind === 'member' && r.member.online;
    const segs: Seg[] = [sel ? '▶ ' : '  ', `${on ? '[x]' : '[ ]'} `, online ? { t: '● ', s: 'green-fg' } : '  ', text];
    return line(sel ? segs.map(asInverse) : segs, inner);
  });
  if (rendered.length === 0) rendered.push(line([{ t: state.directory.loading ? 'Loading the directory…' : 'No member matches.', s: 'cyan-fg' }], inner));
  lines.push(...window(rendered, c.picker.cursor, listRows));
  return { kind: 'picker', title: ' Choose recipients ', lines: lines.slice(0, height - 2), width, height };
}

export function composeFocusIndex(c: ComposeState): number {
  return COMPOSE_FOCUS.indexOf(c.focus);
}
