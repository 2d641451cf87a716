import net from 'node:net';
import tls from 'node:tls';
import {
  Args, LineReader, PUSH_ID, ProtocolError, UNKNOWN_ID, decodeServerFrame, encodeRequest, type ArgInput, type ErrorCode,
} from '../protocol/index.js';
import { SiarCalls, type PushEvents } from './calls.js';
import { errorCodeOf, type LoginInfo, type Reply } from './replies.js';

/**
 * An error reply from the server: `code` is the catalogue code (docs/PROTOCOL.md §Errors,
 * src/protocol/errors.ts); a code this client does not know (a newer server's) reads as INTERNAL,
 * and `wireCode` keeps it as it came.
 */
export class RemoteError extends Error {
  readonly code: ErrorCode;
  readonly wireCode: string;
  constructor(code: ErrorCode | string, message: string) {
    super(message);
    this.name = 'RemoteError';
    this.code = errorCodeOf(code);
    this.wireCode = code;
  }
}

/**
 * A request longer than the server's frame limit, refused before it is sent: the server would
 * answer FRAME_TOO_LONG and close the connection. Same code, and the connection stays.
 */
export class FrameTooLongError extends RemoteError {
  constructor(readonly bytes: number, readonly maxBytes: number) {
    super('FRAME_TOO_LONG', `The request is ${bytes} bytes; the server takes at most ${maxBytes} in one frame. Nothing was sent.`);
  }
}

/** What the server announced in its HELLO (older servers announce only maxFrame). */
export interface ServerLimits {
  maxFrame?: number;
  /** Longest message body and subject, in characters (UTF-16 code units, as String.length counts). */
  maxBody?: number;
  maxSubject?: number;
}

/** A reply (its arguments and ITEM rows): in replies.ts, which calls.ts reads without this file. */
export type { Reply } from './replies.js';

export interface ConnectOptions {
  host: string;
  port: number;
  connectTimeoutMs?: number;
  /** Longest server frame accepted; server frames carry whole messages, so larger than the server's. */
  maxFrameBytes?: number;
  /** Time to wait for any single reply. */
  requestTimeoutMs?: number;
  /** Speak TLS and verify the server: `{}` trusts the system CAs, `ca` a private CA (PEM). */
  tls?: { ca?: Buffer | string; servername?: string };
  /** Source address to connect from (tests play several hosts from 127.0.0.0/8). */
  localAddress?: string;
}

interface Pending {
  resolve(reply: Reply): void;
  reject(err: Error): void;
  items: Args[];
  timer: NodeJS.Timeout;
}

export type ClientEvents = PushEvents & {
  /** The connection ended: the server's closing error, or why it was lost (null: closed by us). */
  close: [reason: Error | null];
};

/**
 * One control connection to a siar server: numbered requests, replies matched by id (so callers
 * may pipeline), pushes emitted as 'push' and typed events. The typed calls (send, inbox,
 * admin.approve…) come from SiarCalls (calls.ts). Used by the CLI, the TUI and the tests.
 */
export class SiarClient extends SiarCalls<ClientEvents> {
  token = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private readonly reader: LineReader;
  private closedWith: Error | null | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  readonly hello: Promise<Args>;
  /** The server's limits, known once connect() resolved. */
  limits: ServerLimits = {};

  private constructor(private readonly socket: net.Socket, private readonly opts: ConnectOptions) {
    super();
    this.reader = new LineReader(opts.maxFrameBytes ?? 4 * 1024 * 1024);
    this.hello = new Promise((resolve) => {
      const onHello = (event: string, args: Args) => {
        if (event !== 'HELLO') return;
        this.off('push', onHello);
        this.limits = { maxFrame: positive(args.get('maxFrame')), maxBody: positive(args.get('maxBody')), maxSubject: positive(args.get('maxSubject')) };
        resolve(args);
      };
      this.on('push', onHello);
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.shutdown(err));
    socket.on('close', () => this.shutdown(new Error('The server closed the connection.')));
  }

  static connect(opts: ConnectOptions): Promise<SiarClient> {
    return new Promise((resolve, reject) => {
      const where = { host: opts.host, port: opts.port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) };
      const socket = opts.tls
        ? tls.connect({ ...where, ca: opts.tls.ca, servername: opts.tls.servername ?? tlsServername(opts.host) })
        : net.connect(where);
      // Covers the greeting too: a plain client at a TLS port (or the reverse) connects, then both wait.
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`Could not reach the siar server at ${opts.host}:${opts.port}: no greeting within ${(opts.connectTimeoutMs ?? 10_000) / 1000} s${opts.tls ? '' : ' (if it runs TLS, give --tls or --ca FILE)'}.`));
      }, opts.connectTimeoutMs ?? 10_000);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`Could not reach the siar server at ${opts.host}:${opts.port}: ${err.message}`));
      });
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
        socket.removeAllListeners('error');
        const client = new SiarClient(socket, opts);
        client.hello.then(() => { clearTimeout(timer); resolve(client); }, (err: unknown) => { clearTimeout(timer); reject(err); });
        client.once('close', (reason) => { clearTimeout(timer); reject(reason ?? new Error('closed before HELLO')); });
      });
    });
  }

  /** How this client reached its server: attachment transfers connect with the same TLS trust. */
  get connectOptions(): Readonly<ConnectOptions> {
    return this.opts;
  }

  get isClosed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Sends a request and resolves with its final OK (and any ITEM rows), or rejects with RemoteError. */
  request(verb: string, args: ArgInput = {}, token: string = this.token): Promise<Reply> {
    if (this.closedWith !== undefined) return Promise.reject(this.closedWith ?? new Error('Connection closed.'));
    const id = String(this.nextId++);
    const frame = encodeRequest(id, verb, token, args);
    // Refused here rather than sent: the server would close the connection over it.
    const bytes = Buffer.byteLength(frame);
    if (this.limits.maxFrame !== undefined && bytes > this.limits.maxFrame) return Promise.reject(new FrameTooLongError(bytes, this.limits.maxFrame));
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`No reply to ${verb} within ${this.requestTimeout / 1000} s.`));
      }, this.requestTimeout);
      this.pending.set(id, { resolve, reject, items: [], timer });
      this.socket.write(frame + '\n');
    });
  }

  protected requestWithoutToken(verb: string, args: ArgInput = {}): Promise<Reply> {
    return this.request(verb, args, '');
  }

  /**
   * Logs in and keeps the token for later requests. `popups: false` for one-shot commands: no
   * popups are pushed or marked delivered for this connection.
   */
  async login(username: string, password: string, options: { popups?: boolean } = {}): Promise<LoginInfo> {
    const info = await this.loginRequest(username, password, options);
    this.token = info.token;
    return info;
  }

  /** Re-attaches to an open session by its token (RESUME; no password) and keeps the token. */
  async resume(token: string, options: { popups?: boolean } = {}): Promise<LoginInfo> {
    const info = await this.resumeRequest(token, options);
    this.token = token;
    return info;
  }

  override async logout(): Promise<void> {
    await super.logout();
    this.token = '';
  }

  /** Sends PING every `ms` so the server's idle timeout never ends a long-lived connection. */
  startKeepalive(ms = 60_000): void {
    clearInterval(this.keepalive);
    // An unanswered PING means a half-open connection: end it so 'close' fires and callers reconnect.
    this.keepalive = setInterval(() => {
      this.ping().catch((err: Error) => { if (!this.isClosed) this.socket.destroy(err); });
    }, ms);
    this.keepalive.unref();
  }

  close(): Promise<void> {
    clearInterval(this.keepalive);
    if (this.closedWith !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    });
  }

  private get requestTimeout(): number {
    return this.opts.requestTimeoutMs ?? 30_000;
  }

  private onData(chunk: Buffer): void {
    let lines;
    try {
      lines = this.reader.push(chunk);
    } catch (err) {
      this.socket.destroy();
      this.shutdown(err as ProtocolError);
      return;
    }
    for (const l of lines) {
      if (!l.ok) continue; // a frame we cannot decode is not fatal for the client
      let frame;
      try {
        frame = decodeServerFrame(l.line);
      } catch {
        continue;
      }
      if (frame.kind === 'push') {
        this.deliverPush(frame.event, frame.args);
        continue;
      }
      const p = this.pending.get(frame.id);
      if (!p) {
        // A closing error without a request id (timeout, shutdown, framing) ends the connection.
        if (frame.kind === 'err' && frame.id === UNKNOWN_ID) this.closeReason = new RemoteError(frame.code, frame.message);
        continue;
      }
      if (frame.kind === 'item') {
        p.items.push(frame.args);
        continue;
      }
      this.pending.delete(frame.id);
      clearTimeout(p.timer);
      if (frame.kind === 'ok') p.resolve({ args: frame.args, items: p.items });
      else p.reject(new RemoteError(frame.code, frame.message));
    }
  }

  private closeReason: Error | undefined;

  private shutdown(err: Error): void {
    if (this.closedWith !== undefined) return;
    clearInterval(this.keepalive);
    const reason = this.closeReason ?? err;
    this.closedWith = reason;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(reason);
    }
    this.pending.clear();
    this.emit('close', reason);
  }
}

export const PUSH = PUSH_ID;

/** `host:port`, `host` or `:port`; the default port is 7400. IPv6 as `[::1]:7400`. */
export function parseServerAddress(value: string | undefined, fallback = '127.0.0.1:7400'): { host: string; port: number } {
  const v = (value && value.trim()) || fallback;
  const m = /^(?:\[([^\]]+)\]|([^:]*))(?::(\d{1,5}))?$/.exec(v);
  if (!m) throw new Error(`"${v}" is not host:port.`);
  const host = m[1] ?? (m[2] || '127.0.0.1');
  const port = m[3] ? Number(m[3]) : 7400;
  if (port < 1 || port > 65535) throw new Error(`"${v}" has an invalid port.`);
  return { host, port };
}

export interface ServerAddress {
  host: string;
  port: number;
}

/** Most servers one list may name: a cluster's nodes, not a scan. */
export const MAX_SERVERS = 32;

/**
 * `--server` / `SIAR_SERVER`: one address or a comma list `host:port,host:port,…` (the nodes of a
 * cluster, or one HAProxy front). Empty entries are skipped, repeats dropped; at most MAX_SERVERS.
 */
export function parseServerList(value: string | undefined, fallback = '127.0.0.1:7400'): ServerAddress[] {
  const entries = ((value && value.trim()) || fallback).split(',').map((e) => e.trim()).filter(Boolean);
  if (entries.length === 0) return [parseServerAddress(fallback)];
  if (entries.length > MAX_SERVERS) throw new Error(`The server list names ${entries.length} addresses; at most ${MAX_SERVERS} are taken.`);
  const out: ServerAddress[] = [];
  for (const e of entries) {
    const a = parseServerAddress(e);
    if (!out.some((o) => o.host === a.host && o.port === a.port)) out.push(a);
  }
  return out;
}

/**
 * The order a client tries the servers of a list in: shuffled once per client, so the clients of
 * a cluster spread over its nodes, and the clients of a node that stops spread over the others
 * instead of all moving to the next one. A single address is itself.
 */
export function serverOrder(list: ServerAddress[], random: () => number = Math.random): ServerAddress[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** `host:port`, with brackets for IPv6. */
export function formatAddress({ host, port }: ServerAddress): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Connects to the first server of `order` that answers, trying each once (each within its connect
 * timeout, so the whole try is bounded); `onFailover` hears each failure that another address
 * follows. Rejects with one sentence naming every address when none answers.
 */
export async function connectFirst(
  order: ServerAddress[], opts: Omit<ConnectOptions, 'host' | 'port'>, onFailover?: (failed: string, reason: string, next: string) => void,
  connect: (o: ConnectOptions) => Promise<SiarClient> = SiarClient.connect,
): Promise<SiarClient> {
  const reasons: string[] = [];
  for (const [i, a] of order.entries()) {
    try {
      return await connect({ ...opts, host: a.host, port: a.port });
    } catch (err) {
      const reason = (err as Error).message;
      reasons.push(reason);
      const next = order[i + 1];
      if (next) onFailover?.(formatAddress(a), reason, formatAddress(next));
    }
  }
  if (order.length === 1) throw new Error(reasons[0]);
  throw new Error(`Could not reach any of the ${order.length} siar servers (${order.map(formatAddress).join(', ')}); the last said: ${reasons.at(-1)}`);
}

/** SNI takes host names only; an IP address is verified against the certificate's IP entries. */
export function tlsServername(host: string): string | undefined {
  return net.isIP(host) ? undefined : host;
}

function positive(value: string | undefined): number | undefined {
  const n = Number(value);
  return value !== undefined && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
