/**
 * Brings a database up to the layout in schema.sql. The file is split on `-- migration: N`
 * lines; PRAGMA user_version records the last section applied, so each section runs once.
 * Each section and its user_version bump commit together: a failure leaves the previous
 * version intact rather than a half-applied one.
 */
import { readFileSync } from 'node:fs';
import type { Database } from 'better-sqlite3';
import { parseMigrations, type Migration } from '../sql-common/migrations.js';

const MIGRATIONS = parseMigrations(readFileSync(new URL('../../../schema.sql', import.meta.url), 'utf8'));

/** The schema version this code writes and understands. */
export const SCHEMA_VERSION = MIGRATIONS.length;

export function userVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Applies every section newer than the database's user_version. Refuses a database written
 * by newer code: running old code on it could misread or damage data it does not know about.
 * `migrations` is replaceable for tests only.
 */
export function applyMigrations(db: Database, migrations: Migration[] = MIGRATIONS): { from: number; to: number } {
  const from = userVersion(db);
  const known = migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
  if (from > known) {
    throw new Error(
      `database ${db.name} has schema version ${from}, but this siar only knows up to ${known}; ` +
        'upgrade siar (the database is not downgraded)',
    );
  }
  for (const migration of migrations) {
    if (migration.version <= from) continue;
    const applySection = db.transaction(() => {
      db.exec(migration.sql);
      // PRAGMA takes no bound parameters; the version is an integer we parsed ourselves.
      db.pragma(`user_version = ${migration.version}`);
    });
    applySection.immediate();
  }
  return { from, to: userVersion(db) };
}
