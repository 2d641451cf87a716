/**
 * The registration form: each field checked as it is left and all of them on Enter, then REGISTER
 * with wait=1 (the waiting screen follows the decision); the server's refusals land on their field.
 */
import { RemoteError } from '../connection.js';
import { describe } from './describe.js';
import { ensureServer, formKey, goBack } from './form-keys.js';
import type { TuiHost } from './host.js';
import type { Key } from './keys.js';
import { formValues } from './model.js';
import { validateRegistrationField } from './validation.js';

/** The field a refusal is about. */
const FIELD_OF: Record<string, string> = { DUPLICATE_USERNAME: 'username', DUPLICATE_EMAIL: 'email', BAD_EMAIL: 'email' };

export function registerKey(host: TuiHost, k: Key): void {
  formKey(host, 'register', k, { submit: () => submitRegister(host), escape: () => goBack(host, 'login') });
}

async function submitRegister(host: TuiHost): Promise<void> {
  const values = formValues(host.state.register);
  let firstBad = -1;
  host.state.register.fields.forEach((f, i) => {
    const error = validateRegistrationField(f.name, f.value);
    host.dispatch({ type: 'form/fieldError', form: 'register', field: f.name, error });
    if (error && firstBad < 0) firstBad = i;
  });
  if (firstBad >= 0) {
    host.dispatch({ type: 'form/focus', form: 'register', to: firstBad });
    host.dispatch({ type: 'form/status', form: 'register', error: 'Please correct the marked field(s).' });
    return;
  }
  host.dispatch({ type: 'form/status', form: 'register', busy: true, error: null });
  const { session } = host;
  try {
    await ensureServer(session, values.server!);
    const username = values.username!.trim().toLowerCase();
    const email = values.email!.trim().toLowerCase();
    const { id: requestId } = await session.register({
      institution: values.institution!, contact: values.contact!, email, phone: values.phone || undefined,
      address: values.address || undefined, username, wait: true,
    });
    host.saveConfig({ server: session.serverList, pendingRegistration: { id: requestId, username, email, server: session.serverList } });
    host.dispatch({ type: 'registered', requestId, username, email });
  } catch (err) {
    const f = err instanceof RemoteError ? FIELD_OF[err.code] : undefined;
    if (f) {
      host.dispatch({ type: 'form/fieldError', form: 'register', field: f, error: (err as Error).message });
      const idx = host.state.register.fields.findIndex((x) => x.name === f);
      host.dispatch({ type: 'form/focus', form: 'register', to: idx });
    }
    host.dispatch({ type: 'form/status', form: 'register', busy: false, error: describe(err) });
  }
}
