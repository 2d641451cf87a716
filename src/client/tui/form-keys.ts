/** What the registration, login and password forms share: moving between fields, editing, Enter, Esc. */
import { OfflineError, type SessionState, type SiarSession } from '../session.js';
import type { TuiHost } from './host.js';
import { editKeyOf, type Key } from './keys.js';
import type { FormName, Screen } from './model.js';
import { validateRegistrationField } from './validation.js';

export interface FormScreen {
  /** Enter on the last field (or the button). */
  submit(): Promise<void>;
  /** Esc. */
  escape(): void;
  /** A key of this form's own, before the common ones; true when it was handled. */
  own?(k: Key): boolean;
}

export function formKey(host: TuiHost, name: FormName, k: Key, screen: FormScreen): void {
  const form = host.state[name];
  if (form.busy) return;
  const n = form.fields.length;
  if (k.name === 'escape') return screen.escape();
  if (screen.own?.(k)) return;
  if ((k.name === 'tab' && !k.shift) || k.name === 'down') return formFocus(host, name, form.focus + 1);
  if ((k.name === 'tab' && k.shift) || k.name === 'up') return formFocus(host, name, form.focus - 1);
  if (k.name === 'enter') {
    if (form.focus >= n - 1) return void screen.submit();
    return formFocus(host, name, form.focus + 1);
  }
  if (form.focus >= n) return;
  const edit = editKeyOf(k, false);
  if (edit) host.dispatch({ type: 'form/edit', form: name, key: edit });
}

/** Moves the focus; leaving a registration field checks it. */
function formFocus(host: TuiHost, name: FormName, to: number): void {
  const form = host.state[name];
  const leaving = form.fields[form.focus];
  if (name === 'register' && leaving && to > form.focus) {
    host.dispatch({ type: 'form/fieldError', form: name, field: leaving.name, error: validateRegistrationField(leaving.name, leaving.value) });
  }
  host.dispatch({ type: 'form/focus', form: name, to: Math.max(0, Math.min(to, form.fields.length)) });
}

/** Back where the person came from, or to `fallback`. */
export function goBack(host: TuiHost, fallback: Screen): void {
  if (host.state.history.length) host.dispatch({ type: 'back' });
  else host.dispatch({ type: 'navigate', screen: fallback });
}

/** Points the session at `address` and waits until it is connected there (or says why not). */
export async function ensureServer(session: SiarSession, address: string): Promise<void> {
  session.setAddress(address.trim());
  const ok = (s: SessionState) => s.status === 'connected' || s.status === 'online';
  if (ok(session.state)) return;
  if (session.state.status === 'offline') session.retryNow();
  // Every server of a list is tried once before the address is called unreachable.
  const s = await session.waitFor((st) => ok(st) || (st.status === 'offline' && st.attempt >= session.serverCount), 20_000);
  if (!ok(s)) throw new OfflineError(`Cannot reach the siar server at ${s.address}: ${s.error ?? 'no answer'}. Check the address; retrying in the background.`);
}
