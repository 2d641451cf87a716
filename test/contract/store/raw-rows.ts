/**
 * A message's rows counted straight from the database, beside the store (no store method in
 * between, which would write a pending audience snapshot's rows first), and members seeded the same
 * way when a contract case needs more of them than registering each would take time for.
 */
import pg from 'pg';
import { PostgresStore } from '../../../src/adapters/postgres/postgres-store.js';
import { SqliteStore } from '../../../src/adapters/sqlite/sqlite-store.js';
import type { Store } from '../../../src/core/ports/store.js';

export type Table = 'message_recipients' | 'message_routes' | 'message_audiences';

/** Counts a message's rows in a table straight from the database (no store method in between). */
export function rawCounter(store: Store): { rows(table: Table, messageId: number): Promise<number>; pending(): Promise<number> } {
  if (store instanceof SqliteStore) {
    const count = (sql: string, ...args: number[]) => Promise.resolve(store.db.prepare<number[], number>(sql).pluck().get(...args)!);
    return {
      rows: (table, id) => count(`SELECT count(*) FROM ${table} WHERE message_id = ?`, id),
      pending: () => count(`SELECT count(*) FROM message_audiences WHERE materialised_at IS NULL`),
    };
  }
  if (!(store instanceof PostgresStore)) throw new Error('an adapter this test does not know');
  // A connection per count: none is left open when the test's database is dropped.
  const count = async (sql: string, ...args: number[]) => {
    const client = new pg.Client({ connectionString: store.url });
    await client.connect();
    try {
      return Number((await client.query<{ n: string }>(sql, args)).rows[0]!.n);
    } finally {
      await client.end();
    }
  };
  return {
    rows: (table, id) => count(`SELECT count(*) AS n FROM ${table} WHERE message_id = $1`, id),
    pending: () => count(`SELECT count(*) AS n FROM message_audiences WHERE materialised_at IS NULL`),
  };
}

/**
 * `count` active members named `${prefix}00001`…, inserted in one statement beside the store (as the
 * bench seeds them): for a case that needs over a thousand recipients. Call it before the store has
 * read its member list (it caches it).
 */
export async function seedMembersRaw(store: Store, count: number, prefix: string): Promise<void> {
  const at = new Date().toISOString();
  if (store instanceof SqliteStore) {
    store.db.prepare(`
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
      INSERT INTO users (username, role, status, password_hash, institution, contact, email, phone, address, must_change_password, created_at)
      SELECT ? || substr('0000' || i, -5), 'member', 'active', 'hash', 'Institution ' || i, 'Contact ' || i, ? || i || '@example.org', '', '', 0, ?
      FROM n`).run(count, prefix, prefix, at);
    return;
  }
  if (!(store instanceof PostgresStore)) throw new Error('an adapter this test does not know');
  const client = new pg.Client({ connectionString: store.url });
  await client.connect();
  try {
    await client.query(`
      INSERT INTO users (username, role, status, password_hash, institution, contact, email, must_change_password, created_at)
      SELECT $1 || lpad(i::text, 5, '0'), 'member', 'active', 'hash', 'Institution ' || i, 'Contact ' || i, $1 || i || '@example.org', false, $3
      FROM generate_series(1, $2::int) AS i`, [prefix, count, at]);
  } finally {
    await client.end();
  }
}
