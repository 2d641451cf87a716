import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  ERRORS, LineReader, ProtocolError, SiarError, UNKNOWN_ID, encodeError, encodePush, type ArgInput, type ErrorCode,
} from '../protocol/index.js';
import type { ServerConfig } from './config.js';
import type { Role } from './store/types.js';

/** The member a connection logged in as; pushes for that member reach this connection. */
export interface BoundUser {
  userId: number;
  username: string;
  role: Role;
  sessionId: number;
  /** When the session expires (ms since the epoch): the connection is closed then (SESSION_EXPIRED). */
  expiresAt: number;
}

export type LineHandler = (conn: Connection, line: string) => Promise<void>;

let nextConnectionId = 1;

/**
 * One client connection: reads frames, runs them one at a time in arrival order (so replies to a
 * pipelining client come back in order), writes replies and pushes. close() is idempotent.
 */
export class Connection {
  readonly cid = nextConnectionId++;
  readonly remoteAddress: string;
  readonly localAddress: string;
  readonly connectedAt = new Date();
  readonly log: Logger;
  /** Set by LOGIN; cleared by LOGOUT. */
  user: BoundUser | null = null;
  /** False for one-shot clients (LOGIN popups=0): popups are neither pushed here nor counted delivered. */
  wantsPopups = true;
  /** Logged in with a mailed password: popups start once PASSWD has set the member's own. */
  popupsAfterPasswordChange = false;
  /** Registration request this connection waits on (REGISTER wait=1). */
  waitingRegistration: number | null = null;
  /** Popups already pushed here, so a race between live delivery and login replay cannot double them. */
  private readonly pushedPopups = new Set<number>();
  private badFrames = 0;
  private readonly reader: LineReader;
  /** Frames waiting their turn; a line that was not UTF-8 waits as its error, so replies stay in order. */
  private readonly queue: Array<string | ProtocolError> = [];
  private running = false;
  /** Settles when the command being run finishes (graceful shutdown waits for it). */
  private current: Promise<void> = Promise.resolve();
  private closed = false;
  private corked = false;
  private readonly closeListeners: Array<() => void> = [];
  /** Runs while an unfinished frame is buffered: a peer must finish a frame in time (slowloris). */
  private frameTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: Socket,
    private readonly config: ServerConfig,
    parentLog: Logger,
    private readonly onLine: LineHandler,
  ) {
    this.remoteAddress = normalizeAddress(socket.remoteAddress);
    this.localAddress = normalizeAddress(socket.localAddress);
    this.log = parentLog.child({ cid: this.cid });
    this.reader = new LineReader(config.maxFrameBytes);
    socket.setNoDelay(true);
    socket.setTimeout(config.idleTimeoutMs);
    socket.on('timeout', () => this.fail('TIMEOUT'));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'socket error'));
    socket.on('close', () => this.finish());
  }

  /** A command is being run right now. */
  get isBusy(): boolean {
    return this.running;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  /** Writes one frame line. Returns false if the connection is gone or was too slow and got closed. */
  send(line: string): boolean {
    if (!this.writable()) return false;
    this.corkUntilNextTick();
    this.socket.write(line + '\n');
    return true;
  }

  /** Writes a frame already encoded with its line feed: one popup's bytes are shared by all its recipients. */
  sendEncoded(frame: Buffer): boolean {
    if (!this.writable()) return false;
    this.corkUntilNextTick();
    this.socket.write(frame);
    return true;
  }

  /**
   * Frames written in one run of callbacks (a committed batch answers many commands and pushes
   * their popups) leave in one write system call instead of one each.
   */
  private corkUntilNextTick(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(this.uncork);
  }

  /** One function for every tick (this is on every reply's path), not a closure per write. */
  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };

  /** False if the connection is gone; a peer that lets too much output pile up is dropped here. */
  private writable(): boolean {
    if (this.closed) return false;
    if (this.socket.writableLength > this.config.maxOutputBytes) {
      this.log.warn({ queued: this.socket.writableLength }, 'peer too slow; disconnecting');
      this.socket.destroy();
      // Closed now, not at the 'close' event: the frames it had queued must not run (and log) meanwhile.
      this.finish();
      return false;
    }
    return true;
  }

  push(event: string, args: ArgInput = {}): boolean {
    return this.send(encodePush(event, args));
  }

  /** Whether a popup pushed now would be written (logged in for popups, socket open). */
  acceptsPopups(): boolean {
    return this.wantsPopups && this.writable();
  }

  /** Pushes a popup once per connection; false if it was pushed before or could not be written. */
  pushPopup(messageId: number, frame: Buffer): boolean {
    if (!this.wantsPopups || this.pushedPopups.has(messageId)) return false;
    if (!this.sendEncoded(frame)) return false;
    this.pushedPopups.add(messageId);
    // Bounded: old ids cannot race any more.
    if (this.pushedPopups.size > 4096) {
      const oldest = this.pushedPopups.values().next().value;
      if (oldest !== undefined) this.pushedPopups.delete(oldest);
    }
    return true;
  }

  sendError(id: string, err: SiarError): void {
    this.send(encodeError(id, err.code, err.message));
    if (err.closes) this.close();
  }

  /** Counts a bad frame; too many in one connection closes it (docs/PROTOCOL.md §Errors). */
  countBadFrame(): boolean {
    this.badFrames++;
    if (this.badFrames >= this.config.maxBadFrames) {
      this.fail('TOO_MANY_ERRORS');
      return true;
    }
    return false;
  }

  /** Sends a closing error as a push-less reply (id `-`) and closes. */
  fail(code: ErrorCode, message: string = ERRORS[code].message): void {
    if (this.closed) return;
    this.send(encodeError(UNKNOWN_ID, code, message));
    this.close();
  }

  /**
   * Graceful shutdown: reads nothing more, drops queued frames, lets the command in flight commit
   * and answer (within the deadline), then closes with SHUTTING_DOWN.
   */
  async shutdown(deadlineMs: number): Promise<void> {
    if (this.closed) return;
    this.socket.pause();
    this.queue.length = 0;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.current.catch(() => undefined),
      new Promise<void>((r) => { timer = setTimeout(r, deadlineMs); }),
    ]);
    clearTimeout(timer);
    this.fail('SHUTTING_DOWN');
  }

  /** Ends the connection after flushing what was written. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    this.socket.end();
    // A peer that never reads must not keep the socket alive.
    setTimeout(() => this.socket.destroy(), 2000).unref();
    this.notifyClosed();
  }

  private finish(): void {
    this.closed = true;
    this.queue.length = 0;
    this.notifyClosed();
  }

  private notifyClosed(): void {
    clearTimeout(this.frameTimer);
    const listeners = this.closeListeners.splice(0);
    for (const l of listeners) {
      try { l(); } catch (err) { this.log.error({ err }, 'close listener failed'); }
    }
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    let lines;
    try {
      lines = this.reader.push(chunk);
    } catch (err) {
      const e = err instanceof ProtocolError ? err : new ProtocolError('BAD_FRAME');
      this.log.info({ code: e.code }, 'framing violation; closing');
      this.fail(e.code, e.message);
      return;
    }
    for (const l of lines) this.queue.push(l.ok ? l.line : l.error);
    if (this.reader.pendingBytes === 0) {
      clearTimeout(this.frameTimer);
      this.frameTimer = undefined;
    } else if (!this.frameTimer) {
      this.frameTimer = setTimeout(() => this.fail('TIMEOUT', 'A frame was not completed in time.'), this.config.frameTimeoutMs);
      this.frameTimer.unref();
    }
    // Backpressure: stop reading while too many frames wait for their turn.
    if (this.queue.length >= this.config.maxQueuedFrames) this.socket.pause();
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.closed && this.queue.length > 0) {
        const line = this.queue.shift()!;
        if (typeof line === 'string') {
          this.current = this.onLine(this, line);
          await this.current;
        } else {
          this.send(encodeError(UNKNOWN_ID, line.code, line.message));
          this.countBadFrame();
        }
        if (this.queue.length < this.config.maxQueuedFrames / 2 && this.socket.isPaused()) this.socket.resume();
      }
    } finally {
      this.running = false;
    }
  }
}

/** `::ffff:127.0.0.1` → `127.0.0.1`, so addresses compare and print the same way everywhere. */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
