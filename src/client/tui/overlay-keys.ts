/** The keys of what can cover any screen: a popup (Enter opens it, Esc dismisses), the help, a y/n question. */
import { acknowledge } from './alert-overlay.js';
import type { TuiHost } from './host.js';
import type { Key } from './keys.js';
import { cancelMessage, deleteMessage } from './main-screen.js';

export function popupKey(host: TuiHost, k: Key): void {
  const p = host.state.popups[0];
  if (!p) return;
  // A withdrawn message is no longer served: its notice only goes away.
  if (p.withdrawn) {
    if (k.name === 'escape' || k.name === 'x' || k.name === 'enter') host.dispatch({ type: 'popup/dismiss' });
    return;
  }
  if (k.name === 'enter' || k.name === 'o') {
    host.dispatch({ type: 'popup/dismiss' });
    if (host.state.me) host.openMessage(p.id, 'inbox');
  } else if (k.name === 'escape' || k.name === 'x') {
    host.dispatch({ type: 'popup/dismiss' });
  } else if ((k.ch === 'a' || k.ch === 'A') && p.ack) {
    void acknowledge(host, p.id);
  } else if (k.ch === 'a' || k.ch === 'A') {
    host.dispatch({ type: 'popup/dismissAll' });
  }
}

export function helpKey(host: TuiHost, k: Key): void {
  if (['escape', 'enter', 'q', '?'].includes(k.name)) host.dispatch({ type: 'help', open: false });
}

export function confirmKey(host: TuiHost, k: Key): void {
  const c = host.state.confirm;
  if (!c) return;
  if (k.ch === 'y' || k.ch === 'Y') {
    host.dispatch({ type: 'confirm', confirm: null });
    if (c.kind === 'quit') host.quit();
    else if (c.kind === 'cancel') void cancelMessage(host, c.id);
    else void deleteMessage(host, c.id);
  } else if (k.ch === 'n' || k.ch === 'N' || k.name === 'escape') {
    host.dispatch({ type: 'confirm', confirm: null });
  }
}
