/**
 * `siar migrate` copies every table of schema.sql: a table added there (a new migration) and not
 * to MIGRATED_TABLES fails here, before any installation is half moved. (At run time the migration
 * refuses a source with a table it does not know, and one missing from PostgreSQL's schema.)
 */
import { readFileSync } from 'node:fs';
import Sqlite from 'better-sqlite3';
import t from 'tap';
import { MIGRATED_TABLES } from '../../../src/adapters/migrate/sqlite-to-postgres.js';
import { applyMigrations } from '../../../src/adapters/sqlite/migrate.js';

t.test('every table schema.sql makes is migrated, and has a PostgreSQL twin', async (t) => {
  const db = new Sqlite(':memory:');
  t.teardown(() => db.close());
  applyMigrations(db);
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).pluck().all() as string[];
  t.ok(tables.length >= 18, `schema.sql makes ${tables.length} tables`);
  t.strictSame([...MIGRATED_TABLES].sort(), tables, 'MIGRATED_TABLES lists exactly the tables of schema.sql');
  const pgSchema = readFileSync(new URL('../../../schema.postgres.sql', import.meta.url), 'utf8');
  const pgTables = [...pgSchema.matchAll(/^CREATE TABLE (\w+)/gm)].map((m) => m[1]);
  t.strictSame(tables.filter((name) => !pgTables.includes(name)), [], 'schema.postgres.sql creates each of them');
});

t.test('parents come before children: each table\'s foreign keys point at tables copied earlier', async (t) => {
  const db = new Sqlite(':memory:');
  t.teardown(() => db.close());
  applyMigrations(db);
  const order: readonly string[] = MIGRATED_TABLES;
  for (const [i, table] of order.entries()) {
    const parents = (db.prepare(`PRAGMA foreign_key_list(${table})`).all() as Array<{ table: string }>).map((f) => f.table);
    for (const parent of parents) t.ok(parent === table || order.indexOf(parent) < i, `${table} after ${parent}`);
  }
});
