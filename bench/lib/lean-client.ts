/**
 * A lean control-protocol client for holding thousands of connections in one process: a raw
 * socket, the project's pure codec (LineReader for framing, encodeRequest / decodeServerFrame for
 * requests and replies), no EventEmitter per client, no timers per request. Pushes are handed to
 * callbacks as raw lines with the time their chunk arrived, so a scenario decodes only what it needs.
 */
import net from 'node:net';
import { LineReader, decodeServerFrame, encodeRequest, type ArgInput, type Args } from '../../src/protocol/index.js';

export interface Reply {
  ok: boolean;
  args: Args | null;
  code: string;
  message: string;
  items: number;
}

export class BenchError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'BenchError';
  }
}

export interface ConnectOptions {
  port: number;
  host?: string;
  /** Source address (127.0.0.x) so many connections do not share one address's ephemeral ports. */
  localAddress?: string;
  timeoutMs?: number;
}

type Waiter = (reply: Reply) => void;

export class LeanClient {
  token = '';
  username = '';
  /** Set when the connection ends: the closing error's code if the server sent one, else 'CLOSED'. */
  closedWith: string | null = null;
  /** POPUP pushes: the raw line and performance.now() at the arrival of its chunk. */
  onPopup: ((line: string, at: number) => void) | null = null;
  /** Any other push. */
  onPush: ((event: string, line: string, at: number) => void) | null = null;
  onClose: ((code: string) => void) | null = null;
  /** When this client last wrote (for the pool's keepalive). */
  lastWrite = 0;
  private nextId = 1;
  private readonly waiters = new Map<string, Waiter>();
  private itemCounts = new Map<string, number>();
  private readonly reader = new LineReader(4 * 1024 * 1024);
  private helloResolve: (() => void) | null = null;
  private helloReject: ((err: Error) => void) | null = null;

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => this.onClosed());
  }

  /** Connects and waits for the HELLO greeting; rejects with the server's error (e.g. TOO_MANY_REQUESTS). */
  static connect(opts: ConnectOptions): Promise<LeanClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: opts.host ?? '127.0.0.1', port: opts.port, localAddress: opts.localAddress });
      const client = new LeanClient(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new BenchError('CONNECT_TIMEOUT', 'no HELLO in time'));
      }, opts.timeoutMs ?? 30_000);
      client.helloResolve = () => {
        clearTimeout(timer);
        resolve(client);
      };
      client.helloReject = (err) => {
        clearTimeout(timer);
        reject(err);
      };
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new BenchError(err.code ?? 'SOCKET_ERROR', err.message));
      });
    });
  }

  get isClosed(): boolean {
    return this.closedWith !== null;
  }

  /** Writes a request; resolves with its final OK or ERR (never rejects unless the connection closes). */
  request(verb: string, args: ArgInput = {}, token: string = this.token): Promise<Reply> {
    const id = (this.nextId++).toString(36);
    return new Promise<Reply>((resolve, reject) => {
      if (this.closedWith !== null) {
        reject(new BenchError(this.closedWith, 'connection closed'));
        return;
      }
      this.waiters.set(id, resolve);
      this.write(encodeRequest(id, verb, token, args) + '\n');
    });
  }

  /**
   * Writes a request line built by the caller (with `id` as its id); `done` gets the reply.
   * For load generators that want the exact write time and no promise per request.
   */
  requestRaw(build: (id: string) => string, done: Waiter): string {
    const id = (this.nextId++).toString(36);
    this.waiters.set(id, done);
    this.write(build(id));
    return id;
  }

  write(data: string): void {
    this.lastWrite = performance.now();
    this.socket.write(data);
  }

  async login(username: string, password: string): Promise<Reply> {
    const reply = await this.request('LOGIN', { username, password }, '');
    if (reply.ok) {
      this.token = reply.args?.get('token') ?? '';
      this.username = username;
    }
    return reply;
  }

  close(): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    const at = performance.now();
    let lines;
    try {
      lines = this.reader.push(chunk);
    } catch {
      this.socket.destroy();
      return;
    }
    for (const l of lines) {
      if (!l.ok) continue;
      const line = l.line;
      if (line.charCodeAt(0) === 42 /* * */ && line.charCodeAt(1) === 124 /* | */) {
        const bar = line.indexOf('|', 2);
        const event = bar === -1 ? line.slice(2) : line.slice(2, bar);
        if (event === 'POPUP') this.onPopup?.(line, at);
        else if (event === 'HELLO') {
          this.helloResolve?.();
          this.helloResolve = this.helloReject = null;
        } else this.onPush?.(event, line, at);
        continue;
      }
      let frame;
      try {
        frame = decodeServerFrame(line);
      } catch {
        continue;
      }
      if (frame.kind === 'push') continue;
      if (frame.kind === 'item') {
        this.itemCounts.set(frame.id, (this.itemCounts.get(frame.id) ?? 0) + 1);
        continue;
      }
      const waiter = this.waiters.get(frame.id);
      if (!waiter) {
        // A closing error (id `-`): the refusal of a full server, a timeout, a shutdown.
        if (frame.kind === 'err') {
          this.closedWith = frame.code;
          if (this.helloReject) {
            this.helloReject(new BenchError(frame.code, frame.message));
            this.helloResolve = this.helloReject = null;
          }
        }
        continue;
      }
      this.waiters.delete(frame.id);
      const items = this.itemCounts.get(frame.id) ?? 0;
      if (items) this.itemCounts.delete(frame.id);
      if (frame.kind === 'ok') waiter({ ok: true, args: frame.args, code: '', message: '', items });
      else waiter({ ok: false, args: null, code: frame.code, message: frame.message, items });
    }
  }

  private onClosed(): void {
    const code = this.closedWith ?? 'CLOSED';
    this.closedWith = code;
    if (this.helloReject) {
      this.helloReject(new BenchError(code, 'closed before HELLO'));
      this.helloResolve = this.helloReject = null;
    }
    for (const [, w] of this.waiters) w({ ok: false, args: null, code, message: 'connection closed', items: 0 });
    this.waiters.clear();
    this.onClose?.(code);
  }
}
