/**
 * PostgreSQL and Redis servers of our own, on free loopback ports in a directory of our own, for
 * the tests, CI and `npm run cluster`: nothing is installed as a system service and nothing outside
 * that directory is touched. PostgreSQL refuses to run as root, so as root it runs as the
 * `postgres` user (Debian's package creates it). Each server gets a random password.
 *
 *   node --import tsx scripts/services.ts start DIR    # prints SIAR_TEST_PG_URL=… and SIAR_TEST_REDIS_URL=…
 *   node --import tsx scripts/services.ts stop DIR
 */
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, existsSync, openSync, realpathSync, statSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export interface RunningService {
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
  /** Starts it again after stop(), on the same port with the same data and password (a restart, as after a crash or an upgrade). */
  start(): Promise<void>;
}

const isRoot = process.getuid?.() === 0;

/** The newest PostgreSQL's binaries (Debian keeps them out of PATH), or null when none is installed. */
export function postgresBinDir(): string | null {
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(path.join(base, v, 'bin', 'initdb'))) return path.join(base, v, 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  return which.status === 0 ? path.dirname(which.stdout.trim()) : null;
}

export function redisServerPath(): string | null {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() : null;
}

/** A port the OS just handed out and took back. */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on the port, or throws after `timeoutMs`. */
async function waitForPort(port: number, timeoutMs: number, what: string, exited: () => string | null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = exited();
    if (why !== null) throw new Error(`${what} exited before it listened: ${why}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * The port opens before PostgreSQL accepts sessions ("the database system is starting up"):
 * pg_isready says when it does, so the first client is not refused.
 */
async function waitForPostgresReady(bin: string, port: number, timeoutMs: number, exited: () => string | null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = exited();
    if (why !== null) throw new Error(`PostgreSQL exited before it accepted connections: ${why}`);
    if (spawnSync(path.join(bin, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port)]).status === 0) return;
    if (Date.now() > deadline) throw new Error(`PostgreSQL on 127.0.0.1:${port} did not accept connections within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** As root, PostgreSQL's programs run as the `postgres` user (Debian's package creates it). */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (!isRoot) return undefined;
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error('PostgreSQL refuses to run as root and there is no postgres user (apt-get install postgresql creates it).');
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function runPg(bin: string, args: string[], opts: SpawnSyncOptions = {}): void {
  const r = spawnSync(bin, args, { encoding: 'utf8', ...postgresUser(), ...opts });
  if (r.status !== 0) throw new Error(`${path.basename(bin)} failed: ${String(r.stderr || r.stdout).trim()}`);
}

/**
 * As root, PostgreSQL runs as `postgres`, which must be able to reach `dir`: ancestors under the
 * temp directory that lack it (mkdtemp makes 0700 folders) get the traverse bit, nothing more.
 */
function reachableByPostgres(dir: string): void {
  if (!isRoot) return;
  const tmp = realpathSync(os.tmpdir());
  for (let p = path.dirname(path.resolve(dir)); p !== path.dirname(p); p = path.dirname(p)) {
    const mode = statSync(p).mode;
    if (mode & 0o001) continue;
    if (!(p + path.sep).startsWith(tmp + path.sep)) {
      throw new Error(`PostgreSQL (running as postgres) cannot reach ${dir}: ${p} is closed to other users; use a folder under ${tmp}.`);
    }
    chmodSync(p, (mode & 0o7777) | 0o001);
  }
}

function ownedByPostgres(file: string): void {
  const user = postgresUser();
  if (user) chownSync(file, user.uid, user.gid);
}

/**
 * A fresh PostgreSQL cluster in `dir` (created; must not hold one already), listening on
 * 127.0.0.1 only, user `siar` with a random password; `fsync` stays on unless `fast` is set.
 */
export async function startPostgres(dir: string, opts: { port?: number; fast?: boolean } = {}): Promise<RunningService> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install postgresql).');
  mkdirSync(path.dirname(dir), { recursive: true });
  mkdirSync(dir, { mode: 0o700 });
  reachableByPostgres(dir);
  ownedByPostgres(dir);
  const data = path.join(dir, 'pgdata');
  const password = randomBytes(18).toString('base64url');
  const pwfile = path.join(dir, 'pwfile');
  writeFileSync(pwfile, password + '\n', { mode: 0o600 });
  ownedByPostgres(pwfile);
  runPg(path.join(bin, 'initdb'), ['-D', data, '-U', 'siar', '--pwfile', pwfile, '-A', 'scram-sha-256', '-E', 'UTF8', '--no-instructions'], { cwd: dir });
  rmSync(pwfile, { force: true });
  const port = opts.port ?? await freeLoopbackPort();
  const settings = [
    '-c', `port=${port}`, '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`,
    '-c', 'max_connections=300',
    ...(opts.fast ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
  ];
  const postgres = path.join(bin, 'postgres');
  const logFile = path.join(dir, 'postgres.log');
  let child: ReturnType<typeof spawn> | null = null;
  let exit: string | null = null;
  const launch = async (): Promise<void> => {
    const log = openSync(logFile, 'a', 0o600);
    ownedByPostgres(logFile);
    const c = spawn(postgres, ['-D', data, ...settings], { cwd: dir, stdio: ['ignore', log, log], detached: true, ...postgresUser() });
    closeSync(log);
    child = c;
    exit = null;
    const lastLines = (): string => readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' | ');
    c.once('exit', (code, signal) => { if (child === c) exit = `code ${code} signal ${signal}: ${lastLines()}`; });
    await waitForPort(port, 30_000, 'PostgreSQL', () => exit);
    await waitForPostgresReady(bin, port, 30_000, () => exit);
    writeFileSync(path.join(dir, 'postgres.pid'), String(c.pid));
    c.unref();
  };
  await launch();
  const url = `postgres://siar:${password}@127.0.0.1:${port}/postgres`;
  return {
    url, port, dir,
    stop: async () => {
      // SIGINT: PostgreSQL's "fast" shutdown (rolls back open transactions, then exits).
      if (child && exit === null) {
        child.kill('SIGINT');
        await waitExit(child, 30_000);
      }
    },
    start: async () => {
      if (child && exit === null && child.exitCode === null && child.signalCode === null) throw new Error('PostgreSQL is running already');
      await launch();
    },
  };
}

/** A fresh redis-server (no persistence: it is a bus, never the only copy) with a random password. */
export async function startRedis(dir: string, opts: { port?: number } = {}): Promise<RunningService> {
  const bin = redisServerPath();
  if (!bin) throw new Error('Redis is not installed (apt-get install redis-server).');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const password = randomBytes(18).toString('base64url');
  const port = opts.port ?? await freeLoopbackPort();
  const conf = path.join(dir, 'redis.conf');
  writeFileSync(conf, [
    `port ${port}`, 'bind 127.0.0.1', 'protected-mode yes', `requirepass ${password}`, `dir ${dir}`,
    'save ""', 'appendonly no', 'daemonize no', 'loglevel warning', `logfile ${path.join(dir, 'redis.log')}`,
  ].join('\n') + '\n', { mode: 0o600 });
  let child: ReturnType<typeof spawn> | null = null;
  let exit: string | null = null;
  const launch = async (): Promise<void> => {
    const c = spawn(bin, [conf], { cwd: dir, stdio: 'ignore', detached: true });
    child = c;
    exit = null;
    c.once('exit', (code, signal) => { if (child === c) exit = `code ${code} signal ${signal}`; });
    await waitForPort(port, 15_000, 'Redis', () => exit);
    writeFileSync(path.join(dir, 'redis.pid'), String(c.pid));
    c.unref();
  };
  await launch();
  return {
    url: `redis://:${password}@127.0.0.1:${port}`, port, dir,
    stop: async () => {
      if (child && exit === null) {
        child.kill('SIGTERM');
        await waitExit(child, 10_000);
      }
    },
    start: async () => {
      if (child && exit === null && child.exitCode === null && child.signalCode === null) throw new Error('Redis is running already');
      await launch();
    },
  };
}

async function waitExit(child: ReturnType<typeof spawn>, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const late = sleep(timeoutMs).then(() => 'late' as const);
  if ((await Promise.race([exited, late])) === 'late') {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Stops the servers `start DIR` left running (by the pids it wrote). */
function stopFromDir(dir: string): void {
  for (const [file, signal] of [['pg/postgres.pid', 'SIGINT'], ['redis/redis.pid', 'SIGTERM']] as const) {
    const p = path.join(dir, file);
    if (!existsSync(p)) continue;
    const pid = Number(readFileSync(p, 'utf8'));
    try { process.kill(pid, signal); } catch { /* already gone */ }
  }
}

async function waitGone(dir: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const file of ['pg/postgres.pid', 'redis/redis.pid']) {
    const p = path.join(dir, file);
    if (!existsSync(p)) continue;
    const pid = Number(readFileSync(p, 'utf8'));
    for (;;) {
      try { process.kill(pid, 0); } catch { break; }
      if (Date.now() > deadline) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } break; }
      await sleep(100);
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const [verb, dir] = process.argv.slice(2);
  if (!dir || (verb !== 'start' && verb !== 'stop')) {
    process.stderr.write('usage: services.ts start|stop DIR\n');
    process.exit(2);
  }
  if (verb === 'start') {
    const pg = await startPostgres(path.join(dir, 'pg'), { fast: true });
    const redis = await startRedis(path.join(dir, 'redis'));
    process.stdout.write(`SIAR_TEST_PG_URL=${pg.url}\nSIAR_TEST_REDIS_URL=${redis.url}\n`);
    process.exit(0);
  } else {
    stopFromDir(dir);
    await waitGone(dir, 30_000);
  }
}
