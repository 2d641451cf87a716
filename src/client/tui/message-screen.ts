/**
 * One message: scroll it, reply (r), delete it from the inbox (d), save its attachments into a
 * folder with their checksums verified (s), open the chosen one with the default application (o).
 */
import os from 'node:os';
import path from 'node:path';
import { agree, count } from '../counts.js';
import { openWithDefaultApp } from '../open-file.js';
import { acknowledge, awaitsAck } from './alert-overlay.js';
import { describe } from './describe.js';
import { field } from './editor.js';
import type { TuiHost } from './host.js';
import { PAGE, editKeyOf, type Key } from './keys.js';

export function messageKey(host: TuiHost, k: Key): void {
  const v = host.state.message;
  if (!v) return;
  if (v.savePrompt) {
    if (k.name === 'escape') return host.dispatch({ type: 'message/savePrompt', prompt: null });
    if (k.name === 'enter') return void downloadAll(host, v.savePrompt.value);
    const edit = editKeyOf(k, false);
    if (edit) host.dispatch({ type: 'message/savePromptEdit', key: edit });
    return;
  }
  const ch = (k.ch ?? '').toLowerCase();
  if (k.name === 'escape' || ch === 'q' || k.name === 'left' || k.name === 'backspace') {
    if (host.state.history.length) host.dispatch({ type: 'back' });
    else host.dispatch({ type: 'navigate', screen: 'main' });
    return;
  }
  if (k.name === 'up' || ch === 'k') return host.dispatch({ type: 'message/scroll', delta: -1 });
  if (k.name === 'down' || ch === 'j') return host.dispatch({ type: 'message/scroll', delta: 1 });
  if (k.name === 'pageup') return host.dispatch({ type: 'message/scroll', delta: -PAGE });
  if (k.name === 'pagedown' || k.name === 'space') return host.dispatch({ type: 'message/scroll', delta: PAGE });
  if (k.name === 'home') return host.dispatch({ type: 'message/scroll', delta: -1e9 });
  if (k.ch === '?') return host.dispatch({ type: 'help', open: true });
  const m = v.record;
  if (!m) return;
  if (k.name === 'tab') return host.dispatch({ type: 'message/attachmentMove', delta: k.shift ? -1 : 1 });
  if (ch === 'o' && m.attachments.length) return void openAttachment(host);
  if (ch === 'r') return host.reply(m, v.box);
  if (ch === 'a' && v.box === 'inbox' && awaitsAck(m)) return void acknowledge(host, m.id);
  if (ch === 'd' && v.box === 'inbox') return host.dispatch({ type: 'confirm', confirm: { kind: 'delete', id: m.id, subject: m.subject } });
  if (ch === 's' && m.attachments.length) {
    if (!host.transfers) return host.dispatch({ type: 'toast', text: 'Downloading attachments is not available in this build.', kind: 'error' });
    if (m.attachments.every((a) => a.removedAt)) return host.dispatch({ type: 'toast', text: REMOVED_TOAST, kind: 'error' });
    host.dispatch({ type: 'message/savePrompt', prompt: field('dir', 'Folder', { value: host.downloadDir }) });
  }
}

const REMOVED_TOAST = 'The server removed the attachment: its message expired longer ago than the server keeps attachments.';

async function downloadAll(host: TuiHost, dirInput: string): Promise<void> {
  const v = host.state.message;
  const m = v?.record;
  const transfers = host.transfers;
  if (!v || !m || !transfers) return;
  const dir = path.resolve(dirInput.trim().startsWith('~/') ? path.join(os.homedir(), dirInput.trim().slice(2)) : dirInput.trim() || '.');
  host.dispatch({ type: 'message/savePrompt', prompt: null });
  // Removed attachments (expired past the server's grace) have nothing left to download.
  const savable = m.attachments.filter((a) => !a.removedAt);
  host.dispatch({
    type: 'message/downloads',
    downloads: savable.map((a) => ({ attachmentId: a.id, name: a.name, size: a.size, done: 0, status: 'queued' as const })),
  });
  let ok = 0;
  for (const a of savable) {
    host.dispatch({ type: 'message/download', attachmentId: a.id, patch: { status: 'running' } });
    try {
      const r = await transfers.download(m, a, dir, (done, total) => {
        host.dispatch({ type: 'message/download', attachmentId: a.id, patch: { done, size: total } });
      });
      host.dispatch({ type: 'message/download', attachmentId: a.id, patch: { status: 'done', done: a.size, path: r.path } });
      ok++;
    } catch (err) {
      host.dispatch({ type: 'message/download', attachmentId: a.id, patch: { status: 'failed', error: describe(err) } });
    }
  }
  host.dispatch({
    type: 'toast',
    text: (ok === savable.length ? `Saved ${count(ok, 'attachment')} to ${dir}; checksums verified.` : `Saved ${ok} of ${count(savable.length, 'attachment')} to ${dir}.`)
      + (savable.length < m.attachments.length ? ` ${removedNotSaved(m.attachments.length - savable.length)}` : ''),
    kind: ok === savable.length ? 'info' : 'error',
  });
}

/** The removed attachments a save skipped, in a sentence. */
function removedNotSaved(n: number): string {
  return `${n} removed by the server (expired) ${agree(n, 'was', 'were')} not.`;
}

/** Opens the chosen attachment, once saved, with the system's default application. */
async function openAttachment(host: TuiHost): Promise<void> {
  const v = host.state.message;
  const a = v?.record?.attachments[v.attachmentCursor];
  if (!v || !a) return;
  if (a.removedAt) return host.dispatch({ type: 'toast', text: REMOVED_TOAST, kind: 'error' });
  const saved = v.downloads.find((d) => d.attachmentId === a.id && d.status === 'done' && d.path);
  if (!saved?.path) {
    return host.dispatch({ type: 'toast', text: `Save ${a.name} first (S); O then opens it.`, kind: 'error' });
  }
  try {
    const r = await openWithDefaultApp(saved.path);
    host.dispatch(r.opened
      ? { type: 'toast', text: `Opened ${saved.path} with ${r.opener}.` }
      : { type: 'toast', text: `No ${r.opener} here to open files with; the file is at ${saved.path}.`, kind: 'warning' });
  } catch (err) {
    host.dispatch({ type: 'toast', text: `Could not open ${saved.path}: ${describe(err)}`, kind: 'error' });
  }
}
