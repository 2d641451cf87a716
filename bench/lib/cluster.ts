/**
 * A local siar cluster for the cluster scenario: PostgreSQL and Redis of our own (scripts/services.ts,
 * as the tests and `npm run cluster` start them, in a directory of ours), and siar nodes as child
 * processes of `bin/siar.js server`, the store and bus given through SIAR_STORE / SIAR_BUS (secrets
 * never on the command line) and each node's name through SIAR_NODE_ID.
 */
import path from 'node:path';
import pg from 'pg';
import { startPostgres, startRedis, type RunningService } from '../../scripts/services.js';
import { progress } from './env.js';
import { ServerProcess } from './server.js';

export interface ClusterServices {
  pg: RunningService;
  redis: RunningService;
  stop(): Promise<void>;
}

/** PostgreSQL (fsync on: the store is the source of truth) and Redis in `dir`/pg and `dir`/redis. */
export async function startClusterServices(dir: string): Promise<ClusterServices> {
  const pg = await startPostgres(path.join(dir, 'pg'));
  let redis: RunningService;
  try {
    redis = await startRedis(path.join(dir, 'redis'));
  } catch (err) {
    await pg.stop();
    throw err;
  }
  progress('cluster', `PostgreSQL on 127.0.0.1:${pg.port}, Redis on 127.0.0.1:${redis.port}`);
  return { pg, redis, stop: async () => { await Promise.all([pg.stop(), redis.stop()]); } };
}

/** `count` nodes named node-1 … on the services' store and bus, each with its own data dir under `dir`. */
export async function startNodes(count: number, services: ClusterServices, dir: string, opts: { cpuProfDir?: string } = {}): Promise<ServerProcess[]> {
  const nodes: ServerProcess[] = [];
  try {
    for (let k = 1; k <= count; k++) {
      nodes.push(await ServerProcess.start({
        label: `cluster-node-${k}`, dataDir: path.join(dir, `node-${k}`, 'data'), cpuProfDir: opts.cpuProfDir,
        env: {
          SIAR_STORE: services.pg.url, SIAR_BUS: services.redis.url, SIAR_NODE_ID: `node-${k}`,
          // Each harness worker stands for thousands of institutions behind one source address: when a
          // node dies they all reconnect at once, past the per-address cap on not-logged-in connections (64).
          SIAR_MAX_ANONYMOUS_PER_ADDRESS: '1000000',
        },
      }));
    }
    return nodes;
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
}

export interface PgActivity {
  samples: number;
  /** Mean number of the nodes' sessions per state (active, idle in transaction, …) and wait event. */
  meanByState: Record<string, number>;
  /** The statements most often seen running or waiting, with how many samples saw each. */
  topQueries: { query: string; seen: number }[];
}

/**
 * Samples pg_stat_activity (the nodes' sessions: application_name siar) every `everyMs` until
 * stopped: where a PostgreSQL-backed node's time goes when its CPU is not the limit.
 */
export function samplePgActivity(url: string, everyMs = 100): { stop(): Promise<PgActivity> } {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const byState: Record<string, number> = {};
  const queries = new Map<string, number>();
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const r = await pool.query<{ state: string | null; wait: string | null; query: string }>(
          `SELECT state, wait_event_type || ':' || wait_event AS wait, left(regexp_replace(query, '\\s+', ' ', 'g'), 120) AS query
           FROM pg_stat_activity WHERE application_name = 'siar' AND pid <> pg_backend_pid()`);
        samples++;
        for (const row of r.rows) {
          const key = `${row.state ?? '?'}${row.wait && row.state !== 'idle' ? ` (${row.wait})` : ''}`;
          byState[key] = (byState[key] ?? 0) + 1;
          if (row.state !== 'idle') queries.set(row.query, (queries.get(row.query) ?? 0) + 1);
        }
      } catch { /* a sample lost */ }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await pool.end();
      const meanByState = Object.fromEntries(Object.entries(byState).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / Math.max(1, samples)]));
      const topQueries = [...queries.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([query, seen]) => ({ query, seen }));
      return { samples, meanByState, topQueries };
    },
  };
}
