/**
 * One shadow listener: a fresh net.Server made at run time for exactly one transfer, after the
 * seed's "dynamic server sockets" and FTP's passive mode (docs/PROTOCOL-transfer.md §Handshake).
 *
 * - `pauseOnConnect`: no byte of a connection is read before its peer address is checked.
 * - `maxConnections = 1`: while one candidate is being examined, any other is dropped by Node.
 * - The peer address must equal the control connection's; otherwise the connection is refused
 *   unread and the listener keeps waiting for the right peer until its deadline.
 * - The first line must be the one-time ticket (compared in constant time); a wrong one is
 *   refused the same way.
 * - Once the right peer is in, the server stops listening (the port is free again) and the
 *   accepted socket belongs to the caller; the listener counts as live until that socket closes.
 * - Ports come from the OS (`listen(0)`) or at random from a configured range, each tried with
 *   a real listen() — there is no probe-then-listen gap for another process to fall into.
 * - The peer is awaited through the 'connection' event and a deadline timer; nothing polls.
 * - With TLS (the server's --tls-cert/--tls-key) the listener is still a plain net.Server: the raw
 *   socket's address is checked first, and only then is it wrapped in a server-side TLSSocket, so
 *   not even a handshake byte is read from a refused address. A peer that does not complete the
 *   handshake (plain TCP, a client that rejects the certificate) is refused like a wrong ticket.
 */
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { encodeError, type ErrorCode, ERRORS } from '../protocol/index.js';
import { normalizeAddress } from '../core/address.js';
import { TICKET_LINE_MAX_BYTES } from './wire.js';

export interface ListenOptions {
  host: string;
  /** null: any port the OS picks. */
  ports: { from: number; to: number } | null;
  /** Ports held by our own live listeners: never tried. */
  exclude?: ReadonlySet<number>;
  /** Random ports tried in a range before giving up (each try is one listen()). */
  maxAttempts?: number;
  /** The server's certificate and key: the peer must speak TLS (after the address check). */
  tls?: tls.SecureContext | null;
}

export interface AcceptOptions {
  /** The control connection's peer address; only this address may connect. */
  expectedAddress: string;
  /** sha256 of the ticket; the ticket itself is not kept. */
  ticketHash: Buffer;
  /** Epoch ms: the listener gives up waiting then. */
  deadline: number;
  /** A candidate must send its ticket line within this time. */
  ticketTimeoutMs: number;
  /** Told about every refused candidate (for the audit log). */
  onRefused(refusal: Refusal): void;
}

export interface Refusal {
  reason: 'address' | 'ticket' | 'ticket-timeout' | 'ticket-too-long' | 'tls-handshake';
  address: string;
}

export interface Accepted {
  socket: net.Socket;
  /** Bytes that came after the ticket line in the same read (the start of an upload). */
  head: Buffer;
}

/** No port of the range could be had (all in use): the client is told to retry. */
export class NoFreePortError extends Error {
  constructor(message = 'No free transfer port.') {
    super(message);
    this.name = 'NoFreePortError';
  }
}

/** The deadline passed before the right peer connected. */
export class ListenerTimeoutError extends Error {
  constructor() {
    super('No authorised peer connected before the deadline.');
    this.name = 'ListenerTimeoutError';
  }
}

/** The listener was closed (transfer aborted) while waiting. */
export class ListenerClosedError extends Error {
  constructor() {
    super('The shadow listener was closed.');
    this.name = 'ListenerClosedError';
  }
}

export function hashTicket(ticket: string): Buffer {
  return createHash('sha256').update(ticket, 'utf8').digest();
}

const DEFAULT_MAX_ATTEMPTS = 64;

export class ShadowListener {
  /** Every socket this listener has accepted and not yet seen close (candidates and the peer). */
  private readonly sockets = new Set<net.Socket>();
  private accepting: (AcceptOptions & { resolve(a: Accepted): void; reject(err: Error): void }) | null = null;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private peer: net.Socket | null = null;
  private serverClosed = false;
  /** Resolves when the net.Server has closed: no listening port and no open connection left. */
  readonly closed: Promise<void>;

  private constructor(
    private readonly server: net.Server,
    readonly host: string,
    readonly port: number,
    private readonly secureContext: tls.SecureContext | null,
  ) {
    this.closed = new Promise((resolve) => server.once('close', () => {
      this.serverClosed = true;
      resolve();
    }));
    server.on('connection', (socket) => this.onConnection(socket));
    // After listening, errors are per connection; a server error here would be a bug: close.
    server.on('error', () => this.close());
  }

  /** Opens a listener on the configured host and an ephemeral or random in-range port. */
  static async open(opts: ListenOptions): Promise<ShadowListener> {
    const secure = opts.tls ?? null;
    if (!opts.ports) return ShadowListener.listenOn(opts.host, 0, secure);
    const candidates = shuffledRange(opts.ports.from, opts.ports.to, opts.exclude ?? new Set());
    const attempts = Math.min(candidates.length, opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
    for (let i = 0; i < attempts; i++) {
      try {
        return await ShadowListener.listenOn(opts.host, candidates[i]!, secure);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE' && code !== 'EACCES') throw err;
      }
    }
    throw new NoFreePortError(
      `No free port in ${opts.ports.from}-${opts.ports.to} (${candidates.length} not held by other transfers, ${attempts} tried).`,
    );
  }

  private static listenOn(host: string, port: number, secureContext: tls.SecureContext | null): Promise<ShadowListener> {
    return new Promise((resolve, reject) => {
      const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
      server.maxConnections = 1;
      server.once('error', reject);
      server.listen({ host, port, backlog: 8, exclusive: true }, () => {
        server.off('error', reject);
        const address = server.address() as net.AddressInfo;
        resolve(new ShadowListener(server, host, address.port, secureContext));
      });
    });
  }

  /** True until the server has closed and every socket it accepted is gone. */
  get live(): boolean {
    return !this.serverClosed;
  }

  /** Open connections right now (candidates being examined plus the accepted peer). */
  get socketCount(): number {
    return this.sockets.size;
  }

  /**
   * Waits for the authorised peer. Refused candidates are reported through onRefused and the
   * wait goes on; rejects with ListenerTimeoutError at the deadline or ListenerClosedError.
   */
  accept(opts: AcceptOptions): Promise<Accepted> {
    if (this.accepting || this.peer) return Promise.reject(new Error('accept() was already called'));
    if (this.serverClosed || !this.server.listening) return Promise.reject(new ListenerClosedError());
    return new Promise<Accepted>((resolve, reject) => {
      this.accepting = { ...opts, resolve, reject };
      this.deadlineTimer = setTimeout(() => this.giveUp(new ListenerTimeoutError()), Math.max(0, opts.deadline - Date.now()));
    });
  }

  /** Stops listening, destroys every socket still open, and resolves once the server has closed. */
  close(): Promise<void> {
    this.giveUp(new ListenerClosedError());
    for (const socket of this.sockets) socket.destroy();
    return this.closed;
  }

  private giveUp(err: Error): void {
    clearTimeout(this.deadlineTimer);
    if (this.server.listening) this.server.close();
    const waiting = this.accepting;
    this.accepting = null;
    waiting?.reject(err);
  }

  /** Whether peers must speak TLS. */
  get secure(): boolean {
    return this.secureContext !== null;
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined); // a reset candidate is not our error
  }

  private onConnection(socket: net.Socket): void {
    this.track(socket);
    const waiting = this.accepting;
    if (!waiting || this.peer) {
      socket.destroy();
      return;
    }
    const address = normalizeAddress(socket.remoteAddress);
    // The vsftpd/ftp-srv rule: only the control connection's address may use this listener.
    // Checked before a single byte is read (pauseOnConnect).
    if (address !== waiting.expectedAddress) {
      this.refuse(socket, 'TRANSFER_REFUSED', { reason: 'address', address });
      return;
    }
    if (this.secureContext) this.handshake(socket, waiting, address, this.secureContext);
    else this.readTicket(socket, waiting, address);
  }

  /**
   * Wraps an address-checked socket in TLS. The handshake must be done within the ticket
   * timeout; a failed one (not TLS, certificate rejected by the client) is a refusal and the
   * listener keeps waiting.
   */
  private handshake(raw: net.Socket, waiting: NonNullable<ShadowListener['accepting']>, address: string, secureContext: tls.SecureContext): void {
    const socket = new tls.TLSSocket(raw, { isServer: true, secureContext, requestCert: false });
    this.track(socket);
    let settled = false;
    const fail = (reason: Refusal['reason']): void => {
      if (settled) return;
      settled = true;
      this.accepting?.onRefused({ reason, address });
      socket.destroy();
      raw.destroy();
    };
    // A client that rejects our certificate may just send an alert and hang up: 'close', no 'error'.
    const onFailed = (): void => fail('tls-handshake');
    const onTimeout = (): void => fail('ticket-timeout');
    const onSecure = (): void => {
      if (settled) return;
      settled = true;
      socket.off('error', onFailed);
      socket.off('close', onFailed);
      socket.off('timeout', onTimeout);
      this.readTicket(socket, waiting, address);
    };
    socket.setTimeout(Math.max(1, Math.min(waiting.ticketTimeoutMs, waiting.deadline - Date.now())));
    socket.once('timeout', onTimeout);
    socket.once('error', onFailed);
    socket.once('close', onFailed);
    socket.once('secure', onSecure);
  }

  private readTicket(socket: net.Socket, waiting: NonNullable<ShadowListener['accepting']>, address: string): void {
    let buffered: Buffer = Buffer.alloc(0);
    const done = (): void => {
      socket.off('data', onData);
      socket.off('timeout', onTimeout);
      socket.setTimeout(0);
      socket.pause();
    };
    const onTimeout = (): void => {
      done();
      this.refuse(socket, 'TRANSFER_TIMEOUT', { reason: 'ticket-timeout', address });
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const nl = buffered.indexOf(0x0a);
      if (nl === -1 ? buffered.length > TICKET_LINE_MAX_BYTES : nl > TICKET_LINE_MAX_BYTES) {
        done();
        this.refuse(socket, 'BAD_TICKET', { reason: 'ticket-too-long', address });
        return;
      }
      if (nl === -1) return;
      done();
      let line = buffered.subarray(0, nl);
      if (line.at(-1) === 0x0d) line = line.subarray(0, -1);
      const presented = createHash('sha256').update(line).digest();
      if (this.accepting !== waiting || !timingSafeEqual(presented, waiting.ticketHash)) {
        this.refuse(socket, 'BAD_TICKET', { reason: 'ticket', address });
        return;
      }
      // The one authorised peer: stop listening at once; a second connection finds no port.
      this.peer = socket;
      clearTimeout(this.deadlineTimer);
      this.accepting = null;
      this.server.close();
      waiting.resolve({ socket, head: Buffer.from(buffered.subarray(nl + 1)) });
    };
    socket.setTimeout(Math.max(1, Math.min(waiting.ticketTimeoutMs, waiting.deadline - Date.now())));
    socket.on('timeout', onTimeout);
    socket.on('data', onData);
    socket.resume();
  }

  /** Tells the candidate why in one line, closes it, and keeps listening. */
  private refuse(socket: net.Socket, code: ErrorCode, refusal: Refusal): void {
    this.accepting?.onRefused(refusal);
    socket.end(encodeError('-', code, ERRORS[code].message) + '\n', () => socket.destroy());
    // A peer that does not take the line must not hold the only slot.
    setTimeout(() => socket.destroy(), 1000).unref();
  }
}

/** The ports of [from, to] not in `exclude`, in random order (Fisher-Yates with crypto randomness). */
function shuffledRange(from: number, to: number, exclude: ReadonlySet<number>): number[] {
  const ports: number[] = [];
  for (let p = from; p <= to; p++) if (!exclude.has(p)) ports.push(p);
  for (let i = ports.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [ports[i], ports[j]] = [ports[j]!, ports[i]!];
  }
  return ports;
}
