import type { ArgInput, ErrorCode } from '../protocol/index.js';
import { SiarCalls, type PushEvents } from './calls.js';
import {
  RemoteError, SiarClient, formatAddress, parseServerList, serverOrder, type ConnectOptions, type Reply, type ServerAddress,
} from './connection.js';
import type { LoginInfo } from './replies.js';

export type { LoginInfo };

/**
 * A long-lived, self-healing siar session on top of SiarClient, for programs that stay up all day
 * (the terminal client, the admin console). UI-free: it reports what happens as events.
 *
 * - Connects at start() and keeps a connection: a lost connection (server restart, network drop,
 *   a server that stops answering the heartbeat) is retried with exponential backoff and jitter.
 * - The address may be a list (`host:port,host:port,…`, the nodes of a cluster): they are tried in
 *   a shuffled order (serverOrder), the next one at once after a refusal, a lost connection or a
 *   server shutting down; only after a whole round failed does the backoff wait, so nothing spins.
 * - After login() it remembers the username and password in memory only (never on disk) and the
 *   session token. After a reconnection it re-attaches with RESUME token= (no password hash on the
 *   server, so a node's clients can all move at once), falling back to LOGIN with the password when
 *   the token is refused (expired, closed, or an older server); either way the server replays the
 *   popups missed meanwhile, and popups are passed on once per message id (a replay may repeat one
 *   the old connection had already shown).
 * - A request whose token the server no longer accepts (expired, or closed) logs in again once and
 *   is retried; so does a connection the server closed because the session expired
 *   (SESSION_EXPIRED). If the password is refused on re-login (changed elsewhere, account
 *   suspended) the credentials are dropped and 'authLost' tells the UI to ask again.
 * - A connection the server closed with SESSION_CLOSED (the password was changed or reset, the
 *   account suspended, the session logged out from elsewhere) drops the credentials at once and
 *   reports 'authLost' with the server's reason: logging in again with them would be refused, or
 *   would undo what the server did on purpose. The session reconnects, logged out.
 */

export type SessionStatus =
  /** Opening a connection. */
  | 'connecting'
  /** Connected, not logged in (registration and login happen here). */
  | 'connected'
  /** Connected again after a loss, logging in again with the remembered credentials. */
  | 'authenticating'
  /** Logged in: requests work and pushes arrive. */
  | 'online'
  /** The connection is lost or could not be opened; the next attempt is at retryAt. */
  | 'offline'
  /** close() was called. */
  | 'closed';

export interface SessionState {
  status: SessionStatus;
  /** The server in use (or being tried) as `host:port`. */
  address: string;
  /** Attempts that failed since the last good connection. */
  attempt: number;
  /** While offline: when the next attempt starts (ms since the epoch). */
  retryAt: number | null;
  /** Why the connection was lost, or why the last attempt failed. */
  error: string | null;
  /** The member logged in, or remembered for re-login. */
  username: string | null;
  /** How many times the connection was re-established after a loss. */
  reconnects: number;
}

export interface BackoffOptions {
  /** First delay after a loss (default 1 s). */
  initialMs?: number;
  /** Longest delay (default 30 s). */
  maxMs?: number;
  /** Growth per failed attempt (default 2). */
  factor?: number;
  /** Each delay is shortened by up to this fraction at random, so many clients do not return at once (default 0.2). */
  jitter?: number;
}

export interface SessionOptions {
  /** `host:port` (default port 7400), or a list `host:port,host:port,…` to fail over along. */
  address: string;
  backoff?: BackoffOptions;
  /** A PING this often; a PING without reply within requestTimeoutMs ends the connection (default 30 s). */
  heartbeatMs?: number;
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Speak TLS and verify the server (`{}`: system CAs, `ca`: a private CA); attachments follow it. */
  tls?: ConnectOptions['tls'];
  /** For tests: how connections are opened. */
  connect?: (opts: ConnectOptions) => Promise<SiarClient>;
  random?: () => number;
}

/** A request made while there is no usable connection. */
export class OfflineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OfflineError';
  }
}

/** Codes after which the remembered password is useless (the UI must ask the person). */
const AUTH_FATAL = new Set<ErrorCode>(['BAD_CREDENTIALS', 'ACCOUNT_SUSPENDED', 'FORBIDDEN']);
/** RESUME refusals after which the password is tried (UNKNOWN_COMMAND: a server older than RESUME). */
const RESUME_REFUSED = new Set<ErrorCode>(['BAD_TOKEN', 'TOKEN_EXPIRED', 'LOGIN_LOCKED', 'UNKNOWN_COMMAND']);
/** Popup ids remembered for deduplication: far more than a replay holds. */
const SEEN_POPUPS = 10_000;
/** Codes that mean "log in again", after which a request is retried once. */
const TOKEN_STALE = new Set<ErrorCode>(['BAD_TOKEN', 'TOKEN_EXPIRED', 'AUTH_REQUIRED']);

/** The server's pushes (from whichever connection is current, as 'push' and typed events), and: */
export type SessionEvents = PushEvents & {
  state: [state: SessionState];
  /**
   * A successful login; `resumed` when it was the automatic re-login after a reconnection, `byToken`
   * when that re-attached the session with RESUME rather than the password.
   */
  login: [info: LoginInfo, how: { resumed: boolean; byToken?: boolean }];
  /** The remembered credentials were refused on re-login; the session is connected but logged out. */
  authLost: [error: Error];
};

export function backoffDelay(attempt: number, opts: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = opts.initialMs ?? 1000;
  const max = opts.maxMs ?? 30_000;
  const factor = opts.factor ?? 2;
  const jitter = Math.min(Math.max(opts.jitter ?? 0.2, 0), 1);
  const base = Math.min(max, initial * Math.pow(factor, Math.max(0, attempt)));
  return Math.max(0, Math.round(base * (1 - jitter * random())));
}

export class SiarSession extends SiarCalls<SessionEvents> {
  private client: SiarClient | null = null;
  private credentials: { username: string; password: string } | null = null;
  private token = '';
  private servers: ServerAddress[];
  /** The list as given, for saving. */
  private listText: string;
  /** Index in `servers` of the one in use or being tried. */
  private current = 0;
  private readonly seenPopups = new RecentIds(SEEN_POPUPS);
  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private connecting = false;
  private started = false;
  private lostOnce = false;
  private relogin: Promise<void> | null = null;
  private _state: SessionState;

  constructor(private readonly opts: SessionOptions) {
    super();
    this.servers = serverOrder(parseServerList(opts.address), opts.random);
    this.listText = opts.address.trim() || formatAddress(this.servers[0]!);
    this._state = {
      status: 'connecting', address: formatAddress(this.servers[0]!), attempt: 0, retryAt: null, error: null,
      username: null, reconnects: 0,
    };
  }

  get state(): SessionState {
    return this._state;
  }

  /** The server in use (or being tried) as `host:port`. */
  get address(): string {
    return this._state.address;
  }

  /** How many servers the list names. */
  get serverCount(): number {
    return this.servers.length;
  }

  /** Every server of the list, as given (what a client saves for next time). */
  get serverList(): string {
    return this.listText;
  }

  get isOnline(): boolean {
    return this._state.status === 'online';
  }

  get isConnected(): boolean {
    return this._state.status === 'connected' || this._state.status === 'online' || this._state.status === 'authenticating';
  }

  /** Opens the first connection (and keeps one open until close()). */
  start(): void {
    if (this.started) return;
    this.started = true;
    void this.attempt();
  }

  /** Moves to another server (or list): drops the current connection (and any login) and connects there now. */
  setAddress(address: string): void {
    const list = parseServerList(address);
    const key = (l: ServerAddress[]) => l.map(formatAddress).sort().join(',');
    if (key(list) === key(this.servers)) return;
    this.servers = serverOrder(list, this.opts.random);
    this.listText = address.trim();
    this.current = 0;
    this.credentials = null;
    this.token = '';
    this.lostOnce = false;
    this.dropClient();
    this.update({ address: formatAddress(this.servers[0]!), attempt: 0, retryAt: null, error: null, username: null, status: 'connecting' });
    if (this.started) this.retryNow();
  }

  /** Skips the backoff wait and tries to connect at once (the "retry now" key). */
  retryNow(): void {
    if (this._state.status === 'closed' || this.connecting || this.client) return;
    clearTimeout(this.retryTimer);
    void this.attempt();
  }

  /** Resolves when `match` holds for the state (or rejects after `timeoutMs`). */
  waitFor(match: (s: SessionState) => boolean, timeoutMs = 30_000): Promise<SessionState> {
    if (match(this._state)) return Promise.resolve(this._state);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('state', on);
        reject(new Error(`session did not reach the expected state within ${timeoutMs} ms (now ${this._state.status})`));
      }, timeoutMs);
      const on = (s: SessionState) => {
        if (!match(s)) return;
        clearTimeout(timer);
        this.off('state', on);
        resolve(s);
      };
      this.on('state', on);
    });
  }

  /** Logs in; on success the credentials are kept in memory for automatic re-login. */
  async login(username: string, password: string): Promise<LoginInfo> {
    const client = this.usableClient();
    const info = await client.login(username, password);
    if (client !== this.client) throw new OfflineError('The connection was lost during login; try again.');
    this.token = info.token;
    this.credentials = { username, password };
    this.seenPopups.clear(); // another member may log in on the same session: its popups are its own
    this.update({ status: 'online', username: info.username || username, error: null });
    this.emit('login', info, { resumed: false });
    return info;
  }

  /** Changes the password; the new one replaces the remembered one. */
  override async changePassword(oldPassword: string, newPassword: string): Promise<{ sessionsClosed: number }> {
    const reply = await super.changePassword(oldPassword, newPassword);
    if (this.credentials) this.credentials = { ...this.credentials, password: newPassword };
    return reply;
  }

  /** Ends the session on the server (best effort) and forgets the credentials. */
  override async logout(): Promise<void> {
    const client = this.client;
    const token = this.token;
    this.credentials = null;
    this.token = '';
    if (client && !client.isClosed && token) {
      client.token = token;
      await client.logout().catch(() => undefined);
    }
    if (this._state.status === 'online' || this._state.status === 'authenticating') this.update({ status: 'connected', username: null });
    else this.update({ username: null });
  }

  /**
   * The current connection, logged in, for helpers that drive a SiarClient themselves (the
   * attachment transfers); its `token` is the session's. Throws OfflineError when there is none.
   */
  connection(): SiarClient {
    const client = this.usableClient();
    client.token = this.token;
    return client;
  }

  /**
   * Sends a request on the current connection with the session token. Rejects with OfflineError
   * when there is no connection; a stale token triggers one re-login and one retry.
   */
  override async request(verb: string, args: ArgInput = {}): Promise<Reply> {
    if (this.relogin) await this.relogin.catch(() => undefined);
    const client = this.usableClient();
    try {
      return await client.request(verb, args, this.token);
    } catch (err) {
      if (err instanceof RemoteError && TOKEN_STALE.has(err.code) && this.credentials && this.client === client) {
        await this.reauthenticate(client);
        return await client.request(verb, args, this.token);
      }
      throw err;
    }
  }

  protected requestWithoutToken(verb: string, args: ArgInput = {}): Promise<Reply> {
    return this.usableClient().request(verb, args, '');
  }

  async close(): Promise<void> {
    if (this._state.status === 'closed') return;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    this.credentials = null;
    this.token = '';
    const client = this.client;
    this.client = null;
    this.update({ status: 'closed', retryAt: null });
    if (client) await client.close();
  }

  /** Read through a method so TypeScript does not narrow the status across awaits. */
  private closed(): boolean {
    return this._state.status === 'closed';
  }

  private usableClient(): SiarClient {
    const client = this.client;
    if (client && !client.isClosed && this._state.status !== 'authenticating') return client;
    const s = this._state;
    if (s.status === 'closed') throw new OfflineError('The session is closed.');
    if (s.status === 'authenticating') throw new OfflineError('Signing in again after a reconnection; try again in a moment.');
    const wait = s.retryAt ? Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000)) : 0;
    throw new OfflineError(`Not connected to the siar server at ${s.address}${s.retryAt ? `; retrying in ${wait} s` : '; connecting'}.`);
  }

  private async attempt(): Promise<void> {
    if (this.connecting || this.closed()) return;
    this.connecting = true;
    const target = this.servers[this.current]!;
    this.update({ status: 'connecting', retryAt: null, address: formatAddress(target) });
    const { host, port } = target;
    const moved = () => this.servers[this.current] !== target;
    let client: SiarClient;
    try {
      client = await (this.opts.connect ?? SiarClient.connect)({
        host, port,
        ...(this.opts.tls ? { tls: this.opts.tls } : {}),
        connectTimeoutMs: this.opts.connectTimeoutMs ?? 10_000,
        requestTimeoutMs: this.opts.requestTimeoutMs ?? 30_000,
      });
    } catch (err) {
      this.connecting = false;
      if (this.closed()) return;
      if (moved()) return this.retryNow();
      this.scheduleRetry(errorText(err));
      return;
    }
    this.connecting = false;
    if (this.closed() || moved()) {
      await client.close();
      if (this._state.status !== 'closed') this.retryNow();
      return;
    }
    this.adopt(client);
    if (this.lostOnce) this.update({ reconnects: this._state.reconnects + 1 });
    if (this.credentials || this.token) {
      this.update({ status: 'authenticating', attempt: 0, error: null, retryAt: null });
      try {
        await this.reauthenticate(client, true);
      } catch (err) {
        // Refused credentials leave the connection up (authLost); anything else is retried later.
        if (client === this.client && this._state.status === 'authenticating') {
          this.client = null;
          clearInterval(this.heartbeat);
          void client.close();
          this.scheduleRetry(errorText(err));
        }
      }
    } else {
      this.update({ status: 'connected', attempt: 0, error: null, retryAt: null });
    }
  }

  private adopt(client: SiarClient): void {
    this.client = client;
    client.on('push', (event, args) => {
      if (client !== this.client) return;
      // Exactly once per message (and per reminder of it, issue 21): a replay after a failover may
      // repeat what the old connection showed.
      if (event === 'POPUP' && !this.seenPopups.add(`${args.get('id') ?? ''}:${args.get('reminder') ?? 0}`)) return;
      this.deliverPush(event, args);
    });
    client.once('close', (reason) => {
      if (client !== this.client) return;
      this.client = null;
      clearInterval(this.heartbeat);
      if (this._state.status === 'closed') return;
      if (reason instanceof RemoteError && reason.code === 'SESSION_CLOSED' && (this.credentials || this.token)) {
        this.credentials = null;
        this.token = '';
        this.update({ username: null });
        this.emit('authLost', reason);
      }
      // An expired session cannot be resumed: the password logs in afresh.
      if (reason instanceof RemoteError && reason.code === 'SESSION_EXPIRED') this.token = '';
      this.lostOnce = true;
      this.scheduleRetry(reason ? errorText(reason) : 'The connection was closed.', true);
    });
    const every = this.opts.heartbeatMs ?? 30_000;
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      if (client !== this.client) return;
      client.ping().catch((err) => {
        // A server that does not answer is as good as gone: drop the connection and reconnect.
        if (!(err instanceof RemoteError) && client === this.client && !client.isClosed) void client.close();
      });
    }, every);
    this.heartbeat.unref();
  }

  /**
   * Signs in again on `client`: RESUME with the session token when there is one (`byToken`, after a
   * reconnection), else or when it is refused LOGIN with the remembered password; concurrent callers
   * share one attempt.
   */
  private reauthenticate(client: SiarClient, byToken = false): Promise<void> {
    if (this.relogin) return this.relogin;
    const creds = this.credentials;
    const token = byToken ? this.token : '';
    if (!creds && !token) return Promise.reject(new OfflineError('Not logged in.'));
    const run = (async () => {
      try {
        let info: LoginInfo | null = null;
        if (token) {
          try {
            info = await client.resume(token);
          } catch (err) {
            if (!(err instanceof RemoteError && RESUME_REFUSED.has(err.code) && creds)) throw err;
          }
        }
        const resumed = info !== null;
        info ??= await client.login(creds!.username, creds!.password);
        if (client !== this.client) return;
        this.token = info.token;
        this.update({ status: 'online', username: info.username || creds?.username || null, error: null });
        this.emit('login', info, { resumed: true, byToken: resumed });
      } catch (err) {
        const fatal = err instanceof RemoteError && (AUTH_FATAL.has(err.code) || (!creds && RESUME_REFUSED.has(err.code)));
        if (fatal && client === this.client) {
          this.credentials = null;
          this.token = '';
          this.update({ status: 'connected', username: null, error: err.message });
          this.emit('authLost', err);
        }
        throw err;
      } finally {
        this.relogin = null;
      }
    })();
    this.relogin = run;
    return run;
  }

  /**
   * After a failure (or a lost connection, `lost`) the next server of the list is tried: at once
   * within a round, spread over up to the first backoff step after a lost connection (so a stopped
   * node's clients do not all arrive in the same millisecond), and with the backoff only once every
   * server of the list failed in a row. With one server: the backoff, as always.
   */
  private scheduleRetry(error: string, lost = false): void {
    clearTimeout(this.retryTimer);
    const n = this.servers.length;
    const attempt = lost ? 0 : this._state.attempt + 1;
    const random = this.opts.random ?? Math.random;
    let delay: number;
    if (n === 1) delay = backoffDelay(attempt, this.opts.backoff, random);
    else if (lost) delay = Math.round(random() * (this.opts.backoff?.initialMs ?? 1000));
    else delay = attempt % n === 0 ? backoffDelay(attempt / n, this.opts.backoff, random) : 0;
    const failed = formatAddress(this.servers[this.current]!);
    this.current = (this.current + 1) % n;
    const next = formatAddress(this.servers[this.current]!);
    const said = n === 1 ? error : `${error.includes(failed) ? '' : `${failed}: `}${error}; trying ${next}`;
    this.update({ status: 'offline', attempt, error: said, retryAt: Date.now() + delay });
    this.retryTimer = setTimeout(() => { void this.attempt(); }, delay);
  }

  private dropClient(): void {
    const client = this.client;
    this.client = null;
    clearInterval(this.heartbeat);
    if (client) void client.close();
  }

  private update(patch: Partial<SessionState>): void {
    this._state = { ...this._state, ...patch };
    this.emit('state', this._state);
  }
}

/** A bounded set of recent ids: add() says whether an id is new; the oldest are forgotten past `max`. */
export class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly max: number) {}

  add(id: string | number): boolean {
    const key = String(id);
    if (this.ids.has(key)) return false;
    this.ids.add(key);
    if (this.ids.size > this.max) this.ids.delete(this.ids.values().next().value!);
    return true;
  }

  clear(): void {
    this.ids.clear();
  }
}

function errorText(err: unknown): string {
  if (err instanceof RemoteError) return `${err.message} (${err.code})`;
  if (err instanceof Error) return err.message;
  return String(err);
}
