/**
 * The password form: the member's own password, asked for at once after a login with the mailed
 * one (forced: Esc cannot leave it), or from the main screen with `p`.
 */
import { RemoteError } from '../connection.js';
import { describe } from './describe.js';
import { formKey } from './form-keys.js';
import type { TuiHost } from './host.js';
import type { Key } from './keys.js';
import { formValues } from './model.js';
import { validateNewPassword } from './validation.js';

export function passwdKey(host: TuiHost, k: Key): void {
  formKey(host, 'passwd', k, {
    submit: () => submitPasswd(host),
    escape: () => {
      // The server refuses everything else until the mailed password is replaced.
      if (host.state.passwd.forced) {
        host.dispatch({ type: 'form/status', form: 'passwd', busy: false, error: 'The mailed password works only once: choose your own to go on (Ctrl-C quits).' });
        return;
      }
      host.dispatch({ type: 'navigate', screen: 'main' });
    },
  });
}

async function submitPasswd(host: TuiHost): Promise<void> {
  const p = host.state.passwd;
  const v = formValues(p);
  const old = p.forced ? host.loginPassword : (v.old ?? '');
  if (!p.forced && !old) {
    host.dispatch({ type: 'form/fieldError', form: 'passwd', field: 'old', error: 'Type your current password.' });
    return host.dispatch({ type: 'form/focus', form: 'passwd', to: 0 });
  }
  const bad = validateNewPassword(v.new ?? '', v.repeat ?? '', old);
  for (const f of p.fields) host.dispatch({ type: 'form/fieldError', form: 'passwd', field: f.name, error: bad?.field === f.name ? bad.error : null });
  if (bad) return host.dispatch({ type: 'form/focus', form: 'passwd', to: p.fields.findIndex((f) => f.name === bad.field) });
  host.dispatch({ type: 'form/status', form: 'passwd', busy: true, error: null });
  try {
    await host.session.changePassword(old, v.new!);
    host.loginPassword = v.new!;
    host.dispatch({ type: 'form/reset', form: 'passwd', forced: false });
    host.dispatch({ type: 'navigate', screen: 'main' });
    host.dispatch({ type: 'toast', text: 'Password changed. Use the new one from now on.' });
    if (p.forced) host.loadAll();
  } catch (err) {
    host.dispatch({ type: 'form/status', form: 'passwd', busy: false, error: describe(err) });
    if (err instanceof RemoteError && err.code === 'BAD_CREDENTIALS' && !p.forced) {
      host.dispatch({ type: 'form/fieldError', form: 'passwd', field: 'old', error: 'This is not your current password.' });
      host.dispatch({ type: 'form/focus', form: 'passwd', to: 0 });
    }
  }
}
