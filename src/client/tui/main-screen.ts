/**
 * The main screen: the inbox, outbox, directory and channels tabs. Enter opens a message or
 * writes to the member, channel or group under the cursor; `r` replies, `d` deletes, `U` resumes
 * and `X` withdraws an outbox message still being sent, Space subscribes to a channel.
 */
import type { MessageRecord } from '../../protocol/index.js';
import { describe } from './describe.js';
import type { TuiHost } from './host.js';
import { PAGE, type Key } from './keys.js';
import type { Audience, State, Tab } from './model.js';

/** The main screen's tabs; the channels tab only where the server has channels and groups. */
export function tabsOf(state: State): Tab[] {
  return state.channelsSupported ? ['inbox', 'outbox', 'directory', 'channels'] : ['inbox', 'outbox', 'directory'];
}

export function mainKey(host: TuiHost, k: Key): void {
  const s = host.state;
  const list = s[s.tab];
  const ch = k.ch ?? '';
  if (k.name === 'tab' || k.name === 'right' || k.name === 'left') {
    const tabs = tabsOf(s);
    const i = tabs.indexOf(s.tab);
    const step = k.name === 'left' || k.shift ? -1 : 1;
    return switchTab(host, tabs[(i + step + tabs.length) % tabs.length]!);
  }
  if (ch >= '1' && ch <= '9') {
    const tab = tabsOf(s)[Number(ch) - 1];
    if (tab) switchTab(host, tab);
    return;
  }
  if (k.name === 'up' || ch === 'k') return host.dispatch({ type: 'list/move', delta: -1 });
  if (k.name === 'down' || ch === 'j') return host.dispatch({ type: 'list/move', delta: 1 });
  if (k.name === 'pageup') return host.dispatch({ type: 'list/move', delta: -PAGE });
  if (k.name === 'pagedown') return host.dispatch({ type: 'list/move', delta: PAGE });
  if (k.name === 'home') return host.dispatch({ type: 'list/moveTo', index: 0 });
  if (k.name === 'end') return host.dispatch({ type: 'list/moveTo', index: list.items.length - 1 });
  if (s.tab === 'channels') {
    const a = s.channels.items[s.channels.cursor];
    if (a && (k.name === 'space' || ch === 's' || ch === 'u')) return void toggleSubscription(host, a);
    if (a && (k.name === 'enter' || ch === 'c')) return composeTo(host, a);
  }
  if (k.name === 'enter') {
    if (s.tab === 'directory') {
      const m = s.directory.items[s.directory.cursor];
      if (m) host.openCompose({ to: [m.username] });
      return;
    }
    if (s.tab === 'inbox' || s.tab === 'outbox') {
      const m = s[s.tab].items[s[s.tab].cursor];
      if (m) host.openMessage(m.id, s.tab);
    }
    return;
  }
  switch (ch.toLowerCase()) {
    case 'c': return host.openCompose({});
    case 'r': {
      const m = s.tab === 'inbox' ? s.inbox.items[s.inbox.cursor] : undefined;
      if (m) host.reply(m);
      return;
    }
    case 'd': {
      const m = s.tab === 'inbox' ? s.inbox.items[s.inbox.cursor] : undefined;
      if (m) host.dispatch({ type: 'confirm', confirm: { kind: 'delete', id: m.id, subject: m.subject } });
      return;
    }
    case 'u':
    case 'x': {
      // A message of the outbox still waiting for its attachments: resume it, or withdraw it.
      const m = s.tab === 'outbox' ? s.outbox.items[s.outbox.cursor] : undefined;
      if (m?.state !== 'sending') return;
      if (ch.toLowerCase() === 'u') return void resumeMessage(host, m);
      return host.dispatch({ type: 'confirm', confirm: { kind: 'cancel', id: m.id, subject: m.subject } });
    }
    case 'g': return host.loadAll();
    case 'p':
      host.dispatch({ type: 'form/reset', form: 'passwd', forced: false });
      host.dispatch({ type: 'navigate', screen: 'passwd', push: true });
      return;
    case '?': return host.dispatch({ type: 'help', open: true });
    case 'q': return host.dispatch({ type: 'confirm', confirm: { kind: 'quit' } });
  }
}

function switchTab(host: TuiHost, tab: Tab): void {
  host.dispatch({ type: 'tab', tab });
  void host.loadList(tab);
}

function composeTo(host: TuiHost, a: Audience): void {
  if (a.kind === 'group') return host.openCompose({ to: [`@${a.name}`] });
  if (a.archived) return host.dispatch({ type: 'toast', text: `#${a.name} is archived: it keeps its history but takes no new messages.`, kind: 'error' });
  if (!a.canPublish) {
    return host.dispatch({ type: 'toast', text: a.publish === 'named' ? `Only the publishers the administrator named may publish to #${a.name}.` : `Subscribe to #${a.name} first (Space) to publish to it.`, kind: 'error' });
  }
  host.openCompose({ channel: a.name });
}

async function toggleSubscription(host: TuiHost, a: Audience): Promise<void> {
  if (a.kind !== 'channel') return host.dispatch({ type: 'toast', text: `Groups are kept by the administrator; Enter writes to @${a.name}.` });
  if (!a.subscribed && !a.canSubscribe) {
    return host.dispatch({ type: 'toast', text: a.archived ? `#${a.name} is archived.` : `#${a.name} is restricted to members the administrator chose.`, kind: 'error' });
  }
  try {
    await (a.subscribed ? host.session.unsubscribe(a.name) : host.session.subscribe(a.name));
    host.dispatch({ type: 'channels/subscribed', name: a.name, subscribed: !a.subscribed });
    host.dispatch({ type: 'toast', text: a.subscribed ? `Unsubscribed from #${a.name}.` : `Subscribed to #${a.name}: its messages now pop up here.` });
    void host.loadList('channels');
  } catch (err) {
    host.dispatch({ type: 'toast', text: `Could not ${a.subscribed ? 'unsubscribe' : 'subscribe'}: ${describe(err)}`, kind: 'error' });
  }
}

/** Outbox messages each client is resuming now (one resume each). */
const resuming = new WeakMap<TuiHost, Set<number>>();

async function resumeMessage(host: TuiHost, m: MessageRecord): Promise<void> {
  if (!host.transfers) return host.dispatch({ type: 'toast', text: 'Attachments are not available in this build.', kind: 'error' });
  let busy = resuming.get(host);
  if (!busy) resuming.set(host, (busy = new Set()));
  if (busy.has(m.id)) return host.dispatch({ type: 'toast', text: `Message #${m.id} is being resumed already.` });
  busy.add(m.id);
  host.dispatch({ type: 'toast', text: `Resuming #${m.id}: each upload goes on from where the server's copy stopped…` });
  try {
    const r = await host.transfers.resume(m.id, (attachmentId, done) => {
      host.dispatch({ type: 'outbox/uploaded', id: m.id, attachmentId, uploaded: done });
    });
    host.dispatch({ type: 'toast', text: r.state === 'sent' ? `Message #${m.id} is sent: its attachments are all in.` : `Message #${m.id} is still waiting for attachments.` });
  } catch (err) {
    host.dispatch({ type: 'toast', text: `Could not resume #${m.id}: ${describe(err)}`, kind: 'error' });
  } finally {
    busy.delete(m.id);
    void host.loadList('outbox');
  }
}

/** Withdraws an outbox message still being sent (confirmed with y). */
export async function cancelMessage(host: TuiHost, id: number): Promise<void> {
  try {
    if (host.transfers) await host.transfers.cancel(id);
    else await host.session.cancel(id);
    host.dispatch({ type: 'toast', text: `Message #${id} withdrawn: nobody will receive it.` });
  } catch (err) {
    host.dispatch({ type: 'toast', text: `Could not withdraw #${id}: ${describe(err)}`, kind: 'error' });
  }
  void host.loadList('outbox');
}

/** Deletes a message from the inbox (confirmed with y), from the list or the message screen. */
export async function deleteMessage(host: TuiHost, id: number): Promise<void> {
  try {
    await host.session.deleteMessage(id);
    host.dispatch({ type: 'inbox/deleted', id });
    if (host.state.screen === 'message' && host.state.message?.id === id) {
      if (host.state.history.length) host.dispatch({ type: 'back' });
      else host.dispatch({ type: 'navigate', screen: 'main' });
    }
    host.dispatch({ type: 'toast', text: `Message #${id} deleted from your inbox.` });
  } catch (err) {
    host.dispatch({ type: 'toast', text: `Could not delete: ${describe(err)}`, kind: 'error' });
  }
}
