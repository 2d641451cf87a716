import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  ERRORS, LineReader, ProtocolError, SiarError, UNKNOWN_ID, encodeError, encodePush, type ArgInput, type ErrorCode,
} from '../protocol/index.js';
import type { ServerConfig } from './config.js';
import { DEFAULT_MEMORY_RELEASE, MemoryRelease } from './memory-release.js';
import { OutputBudget } from './output-budget.js';
import { Output } from './output.js';
import type { Role } from '../core/ports/store.js';
import type { PeerConnection } from '../core/ports/peer.js';
import { normalizeAddress } from '../core/address.js';
import { TurnQueue } from './turns.js';

/** The member a connection logged in as; pushes for that member reach this connection. */
export interface BoundUser {
  userId: number;
  username: string;
  role: Role;
  sessionId: number;
  /** When the session expires (ms since the epoch): the connection is closed then (SESSION_EXPIRED). */
  expiresAt: number;
  /**
   * When this connection logged in or resumed (ms since the epoch): a closing of sessions decided
   * before it (a password change heard late from another node) does not reach it.
   */
  boundAt: number;
}

export type LineHandler = (conn: Connection, line: string) => Promise<void>;

let nextConnectionId = 1;

/**
 * Frames one connection runs in a row before it lets the event loop serve the others: a peer that
 * pipelines thousands of cheap requests must not hold everyone else up while they run.
 */
const FRAMES_PER_TURN = 16;
/** Output after which a turn ends too: a few HELP replies, or one page of a list. */
const TURN_OUTPUT_BYTES = 16 * 1024;

/** What the connections of one server share. */
export interface ConnectionShared {
  /** Unsent output per address and in total (output-budget.ts). */
  output: OutputBudget;
  /** The line of connections waiting to run more frames (turns.ts). */
  turns: TurnQueue;
  /** Told when a peer that held output goes (memory-release.ts). */
  memory: MemoryRelease;
}

export function connectionShared(config: ServerConfig, log: Logger): ConnectionShared {
  return {
    output: new OutputBudget(config),
    turns: new TurnQueue(),
    memory: new MemoryRelease(DEFAULT_MEMORY_RELEASE, undefined, (peers) => {
      log.info({ peers }, 'peers that left output untaken have gone; collecting garbage to give their memory back');
    }),
  };
}

/**
 * One client connection: reads frames, runs them one at a time in arrival order (so replies to a
 * pipelining client come back in order), writes replies and pushes. close() is idempotent.
 *
 * A peer that pipelines requests gets a turn of a few frames at a time (turns.ts), and one that
 * does not read its replies has its requests neither read nor run while its output waits
 * (output.ts): what such peers cost is bounded (docs/PROTOCOL.md §Limits).
 */
export class Connection implements PeerConnection {
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
  /** Admitted on one of the slots kept for the administrator: only a LOGIN as administrator may follow (admission.ts). */
  onReservedSlot = false;
  /** Popups already pushed here, so a race between live delivery and login replay cannot double them. */
  private readonly pushedPopups = new Set<number>();
  private badFrames = 0;
  private readonly reader: LineReader;
  /** Frames waiting their turn; a line that was not UTF-8 waits as its error, so replies stay in order. */
  private readonly queue: Array<string | ProtocolError> = [];
  /** Bytes received but not split into frames yet (see splitFrames). */
  private unread: Buffer[] = [];
  private running = false;
  /** Settles when the command being run finishes (graceful shutdown waits for it). */
  private current: Promise<void> = Promise.resolve();
  private closed = false;
  /** Shutting down: nothing more is read. */
  private stopReading = false;
  private readonly output: Output;
  private readonly closeListeners: Array<() => void> = [];
  /** Runs while an unfinished frame is buffered: a peer must finish a frame in time (slowloris). */
  private frameTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: Socket,
    private readonly config: ServerConfig,
    parentLog: Logger,
    private readonly onLine: LineHandler,
    private readonly shared: ConnectionShared,
  ) {
    this.remoteAddress = normalizeAddress(socket.remoteAddress);
    this.localAddress = normalizeAddress(socket.localAddress);
    this.log = parentLog.child({ cid: this.cid });
    this.output = new Output(socket, this.remoteAddress, config, shared.output, (fields, msg) => this.drop(fields, msg));
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

  /** Hands what this turn wrote to the socket now (a reply before the work that follows it). */
  flushOutput(): void {
    this.output.flush();
  }

  /** Writes one frame line. Returns false if the connection is gone or was too slow and got closed. */
  send(line: string): boolean {
    if (!this.writable()) return false;
    this.output.write(line + '\n', line.length + 1);
    return true;
  }

  /**
   * Writes frames already encoded, line feeds included: one popup's bytes are shared by all its
   * recipients; a reply's rows can be one string.
   */
  sendEncoded(frames: Buffer | string): boolean {
    if (!this.writable()) return false;
    this.output.write(frames, frames.length);
    return true;
  }

  /** False if the connection is gone; a peer that lets too much output pile up is dropped here. */
  private writable(): boolean {
    return !this.closed && this.output.admits();
  }

  /** A peer that does not take its output is cut off: nothing more is written to it, or run for it. */
  private drop(fields: Record<string, unknown>, msg: string): void {
    if (this.closed) return;
    this.log.warn(fields, msg);
    this.socket.destroy();
    // Closed now, not at the 'close' event: the frames it had queued must not run (and log) meanwhile.
    this.finish();
  }

  push(event: string, args: ArgInput = {}): boolean {
    return this.send(encodePush(event, args));
  }

  /** Whether a popup pushed now would be written (logged in for popups, socket open). */
  acceptsPopups(): boolean {
    return this.wantsPopups && this.writable();
  }

  /** Pushes a popup once per connection; false if it was pushed before or could not be written. */
  /**
   * One popup, once per id. `now`: written to the socket at once (a fan-out to many connections,
   * Output.writeNow) rather than at the end of this turn with the connection's other frames.
   */
  pushPopup(messageId: number, frame: Buffer, now = false): boolean {
    if (!this.wantsPopups || this.pushedPopups.has(messageId)) return false;
    if (!this.writable()) return false;
    if (now) this.output.writeNow(frame);
    else this.output.write(frame, frame.length);
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
    this.stopReading = true;
    this.socket.pause();
    this.queue.length = 0;
    this.unread = [];
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
    this.unread = [];
    this.output.flush();
    this.socket.end();
    // A peer that never reads must not keep the socket alive.
    setTimeout(() => this.socket.destroy(), 2000).unref();
    this.notifyClosed();
  }

  private finish(): void {
    this.closed = true;
    this.queue.length = 0;
    this.unread = [];
    this.notifyClosed();
  }

  private notifyClosed(): void {
    clearTimeout(this.frameTimer);
    // A drain waiting for room ends (it sees the connection closed); what was held for the peer is let go.
    this.output.close();
    if (this.output.everBackedUp) this.shared.memory.peerLeft();
    const listeners = this.closeListeners.splice(0);
    for (const l of listeners) {
      try { l(); } catch (err) { this.log.error({ err }, 'close listener failed'); }
    }
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.unread.push(chunk);
    this.splitFrames();
    this.updateReading();
    void this.drain();
  }

  /**
   * Splits received bytes into frames only as far as the queue has room: a pipelined flood waits
   * as the bytes it came in (in the kernel once reading pauses), not as thousands of strings.
   */
  private splitFrames(): void {
    while (!this.closed && this.unread.length > 0 && this.queue.length < this.config.maxQueuedFrames) {
      const chunk = this.unread[0]!;
      const end = nthLineEnd(chunk, this.config.maxQueuedFrames - this.queue.length);
      let piece = chunk;
      if (end < chunk.length) {
        piece = chunk.subarray(0, end);
        this.unread[0] = chunk.subarray(end);
      } else {
        this.unread.shift();
      }
      let lines;
      try {
        lines = this.reader.push(piece);
      } catch (err) {
        const e = err instanceof ProtocolError ? err : new ProtocolError('BAD_FRAME');
        this.log.info({ code: e.code }, 'framing violation; closing');
        this.fail(e.code, e.message);
        return;
      }
      for (const l of lines) this.queue.push(l.ok ? l.line : l.error);
    }
    // The peer must finish a frame in time; bytes we have not looked at yet are our delay, not its.
    if (this.reader.pendingBytes === 0 || this.unread.length > 0) {
      clearTimeout(this.frameTimer);
      this.frameTimer = undefined;
    } else if (!this.frameTimer && !this.closed) {
      this.frameTimer = setTimeout(() => this.fail('TIMEOUT', 'A frame was not completed in time.'), this.config.frameTimeoutMs);
      this.frameTimer.unref();
    }
  }

  /**
   * Backpressure: nothing more is read while frames wait for room in the queue, or while the peer
   * leaves its replies untaken (its requests wait in the kernel, where they cost us nothing).
   */
  private updateReading(): void {
    if (this.stopReading || this.output.waiting || this.unread.length > 0 || this.queue.length >= this.config.maxQueuedFrames) {
      if (!this.socket.isPaused()) this.socket.pause();
    } else if (this.socket.isPaused() && this.queue.length < this.config.maxQueuedFrames / 2) {
      this.socket.resume();
    }
  }

  /**
   * Waits in line for another turn (turns.ts; meanwhile this turn's output leaves, at the next
   * tick); then, if the peer has not taken what it was sent, waits until it has, reading nothing.
   */
  private async nextTurn(): Promise<void> {
    await this.shared.turns.next();
    if (this.closed || !this.output.backedUp) return;
    const room = this.output.waitForRoom();
    this.updateReading();
    await room;
    this.updateReading();
    if (!this.closed) await this.shared.turns.next();
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      let ran = 0;
      while (!this.closed && this.queue.length > 0) {
        // A turn ends after a few frames or a few KiB of output, so one peer cannot hold up the rest.
        if (ran >= FRAMES_PER_TURN || this.output.turnBytes >= TURN_OUTPUT_BYTES || this.output.backlog >= this.config.outputPauseBytes) {
          await this.nextTurn();
          ran = 0;
          continue;
        }
        ran++;
        const line = this.queue.shift()!;
        if (typeof line === 'string') {
          this.current = this.onLine(this, line);
          await this.current;
        } else {
          this.send(encodeError(UNKNOWN_ID, line.code, line.message));
          this.countBadFrame();
        }
        if (this.queue.length < this.config.maxQueuedFrames / 2) this.splitFrames();
        this.updateReading();
      }
    } finally {
      this.running = false;
    }
  }
}

/** The offset just past the n-th line feed in the chunk, or the chunk's length if it has fewer. */
function nthLineEnd(chunk: Buffer, n: number): number {
  let at = 0;
  for (let i = 0; i < n; i++) {
    const nl = chunk.indexOf(0x0a, at);
    if (nl === -1) return chunk.length;
    at = nl + 1;
  }
  return at;
}
