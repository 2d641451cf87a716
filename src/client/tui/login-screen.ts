/** The login form: server, username, password; Ctrl-N opens the registration form instead. */
import { describe } from './describe.js';
import { ensureServer, formKey, goBack } from './form-keys.js';
import type { TuiHost } from './host.js';
import type { Key } from './keys.js';
import { formValues } from './model.js';
import { validateServer } from './validation.js';

export function loginKey(host: TuiHost, k: Key): void {
  formKey(host, 'login', k, {
    submit: () => submitLogin(host),
    escape: () => goBack(host, 'welcome'),
    own: (key) => {
      if (!(key.ctrl && key.name === 'n')) return false;
      host.dispatch({ type: 'form/reset', form: 'register', server: host.session.serverList, values: {} });
      host.dispatch({ type: 'navigate', screen: 'register', push: true });
      return true;
    },
  });
}

async function submitLogin(host: TuiHost): Promise<void> {
  const values = formValues(host.state.login);
  const server = values.server ?? '';
  const username = (values.username ?? '').trim().toLowerCase();
  const password = values.password ?? '';
  const serverError = validateServer(server);
  if (serverError) return loginError(host, 'server', serverError);
  if (!username) return loginError(host, 'username', 'Type your username.');
  if (!password) return loginError(host, 'password', 'Type your password.');
  host.dispatch({ type: 'form/status', form: 'login', busy: true, error: null });
  try {
    await ensureServer(host.session, server);
    const info = await host.session.login(username, password);
    host.loginPassword = password;
    const pending = host.loadConfig()?.pendingRegistration;
    host.saveConfig({ server: host.session.serverList, username, ...(pending && pending.username === username ? { pendingRegistration: undefined } : {}) });
    host.dispatch({ type: 'loggedIn', username: info.username || username, institution: info.institution, unread: info.unread, mustChangePassword: info.mustChangePassword });
    // With the mailed password the server serves nothing until it is replaced (the password form loads).
    if (!info.mustChangePassword) host.loadAll();
  } catch (err) {
    host.dispatch({ type: 'form/status', form: 'login', busy: false, error: describe(err) });
    host.dispatch({ type: 'form/focus', form: 'login', to: 2 });
  }
}

function loginError(host: TuiHost, fieldName: string, error: string): void {
  host.dispatch({ type: 'form/fieldError', form: 'login', field: fieldName, error });
  host.dispatch({ type: 'form/focus', form: 'login', to: host.state.login.fields.findIndex((f) => f.name === fieldName) });
}
