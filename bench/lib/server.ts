/**
 * A real `siar server` in its own process on loopback: `node bin/siar.js server --port P --data D`.
 * Its log goes to a file next to the data dir (no pipe for the server to block on). Memory comes
 * from /proc/<pid>/status (VmRSS, VmHWM), CPU time from /proc/<pid>/stat.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, closeSync, rmSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT, progress, sleep } from './env.js';

/**
 * The checkout whose server is benchmarked: this one, or BENCH_SERVER_ROOT (another worktree, e.g.
 * with a candidate fix applied) for A/B comparisons with the same harness.
 */
export const SERVER_ROOT = process.env.BENCH_SERVER_ROOT ? path.resolve(process.env.BENCH_SERVER_ROOT) : ROOT;

export interface ServerOptions {
  /** Label for logs and profile file names. */
  label: string;
  /** An existing (seeded) data dir; default a fresh temp dir. */
  dataDir?: string;
  synchronous?: 'NORMAL' | 'FULL';
  /** Passes `--cpu-prof --cpu-prof-dir=DIR` to the server's node. */
  cpuProfDir?: string;
  /** Server log level (default warn: the per-command info lines are off, as an operator would run it under load). */
  logLevel?: string;
  /**
   * `siar server --max-connections`: only the scale scenario's small validation run sets it (to
   * reach the cap with a few hundred clients); unset, the server's default cap applies.
   */
  maxConnections?: number;
  /** Extra environment for the server process. */
  env?: NodeJS.ProcessEnv;
}

export interface ProcStatus {
  rssKiB: number;
  hwmKiB: number;
  threads: number;
}

/** A fresh temp directory for one server (data) and its log. */
export function makeTempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `siar-bench-${prefix}-`));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function readProcStatus(pid: number): ProcStatus | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM'), threads: field('Threads') };
  } catch {
    return null;
  }
}

/** User + system CPU seconds the process has used so far. */
export function readCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the command: state(3) … utime(14) stime(15), numbered from 1 in proc(5).
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    return (utime + stime) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

export interface RssSampler {
  stop(): { peakRssKiB: number; samples: number };
}

/** Samples VmRSS every `ms` to find the peak during a phase (VmHWM only knows the whole life). */
export function sampleRss(pid: number, ms = 100): RssSampler {
  let peak = readProcStatus(pid)?.rssKiB ?? 0;
  let samples = 1;
  const timer = setInterval(() => {
    const s = readProcStatus(pid);
    if (s) {
      peak = Math.max(peak, s.rssKiB);
      samples++;
    }
  }, ms);
  return {
    stop() {
      clearInterval(timer);
      const s = readProcStatus(pid);
      if (s) peak = Math.max(peak, s.rssKiB);
      return { peakRssKiB: peak, samples };
    },
  };
}

export class ServerProcess {
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exited: Promise<void>;

  private constructor(
    readonly label: string,
    readonly child: ChildProcess,
    readonly port: number,
    readonly dataDir: string,
    readonly logFile: string,
    private readonly ownsDataDir: boolean,
    readonly cpuProfDir: string | undefined,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async start(opts: ServerOptions): Promise<ServerProcess> {
    const dataDir = opts.dataDir ?? path.join(makeTempDir(opts.label), 'data');
    mkdirSync(dataDir, { recursive: true });
    // Temp dirs made by makeTempDir are the bench's own: removed when the server is stopped for good.
    const ownsDataDir = path.basename(path.dirname(dataDir)).startsWith('siar-bench-');
    const logFile = path.join(path.dirname(dataDir), `server-${opts.label}.log`);
    const port = await freePort();
    const nodeArgs: string[] = [];
    // One directory per server, so the profile it writes at exit is the only file there.
    if (opts.cpuProfDir) mkdirSync(opts.cpuProfDir, { recursive: true });
    const profDir = opts.cpuProfDir ? mkdtempSync(path.join(opts.cpuProfDir, `${opts.label}-`)) : undefined;
    if (profDir) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profDir}`);
    const serverArgs = [
      '--host', '127.0.0.1', '--port', String(port), '--data', dataDir,
      '--log-level', opts.logLevel ?? process.env.BENCH_SERVER_LOG ?? 'warn',
      '--synchronous', opts.synchronous ?? 'NORMAL',
      // A harness member sends thousands of messages a minute: past any per-member rate or quota.
      '--max-sends-per-minute', '0', '--member-quota', '0',
      // The harness logs thousands of members in from a handful of loopback addresses.
      '--max-logged-in-per-address', '1000000',
    ];
    if (opts.maxConnections !== undefined) serverArgs.push('--max-connections', String(opts.maxConnections));
    const argv = [...nodeArgs, path.join(SERVER_ROOT, 'bin', 'siar.js'), 'server', ...serverArgs];
    const fd = openSync(logFile, 'a');
    // Through sh so the soft open-files limit can be raised to the hard limit (the scale scenario
    // holds ~19,900 sockets); exec keeps the pid the server's.
    const child = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, ...argv], {
      cwd: SERVER_ROOT,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, ...opts.env },
    });
    closeSync(fd);
    const server = new ServerProcess(opts.label, child, port, dataDir, logFile, ownsDataDir, profDir);
    await server.waitReady();
    progress('server', `${opts.label}: pid ${server.pid} on 127.0.0.1:${port} (${opts.synchronous ?? 'NORMAL'}${opts.cpuProfDir ? ', --cpu-prof' : ''})`);
    return server;
  }

  get alive(): boolean {
    return this.exitInfo === null;
  }

  get exit(): { code: number | null; signal: NodeJS.Signals | null } | null {
    return this.exitInfo;
  }

  status(): ProcStatus | null {
    return readProcStatus(this.pid);
  }

  cpuSeconds(): number {
    return readCpuSeconds(this.pid);
  }

  logTail(lines = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** How many log lines are at warn or above. */
  warningCount(): number {
    return this.warnings(Number.MAX_SAFE_INTEGER).length;
  }

  /** Log lines at warn or above (pino levels ≥ 40), for the report. */
  warnings(max = 20): string[] {
    try {
      const out: string[] = [];
      for (const line of readFileSync(this.logFile, 'utf8').split('\n')) {
        if (!line.startsWith('{')) {
          if (line.trim()) out.push(line);
          continue;
        }
        try {
          const rec = JSON.parse(line) as { level?: number; msg?: string };
          if ((rec.level ?? 0) >= 40) out.push(line);
        } catch { out.push(line); }
      }
      return out.slice(0, max);
    } catch {
      return [];
    }
  }

  private async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.alive) {
        throw new Error(`siar server ${this.label} exited (${JSON.stringify(this.exitInfo)}) before listening:\n${this.logTail()}`);
      }
      if (await helloOnce(this.port)) return;
      await sleep(100);
    }
    this.child.kill('SIGKILL');
    throw new Error(`siar server ${this.label} did not listen within ${timeoutMs / 1000} s:\n${this.logTail()}`);
  }

  /**
   * SIGTERM (the server stops cleanly and, with --cpu-prof, writes its profile), then waits.
   * Returns the profile file when one was written.
   */
  async stop(opts: { keepData?: boolean } = {}): Promise<{ profile: string | null; exit: { code: number | null; signal: NodeJS.Signals | null } | null }> {
    if (this.alive) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => { if (this.alive) this.child.kill('SIGKILL'); }, 60_000);
      await this.exited;
      clearTimeout(timer);
    }
    let profile: string | null = null;
    if (this.cpuProfDir && existsSync(this.cpuProfDir)) {
      const mine = readdirSync(this.cpuProfDir).filter((f) => f.endsWith('.cpuprofile')).sort(); // …<pid>.0.… is the main thread
      if (mine[0]) profile = path.join(this.cpuProfDir, mine[0]);
    }
    if (this.ownsDataDir && !opts.keepData && process.env.BENCH_KEEP !== '1') {
      rmSync(path.dirname(this.dataDir), { recursive: true, force: true });
    }
    return { profile, exit: this.exitInfo };
  }
}

/** True when a connection to the port gets the HELLO greeting. */
function helloOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (d) => {
      buf += d.toString('utf8');
      if (buf.includes('\n')) done(buf.startsWith('*|HELLO|'));
    });
  });
}
