/**
 * Drives a real program in a pseudo-terminal (node-pty) and reads its screen through a headless
 * xterm (@xterm/headless), the way a person would see it. Waits poll the screen with a deadline;
 * there are no fixed sleeps.
 */
import xterm from '@xterm/headless';
import pty from 'node-pty';
import type { Test } from 'tap';

export const KEY = {
  enter: '\r',
  tab: '\t',
  shiftTab: '\x1b[Z',
  escape: '\x1b',
  backspace: '\x7f',
  up: '\x1b[A',
  down: '\x1b[B',
  ctrl: (letter: string) => String.fromCharCode(letter.toLowerCase().charCodeAt(0) - 96),
} as const;

export class PtyScreen {
  private readonly term: xterm.Terminal;
  private readonly proc: pty.IPty;
  private pendingWrites = 0;
  readonly exited: Promise<{ exitCode: number; signal?: number }>;
  private output = '';

  private constructor(t: Test, file: string, args: string[], opts: { cwd: string; env: Record<string, string>; cols: number; rows: number }) {
    this.term = new xterm.Terminal({ cols: opts.cols, rows: opts.rows, allowProposedApi: true, scrollback: 0 });
    this.proc = pty.spawn(file, args, { name: 'xterm-256color', cols: opts.cols, rows: opts.rows, cwd: opts.cwd, env: opts.env });
    this.proc.onData((d) => {
      this.pendingWrites++;
      this.output = (this.output + d).slice(-200_000);
      this.term.write(d, () => { this.pendingWrites--; });
    });
    this.exited = new Promise((resolve) => this.proc.onExit(resolve));
    t.teardown(async () => {
      try { this.proc.kill(); } catch { /* already gone */ }
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, 3000))]);
      this.term.dispose();
    });
  }

  static spawn(t: Test, file: string, args: string[], opts: { cwd: string; env: Record<string, string>; cols?: number; rows?: number }): PtyScreen {
    return new PtyScreen(t, file, args, { cols: 80, rows: 24, ...opts });
  }

  /** The visible screen as text, one line per row (trailing spaces trimmed). */
  text(): string {
    const buf = this.term.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < this.term.rows; y++) lines.push(buf.getLine(buf.viewportY + y)?.translateToString(true) ?? '');
    return lines.join('\n');
  }

  write(data: string): void {
    this.proc.write(data);
  }

  /** Everything the program wrote (the last 200,000 characters), escapes included: what passed, not just what stayed. */
  transcript(): string {
    return this.output;
  }

  resize(cols: number, rows: number): void {
    this.proc.resize(cols, rows);
    this.term.resize(cols, rows);
  }

  /** Resolves when the screen shows `what` (a string or pattern); rejects after `ms` with the screen in the message. */
  async waitFor(what: string | RegExp, ms = 20_000): Promise<string> {
    const deadline = Date.now() + ms;
    const matches = (s: string) => (typeof what === 'string' ? s.includes(what) : what.test(s));
    for (;;) {
      const screen = this.text();
      if (this.pendingWrites === 0 && matches(screen)) return screen;
      if (Date.now() > deadline) {
        throw new Error(`the screen never showed ${String(what)} within ${ms} ms; it shows:\n${screen}`);
      }
      await new Promise((r) => setTimeout(r, 40));
    }
  }

  /** Resolves when the screen no longer shows `what`. */
  async waitGone(what: string | RegExp, ms = 20_000): Promise<string> {
    const deadline = Date.now() + ms;
    const matches = (s: string) => (typeof what === 'string' ? s.includes(what) : what.test(s));
    for (;;) {
      const screen = this.text();
      if (this.pendingWrites === 0 && !matches(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`the screen still shows ${String(what)} after ${ms} ms:\n${screen}`);
      await new Promise((r) => setTimeout(r, 40));
    }
  }
}
