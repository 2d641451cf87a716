/**
 * A local siar cluster for the cluster scenario: PostgreSQL and Redis of our own (scripts/services.ts,
 * as the tests and `npm run cluster` start them, in a directory of ours), and siar nodes as child
 * processes of `bin/siar.js server`, the store and bus given through SIAR_STORE / SIAR_BUS (secrets
 * never on the command line) and each node's name through SIAR_NODE_ID.
 */
import path from 'node:path';
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
        env: { SIAR_STORE: services.pg.url, SIAR_BUS: services.redis.url, SIAR_NODE_ID: `node-${k}` },
      }));
    }
    return nodes;
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
}
