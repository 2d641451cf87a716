/**
 * Helpers for the reliability suites (issue 7): a real `siar server` child process that can be
 * killed and restarted on the same port and data, members seeded with known passwords, a
 * tmpfs for disk-full tests, and memory measurements. Not a test file (tap runs `*.test.ts`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SiarClient } from '../../src/client/connection.js';
import { LineReader, decodeServerFrame, encodeRequest, type ArgInput, type Args } from '../../src/protocol/index.js';
import { hashPassword } from '../../src/server/secrets.js';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { credentialsFromMail, type TestServer } from '../helpers/siar.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export { SIAR } from '../helpers/cli.js';
import { SIAR } from '../helpers/cli.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A port the OS just handed out and gave back (to restart a server on the same port). */
export { freePort } from '../../bench/lib/server.js';

/** Polls `cond` every `ms` until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, ms = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > deadline) return false;
    await sleep(ms);
  }
}

const admins = new WeakMap<TestServer, Promise<SiarClient>>();

/**
 * A member straight out of approval: registered, approved by the administrator, and holding the
 * password from its credentials mail (single-use: a session opened with it must change it first).
 */
export async function mailedMember(s: TestServer, username: string): Promise<{ username: string; password: string }> {
  let admin = admins.get(s);
  // A PASSWD of the admin's elsewhere closes this session (issue 20): log in again then.
  if (!admin || (await admin).isClosed) {
    admin = s.adminClient();
    admins.set(s, admin);
  }
  const anon = await SiarClient.connect({ host: '127.0.0.1', port: s.port });
  try {
    const reg = await anon.request('REGISTER', {
      institution: `Universitas ${username}`, contact: `Contact of ${username}`, email: `${username}@example.ac.id`, username,
    });
    const approved = await (await admin).request('APPROVE', { id: reg.args.get('id')! });
    return { username, password: await credentialsFromMail(s.server, s.dataDir, Number(approved.args.get('mailId')), username) };
  } finally {
    await anon.close();
  }
}

/**
 * A member ready for any command: approved, logged in once with the mailed password and switched
 * to `password`, so the "change the mailed password first" rule cannot get in the way.
 */
export async function readyMember(s: TestServer, username: string, password = `pw-${username}-0123456789`): Promise<{ username: string; password: string }> {
  const mailed = await mailedMember(s, username);
  const c = await SiarClient.connect({ host: '127.0.0.1', port: s.port });
  try {
    await c.login(username, mailed.password);
    await c.request('PASSWD', { old: mailed.password, new: password });
  } finally {
    await c.close();
  }
  return { username, password };
}

/** Logs in on a new connection (closed by the caller). */
export async function loggedIn(port: number, username: string, password: string): Promise<SiarClient> {
  const c = await SiarClient.connect({ host: '127.0.0.1', port });
  await c.login(username, password);
  return c;
}

// --- a real server process -------------------------------------------------------------------

export interface ChildServerOptions {
  dataDir: string;
  port: number;
  /** Extra `siar server` flags. */
  args?: string[];
  /** Where the server's log goes (appended); default <dataDir>/../server.log. */
  logFile?: string;
  logLevel?: string;
}

/**
 * `node bin/siar.js server` in its own process, its log in a file (no pipe it could block on).
 * Ready when a connection to its port is greeted with `*|HELLO`.
 */
export class ChildServer {
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcess, readonly opts: ChildServerOptions, readonly logFile: string) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  static async start(opts: ChildServerOptions): Promise<ChildServer> {
    // Only the log's directory: the data directory is the server's to create (0700).
    const logFile = opts.logFile ?? path.join(path.dirname(opts.dataDir), 'server.log');
    mkdirSync(path.dirname(logFile), { recursive: true });
    const fd = openSync(logFile, 'a');
    const child = spawn(process.execPath, [
      SIAR, 'server', '--host', '127.0.0.1', '--port', String(opts.port), '--data', opts.dataDir,
      '--log-level', opts.logLevel ?? 'warn', ...(opts.args ?? []),
    ], { cwd: ROOT, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const server = new ChildServer(child, opts, logFile);
    await server.waitReady();
    return server;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exitInfo === null;
  }

  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.alive) this.child.kill(signal);
    return this.exited;
  }

  /** SIGTERM, then SIGKILL if it has not exited within `ms`. */
  async stop(ms = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.alive) return this.exitInfo!;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), ms);
    const info = await this.exited;
    clearTimeout(timer);
    return info;
  }

  rssKiB(): number {
    try {
      return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      return 0;
    }
  }

  openFds(): number {
    const r = spawnSync('sh', ['-c', `ls /proc/${this.pid}/fd | wc -l`], { encoding: 'utf8' });
    return Number(r.stdout.trim());
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  private async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.alive) throw new Error(`siar server exited (${JSON.stringify(this.exitInfo)}) before listening:\n${this.logTail()}`);
      if (await helloOnce(this.opts.port)) return;
      await sleep(50);
    }
    this.child.kill('SIGKILL');
    throw new Error(`siar server did not listen within ${timeoutMs / 1000} s:\n${this.logTail()}`);
  }
}

/** True when a connection to the port is greeted with HELLO. */
export function helloOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      if (buf.includes('\n')) done(buf.startsWith('*|HELLO|'));
    });
  });
}

/**
 * Creates active members with a known password straight in a fresh data dir's database, before
 * its server first starts (registering a hundred through REGISTER → APPROVE → mail only costs time).
 */
export async function seedMembers(dataDir: string, usernames: string[], password: string): Promise<void> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const hash = await hashPassword(password);
  const store = SqliteStore.open(path.join(dataDir, 'siar.db'));
  try {
    const insert = store.db.prepare(`
      INSERT INTO users (username, role, status, password_hash, institution, contact, email, phone, address,
                         must_change_password, created_at)
      VALUES (?, 'member', 'active', ?, ?, ?, ?, '', '', 0, ?)`);
    const at = new Date().toISOString();
    store.db.transaction(() => {
      for (const u of usernames) insert.run(u, hash, `Institution ${u}`, `Contact ${u}`, `${u}@reliability.example.ac.id`, at);
    })();
  } finally {
    await store.close();
  }
}

// --- memory ------------------------------------------------------------------------------------

let gcFn: (() => void) | undefined;
/** A full garbage collection, without starting node with --expose-gc. */
export function gc(): void {
  if (!gcFn) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
}

export function mib(bytes: number): number {
  return Math.round((bytes / 1024 / 1024) * 10) / 10;
}

// --- a control connection from a chosen local address ------------------------------------------

export type RawReply =
  | { ok: true; args: Args; items: Args[] }
  | { ok: false; code: string; message: string };

/**
 * A control connection as a raw client makes it, optionally from another loopback address
 * (127.0.0.3…), which SiarClient cannot: replies by id, pushes collected.
 */
export class RawControl {
  readonly pushes: Array<{ event: string; args: Args }> = [];
  token = '';
  private nextId = 1;
  private readonly reader = new LineReader(16 * 1024 * 1024);
  private readonly waiting = new Map<string, { items: Args[]; resolve: (r: RawReply) => void }>();
  private closedFlag = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const l of this.reader.push(chunk)) {
        if (!l.ok) continue;
        const frame = decodeServerFrame(l.line);
        if (frame.kind === 'push') {
          this.pushes.push({ event: frame.event, args: frame.args });
          continue;
        }
        const w = this.waiting.get(frame.id);
        if (!w) continue;
        if (frame.kind === 'item') w.items.push(frame.args);
        else {
          this.waiting.delete(frame.id);
          w.resolve(frame.kind === 'ok' ? { ok: true, args: frame.args, items: w.items } : { ok: false, code: String(frame.code), message: frame.message });
        }
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closedFlag = true;
      for (const [, w] of this.waiting) w.resolve({ ok: false, code: 'CLOSED', message: 'connection closed' });
      this.waiting.clear();
    });
  }

  static async connect(port: number, localAddress?: string): Promise<RawControl> {
    const socket = net.connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new RawControl(socket);
    await waitFor(() => c.pushes.some((p) => p.event === 'HELLO'), 10_000, 5);
    return c;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  request(verb: string, args: ArgInput = {}, token: string = this.token): Promise<RawReply> {
    const id = `r${this.nextId++}`;
    return new Promise((resolve) => {
      if (this.closedFlag) {
        resolve({ ok: false, code: 'CLOSED', message: 'connection closed' });
        return;
      }
      this.waiting.set(id, { items: [], resolve });
      this.socket.write(encodeRequest(id, verb, token, args) + '\n');
    });
  }

  async login(username: string, password: string): Promise<void> {
    const r = await this.request('LOGIN', { username, password }, '');
    if (!r.ok) throw new Error(`login ${username}: ${r.code}`);
    this.token = r.args.get('token') ?? '';
  }

  close(): void {
    this.socket.destroy();
  }
}
