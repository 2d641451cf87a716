import { Args, SiarError } from '../../protocol/index.js';
import { optionalText, requireEmail, requireText, requireUsername } from '../../protocol/arguments.js';
import { parseServerList } from '../connection.js';

/**
 * The registration form's checks, field by field, before anything is sent. They run the server's
 * own validators (src/server/validation.ts), so the form accepts exactly what REGISTER accepts.
 */
export const MIN_PASSWORD_CHARS = 10;

export type RegistrationField = 'server' | 'institution' | 'contact' | 'email' | 'phone' | 'address' | 'username';

function check(run: () => unknown, message?: (err: SiarError) => string): string | null {
  try {
    run();
    return null;
  } catch (err) {
    if (err instanceof SiarError) return message ? message(err) : err.message;
    return (err as Error).message;
  }
}

/** null when the value is acceptable, else a sentence for the person. */
export function validateRegistrationField(name: RegistrationField | string, value: string): string | null {
  const args = Args.from({ [name]: value });
  switch (name) {
    case 'server': return validateServer(value);
    case 'institution': return check(() => requireText(args, name, 200), (e) => (e.code === 'MISSING_ARGUMENT' ? 'The institution name is required.' : 'At most 200 characters.'));
    case 'contact': return check(() => requireText(args, name, 200), (e) => (e.code === 'MISSING_ARGUMENT' ? 'Name the contact person.' : 'At most 200 characters.'));
    case 'email': return check(() => requireEmail(args), (e) => (e.code === 'MISSING_ARGUMENT' ? 'The e-mail address is required: the password is sent there.' : 'This is not an e-mail address (name@example.ac.id).'));
    case 'phone': {
      const r = check(() => optionalText(args, name, 50), () => 'At most 50 characters.');
      if (r) return r;
      return /^[0-9+()./ -]*$/.test(value.trim()) ? null : 'Digits, spaces and + ( ) - . / only.';
    }
    case 'address': return check(() => optionalText(args, name, 500), () => 'At most 500 characters.');
    case 'username': {
      if (value.trim().toLowerCase() === 'admin') return 'The username "admin" is reserved.';
      return check(() => requireUsername(args), (e) => (e.code === 'MISSING_ARGUMENT'
        ? 'Choose a username.'
        : '2-32 characters: a lower-case letter first, then a-z, 0-9, ".", "_" or "-".'));
    }
    default: return null;
  }
}

export function validateServer(value: string): string | null {
  if (!value.trim()) return 'The server address is required (host:port, or host:port,host:port,… for a cluster).';
  try {
    parseServerList(value);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

export function validateNewPassword(next: string, repeat: string, old?: string): { field: string; error: string } | null {
  if (next.length < MIN_PASSWORD_CHARS) return { field: 'new', error: `At least ${MIN_PASSWORD_CHARS} characters.` };
  if (old !== undefined && next === old) return { field: 'new', error: 'Choose a password different from the current one.' };
  if (next !== repeat) return { field: 'repeat', error: 'The two passwords differ.' };
  return null;
}
