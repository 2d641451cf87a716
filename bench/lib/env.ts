/** Bench environment: scale, paths, machine description, progress output. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
  /** How busy the whole machine's CPU was just before the scenario started (see waitForQuiet); null if not measured. */
  quietBeforeStart: Quiet | null;
  openFilesLimit: string;
  scale: Scale;
  /** Small runs are made while other work competes for the CPU: not the figures to quote. */
  note: string;
  date: string;
  gitCommit: string;
  worktreeDirty: boolean;
}

/** Taken just before a scenario starts, so the load figures describe the machine the scenario found. */
export function machineInfo(quiet: Quiet | null = null): MachineInfo {
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
    quietBeforeStart: quiet,
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

export interface Quiet {
  /** CPU busy, all processes, in % of all cores, over the last window measured. */
  cpuBusyPercent: number;
  /** Seconds spent waiting (sync included) before the scenario started. */
  waitedSeconds: number;
  /** False when the machine was still busy when the wait gave up. */
  settled: boolean;
}

/** Busy share of all cores over `ms`, every process counted (/proc/stat); NaN where there is no /proc. */
async function machineBusyPercent(ms: number): Promise<number> {
  const read = (): { busy: number; total: number } | null => {
    try {
      const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
      // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
      const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
      return { busy: total - (cpu[3] ?? 0) - (cpu[4] ?? 0), total };
    } catch {
      return null;
    }
  };
  const a = read();
  await sleep(ms);
  const b = read();
  if (!a || !b || b.total === a.total) return NaN;
  return ((b.busy - a.busy) / (b.total - a.total)) * 100;
}

/**
 * Waits until the machine is quiet before a scenario, so one scenario's tail (writeback of the
 * attachments' gigabytes, exiting clients) is not measured as the next one's load: `sync`, then
 * 2-second windows until the CPU is under `busyBelow` % busy, for at most `maxSeconds`.
 */
export async function waitForQuiet(busyBelow = 15, maxSeconds = 120): Promise<Quiet> {
  const t0 = performance.now();
  try {
    execFileSync('sync');
  } catch { /* no sync binary: the CPU check still runs */ }
  for (;;) {
    const busy = await machineBusyPercent(2000);
    const waitedSeconds = (performance.now() - t0) / 1000;
    const settled = busy < busyBelow;
    if (settled || !Number.isFinite(busy) || waitedSeconds >= maxSeconds) {
      return { cpuBusyPercent: Math.round(busy * 10) / 10, waitedSeconds: Math.round(waitedSeconds), settled };
    }
  }
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
