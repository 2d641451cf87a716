import type { Socket } from 'node:net';
import type { ServerConfig } from './config.js';
import type { Backlogged, OutputBudget } from './output-budget.js';

type Limits = Pick<ServerConfig, 'maxOutputBytes' | 'outputPauseBytes' | 'outputStallTimeoutMs'>;

/** Why a peer was cut off for the output it left untaken, with the fields to log. */
export type DropForOutput = (fields: Record<string, unknown>, msg: string) => void;

/**
 * What one connection writes, and what a peer that does not take it costs (docs/PROTOCOL.md
 * §Limits). The frames of one turn of the event loop leave as one write at the next tick: one
 * system call, and one queued chunk rather than one per row if the peer is not reading. The backlog
 * (bytes written that the peer's kernel has not accepted) is reported to the server's budget; past
 * outputPauseBytes the connection runs no more requests until the peer takes some (waitForRoom),
 * and a peer that takes nothing for outputStallTimeoutMs, or lets more than maxOutputBytes pile
 * up, is dropped.
 */
export class Output implements Backlogged {
  /** Frames written this turn, and their size. */
  private frames: Array<string | Buffer> = [];
  private frameBytes = 0;
  /** The backlog last reported to the budget. */
  private reported = 0;
  /** Set while the connection waits for the peer to take its output. */
  private roomWaiter: (() => void) | null = null;
  /** Runs while the peer leaves outputPauseBytes or more untaken; each write it completes restarts it. */
  private stallTimer: NodeJS.Timeout | undefined;
  private done = false;
  /** The peer once left outputPauseBytes or more untaken (memory-release.ts counts such peers). */
  everBackedUp = false;

  constructor(
    private readonly socket: Socket,
    readonly remoteAddress: string,
    private readonly limits: Limits,
    private readonly budget: OutputBudget,
    private readonly drop: DropForOutput,
  ) {}

  /** False, and the peer dropped, if more than maxOutputBytes is piled up for it already. */
  admits(): boolean {
    if (this.backlog <= this.limits.maxOutputBytes) return true;
    this.drop({ queued: this.backlog }, 'peer too slow; disconnecting');
    return false;
  }

  /** Queues one frame for the end of this turn. */
  write(chunk: string | Buffer, bytes: number): void {
    if (this.frames.length === 0) process.nextTick(this.flush);
    this.frames.push(chunk);
    this.frameBytes += bytes;
  }

  /**
   * Hands a frame to the socket at once, with what this turn queued before it (in order). For a
   * fan-out (one popup to thousands of connections, one frame each): each leaves as it is pushed,
   * so the first recipient does not wait for the last one's turn to be queued, and no tick is
   * scheduled per connection.
   */
  writeNow(chunk: Buffer): void {
    this.frames.push(chunk);
    this.flush();
  }

  /** Bytes written this turn, not handed to the socket yet. */
  get turnBytes(): number {
    return this.frameBytes;
  }

  /** Bytes the peer has not taken yet, this turn's included. */
  get backlog(): number {
    return this.frameBytes + this.socket.writableLength;
  }

  /** The peer has left so much untaken that the connection should wait for it (waitForRoom). */
  get backedUp(): boolean {
    return this.socket.writableLength >= this.limits.outputPauseBytes;
  }

  /** Waiting for room right now: the connection reads nothing meanwhile. */
  get waiting(): boolean {
    return this.roomWaiter !== null;
  }

  /** Resolves once the peer has taken enough of its output, or the connection is gone. */
  waitForRoom(): Promise<void> {
    if (this.done || !this.backedUp) return Promise.resolve();
    return new Promise((resolve) => { this.roomWaiter = resolve; });
  }

  /** Hands this turn's frames to the socket as one chunk. One function for every tick, not a closure per write. */
  readonly flush = (): void => {
    const n = this.frames.length;
    if (n === 0) return;
    const chunk = n === 1 ? this.frames[0]! : coalesce(this.frames);
    this.frames = [];
    this.frameBytes = 0;
    if (this.done || this.socket.destroyed) return;
    this.socket.write(chunk, this.afterWrite);
    this.note(false);
  };

  /** The connection is gone: nothing is held for it any more. Idempotent. */
  close(): void {
    this.done = true;
    this.frames = [];
    this.frameBytes = 0;
    this.budget.set(this, 0);
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    this.wake();
  }

  /** Past the budget of its address or of the server, this peer has been backed up the longest. */
  dropForBacklog(reason: 'address' | 'total'): void {
    const msg = reason === 'address'
      ? 'peer too slow while its address holds too much unsent output; disconnecting'
      : 'peer too slow while the server holds too much unsent output; disconnecting';
    this.drop({ queued: this.socket.writableLength, reason }, msg);
  }

  /** A write the peer's kernel accepted: progress, even if more is waiting. */
  private readonly afterWrite = (): void => {
    if (!this.done) this.note(true);
  };

  /** Reports the backlog to the budget; starts, restarts or stops the stall timer; wakes a waiting connection. */
  private note(progress: boolean): void {
    const queued = this.socket.writableLength;
    if (queued !== this.reported) {
      this.reported = queued;
      this.budget.set(this, queued); // may drop this peer (the longest backed up goes first)
      if (this.done) return;
    }
    if (queued >= this.limits.outputPauseBytes) {
      this.everBackedUp = true;
      if (!this.stallTimer) this.stallTimer = setTimeout(this.stalled, this.limits.outputStallTimeoutMs).unref();
      else if (progress) this.stallTimer.refresh();
      return;
    }
    if (this.stallTimer) {
      clearTimeout(this.stallTimer);
      this.stallTimer = undefined;
    }
    this.wake();
  }

  private wake(): void {
    const resume = this.roomWaiter;
    this.roomWaiter = null;
    resume?.();
  }

  private readonly stalled = (): void => {
    this.drop({ queued: this.socket.writableLength, stalledMs: this.limits.outputStallTimeoutMs }, 'peer took none of its output for too long; disconnecting');
  };
}

/** One turn's frames as one chunk: strings joined, or all of it as bytes if a popup's Buffer is among them. */
function coalesce(frames: Array<string | Buffer>): string | Buffer {
  if (frames.every((f) => typeof f === 'string')) return frames.join('');
  return Buffer.concat(frames.map((f) => (typeof f === 'string' ? Buffer.from(f) : f)));
}
