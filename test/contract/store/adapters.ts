/**
 * The store adapters every contract test runs against (issue 18): each file in this folder calls
 * forEachAdapter, and its cases run once per adapter, in a subtest named after it.
 *
 * - sqlite: a fresh file in a temp dir per test.
 * - postgres: a fresh database per test, on the server at SIAR_TEST_PG_URL (CI sets it, .ci/run),
 *   or else on a private server this test process starts in a temp dir (scripts/services.ts) and
 *   stops when the file's tests end. Without PostgreSQL installed the postgres cases are skipped
 *   with the reason, except under CI, where they fail (test/helpers/capability.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import tap, { type Test } from 'tap';
import { PostgresStore, type PostgresOpenOptions } from '../../../src/adapters/postgres/postgres-store.js';
import { SqliteStore } from '../../../src/adapters/sqlite/sqlite-store.js';
import type { Store } from '../../../src/core/ports/store.js';
import { postgresBinDir, startPostgres } from '../../../scripts/services.js';
import { requireCapability } from '../../helpers/capability.js';

export interface StoreAdapter {
  name: 'sqlite' | 'postgres';
  /** Why this adapter cannot run on this machine, or false. */
  missing(): string | false;
  /** A fresh, empty store, closed (and its database removed) when the test ends. */
  open(t: Test): Promise<Store>;
  /** Another store on the same database as `store` (opened by `open`), closed when the test ends. */
  reopen(t: Test, store: Store): Promise<Store>;
}

function tempDir(t: Test | typeof tap, prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const sqliteFiles = new WeakMap<Store, string>();

const sqlite: StoreAdapter = {
  name: 'sqlite',
  missing: () => false,
  async open(t) {
    // In a not-yet-existing subdirectory, as open() must create it.
    const file = path.join(tempDir(t, 'siar-contract-'), 'data', 'siar.db');
    const store = SqliteStore.open(file);
    sqliteFiles.set(store, file);
    t.teardown(() => store.close());
    return store;
  },
  async reopen(t, store) {
    const again = SqliteStore.open(sqliteFiles.get(store)!);
    t.teardown(() => again.close());
    return again;
  },
};

/** The server's URL with another database name. */
function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

interface PgServer {
  url: string;
  /** Databases are made and dropped through this pool. */
  admin: pg.Pool;
  /** A database with the schema applied, copied for every test (applying it each time costs more than the copy). */
  template: string;
  /** ' STRATEGY FILE_COPY' where the server has it (15+): several times faster than the default for a small database. */
  strategy: string;
}

let server: Promise<PgServer> | undefined;

/** The PostgreSQL server for this test process: SIAR_TEST_PG_URL's, or a private one started once. */
function pgServer(): Promise<PgServer> {
  server ??= (async () => {
    let url = process.env.SIAR_TEST_PG_URL;
    if (!url) {
      const dir = tempDir(tap, 'siar-contract-pg-');
      const started = await startPostgres(path.join(dir, 'pg'), { fast: true });
      url = started.url;
      tap.teardown(() => started.stop());
      // Should the process die before tap's teardown, the server must not outlive it.
      const pid = Number(readFileSync(path.join(started.dir, 'postgres.pid'), 'utf8'));
      process.once('exit', () => {
        try { process.kill(pid, 'SIGINT'); } catch { /* already stopped */ }
      });
    }
    const admin = new pg.Pool({ connectionString: url, max: 2 });
    admin.on('error', () => {});
    const version = Number((await admin.query<{ v: string }>('SHOW server_version_num')).rows[0]!.v);
    const strategy = version >= 150000 ? ' STRATEGY FILE_COPY' : '';
    // One template per test process: test files run in parallel against the same server.
    const template = `siar_contract_template_${process.pid}`;
    await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${template}${strategy}`);
    tap.teardown(async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
      await admin.end();
    });
    await (await PostgresStore.open(withDatabase(url, template))).close();
    return { url, admin, template, strategy };
  })();
  return server;
}

let databases = 0;

/**
 * A database of its own on the test server, dropped when the test ends: a copy of the migrated
 * template, or with `empty` a database without siar's schema. Returns its URL.
 */
export async function freshPostgresDatabase(t: Test, opts: { empty?: boolean } = {}): Promise<string> {
  const { url, admin, template, strategy } = await pgServer();
  const database = `siar_contract_${process.pid}_${++databases}`;
  await admin.query(`CREATE DATABASE ${database}${opts.empty ? '' : ` TEMPLATE ${template}`}${strategy}`);
  const dbUrl = withDatabase(url, database);
  t.teardown(async () => {
    // The stores on it first (they commit what is queued); WITH (FORCE) ends whatever else is connected.
    await Promise.all((storesOn.get(dbUrl) ?? []).map((store) => store.close()));
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });
  return dbUrl;
}

/** Why the postgres cases cannot run here, or false. */
export function postgresMissing(): string | false {
  if (process.env.SIAR_TEST_PG_URL) return false;
  return postgresBinDir() ? false : 'PostgreSQL is not installed (apt-get install postgresql) and SIAR_TEST_PG_URL is not set';
}

const pgUrls = new WeakMap<Store, string>();
const storesOn = new Map<string, PostgresStore[]>();

/** Opens a PostgresStore on a database from freshPostgresDatabase, closed before the database is dropped. */
export async function openPostgresStore(url: string, opts: PostgresOpenOptions = {}): Promise<PostgresStore> {
  const store = await PostgresStore.open(url, opts);
  pgUrls.set(store, url);
  storesOn.set(url, [...(storesOn.get(url) ?? []), store]);
  return store;
}

const postgres: StoreAdapter = {
  name: 'postgres',
  missing: postgresMissing,
  async open(t) {
    return openPostgresStore(await freshPostgresDatabase(t));
  },
  async reopen(_t, store) {
    return openPostgresStore(pgUrls.get(store)!);
  },
};

export const adapters: readonly StoreAdapter[] = [sqlite, postgres];

/**
 * Defines the same cases for every adapter: `cases` runs once per adapter inside a subtest named
 * after it, and registers its tests on the `t` it is given.
 */
export function forEachAdapter(t: Test, cases: (t: Test, adapter: StoreAdapter) => void): void {
  for (const adapter of adapters) {
    t.test(adapter.name, async (t) => {
      if (!requireCapability(t, `the ${adapter.name} store`, adapter.missing())) return;
      cases(t, adapter);
    });
  }
}
