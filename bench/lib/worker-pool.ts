/**
 * Harness child processes (scale and cluster scenarios): each holds thousands of client sockets
 * under its own open-files limit (raised to the hard limit through `sh`) and talks to the parent
 * over IPC with typed messages.
 */
import { fork, type ChildProcess } from 'node:child_process';

export class HarnessWorker<To extends { type: string }, From extends { type: string }> {
  readonly child: ChildProcess;
  private listeners: ((m: From) => void)[] = [];

  /** `close` is the message that asks the worker to close its clients and exit. */
  constructor(readonly index: number, script: string, private readonly close: To) {
    // fork runs `execPath ...execArgv script`: here `sh -c '…; exec "$0" "$@"' node --import=tsx script`,
    // and the IPC channel (an inherited fd and NODE_CHANNEL_FD) survives the exec.
    this.child = fork(script, [], {
      execPath: 'sh',
      execArgv: ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, '--import=tsx'],
    });
    this.child.on('message', (m: From) => { for (const l of [...this.listeners]) l(m); });
  }

  send(m: To): void {
    this.child.send(m);
  }

  /** The next message of `type` from this worker. */
  next<T extends From['type']>(type: T, timeoutMs = 30 * 60_000): Promise<Extract<From, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${this.index}: no ${type} within ${timeoutMs / 1000} s`)), timeoutMs);
      const l = (m: From): void => {
        if (m.type !== type) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((x) => x !== l);
        resolve(m as Extract<From, { type: T }>);
      };
      this.listeners.push(l);
    });
  }

  /** Sends `m` and waits for the reply of `type`. */
  ask<T extends From['type']>(m: To, type: T, timeoutMs?: number): Promise<Extract<From, { type: T }>> {
    const reply = this.next(type, timeoutMs);
    this.send(m);
    return reply;
  }

  on(l: (m: From) => void): void {
    this.listeners.push(l);
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.send(this.close);
      setTimeout(() => this.child.kill('SIGKILL'), 5000).unref();
    });
  }
}
