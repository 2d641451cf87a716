/**
 * node-postgres, set up for the store: a pool whose connections read BIGINT as JS numbers and
 * timestamptz as the ISO 8601 strings the SQLite store returns; statements prepared once per
 * connection by name; transactions that roll back whole; every error mapped by errors.ts.
 */
import pg from 'pg';
import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';
import { storeError } from './errors.js';

/** What runs a statement: the pool (a statement is its own transaction) or a client inside one. */
export interface Queryable {
  query: Pool['query'];
}

export interface PoolOptions {
  /** Connections for reads and transactions (default 10); PostgresStore.open gives the group commit one more of its own. */
  maxConnections?: number;
  /** How long a statement waits for a row or table lock before it fails (StoreError 'busy'); default 5 s, as SQLite's busy timeout. */
  lockTimeoutMs?: number;
  /** How long getting a connection may take before it fails (StoreError 'busy'); default 5 s. */
  connectTimeoutMs?: number;
}

const OID = { INT8: 20, TIMESTAMPTZ: 1184, INT8_ARRAY: 1016 } as const;

/** BIGINT ids and counts as numbers: every value siar stores fits well below 2^53. */
function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`a BIGINT of ${text} does not fit in a JavaScript number`);
  return n;
}

const parseTimestamptz = pg.types.getTypeParser(OID.TIMESTAMPTZ, 'text') as (text: string) => Date;
const parseInt8Array = pg.types.getTypeParser(OID.INT8_ARRAY as Parameters<typeof pg.types.getTypeParser>[0], 'text') as (text: string) => string[];

/** Millisecond ISO strings ('2026-01-02T03:04:05.678Z'): siar writes milliseconds, so nothing is lost. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === OID.INT8) return parseInt8;
    if (oid === OID.TIMESTAMPTZ) return (text: string) => parseTimestamptz(text).toISOString();
    if (oid === OID.INT8_ARRAY) return (text: string) => parseInt8Array(text).map(parseInt8);
    return pg.types.getTypeParser(oid, format ?? 'text');
  },
} as pg.CustomTypesConfig;

export function createPool(connectionString: string, opts: PoolOptions = {}): Pool {
  const lockTimeoutMs = opts.lockTimeoutMs ?? 5_000;
  const pool = new pg.Pool({
    connectionString,
    max: opts.maxConnections ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    application_name: 'siar',
    types,
    // A transaction left open (a bug, a hung node) must not hold its locks for ever.
    options: `-c lock_timeout=${Math.trunc(lockTimeoutMs)} -c idle_in_transaction_session_timeout=60000 -c TimeZone=UTC`,
  });
  // An idle connection the server closed (restart, failover) is dropped by the pool; the next
  // statement gets a fresh one, or fails with StoreError 'busy'. Without a listener the error would crash.
  pool.on('error', () => {});
  return pool;
}

/**
 * One SQL statement, prepared once per connection under its name (statements() names them).
 * P are its parameters ($1, $2, ...), R the row it returns.
 */
export class Statement<P extends unknown[], R extends QueryResultRow = QueryResultRow> {
  name = '';
  constructor(readonly text: string) {}

  async all(db: Queryable, ...params: P): Promise<R[]> {
    return (await this.execute(db, params)).rows;
  }

  async get(db: Queryable, ...params: P): Promise<R | undefined> {
    return (await this.all(db, ...params))[0];
  }

  /** Runs it; returns how many rows it changed. */
  async run(db: Queryable, ...params: P): Promise<number> {
    return (await this.execute(db, params)).rowCount ?? 0;
  }

  private async execute(db: Queryable, params: P): Promise<QueryResult<R>> {
    try {
      return await db.query<R>({ name: this.name || undefined, text: this.text, values: params as unknown[] });
    } catch (err) {
      throw storeError(err);
    }
  }
}

export const sql = <P extends unknown[], R extends QueryResultRow = QueryResultRow>(text: string): Statement<P, R> =>
  new Statement<P, R>(text);

/** Names every statement of a set after its key (prefixed), so each is prepared once per connection. */
export function statements<T extends Record<string, Statement<never, QueryResultRow>>>(prefix: string, set: T): T {
  for (const [key, statement] of Object.entries(set)) statement.name = `${prefix}.${key}`;
  return set;
}

/**
 * A client of its own from the pool; failing to get one is StoreError 'busy'. While it is held,
 * node-postgres emits 'error' on it when the server goes away (a restart, a failover) and the pool
 * listens only to idle clients: unheard, that error would end the process. Here it is heard, the
 * statements under way fail (StoreError 'busy'), and release() hands the error to the pool, which
 * discards the dead client instead of reusing it.
 */
export async function connect(pool: Pool): Promise<PoolClient> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw storeError(err);
  }
  let lost: Error | undefined;
  const onError = (err: Error): void => { lost ??= err; };
  client.on('error', onError);
  const release = client.release.bind(client);
  client.release = (err?: Error | boolean) => {
    client.off('error', onError);
    release(err || lost);
  };
  return client;
}

/**
 * COMMIT, checked: PostgreSQL answers a COMMIT of a transaction that already failed with a
 * ROLLBACK, not an error, so work that swallowed a failed statement must not pass for committed.
 */
export async function commit(client: PoolClient): Promise<void> {
  const result = await client.query('COMMIT');
  if (result.command === 'ROLLBACK') throw new Error('the transaction had failed and was rolled back at COMMIT');
}

/** Runs `work` in one transaction: committed when it resolves, rolled back whole when it throws. */
export async function transaction<T>(pool: Pool, work: (tx: PoolClient) => Promise<T>): Promise<T> {
  const client = await connect(pool);
  let broken: unknown;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await commit(client);
    return result;
  } catch (err) {
    broken = await client.query('ROLLBACK').then(() => undefined, (e: unknown) => e ?? true);
    throw storeError(err);
  } finally {
    // A client whose ROLLBACK failed is in an unknown state: the pool closes it instead of reusing it.
    client.release(broken as Error | undefined);
  }
}
