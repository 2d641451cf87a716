import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { RemoteError, SiarClient, parseServerAddress } from '../connection.js';

/** A failure the CLI reports as one line on stderr with a non-zero exit code. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

export interface ClientOptions {
  server?: string;
  tls?: boolean;
  ca?: string;
  user?: string;
  'password-file'?: string;
  json?: boolean;
}

export function withServer<T>(y: Argv<T>) {
  return y.option('server', {
    type: 'string',
    describe: 'siar server as host:port (env SIAR_SERVER, default 127.0.0.1:7400)',
    default: process.env.SIAR_SERVER,
    defaultDescription: '$SIAR_SERVER or 127.0.0.1:7400',
  })
    .option('tls', { type: 'boolean', describe: 'speak TLS and verify the server against the system CAs (env SIAR_TLS=1)', default: process.env.SIAR_TLS === '1' })
    .option('ca', { type: 'string', describe: 'PEM file of a private CA to verify the server with; implies --tls (env SIAR_CA)', default: process.env.SIAR_CA });
}

export function withLogin<T>(y: Argv<T>) {
  return withServer(y)
    .option('user', { type: 'string', describe: 'username (env SIAR_USER)', default: process.env.SIAR_USER })
    .option('password-file', { type: 'string', describe: 'file whose first line is the password (else env SIAR_PASSWORD)' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object per line' });
}

/** The password never comes from argv: env SIAR_PASSWORD, --password-file, or a fallback file. */
export function readPassword(opts: ClientOptions, fallbackFile?: string): string {
  const file = opts['password-file'];
  if (file) {
    try {
      return (readFileSync(file === '-' ? 0 : file, 'utf8').split(/\r?\n/)[0] ?? '').trim();
    } catch (err) {
      throw new CliError(`Cannot read the password file ${file}: ${(err as Error).message}`);
    }
  }
  if (process.env.SIAR_PASSWORD) return process.env.SIAR_PASSWORD;
  if (fallbackFile && existsSync(fallbackFile)) return readFileSync(fallbackFile, 'utf8').split(/\r?\n/)[0]!.trim();
  throw new CliError('No password: set SIAR_PASSWORD or give --password-file FILE.');
}

/** TLS settings for SiarClient.connect from --tls / --ca. */
export function tlsOptions(opts: ClientOptions): { tls?: { ca?: Buffer } } {
  if (opts.ca) {
    try {
      return { tls: { ca: readFileSync(opts.ca) } };
    } catch (err) {
      throw new CliError(`Cannot read the CA file ${opts.ca}: ${(err as Error).message}`);
    }
  }
  return opts.tls ? { tls: {} } : {};
}

export async function connect(opts: ClientOptions): Promise<SiarClient> {
  let address;
  try {
    address = parseServerAddress(opts.server);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  try {
    return await SiarClient.connect({ ...address, ...tlsOptions(opts) });
  } catch (err) {
    throw new CliError((err as Error).message, 2);
  }
}

/** Connects and logs in; the caller closes the client. */
export async function connectAndLogin(opts: ClientOptions, fallback?: { user: string; passwordFile: string }): Promise<SiarClient> {
  const user = opts.user || fallback?.user;
  if (!user) throw new CliError('No username: give --user or set SIAR_USER.');
  const password = readPassword(opts, fallback?.passwordFile);
  const client = await connect(opts);
  try {
    // One-shot commands must not swallow missed popups: they stay for `siar listen` or the TUI.
    await client.login(user, password, { popups: false });
  } catch (err) {
    await client.close();
    throw err;
  }
  return client;
}

/** Runs a command body with a logged-in client, always closing it. */
export async function withClient<T>(opts: ClientOptions, body: (client: SiarClient) => Promise<T>, fallback?: { user: string; passwordFile: string }): Promise<T> {
  const client = await connectAndLogin(opts, fallback);
  try {
    return await body(client);
  } finally {
    await client.close();
  }
}

/** Admin commands default to user `admin` and, on the server machine, to `<data>/admin-password`. */
export function adminFallback(dataDir = 'data') {
  return { user: 'admin', passwordFile: path.join(dataDir, 'admin-password') };
}

export function printJson(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

/** What a member logged in with the mailed (one-time) password must do before anything else. */
export const FIRST_LOGIN_HINT = 'The mailed password is for the first login only: set your own with `SIAR_NEW_PASSWORD=… siar passwd` (or --new-password-file FILE), then log in with it.';

export function describeError(err: unknown): string {
  if (err instanceof RemoteError && err.code === 'PASSWORD_CHANGE_REQUIRED') return `${FIRST_LOGIN_HINT} (${err.code})`;
  if (err instanceof RemoteError) return `${err.message} (${err.code})`;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Fixed-width columns for human output; the last column is not padded. */
export function table(rows: string[][], header: string[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.min(40, Math.max(...all.map((r) => (r[i] ?? '').length))));
  return all
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : clip(c, widths[i]!).padEnd(widths[i]!))).join('  '))
    .join('\n') + '\n';
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/** A yargs command whose handler receives the typed options its builder declares. */
export function defineCommand<T>(def: {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv<any>;
  handler: (opts: T) => Promise<void>;
}): CommandModule<object, any> {
  return def as unknown as CommandModule<object, any>;
}
