import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { showControls } from '../../protocol/index.js';
import { RemoteError, SiarClient, connectFirst, parseServerList, serverOrder } from '../connection.js';

/** A failure the CLI reports as one line on stderr (then `details`, if any) with a non-zero exit code. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1, readonly details?: string) {
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
    describe: 'siar server as host:port, or a cluster\'s nodes as host:port,host:port,… tried in a random order, the next on refusal (env SIAR_SERVER, default 127.0.0.1:7400)',
    default: process.env.SIAR_SERVER,
    defaultDescription: '$SIAR_SERVER or 127.0.0.1:7400',
  })
    .option('tls', { type: 'boolean', describe: 'speak TLS and verify the server against the system CAs (env SIAR_TLS=1)', default: process.env.SIAR_TLS === '1' })
    .option('ca', { type: 'string', describe: 'PEM file of a private CA to verify the server with; implies --tls (env SIAR_CA)', default: process.env.SIAR_CA });
}

export function withLogin<T>(y: Argv<T>) {
  return withServer(y)
    .option('user', { type: 'string', describe: 'username (env SIAR_USER)', default: process.env.SIAR_USER })
    .option('password-file', { type: 'string', requiresArg: true, describe: 'file whose first line is the password, or - for stdin (else env SIAR_PASSWORD)' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object per line' });
}

/** The password never comes from argv: env SIAR_PASSWORD, --password-file, or a fallback file. */
export function readPassword(opts: ClientOptions, fallbackFile?: string): string {
  const file = opts['password-file'];
  if (file) return readFirstLine(file, 'the password file');
  if (process.env.SIAR_PASSWORD) return process.env.SIAR_PASSWORD;
  if (fallbackFile && existsSync(fallbackFile)) return readFileSync(fallbackFile, 'utf8').split(/\r?\n/)[0]!.trim();
  if (fallbackFile) {
    throw new CliError(`No password: set SIAR_PASSWORD or give --password-file FILE; on the server machine, give --data DIR (the server's data directory: its admin-password is used; ${fallbackFile} does not exist).`);
  }
  throw new CliError('No password: set SIAR_PASSWORD or give --password-file FILE.');
}

/** The first line of `file` (standard input for `-`), trimmed: how passwords are read from files. */
export function readFirstLine(file: string, what: string): string {
  try {
    return (readFileSync(file === '-' ? 0 : file, 'utf8').split(/\r?\n/)[0] ?? '').trim();
  } catch (err) {
    throw new CliError(`Cannot read ${what} ${file}: ${(err as Error).message}`);
  }
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

/** The servers of --server / SIAR_SERVER, in the order this client tries them. */
export function serverList(opts: ClientOptions): ReturnType<typeof parseServerList> {
  try {
    return serverOrder(parseServerList(opts.server));
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** Connects to the first of the servers that answers; each refusal followed by another address is said on stderr. */
export async function connect(opts: ClientOptions): Promise<SiarClient> {
  const order = serverList(opts);
  const tls = tlsOptions(opts);
  try {
    return await connectFirst(order, tls, (_failed, reason, next) => printErr(`${reason}; trying ${next}\n`));
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

/**
 * One JSON object on a line, exact: JSON.stringify escapes C0 controls; DEL, C1, bidi overrides
 * and the line/paragraph separators are escaped too (\u009b): the same value in safer bytes.
 */
export function printJson(obj: unknown): void {
  // eslint-disable-next-line no-control-regex
  const json = JSON.stringify(obj).replace(/[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  process.stdout.write(json + '\n');
}

/**
 * Human output on stdout. Everything printed may hold text from other people: control and
 * bidi-override characters are shown as escapes (`\x1b`), never sent to the terminal. Line breaks
 * stay, so a value that must stay on its line goes through oneLine() first.
 */
export function print(text: string): void {
  process.stdout.write(showControls(text, { lines: true }));
}

/** Human output on stderr (progress, notes, warnings), neutralised like print(). */
export function printErr(text: string): void {
  process.stderr.write(showControls(text, { lines: true }));
}

/** A value shown within a line: its line breaks and tabs are shown as escapes too. */
export function oneLine(value: string): string {
  return showControls(value);
}

/** A comma list from an option that may repeat: `--to a,b --to c` → [a, b, c]. */
export function commaList(value: string | string[] | undefined): string[] {
  return (Array.isArray(value) ? value : value === undefined ? [] : [value])
    .flatMap((v) => String(v).split(','))
    .map((s) => s.trim())
    .filter(Boolean);
}

/** What a member logged in with the mailed (one-time) password must do before anything else. */
export const FIRST_LOGIN_HINT = 'The mailed password is for the first login only: set your own with `SIAR_NEW_PASSWORD=… siar passwd` (or --new-password-file FILE), then log in with it.';

/** What the user reads about a failure: one line, never a stack or a JavaScript error's own text. */
export function describeError(err: unknown): string {
  if (err instanceof RemoteError && err.code === 'PASSWORD_CHANGE_REQUIRED') return `${FIRST_LOGIN_HINT} (${err.code})`;
  // Server sentences may quote what others wrote (names, attachment names): one line, no controls.
  if (err instanceof RemoteError) return oneLine(`${err.message} (${err.code})`);
  if (isBug(err)) return 'siar failed inside (a bug; nothing in your command explains it). Run it again with SIAR_DEBUG=1 to see the details, and report them.';
  if (err instanceof Error) return oneLine(err.message);
  return oneLine(String(err));
}

/** JavaScript's own errors (TypeError, RangeError…) and Node's argument checks mean siar itself went wrong. */
export function isBug(err: unknown): boolean {
  if (!(err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError || err instanceof SyntaxError || err instanceof EvalError)) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code !== 'string' || code.startsWith('ERR_INVALID_ARG');
}

/** Fixed-width columns for human output; the last column is not padded. */
export function table(rows: string[][], header: string[]): string {
  const all = [header, ...rows.map((r) => r.map(oneLine))];
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
