/**
 * The adapter registry: which store a `--store` value names, and opening it. The composition root
 * (src/server/server.ts) asks here; nothing else names a concrete store.
 *
 * - absent, `sqlite:PATH` or a plain PATH: the embedded SQLite store (SqliteStore), a file;
 * - `postgres://…` or `postgresql://…`: the PostgreSQL store (PostgresStore).
 *
 * Attachment content follows the store (openContent): files in the data directory beside SQLite
 * (FsContent), chunks in the same database beside PostgreSQL (PgContent), so on several nodes an
 * attachment uploaded through one node downloads through any other after the first is gone.
 *
 * A new store is one folder beside sqlite/ and postgres/, a line here, and passing the contract
 * suite (test/contract/store/adapters.ts lists the adapters it runs against). The bus, presence,
 * login throttle, sending rate, traffic counters and leases are in process (inProcessNode); their Redis adapters
 * (src/adapters/redis) pass the same contract suites (test/contract/<port>/).
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { AttachmentContent } from '../core/ports/content.js';
import type { DatabaseFiles, Store } from '../core/ports/store.js';
import { FsContent } from './fs-content/fs-content.js';
import { PgContent } from './postgres/content.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SCHEMA_VERSION } from './sqlite/migrate.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Bus, BusEvent } from '../core/ports/bus.js';
import { clusterKeyPrefix } from '../core/cluster-name.js';
import { BusUnreachable } from '../core/ports/unreachable.js';
import type { LoginThrottleState, ThrottleOptions } from '../core/ports/login-throttle.js';
import type { Leases } from '../core/ports/lease.js';
import type { Presence } from '../core/ports/presence.js';
import type { SendRate } from '../core/ports/send-rate.js';
import type { TrafficCounters } from '../core/ports/traffic-counters.js';
import { MemoryBus } from './memory/bus.js';
import { MemoryLeases } from './memory/lease.js';
import { MemoryLoginThrottle } from './memory/login-throttle.js';
import { MemoryPresence } from './memory/presence.js';
import { MemorySendRate } from './memory/send-rate.js';
import { MemoryTrafficCounters } from './memory/traffic-counters.js';
import { RedisBus } from './redis/bus.js';
import { RedisLeases } from './redis/lease.js';
import { RedisLoginThrottle } from './redis/login-throttle.js';
import { RedisPresence } from './redis/presence.js';
import { RedisSendRate } from './redis/send-rate.js';
import { RedisTrafficCounters } from './redis/traffic-counters.js';

export {
  migrateToPostgres, MigrationRefused, MIGRATED_TABLES,
  type MigrationOptions, type MigrationProgress, type MigrationReport, type TableCheck,
} from './migrate/sqlite-to-postgres.js';

/** The database file in the data directory when no --store is given. */
export const DEFAULT_DATABASE_FILE = 'siar.db';

export type StoreLocation =
  | { engine: 'sqlite'; file: string }
  | { engine: 'postgres'; url: string };

/** What `--store` names; `dataDir` gives the default file and the base of a relative path. */
export function storeLocation(store: string | null, dataDir: string): StoreLocation {
  if (store === null || store === '') return { engine: 'sqlite', file: path.resolve(dataDir, DEFAULT_DATABASE_FILE) };
  if (/^postgres(ql)?:\/\//i.test(store)) return { engine: 'postgres', url: store };
  const file = store.startsWith('sqlite:') ? store.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '') : store;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(file)) {
    throw new Error(`${file.split(':')[0]}: is not a store siar knows; give a file path (sqlite:PATH) or postgres://…`);
  }
  return { engine: 'sqlite', file: path.resolve(file) };
}

export interface StoreSettings {
  /** --store: null for the SQLite file in the data directory. */
  store: string | null;
  dataDir: string;
  /** SQLite only: the durability and how long a write waits for another process's lock. */
  synchronous: 'NORMAL' | 'FULL';
  busyWaitMs: number;
  /** PostgreSQL only: the connections of the pool for reads and transactions (default 10). */
  storePoolSize?: number;
}

/** Opens the store the settings name (creating and migrating its schema as needed). */
export async function openStore(settings: StoreSettings, log: Logger): Promise<Store> {
  const where = storeLocation(settings.store, settings.dataDir);
  if (where.engine === 'postgres') {
    return PostgresStore.open(where.url, {
      lockTimeoutMs: settings.busyWaitMs, ...(settings.storePoolSize !== undefined ? { maxConnections: settings.storePoolSize } : {}),
    });
  }
  const store = SqliteStore.open(where.file, {
    synchronous: settings.synchronous, checkpointInBackground: true, busyWaitMs: settings.busyWaitMs,
  });
  if (!(await store.backgroundReady())) log.warn('the WAL checkpoint worker did not start; SQLite checkpoints inside commits instead');
  return store;
}

/** The attachment content that goes with `store`: its database for PostgreSQL, else files in `dataDir`. */
export async function openContent(store: Store, dataDir: string): Promise<AttachmentContent> {
  if (store instanceof PostgresStore) return PgContent.open(store.url);
  return new FsContent(dataDir);
}

/** The SQLite store's backup copies (the only store with file copies): for backups and `siar restore`. */
export const databaseFiles: DatabaseFiles = {
  inspect: (file) => SqliteStore.inspect(file),
  schemaVersion: SCHEMA_VERSION,
};

/** What the nodes of a cluster share besides the store: the bus, presence, login throttle, sending rate, traffic counters, leases. */
export interface NodeAdapters {
  bus: Bus;
  presence: Presence;
  throttle: LoginThrottleState;
  /** The per-member sending rate (--max-sends-per-minute), one count for the cluster. */
  sendRate: SendRate;
  /** The per-member rate of acknowledgement reports (REPORT, --max-reports-per-minute): the same port, a counter of its own. */
  reportRate: SendRate;
  counters: TrafficCounters;
  /** Which node runs each once-per-cluster job (src/core/ports/lease.ts). */
  leases: Leases;
}

export interface NodeSettings {
  /** --bus: null for in process, or redis://… */
  bus?: string | null;
  nodeId: string;
  /**
   * --cluster-name: with Redis, every key and channel begins siar@NAME: (src/core/cluster-name.ts),
   * so clusters with different names share one Redis database without meeting; absent or null: siar:.
   */
  clusterName?: string | null;
  statsHistoryMinutes: number;
  loginThrottle: ThrottleOptions;
  /** --max-sends-per-minute (0: no limit). */
  maxSendsPerMinute: number;
  /** --max-reports-per-minute (0: no limit). */
  maxReportsPerMinute: number;
}

/** Today's single node: the bus, presence, throttle, sending rate and counters in this process (src/adapters/memory). */
export function inProcessNode(settings: NodeSettings, onBusListenerError: (err: unknown, event: BusEvent) => void): NodeAdapters {
  return {
    bus: MemoryBus.standalone(settings.nodeId, onBusListenerError),
    presence: new MemoryPresence(),
    throttle: new MemoryLoginThrottle(settings.loginThrottle),
    sendRate: new MemorySendRate(settings.maxSendsPerMinute),
    reportRate: new MemorySendRate(settings.maxReportsPerMinute),
    counters: new MemoryTrafficCounters(settings.statsHistoryMinutes),
    leases: new MemoryLeases(),
  };
}

/**
 * The node adapters --bus names: in process, or Redis for the bus, presence, login throttle,
 * sending rate, traffic counters and leases, every key and channel under the prefix of --cluster-name.
 */
export async function openNode(settings: NodeSettings, log: Logger): Promise<NodeAdapters> {
  const onListenerError = (err: unknown, event: BusEvent): void => log.error({ err, event: event.type }, 'a bus listener failed');
  if (!settings.bus) return inProcessNode(settings, onListenerError);
  // One line per kind of trouble, each at most once per 10 s: the connections' own errors (every
  // reconnection attempt while Redis is down) do not hide what the adapters did instead (the login
  // throttle counting on this node, a send going through uncounted).
  const lastWarned = new Map<string, number>();
  const onError = (err: unknown): void => {
    const text = err instanceof Error ? err.message : String(err);
    const kind = err instanceof BusUnreachable && err.meaning ? err.meaning : 'connection';
    const at = Date.now();
    if (at - (lastWarned.get(kind) ?? -Infinity) < 10_000) return;
    if (lastWarned.size >= 100) lastWarned.clear();
    lastWarned.set(kind, at);
    log.warn({ err: text }, kind === 'connection' ? 'Redis (--bus) unreachable; retrying' : `Redis (--bus) unreachable: ${kind}`);
  };
  const prefix = clusterKeyPrefix(settings.clusterName);
  const bus = await RedisBus.connect(settings.bus, settings.nodeId, { onError, onListenerError, prefix });
  const presence = await RedisPresence.connect(settings.bus, { onError, prefix });
  const counters = await RedisTrafficCounters.connect(settings.bus, settings.statsHistoryMinutes, { onError, prefix });
  const leases = await RedisLeases.connect(settings.bus, { onError, prefix });
  const throttle = await RedisLoginThrottle.connect(settings.bus, settings.loginThrottle, { onError, prefix });
  const sendRate = await RedisSendRate.connect(settings.bus, settings.maxSendsPerMinute, { onError, prefix });
  const reportRate = await RedisSendRate.connect(settings.bus, settings.maxReportsPerMinute, { onError, prefix, counter: 'report' });
  return { bus, presence, counters, leases, throttle, sendRate, reportRate };
}
