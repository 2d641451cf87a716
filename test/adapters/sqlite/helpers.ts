/**
 * Test helpers for the SQLite store's own tests (what only SQLite has: its file, WAL checkpoints,
 * group commit, lock waits, migrations): a real SQLite file in a temp dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { SqliteStore } from '../../../src/adapters/sqlite/sqlite-store.js';

/** A fresh directory under the OS temp dir, removed when the test ends. */
export function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'siar-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Opens a store on a new file (in a not-yet-existing subdirectory, as open() must create it). */
export function openStore(t: Test): { store: SqliteStore; file: string } {
  const file = join(tempDir(t), 'data', 'siar.db');
  const store = SqliteStore.open(file);
  t.teardown(() => store.close());
  return { store, file };
}

// The records and seeding every Store test uses live with the contract suite.
export { adminOf, credentialsMail, registration, seedMembers } from '../../contract/store/fixtures.js';
