/** Helpers for tests of the real `siar` executable against a real `siar server` process. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { ownPassword, parseEml, passwordFromText } from './siar.js';

/**
 * The `siar` executable for `node SIAR …`: the sources through tsx, or the shipped build with
 * SIAR_CLI=dist (see siar-cli.mjs).
 */
export const SIAR = fileURLToPath(new URL('./siar-cli.mjs', import.meta.url));

export interface Run { code: number; stdout: string; stderr: string }

let configHome: string | undefined;

/**
 * A settings folder of this test process (XDG_CONFIG_HOME) for `siar` runs that name none: what
 * the CLI remembers (the paths of a message being sent) never lands in the real ~/.config.
 */
function testConfigHome(): string {
  if (!configHome) {
    const dir = mkdtempSync(path.join(tmpdir(), 'siar-cli-config-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    configHome = dir;
  }
  return configHome;
}

/** Runs `siar ARGS` to completion; `input` goes to its stdin. */
export function siar(args: string[], env: Record<string, string> = {}, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const childEnv = { ...process.env, XDG_CONFIG_HOME: testConfigHome(), ...env };
    const child = execFile(process.execPath, [SIAR, ...args], { env: childEnv, timeout: 60_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout.trim() === '' ? [] : stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * Starts `siar server --port 0` on the data dir (`env` added to this process's); resolves with its
 * address once it listens, and the log line that said so.
 */
export async function startSiarServer(t: Test, dataDir: string, extraArgs: string[] = [], env: Record<string, string> = {}): Promise<{ address: string; port: number; listening: Record<string, unknown>; child: ChildProcess }> {
  const child = spawn(process.execPath, [SIAR, 'server', '--port', '0', '--data', dataDir, ...extraArgs], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  t.teardown(() => { child.kill('SIGTERM'); });
  for await (const line of createInterface({ input: child.stdout! })) {
    const rec = JSON.parse(line) as { msg?: string; port?: number };
    if (rec.msg === 'siar server listening') return { address: `127.0.0.1:${rec.port}`, port: rec.port!, listening: rec, child };
  }
  throw new Error('server exited before listening');
}

/**
 * The password of a member's latest mail of this kind in <data>/mail, waiting for the mail worker
 * to write it (it does so right after the approval; there is no event to await across processes).
 */
export async function waitForMailedPassword(dataDir: string, username: string, kind = 'credentials', timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const dir = path.join(dataDir, 'mail');
  for (;;) {
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith(`-${kind}.eml`)).sort().reverse();
    } catch { /* the folder appears with the first mail */ }
    for (const f of files) {
      const text = parseEml(readFileSync(path.join(dir, f), 'utf8')).text;
      if (text.split('\n').includes(`Username: ${username}`)) return passwordFromText(text, username);
    }
    if (Date.now() > deadline) throw new Error(`no ${kind} mail for ${username}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * What a new member does first: reads the mailed (one-time) password and replaces it with its own
 * through `siar passwd`; returns the new password.
 */
export async function setOwnPassword(address: string, dataDir: string, username: string, kind = 'credentials'): Promise<string> {
  const mailed = await waitForMailedPassword(dataDir, username, kind);
  const own = ownPassword(username);
  const r = await siar(['passwd'], { SIAR_SERVER: address, SIAR_USER: username, SIAR_PASSWORD: mailed, SIAR_NEW_PASSWORD: own });
  if (r.code !== 0) throw new Error(`siar passwd for ${username} failed: ${r.stderr.trim()}`);
  return own;
}

/**
 * A real `siar server` with members registered, approved and given their own passwords through the
 * real executable; `as[username]` is the environment to run `siar` as that member.
 */
export async function startWithMembers(
  t: Test, dataDir: string, members: Array<[username: string, institution: string]>,
  server: { args?: string[]; env?: Record<string, string> } = {},
) {
  const { address, listening, child } = await startSiarServer(t, dataDir, server.args, server.env);
  const env = { SIAR_SERVER: address };
  const admin = { ...env, SIAR_USER: 'admin', SIAR_PASSWORD: readFileSync(path.join(dataDir, 'admin-password'), 'utf8').trim() };
  const ids: string[] = [];
  for (const [username, institution] of members) {
    const r = await siar(['register', '--institution', institution, '--contact', 'Humas', '--email', `humas@${username}.ac.id`, '--username', username], env);
    if (r.code !== 0) throw new Error(`siar register ${username} failed: ${r.stderr.trim()}`);
    ids.push(r.stdout.trim());
  }
  const approved = await siar(['admin', 'approve', ...ids], admin);
  if (approved.code !== 0) throw new Error(`siar admin approve failed: ${approved.stderr.trim()}`);
  const as: Record<string, Record<string, string>> = {};
  for (const [username] of members) as[username] = { ...env, SIAR_USER: username, SIAR_PASSWORD: await setOwnPassword(address, dataDir, username) };
  return { address, env, admin, as, listening, child };
}
