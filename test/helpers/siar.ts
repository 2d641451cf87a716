/** Test helpers: a real siar server on port 0 over a temp data dir, real clients, real mail files. */
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import type { Database } from 'better-sqlite3';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { RemoteError, SiarClient } from '../../src/client/connection.js';
import { Args } from '../../src/protocol/index.js';
import type { ServerConfig } from '../../src/server/config.js';
import { createLogger } from '../../src/server/logger.js';
import { SiarServer, type StartOptions } from '../../src/server/server.js';
import { Capture, parseEml } from '../server/mail/helpers.js';

export { Capture, parseEml };

/** The SQLite database under a test server, for tests that look at rows (they run on the SQLite store). */
export function sqliteDb(server: SiarServer): Database {
  if (!(server.store instanceof SqliteStore)) throw new Error('this test looks at SQLite rows: run it on the SQLite store');
  return server.store.db;
}

export interface TestServer {
  server: SiarServer;
  port: number;
  dataDir: string;
  logs: Capture;
  adminPassword(): string;
  /** A connected client, closed when the test ends. */
  client(): Promise<SiarClient>;
  adminClient(): Promise<SiarClient>;
  /**
   * Registers and approves a member, logs in once with the mailed (one-time) password and sets its
   * own; returns both.
   */
  member(username: string, institution?: string): Promise<{ username: string; password: string; mailedPassword: string }>;
  /** Registers and approves a member; returns the mailed password, not yet used. */
  approvedMember(username: string, institution?: string): Promise<{ username: string; mailedPassword: string }>;
  /** A logged-in member client. */
  memberClient(username: string): Promise<SiarClient>;
}

/** A port on 127.0.0.1 free a moment ago (for a server restarted on the same port, or one not started yet). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export function tempDir(t: Test, prefix = 'siar-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function startServer(
  t: Test, overrides: Partial<ServerConfig> = {}, dataDir = tempDir(t), options: Pick<StartOptions, 'dueJobsClock'> = {},
): Promise<TestServer> {
  const logs = new Capture();
  const logger = createLogger('debug', logs);
  const server = await SiarServer.start({ host: '127.0.0.1', port: 0, dataDir, ...overrides }, { logger, ...options });
  t.teardown(() => server.stop());
  const port = server.address().port;
  const passwords = new Map<string, string>();

  const client = async () => {
    const c = await SiarClient.connect({ host: '127.0.0.1', port });
    t.teardown(() => c.close());
    return c;
  };
  const adminPassword = () => readFileSync(path.join(dataDir, 'admin-password'), 'utf8').trim();
  let admin: SiarClient | undefined;
  const adminClient = async () => {
    const c = await client();
    await c.login('admin', adminPassword());
    return c;
  };
  const ts: TestServer = {
    server, port, dataDir, logs, adminPassword, client, adminClient,
    async approvedMember(username, institution = `Universitas ${username}`) {
      admin ??= await adminClient();
      const anon = await client();
      const reg = await anon.request('REGISTER', {
        institution, contact: `Contact of ${username}`, email: `${username}@example.ac.id`, username,
      });
      const approved = await admin.request('APPROVE', { id: reg.args.get('id')! });
      const mailedPassword = await credentialsFromMail(server, dataDir, Number(approved.args.get('mailId')), username);
      await anon.close();
      return { username, mailedPassword };
    },
    async member(username, institution) {
      const { mailedPassword } = await ts.approvedMember(username, institution);
      const password = ownPassword(username);
      const c = await client();
      await c.login(username, mailedPassword, { popups: false });
      await c.request('PASSWD', { old: mailedPassword, new: password });
      await c.close();
      passwords.set(username, password);
      return { username, password, mailedPassword };
    },
    async memberClient(username) {
      const password = passwords.get(username) ?? (await ts.member(username)).password;
      const c = await client();
      await c.login(username, password);
      return c;
    },
  };
  return ts;
}

/** The password tests give a member in place of the mailed one. */
export function ownPassword(username: string): string {
  return `own-password-of-${username}`;
}

/** Waits until the mail worker has sent mail `mailId`, then reads the password from the .eml it wrote. */
export async function credentialsFromMail(server: SiarServer, dataDir: string, mailId: number, username: string): Promise<string> {
  while (!(await server.store.getMail(mailId))?.sentAt) {
    await once(server.mailWorker, 'sent');
  }
  const dir = path.join(dataDir, 'mail');
  const file = readdirSync(dir).find((f) => isMailFile(f, mailId));
  if (!file) throw new Error(`no .eml for mail ${mailId}`);
  return passwordFromText(parseEml(readFileSync(path.join(dir, file), 'utf8')).text, username);
}

/**
 * Whether an .eml in <data>/mail is mail `mailId`: names are `<ISO time>-<id>-<kind>.eml` and the time
 * has dashes too (`2026-11-26T07-16-…Z`), so the id is matched right after the time's `Z`, not
 * anywhere (mail 11 used to match every file written in November).
 */
export function isMailFile(name: string, mailId: number): boolean {
  return name.includes(`Z-${mailId}-`);
}

/** The password from a member's credentials mail in <data>/mail (the embedded file transport). */
export function mailedPassword(dataDir: string, username: string): string {
  const dir = path.join(dataDir, 'mail');
  for (const f of readdirSync(dir)) {
    const text = parseEml(readFileSync(path.join(dir, f), 'utf8')).text;
    if (text.split('\n').includes(`Username: ${username}`)) return passwordFromText(text, username);
  }
  throw new Error(`no credentials mail for ${username}`);
}

export function passwordFromText(text: string, username: string): string {
  if (!text.split('\n').includes(`Username: ${username}`)) throw new Error(`mail is not for ${username}`);
  const line = text.split('\n').find((l) => l.startsWith('Password: '));
  if (!line) throw new Error('no Password: line');
  return line.slice('Password: '.length).trim();
}

/** Resolves with the next push of this event (optionally matching a predicate). */
export function nextPush(client: SiarClient, event: string, match: (a: Args) => boolean = () => true): Promise<Args> {
  return new Promise((resolve) => {
    const on = (e: string, args: Args) => {
      if (e === event && match(args)) {
        client.off('push', on);
        resolve(args);
      }
    };
    client.on('push', on);
  });
}

/** Resolves once `check` holds, looking again every 20 ms; the deadline is generous (the machine is loaded). */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Collects pushes of one event into an array, for "exactly once" checks. */
export function collectPushes(client: SiarClient, event: string): Args[] {
  const out: Args[] = [];
  client.on('push', (e, a) => { if (e === event) out.push(a); });
  return out;
}

/** A raw socket dialogue, as a person with nc would have: writes bytes, collects response lines. */
export class RawPeer {
  readonly lines: string[] = [];
  private buffer = '';
  private waiters: Array<() => void> = [];
  closed = false;
  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buffer += d;
      let nl;
      while ((nl = this.buffer.indexOf('\n')) !== -1) {
        this.lines.push(this.buffer.slice(0, nl));
        this.buffer = this.buffer.slice(nl + 1);
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => { this.closed = true; this.wake(); });
  }

  static async connect(t: Test, port: number): Promise<RawPeer> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const peer = new RawPeer(socket);
    t.teardown(() => socket.destroy());
    await peer.waitLines(1); // HELLO
    return peer;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Resolves when at least n lines have arrived in total (or the socket closed). */
  async waitLines(n: number): Promise<string[]> {
    while (this.lines.length < n && !this.closed) await new Promise<void>((r) => this.waiters.push(r));
    return this.lines;
  }

  /** Sends one line and returns the first line after that starting with `${id}|`. */
  async ask(line: string): Promise<string> {
    const id = line.slice(0, line.indexOf('|'));
    const from = this.lines.length;
    this.write(line + '\n');
    for (;;) {
      const found = this.lines.slice(from).find((l) => l.startsWith(`${id}|`));
      if (found) return found;
      if (this.closed) throw new Error(`closed before a reply to ${id}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async waitClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((r) => this.waiters.push(r));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** A client of `s` from another loopback address (127.0.0.0/8 plays other hosts); closed when the test ends. */
export async function clientFrom(t: Test, s: TestServer, localAddress: string): Promise<SiarClient> {
  const c = await SiarClient.connect({ host: '127.0.0.1', port: s.port, localAddress });
  t.teardown(() => c.close());
  return c;
}

/** The code a LOGIN ends with: 'OK' or the error code. */
export async function loginCode(c: SiarClient, username: string, password: string): Promise<string> {
  try {
    await c.login(username, password, { popups: false });
    return 'OK';
  } catch (err) {
    if (err instanceof RemoteError) return err.code;
    throw err;
  }
}
