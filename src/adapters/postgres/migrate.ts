/**
 * Brings a PostgreSQL database up to schema.postgres.sql (split into numbered sections the way
 * schema.sql is). Every pending section is applied in one transaction that first takes an advisory
 * lock: nodes starting at once queue on it, and the ones after the first find nothing left to do.
 */
import { readFileSync } from 'node:fs';
import type { Pool } from 'pg';
import { parseMigrations, type Migration } from '../sql-common/migrations.js';
import { transaction } from './connection.js';

const MIGRATIONS = parseMigrations(readFileSync(new URL('../../../schema.postgres.sql', import.meta.url), 'utf8'));

/** The schema version this code writes and understands. */
export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/** Any fixed key will do, as long as nothing else in the database takes the same advisory lock. */
const MIGRATION_LOCK = "hashtext('siar: schema migrations')";

/**
 * Applies every section newer than the database's; refuses a database written by newer code.
 * `migrations` is replaceable for tests only.
 */
export async function applyPgMigrations(pool: Pool, migrations: Migration[] = MIGRATIONS): Promise<{ from: number; to: number }> {
  return transaction(pool, async (tx) => {
    // Nodes queue here while the first applies the schema: longer than a statement's lock timeout.
    await tx.query(`SET LOCAL lock_timeout = '120s'`);
    await tx.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await tx.query(`CREATE TABLE IF NOT EXISTS siar_schema_migrations (
      version    INTEGER PRIMARY KEY,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    const { rows } = await tx.query<{ version: number }>(`SELECT coalesce(max(version), 0) AS version FROM siar_schema_migrations`);
    const from = rows[0]!.version;
    const known = migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
    if (from > known) {
      throw new Error(
        `the PostgreSQL database has schema version ${from}, but this siar only knows up to ${known}; ` +
          'upgrade siar (the database is not downgraded)',
      );
    }
    let to = from;
    for (const migration of migrations) {
      if (migration.version <= from) continue;
      await tx.query(migration.sql);
      await tx.query(`INSERT INTO siar_schema_migrations (version) VALUES ($1)`, [migration.version]);
      to = migration.version;
    }
    return { from, to };
  });
}
