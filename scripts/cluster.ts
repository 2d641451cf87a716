/**
 * A local siar cluster in one command (issue 19): a PostgreSQL and a Redis of its own
 * (scripts/services.ts: Debian's packages, in a temp or given directory, as the postgres user when
 * root) and three `siar server` nodes on this machine, each a child process with its own data
 * directory, port and node id, sharing the store (--store), the bus (--bus) and the mail key
 * (--mail-key-file: one key file in the cluster's directory, made here, mode 0600). Prints
 * the addresses and the SIAR_SERVER line for clients; Ctrl-C (or SIGTERM) stops everything.
 *
 *   npm run cluster                                  # temp directory, nodes on 7401, 7402, 7403
 *   npm run cluster -- --dir /tmp/my-cluster --port 7501 --nodes 3
 *
 * The test suite (test/cluster/) starts the same cluster through startCluster().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startPostgres, startRedis, type RunningService } from './services.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The most nodes `npm run cluster` (and startCluster) starts: this is a cluster for one machine. */
export const MAX_NODES = 16;

export interface ClusterOptions {
  /** Where everything lives: pg/, redis/, node-1/, … (created; must be empty or absent). */
  dir: string;
  nodes?: number;
  /** The first node's port, the next ones following; 0: any free port for each. */
  port?: number;
  /** How `siar` runs: by default the shipped bin/siar.js (npm run build first). */
  siar?: string[];
  /** More options for every node (e.g. ['--catch-up-interval', '1s']). */
  nodeArgs?: string[];
  /** More environment for every node (e.g. SIAR_SMTP). */
  env?: Record<string, string>;
  /** fsync off in PostgreSQL (tests). */
  fast?: boolean;
  /**
   * 'shared' (the default): every node gets --mail-key-file DIR/mail.key. 'per-node': each a key file
   * of its own, DIR/mail-N.key — a misconfigured cluster, for the tests that show what it does.
   */
  mailKeys?: 'shared' | 'per-node';
  /** Each line a node logs, as it comes. */
  onLog?: (node: ClusterNode, line: string) => void;
}

export interface ClusterNode {
  id: string;
  dataDir: string;
  port: number;
  address: string;
  logFile: string;
  child: ChildProcess;
  /** Resolves when the process has ended, with how. */
  exited: Promise<string>;
}

export interface Cluster {
  dir: string;
  /** The mail key file of node i (the same file for every node unless mailKeys is 'per-node'). */
  mailKeyFile(i: number): string;
  pg: RunningService;
  redis: RunningService;
  nodes: ClusterNode[];
  /** The SIAR_SERVER value for clients: every node. */
  serverList: string;
  /** The administrator's password (written by the first node at its first start). */
  adminPassword(): string;
  /** Starts node i again (after it died or was stopped), on its port and data directory. */
  restartNode(i: number): Promise<ClusterNode>;
  /** Stops the nodes (SIGTERM, then SIGKILL after 20 s), then Redis and PostgreSQL. */
  stop(): Promise<void>;
}

/** Starts one `siar server` node; resolves when it listens (or rejects with its last words). */
async function startNode(
  o: Required<Pick<ClusterOptions, 'siar' | 'nodeArgs' | 'env'>> & Pick<ClusterOptions, 'onLog'>,
  id: string, dataDir: string, port: number, secrets: { store: string; bus: string }, mailKeyFile: string,
): Promise<ClusterNode> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const logFile = path.join(dataDir, 'server.log');
  const log = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
  const [cmd, ...pre] = o.siar;
  const child = spawn(cmd!, [
    ...pre, 'server', '--data', dataDir, '--host', '127.0.0.1', '--port', String(port), '--transfer-host', '127.0.0.1',
    '--node-id', id, '--mail-key-file', mailKeyFile, ...o.nodeArgs,
  ], {
    // The store's and Redis's passwords go through the environment, never the command line.
    env: { ...process.env, ...o.env, SIAR_STORE: secrets.store, SIAR_BUS: secrets.bus },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => { log.end(); resolve(signal ? `signal ${signal}` : `code ${code}`); });
  });
  const node: ClusterNode = { id, dataDir, port, address: '', logFile, child, exited };
  const lastLines: string[] = [];
  child.stderr!.on('data', (d: Buffer) => { log.write(d); lastLines.push(...d.toString().trim().split('\n')); lastLines.splice(0, lastLines.length - 5); });
  const listening = new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      log.write(line + '\n');
      o.onLog?.(node, line);
      lastLines.push(line);
      lastLines.splice(0, lastLines.length - 5);
      try {
        const rec = JSON.parse(line) as { msg?: string; port?: number };
        if (rec.msg === 'siar server listening' && typeof rec.port === 'number') resolve(rec.port);
      } catch { /* pretty or plain output: not the line we wait for */ }
    });
    void exited.then((how) => reject(new Error(`node ${id} exited (${how}) before it listened: ${lastLines.join(' | ')}`)));
  });
  node.port = await listening;
  node.address = `127.0.0.1:${node.port}`;
  return node;
}

/** PostgreSQL, Redis and `nodes` siar nodes in `dir`; the first node starts alone (it creates the schema and the admin). */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const dir = path.resolve(options.dir);
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new Error(`${dir} is not empty: give a new or empty directory (a cluster's PostgreSQL is created fresh).`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const count = options.nodes ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > MAX_NODES) throw new Error(`--nodes must be 1 to ${MAX_NODES}, not ${count}`);
  const o = { siar: options.siar ?? [process.execPath, path.join(ROOT, 'bin', 'siar.js')], nodeArgs: options.nodeArgs ?? [], env: options.env ?? {}, onLog: options.onLog };
  const pg = await startPostgres(path.join(dir, 'pg'), { fast: options.fast });
  let redis: RunningService | undefined;
  const nodes: ClusterNode[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(nodes.map(async (n) => {
      if (n.child.exitCode !== null || n.child.signalCode !== null) return;
      n.child.kill('SIGTERM');
      const late = setTimeout(() => n.child.kill('SIGKILL'), 20_000);
      await n.exited;
      clearTimeout(late);
    }));
    await redis?.stop();
    await pg.stop();
  };
  try {
    redis = await startRedis(path.join(dir, 'redis'));
    // Every node unseals the mail any node queued (an approval's credentials): one mail key for all,
    // a file each node names (--mail-key-file), never copied into the data directories.
    const mailKeyFile = (i: number): string => path.join(dir, options.mailKeys === 'per-node' ? `mail-${i + 1}.key` : 'mail.key');
    for (let i = 0; i < count; i++) {
      if (!existsSync(mailKeyFile(i))) writeFileSync(mailKeyFile(i), randomBytes(32), { mode: 0o600 });
    }
    const secrets = { store: pg.url, bus: redis.url };
    const portOf = (i: number): number => (options.port ? options.port + i : 0);
    const dataDirOf = (i: number): string => path.join(dir, `node-${i + 1}`);
    nodes.push(await startNode(o, 'node-1', dataDirOf(0), portOf(0), secrets, mailKeyFile(0)));
    nodes.push(...await Promise.all(Array.from({ length: count - 1 }, (_, k) => startNode(o, `node-${k + 2}`, dataDirOf(k + 1), portOf(k + 1), secrets, mailKeyFile(k + 1)))));
    const cluster: Cluster = {
      dir, pg, redis, nodes, mailKeyFile,
      serverList: nodes.map((n) => n.address).join(','),
      adminPassword: () => readFileSync(path.join(nodes[0]!.dataDir, 'admin-password'), 'utf8').trim(),
      restartNode: async (i) => {
        const old = nodes[i]!;
        if (old.child.exitCode === null && old.child.signalCode === null) throw new Error(`${old.id} is still running`);
        nodes[i] = await startNode(o, old.id, old.dataDir, old.port, secrets, mailKeyFile(i));
        return nodes[i]!;
      },
      stop: stopAll,
    };
    return cluster;
  } catch (err) {
    await stopAll().catch(() => undefined);
    throw err;
  }
}

export const CLUSTER_USAGE = `usage: npm run cluster [-- --dir DIR] [--port FIRST_PORT (7401)] [--nodes N (3, at most ${MAX_NODES})]`;

/** A command line `npm run cluster` refuses, with the sentence saying why. */
export class ClusterUsageError extends Error {}

export interface ClusterArgs {
  dir: string | undefined;
  port: number;
  nodes: number;
  help: boolean;
}

/** `--dir`, `--port`, `--nodes` (each once, with a value) and `--help`; anything else is refused with a sentence. */
export function parseClusterArgs(argv: readonly string[]): ClusterArgs {
  const values = new Map<string, string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    if (!['--dir', '--port', '--nodes'].includes(a)) {
      throw new ClusterUsageError(a.startsWith('-') ? `unknown option ${a}` : `unexpected argument "${a}" (options take the form --nodes 3)`);
    }
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new ClusterUsageError(`${a} needs a value`);
    if (values.has(a)) throw new ClusterUsageError(`${a} is given twice`);
    values.set(a, value);
    i++;
  }
  const nodes = wholeNumber('--nodes', values.get('--nodes') ?? '3', 1, MAX_NODES, 'the number of nodes');
  const port = wholeNumber('--port', values.get('--port') ?? '7401', 1, 65535 - (nodes - 1), `the first node's port (the ${nodes} nodes take the ports from it up)`);
  const dir = values.get('--dir');
  if (dir === '') throw new ClusterUsageError('--dir needs a directory');
  return { dir, port, nodes, help };
}

function wholeNumber(flag: string, raw: string, min: number, max: number, what: string): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ClusterUsageError(`${flag} is ${what}: a whole number from ${min} to ${max}, not "${raw}"`);
  }
  return n;
}

/** `npm run cluster [-- --dir DIR] [--port 7401] [--nodes 3]` */
async function main(argv: string[]): Promise<void> {
  let args: ClusterArgs;
  try {
    args = parseClusterArgs(argv);
  } catch (err) {
    if (!(err instanceof ClusterUsageError)) throw err;
    process.stderr.write(`siar cluster: ${err.message}.\n${CLUSTER_USAGE}\n`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write(`${CLUSTER_USAGE}\n`);
    process.exit(0);
  }
  const given = args.dir;
  const dir = given ? path.resolve(given) : mkdtempSync(path.join(os.tmpdir(), 'siar-cluster-'));
  const { port, nodes } = args;
  const bin = path.join(ROOT, 'dist', 'client', 'cli', 'main.js');
  if (!existsSync(bin)) throw new Error('dist/ is missing: run `npm run build` (npm run cluster does) first.');

  process.stdout.write(`starting PostgreSQL, Redis and ${nodes} siar nodes in ${dir} …\n`);
  const cluster = await startCluster({ dir, port, nodes });
  let stopping = false;
  const stop = async (why: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${why}: stopping the nodes, Redis and PostgreSQL …\n`);
    await cluster.stop();
    if (!given) rmSync(dir, { recursive: true, force: true });
    process.stdout.write(given ? `stopped; everything is still in ${dir}\n` : 'stopped; the temp directory is removed\n');
    process.exit(0);
  };
  process.on('SIGINT', () => { void stop('Ctrl-C'); });
  process.on('SIGTERM', () => { void stop('SIGTERM'); });
  for (const n of cluster.nodes) {
    void n.exited.then((how) => { if (!stopping) process.stdout.write(`${n.id} (${n.address}) exited (${how}); its clients carry on on the others\n`); });
  }
  const pad = (s: string): string => s.padEnd(12);
  process.stdout.write([
    '',
    `${pad('PostgreSQL')}127.0.0.1:${cluster.pg.port}  (the store: data in ${cluster.pg.dir})`,
    `${pad('Redis')}127.0.0.1:${cluster.redis.port}  (bus and presence)`,
    `${pad('Mail key')}${cluster.mailKeyFile(0)}  (--mail-key-file of every node)`,
    ...cluster.nodes.map((n) => `${pad(n.id)}${n.address}  (data ${n.dataDir}, log ${n.logFile}, pid ${n.child.pid})`),
    '',
    `The administrator is "admin"; the password is in ${path.join(cluster.nodes[0]!.dataDir, 'admin-password')}.`,
    `Mail (an approved member's password) is written to ${path.join(cluster.nodes[0]!.dataDir, 'mail')} while node-1 runs the mail queue`,
    `(should node-1 stop, another node's mail/ folder): node bin/siar.js admin mail show ADDRESS --data ${cluster.nodes[0]!.dataDir}`,
    'Point the clients at every node:',
    '',
    `  export SIAR_SERVER=${cluster.serverList}`,
    '',
    `Kill a node to see its clients move (kill -9 ${cluster.nodes[0]!.child.pid}). Ctrl-C stops everything.`,
    '',
  ].join('\n'));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`siar cluster: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
