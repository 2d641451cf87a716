/**
 * Writing a message: To (a pick-list of members, groups and channels, or everyone), subject,
 * body, attachments by path; Ctrl-S or the Send button sends it, with each upload's progress.
 */
import { statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { count } from '../counts.js';
import { TransferError } from '../transfer.js';
import { describe } from './describe.js';
import type { TuiHost } from './host.js';
import { PAGE, editKeyOf, type Key } from './keys.js';
import { COMPOSE_FOCUS, composeIsEmpty, pickerRows } from './model.js';

export function composeKey(host: TuiHost, k: Key): void {
  const c = host.state.compose;
  if (!c) return;
  if (c.confirmDiscard) {
    if (k.ch === 'y' || k.ch === 'Y') host.dispatch({ type: 'compose/close' });
    else if (k.ch === 'n' || k.ch === 'N' || k.name === 'escape') host.dispatch({ type: 'compose/confirmDiscard', on: false });
    return;
  }
  if (c.sending) return;
  if (c.picker.open) return pickerKey(host, k);
  if (c.pathPrompt) {
    if (k.name === 'escape') return host.dispatch({ type: 'compose/pathPrompt', open: false });
    if (k.name === 'enter') return addAttachment(host, c.pathPrompt.value);
    const edit = editKeyOf(k, false);
    if (edit) host.dispatch({ type: 'compose/pathEdit', key: edit });
    return;
  }
  if (k.ctrl && k.name === 's') return void send(host);
  if (k.name === 'escape') {
    if (composeIsEmpty(c)) host.dispatch({ type: 'compose/close' });
    else host.dispatch({ type: 'compose/confirmDiscard', on: true });
    return;
  }
  const i = COMPOSE_FOCUS.indexOf(c.focus);
  if (k.name === 'tab') {
    const next = COMPOSE_FOCUS[(i + (k.shift ? -1 : 1) + COMPOSE_FOCUS.length) % COMPOSE_FOCUS.length]!;
    return host.dispatch({ type: 'compose/focus', focus: next });
  }
  switch (c.focus) {
    case 'to':
      if (k.name === 'enter' || k.name === 'space') return openPicker(host);
      if (k.ch === 'a' || k.ch === 'A') return host.dispatch({ type: 'compose/toggleAll' });
      if (k.name === 'backspace' || k.name === 'delete') return host.dispatch({ type: 'compose/removeRecipient' });
      if (k.name === 'down') return host.dispatch({ type: 'compose/focus', focus: 'subject' });
      return;
    case 'subject': {
      if (k.name === 'enter' || k.name === 'down') return host.dispatch({ type: 'compose/focus', focus: 'body' });
      if (k.name === 'up') return host.dispatch({ type: 'compose/focus', focus: 'to' });
      const edit = editKeyOf(k, false);
      if (edit) host.dispatch({ type: 'compose/edit', key: edit });
      return;
    }
    case 'body': {
      if (k.name === 'up' && c.body.row === 0) return host.dispatch({ type: 'compose/focus', focus: 'subject' });
      const edit = editKeyOf(k, true);
      if (edit) host.dispatch({ type: 'compose/edit', key: edit });
      return;
    }
    case 'attachments':
      if (k.name === 'enter' || k.ch === '+' || k.ch === 'a') {
        if (!host.transfers) return host.dispatch({ type: 'compose/status', error: 'Attachments are not available in this build (no transfer client).' });
        return host.dispatch({ type: 'compose/pathPrompt', open: true });
      }
      if (k.name === 'delete' || k.name === 'backspace' || k.ch === 'x') return host.dispatch({ type: 'compose/removeAttachment' });
      if (k.name === 'up') {
        if (c.attachmentCursor === 0) return host.dispatch({ type: 'compose/focus', focus: 'body' });
        return host.dispatch({ type: 'compose/attachmentMove', delta: -1 });
      }
      if (k.name === 'down') {
        if (c.attachmentCursor >= c.attachments.length - 1) return host.dispatch({ type: 'compose/focus', focus: 'send' });
        return host.dispatch({ type: 'compose/attachmentMove', delta: 1 });
      }
      return;
    case 'send':
      if (k.name === 'enter') return void send(host);
      if (k.name === 'up') return host.dispatch({ type: 'compose/focus', focus: 'attachments' });
      return;
  }
}

function openPicker(host: TuiHost): void {
  host.dispatch({ type: 'compose/picker', open: true });
  void host.loadList('directory');
  if (host.state.channelsSupported) void host.loadList('channels');
}

function pickerKey(host: TuiHost, k: Key): void {
  const c = host.state.compose!;
  const rows = pickerRows(host.state, c);
  const row = rows[c.picker.cursor];
  const toggle = () => {
    if (!row) return;
    if (row.kind === 'all') host.dispatch({ type: 'compose/toggleAll' });
    else if (row.kind === 'channel') host.dispatch({ type: 'compose/toggleChannel', name: row.name });
    else if (row.kind === 'group') host.dispatch({ type: 'compose/toggle', username: `@${row.name}` });
    else host.dispatch({ type: 'compose/toggle', username: row.member.username });
  };
  if (k.name === 'up') return host.dispatch({ type: 'compose/pickerMove', delta: -1 });
  if (k.name === 'down') return host.dispatch({ type: 'compose/pickerMove', delta: 1 });
  if (k.name === 'pageup') return host.dispatch({ type: 'compose/pickerMove', delta: -PAGE });
  if (k.name === 'pagedown') return host.dispatch({ type: 'compose/pickerMove', delta: PAGE });
  if (k.name === 'space') return toggle();
  if (k.name === 'enter' || k.name === 'escape') {
    // Enter with nothing chosen yet takes the row under the cursor: one recipient in one key.
    if (k.name === 'enter' && c.to.length === 0 && !c.all && !c.channel) toggle();
    host.dispatch({ type: 'compose/picker', open: false });
    const after = host.state.compose;
    if (after && (after.to.length || after.all || after.channel) && k.name === 'enter') host.dispatch({ type: 'compose/focus', focus: 'subject' });
    return;
  }
  const edit = editKeyOf(k, false);
  if (edit) host.dispatch({ type: 'compose/pickerFilter', key: edit });
}

function addAttachment(host: TuiHost, input: string): void {
  const raw = input.trim();
  if (!raw) return host.dispatch({ type: 'compose/pathPrompt', open: false });
  const file = path.resolve(raw.startsWith('~/') ? path.join(os.homedir(), raw.slice(2)) : raw);
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error(`${raw} is not a file.`);
    size = st.size;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    host.dispatch({ type: 'compose/status', error: code === 'ENOENT' ? `No such file: ${raw}` : (err as Error).message });
    return;
  }
  host.dispatch({ type: 'compose/addAttachment', attachment: { path: file, name: path.basename(file), size, done: 0, status: 'queued' } });
}

async function send(host: TuiHost): Promise<void> {
  const c = host.state.compose;
  if (!c || c.sending) return;
  if (!c.all && !c.channel && c.to.length === 0) {
    host.dispatch({ type: 'compose/focus', focus: 'to' });
    return host.dispatch({ type: 'compose/status', error: 'Choose at least one recipient: Enter on "To:" opens the directory.' });
  }
  if (!c.subject.value.trim()) {
    host.dispatch({ type: 'compose/focus', focus: 'subject' });
    return host.dispatch({ type: 'compose/status', error: 'Write a subject: it is what the popup shows first.' });
  }
  if (c.attachments.length && !host.transfers) {
    return host.dispatch({ type: 'compose/status', error: 'Attachments are not available in this build; remove them to send.' });
  }
  host.dispatch({ type: 'compose/status', sending: true, error: null });
  const body = c.body.lines.join('\n');
  const subject = c.subject.value.trim();
  try {
    let result: { id: number; recipients: number };
    if (c.attachments.length && host.transfers) {
      c.attachments.forEach((_, index) => host.dispatch({ type: 'compose/attachment', index, patch: { status: 'queued', done: 0, error: undefined } }));
      result = await host.transfers.send(
        { ...(c.all ? { all: true } : c.channel ? { channel: c.channel } : { to: c.to }), subject, body, files: c.attachments.map((a) => a.path) },
        (index, done, total) => {
          host.dispatch({ type: 'compose/attachment', index, patch: { done, size: total, status: done >= total ? 'done' : 'running' } });
        },
      );
      c.attachments.forEach((a, index) => host.dispatch({ type: 'compose/attachment', index, patch: { status: 'done', done: a.size ?? 0 } }));
    } else {
      result = await host.session.send({ to: c.all || c.channel ? undefined : c.to, all: c.all, channel: c.channel ?? undefined, subject, body });
    }
    host.dispatch({ type: 'compose/close' });
    const n = result.recipients;
    if (n === 0) {
      // Stored, but no popup went anywhere: say so rather than "sent".
      const why = c.channel ? `#${c.channel} has no subscribers besides you` : 'it had no recipients';
      host.dispatch({ type: 'toast', text: `Message #${result.id} reached nobody: ${why}.`, kind: 'warning' });
    } else {
      host.dispatch({ type: 'toast', text: `Sent message #${result.id} to ${count(n, 'recipient')}${c.attachments.length ? ` with ${count(c.attachments.length, 'attachment')}` : ''}.` });
    }
    void host.loadList('outbox');
  } catch (err) {
    const error = describe(err);
    host.state.compose?.attachments.forEach((a, index) => {
      if (a.status !== 'done') host.dispatch({ type: 'compose/attachment', index, patch: { status: 'failed', error: undefined } });
    });
    // Stored but not all uploaded, and the server could not be told to drop it: it waits in the outbox.
    const waiting = err instanceof TransferError && err.cancelled === false ? ` Message #${err.messageId} waits in the outbox: U there resumes it, X withdraws it.` : '';
    host.dispatch({ type: 'compose/status', sending: false, error: `Not sent: ${error}${waiting}` });
  }
}
