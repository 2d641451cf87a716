/** Summarises a V8 .cpuprofile (from `node --cpu-prof`): top functions by self time, and by inclusive time. */
import { readFileSync } from 'node:fs';
import { ROOT } from './env.js';
import { SERVER_ROOT } from './server.js';

interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; hitCount?: number; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples?: number[]; timeDeltas?: number[] }

export interface FunctionTime {
  fn: string;
  where: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  file: string;
  /** Only samples in this CLOCK_MONOTONIC window (µs) were counted, when given. */
  window: [number, number] | null;
  /** Sampled time, ms (idle included). */
  totalMs: number;
  idleMs: number;
  busyMs: number;
  gcMs: number;
  topSelf: FunctionTime[];
  topInclusive: FunctionTime[];
  byArea: FunctionTime[];
}

/** The path inside the checkout whose code ran (this one, or BENCH_SERVER_ROOT's), or null. */
function inCheckout(u: string): string | null {
  for (const root of [SERVER_ROOT, ROOT]) if (u.startsWith(root + '/')) return u.slice(root.length + 1);
  return null;
}

function where(cf: CallFrame): string {
  if (!cf.url) return '(native)';
  let u = cf.url.replace(/^file:\/\//, '');
  u = inCheckout(u) ?? u;
  u = u.replace(/^.*node_modules\//, 'node_modules/');
  return `${u}:${cf.lineNumber + 1}`;
}

function area(cf: CallFrame): string {
  const fn = cf.functionName;
  if (fn === '(garbage collector)') return 'garbage collector';
  if (fn === '(program)') return 'V8/Node internals (program)';
  if (fn === '(idle)') return 'idle';
  if (!cf.url) return 'native code (SQLite, crypto, syscalls via bindings)';
  const u = cf.url.replace(/^file:\/\//, '');
  if (u.includes('/node_modules/')) return `node_modules/${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u)?.[1] ?? '?'}`;
  if (u.startsWith('node:')) return /^node:internal\/(?:streams|stream_base)/.test(u) ? 'Node streams' : /net|tcp|stream_base/.test(u) ? 'Node net' : 'Node core (other)';
  const rel = inCheckout(u);
  if (rel !== null) {
    const parts = rel.split('/');
    return parts.slice(0, Math.min(parts.length - 1, 3)).join('/') + '/' + (parts.length > 3 ? '…' : parts[parts.length - 1]);
  }
  return 'other';
}

/**
 * `window`: [from, to] in CLOCK_MONOTONIC µs (env.monoUs(); V8's profile timestamps use the same
 * clock), so only the measured phase counts, not start-up and logins.
 */
export function summarizeProfile(file: string, opts: { top?: number; window?: [number, number] } = {}): ProfileSummary {
  const top = opts.top ?? 20;
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  if (p.samples && p.timeDeltas) {
    let t = p.startTime;
    for (let i = 0; i < p.samples.length; i++) {
      const id = p.samples[i]!;
      const dt = p.timeDeltas[i] ?? 0;
      t += dt;
      if (opts.window && (t < opts.window[0] || t > opts.window[1])) continue;
      self.set(id, (self.get(id) ?? 0) + dt / 1000);
    }
  } else {
    const total = (p.endTime - p.startTime) / 1000;
    const hits = p.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0) || 1;
    for (const n of p.nodes) self.set(n.id, ((n.hitCount ?? 0) / hits) * total);
  }
  const totalMs = [...self.values()].reduce((a, b) => a + b, 0);
  let idleMs = 0;
  let gcMs = 0;
  const selfByKey = new Map<string, FunctionTime>();
  const areaMs = new Map<string, number>();
  for (const n of p.nodes) {
    const ms = self.get(n.id) ?? 0;
    if (ms === 0) continue;
    const cf = n.callFrame;
    if (cf.functionName === '(idle)') { idleMs += ms; continue; }
    if (cf.functionName === '(garbage collector)') gcMs += ms;
    const key = `${cf.functionName || '(anonymous)'}\u0000${where(cf)}`;
    const e = selfByKey.get(key) ?? { fn: cf.functionName || '(anonymous)', where: where(cf), ms: 0, percent: 0 };
    e.ms += ms;
    selfByKey.set(key, e);
    const a = area(cf);
    areaMs.set(a, (areaMs.get(a) ?? 0) + ms);
  }
  const busyMs = totalMs - idleMs;
  // Inclusive: each sample's time counts once for every distinct function on its stack.
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<string, FunctionTime>();
  for (const [id, ms] of self) {
    const leaf = byId.get(id);
    if (!leaf || leaf.callFrame.functionName === '(idle)' || ms === 0) continue;
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)!.callFrame;
      if (cf.functionName === '(root)') break;
      const key = `${cf.functionName || '(anonymous)'}\u0000${where(cf)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const e = incl.get(key) ?? { fn: cf.functionName || '(anonymous)', where: where(cf), ms: 0, percent: 0 };
      e.ms += ms;
      incl.set(key, e);
    }
  }
  const finish = (list: FunctionTime[]): FunctionTime[] =>
    list.sort((a, b) => b.ms - a.ms).slice(0, top).map((e) => ({ ...e, percent: busyMs > 0 ? (e.ms / busyMs) * 100 : 0 }));
  return {
    file,
    window: opts.window ?? null,
    totalMs,
    idleMs,
    busyMs,
    gcMs,
    topSelf: finish([...selfByKey.values()]),
    topInclusive: finish([...incl.values()].filter((e) => !/^\((program|garbage collector)\)$/.test(e.fn))),
    byArea: finish([...areaMs.entries()].map(([fn, ms]) => ({ fn, where: '', ms, percent: 0 }))),
  };
}
