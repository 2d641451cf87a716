/** CLI test helpers for the channel and group tests: the real `siar` executable against a real `siar server`. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Test } from 'tap';
import { SIAR, siar, startSiarServer as startServer } from '../helpers/cli.js';

export { SIAR, jsonLines, setOwnPassword, siar, type Run } from '../helpers/cli.js';

/** Runs and expects success; returns stdout. */
export async function ok(t: Test, args: string[], env: Record<string, string>): Promise<string> {
  const r = await siar(args, env);
  t.equal(r.code, 0, `siar ${args.join(' ')}${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
  return r.stdout;
}

export async function startSiarServer(t: Test, dataDir: string): Promise<string> {
  return (await startServer(t, dataDir)).address;
}

/** `siar listen --json` in the background: its popups, and a way to wait for them. */
export class Listener {
  readonly popups: Array<Record<string, unknown>> = [];
  private waiters: Array<() => void> = [];
  private constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.popups.push(JSON.parse(line) as Record<string, unknown>);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async start(t: Test, env: Record<string, string>): Promise<Listener> {
    const child = spawn(process.execPath, [SIAR, 'listen', '--json'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(() => { child.kill(); });
    // Logged in once it says "listening as …" on stderr (it does so with --json too).
    await new Promise<void>((resolve) => child.stderr!.once('data', () => resolve()));
    return new Listener(child);
  }

  async waitFor(n: number): Promise<Array<Record<string, unknown>>> {
    const deadline = Date.now() + 20_000;
    while (this.popups.length < n) {
      if (Date.now() > deadline) throw new Error(`expected ${n} popups, got ${this.popups.length}`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 200); });
    }
    return this.popups;
  }
}
