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
 * suite (test/contract/store/adapters.ts lists the adapters it runs against).
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
}

/** Opens the store the settings name (creating and migrating its schema as needed). */
export async function openStore(settings: StoreSettings, log: Logger): Promise<Store> {
  const where = storeLocation(settings.store, settings.dataDir);
  if (where.engine === 'postgres') return PostgresStore.open(where.url, { lockTimeoutMs: settings.busyWaitMs });
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
