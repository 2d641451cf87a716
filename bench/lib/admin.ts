/** The bench server's administrator: STATS for the soak's gauges and the server's event-loop lateness. */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SiarClient } from '../../src/client/connection.js';

/** Logs in as the administrator of a bench server's data dir (its password changed first if the server asks for that). */
export async function adminSession(port: number, dataDir: string): Promise<SiarClient> {
  const password = readFileSync(path.join(dataDir, 'admin-password'), 'utf8').trim();
  const c = await SiarClient.connect({ host: '127.0.0.1', port });
  const who = await c.login('admin', password);
  if (who.mustChangePassword) await c.request('PASSWD', { old: password, new: `bench-${randomBytes(12).toString('hex')}` });
  return c;
}

export interface ServerLoopLateness {
  /**
   * 'window': the window lay inside one STATS minute, still running when read, so the figures are
   * the window's alone (plus the moments before it in that minute). 'minutes': the worst of the
   * whole minutes overlapping it (they also hold what ran beside it).
   */
  scope: 'window' | 'minutes';
  minutes: number;
  /** Lateness in ms (the server samples its loop every 10 ms); p50 only for scope 'window'. */
  p50Ms: number | null;
  p99Ms: number;
  maxMs: number;
}

export const STATS_MINUTE_MS = 60_000;

/** How late the server's event loop ran over [fromMs, toMs) (epoch ms), from admin STATS. */
export async function serverLoopLateness(admin: SiarClient, fromMs: number, toMs: number): Promise<ServerLoopLateness> {
  const minuteOf = (ms: number): number => Math.floor(ms / STATS_MINUTE_MS);
  const { args, items } = await admin.request('STATS', { minutes: minuteOf(Date.now()) - minuteOf(fromMs) + 1 });
  const num = (v: string | undefined): number => Number(v ?? 0);
  if (minuteOf(fromMs) === minuteOf(Date.now())) {
    return { scope: 'window', minutes: 1, p50Ms: num(args.get('loopP50Ms')), p99Ms: num(args.get('loopP99Ms')), maxMs: num(args.get('loopMaxMs')) };
  }
  const overlapping = items.filter((m) => {
    const at = Date.parse(m.get('at') ?? '');
    return at < toMs && at + STATS_MINUTE_MS > fromMs;
  });
  const worst = (field: string): number => Math.max(0, ...overlapping.map((m) => num(m.get(field))));
  return { scope: 'minutes', minutes: overlapping.length, p50Ms: null, p99Ms: worst('loopP99Ms'), maxMs: worst('loopMaxMs') };
}
