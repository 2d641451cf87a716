import { RemoteError } from '../connection.js';

/** A failure as the terminal clients show it: the server's sentence and code, or the error's message. */
export function describe(err: unknown): string {
  if (err instanceof RemoteError) {
    switch (err.code) {
      case 'BAD_CREDENTIALS': return err.message === 'Wrong username or password.' ? 'Wrong username or password.' : err.message;
      case 'ACCOUNT_SUSPENDED': return 'This account is suspended; contact the administrator.';
      default: return `${err.message} (${err.code})`;
    }
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
