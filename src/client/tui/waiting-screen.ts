/**
 * After registering: waiting for the administrator's decision, which arrives as a DECISION push;
 * approved leads to the login form, rejected shows the reason and back to the form.
 */
import type { Decision } from '../replies.js';
import type { TuiHost } from './host.js';
import type { Key } from './keys.js';

export function waitingKey(host: TuiHost, k: Key): void {
  const w = host.state.waiting;
  if (!w) return;
  if (k.ch === '?') return host.dispatch({ type: 'help', open: true });
  if (k.name === 'enter' && w.status === 'rejected') {
    host.dispatch({ type: 'navigate', screen: 'register' });
  } else if ((k.name === 'enter' && w.status !== 'waiting') || k.ch === 'l' || k.ch === 'L') {
    host.toLogin(w.username, w.status === 'approved' ? `Approved. Your password was e-mailed to ${w.email}.` : null);
  }
}

/** The decision on the request this client waits for (another request's is ignored). */
export function decisionArrived(host: TuiHost, d: Decision): void {
  const w = host.state.waiting;
  if (!w || (d.id && d.id !== w.requestId)) return;
  const status = d.status === 'approved' ? 'approved' : 'rejected';
  host.dispatch({ type: 'decision', status, reason: d.reason ?? null });
  if (status === 'approved') {
    host.saveConfig({ username: d.username || w.username, pendingRegistration: undefined });
    host.dispatch({ type: 'form/reset', form: 'login', server: host.session.serverList, username: d.username || w.username, notice: `Approved. Your password was e-mailed to ${w.email}.` });
  } else {
    host.saveConfig({ pendingRegistration: undefined });
  }
}
