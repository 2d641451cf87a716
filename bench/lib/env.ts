/** Bench environment: scale, paths, machine description, progress output. */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type Scale = 'small' | 'full';

/** BENCH_SCALE=small|full (default full). Small runs validate the harness on a busy machine. */
export const SCALE: Scale = (process.env.BENCH_SCALE ?? 'full').toLowerCase() === 'small' ? 'small' : 'full';

/** The value for the current scale. */
export function pick<T>(small: T, full: T): T {
  return SCALE === 'small' ? small : full;
}

/** Repository root (bench/lib/ → ../..). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where results go; BENCH_RESULTS_DIR moves them (e.g. for A/B runs that must not overwrite the real ones). */
export const RESULTS_DIR = process.env.BENCH_RESULTS_DIR ? path.resolve(process.env.BENCH_RESULTS_DIR) : path.join(ROOT, 'bench', 'results');

/** A positive integer from the environment, or the fallback. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${raw} is not a non-negative number`);
  return n;
}

export function envList(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (!raw) return fallback;
  return raw.split(',').map((s) => Number(s.trim())).filter((n) => Number.isFinite(n) && n > 0);
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  kernel: string;
  loadAverageAtStart: number[];
  openFilesLimit: string;
  scale: Scale;
  /** Small runs are made while other work competes for the CPU: not the figures to quote. */
  note: string;
  date: string;
  gitCommit: string;
  worktreeDirty: boolean;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  let openFilesLimit = '?';
  try {
    openFilesLimit = execFileSync('sh', ['-c', 'echo "$(ulimit -Sn)/$(ulimit -Hn)"'], { encoding: 'utf8' }).trim();
  } catch { /* not a shell we can ask */ }
  let gitCommit = '?';
  let worktreeDirty = false;
  try {
    gitCommit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    worktreeDirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'schema.sql'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
  } catch { /* not a git checkout */ }
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    openFilesLimit,
    scale: SCALE,
    note: SCALE === 'small'
      ? 'SMALL SCALE, MACHINE SHARED: validation run while other work competed for the 2 cores; not the figures to quote.'
      : 'full scale',
    date: new Date().toISOString(),
    gitCommit,
    worktreeDirty,
  };
}

const started = performance.now();

/** A progress line on stderr, with the time since the bench started. */
export function progress(scope: string, text: string): void {
  const s = ((performance.now() - started) / 1000).toFixed(1).padStart(7);
  process.stderr.write(`[${s}s] ${scope}: ${text}\n`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The soft and hard limits on open files of this process's shell environment. */
export function openFileLimits(): { soft: number; hard: number } {
  try {
    const [soft, hard] = execFileSync('sh', ['-c', 'echo "$(ulimit -Sn) $(ulimit -Hn)"'], { encoding: 'utf8' }).trim().split(' ');
    const num = (v: string | undefined): number => (v === 'unlimited' ? Infinity : Number(v));
    return { soft: num(soft), hard: num(hard) };
  } catch {
    return { soft: NaN, hard: NaN };
  }
}

/** CLOCK_MONOTONIC in microseconds: the clock of V8's CPU profiles, shared by every process on the host. */
export function monoUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Starts counting this process's CPU (every thread): the function returned gives the µs used since. */
export function cpuSince(): () => number {
  const start = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(start);
    return used.user + used.system;
  };
}
