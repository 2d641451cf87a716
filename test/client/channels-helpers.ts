/** CLI test helpers for the channel and group tests: the real `siar` executable against a real `siar server`. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { parseEml, passwordFromText } from '../helpers/siar.js';

export const SIAR = fileURLToPath(new URL('../../bin/siar.js', import.meta.url));

export interface Run { code: number; stdout: string; stderr: string }

export function siar(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SIAR, ...args], { env: { ...process.env, SIAR_QUIET_PASSWD_HINT: '1', ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Runs and expects success; returns stdout. */
export async function ok(t: Test, args: string[], env: Record<string, string>): Promise<string> {
  const r = await siar(args, env);
  t.equal(r.code, 0, `siar ${args.join(' ')}${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
  return r.stdout;
}

export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout.trim() === '' ? [] : stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

export async function startSiarServer(t: Test, dataDir: string): Promise<string> {
  const child = spawn(process.execPath, [SIAR, 'server', '--port', '0', '--data', dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { child.kill('SIGTERM'); });
  for await (const line of createInterface({ input: child.stdout! })) {
    const rec = JSON.parse(line) as { msg?: string; port?: number };
    if (rec.msg === 'siar server listening') return `127.0.0.1:${rec.port}`;
  }
  throw new Error('server exited before listening');
}

export async function mailedPassword(dataDir: string, username: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    for (const f of readdirSync(path.join(dataDir, 'mail'), { withFileTypes: true })) {
      if (!f.isFile()) continue;
      const text = parseEml(readFileSync(path.join(dataDir, 'mail', f.name), 'utf8')).text;
      if (text.split('\n').includes(`Username: ${username}`)) return passwordFromText(text, username);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no credentials mail for ${username}`);
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
    // Logged in: with --json the only stderr line is the note about the mailed password.
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
