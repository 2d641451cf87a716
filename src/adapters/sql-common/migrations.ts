/**
 * Schema text split into numbered migrations, as both SQL stores keep theirs (schema.sql for
 * SQLite, applied by sqlite/migrate.ts; schema.postgres.sql for PostgreSQL, by postgres/migrate.ts):
 * sections under `-- migration: N` lines.
 */
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
