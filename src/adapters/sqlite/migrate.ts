/**
 * Brings a database up to the layout in schema.sql. The file is split on `-- migration: N`
 * lines; PRAGMA user_version records the last section applied, so each section runs once.
 * Each section and its user_version bump commit together: a failure leaves the previous
 * version intact rather than a half-applied one.
 */
import { readFileSync } from 'node:fs';
import type { Database } from 'better-sqlite3';

export interface Migration {
  version: number;
  sql: string;
}

const MARKER = /^--\s*migration:\s*(\d+)\s*$/;

/**
 * Splits schema text into numbered sections. Text before the first marker (the header
 * comment) belongs to no migration. Versions must run 1, 2, 3, ... so a typo in a marker
 * cannot silently skip or reorder a section.
 */
export function parseMigrations(text: string): Migration[] {
  const migrations: Migration[] = [];
  let current: { version: number; lines: string[] } | null = null;
  const finish = (): void => {
    if (current !== null) migrations.push({ version: current.version, sql: current.lines.join('\n').trim() });
  };
  for (const line of text.split(/\r?\n/)) {
    const match = MARKER.exec(line);
    if (match !== null) {
      finish();
      current = { version: Number(match[1]), lines: [] };
    } else if (current !== null) {
      current.lines.push(line);
    }
  }
  finish();
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new Error(`schema.sql: expected "-- migration: ${i + 1}" but found "-- migration: ${m.version}"`);
    }
  });
  return migrations;
}

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
