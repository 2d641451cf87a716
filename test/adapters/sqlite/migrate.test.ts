import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Sqlite from 'better-sqlite3';
import t from 'tap';
import { SCHEMA_VERSION, applyMigrations, userVersion } from '../../../src/adapters/sqlite/migrate.js';
import { parseMigrations } from '../../../src/adapters/sql-common/migrations.js';
import { LOCK_SPIN_MS } from '../../../src/adapters/sqlite/lock-wait.js';
import { SqliteStore } from '../../../src/adapters/sqlite/sqlite-store.js';
import { openStore, registration, tempDir } from './helpers.js';

const tables = (db: Sqlite.Database): string[] =>
  db
    .prepare<[], string>(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
    .pluck()
    .all();

t.test('SCHEMA_VERSION is the last section of schema.sql', async (t) => {
  const sections = parseMigrations(readFileSync(new URL('../../../schema.sql', import.meta.url), 'utf8'));
  t.ok(SCHEMA_VERSION >= 1);
  t.equal(sections.at(-1)?.version, SCHEMA_VERSION);
  t.match(sections[0]?.sql, /^CREATE TABLE users/);
});

t.test('migrations apply to an empty file and set user_version to SCHEMA_VERSION', async (t) => {
  const db = new Sqlite(join(tempDir(t), 'empty.db'));
  t.teardown(() => db.close());
  t.strictSame(applyMigrations(db), { from: 0, to: SCHEMA_VERSION });
  t.equal(userVersion(db), SCHEMA_VERSION);
  t.strictSame(tables(db), [
    'attachments', 'audit_events', 'channel_roles', 'channel_subscriptions', 'channels', 'group_members',
    'institution_groups', 'mail_queue', 'message_acks', 'message_alerts', 'message_audiences', 'message_recipients', 'message_reminders_due', 'message_routes', 'messages',
    'registration_requests', 'sessions', 'storage_usage', 'users',
  ]);
});

t.test('migration 4 counts what each sender\'s existing messages take (the storage quota starts exact)', async (t) => {
  const db = new Sqlite(join(tempDir(t), 'v3.db'));
  t.teardown(() => db.close());
  const all = parseMigrations(readFileSync(new URL('../../../schema.sql', import.meta.url), 'utf8'));
  applyMigrations(db, all.filter((m) => m.version <= 3));
  const at = '2026-01-01T00:00:00.000Z';
  const user = db.prepare(`INSERT INTO users (username, role, status, password_hash, institution, contact, email, phone, address, must_change_password, created_at)
    VALUES (?, 'member', 'active', 'h', 'I', 'C', ?, '', '', 0, ?) RETURNING id`).pluck();
  const [a, b] = [user.get('a', 'a@x.ac.id', at), user.get('b', 'b@x.ac.id', at)] as [number, number];
  const message = db.prepare(`INSERT INTO messages (sender_id, audience, subject, body, sent_at, state) VALUES (?, 'direct', ?, ?, ?, ?) RETURNING id`).pluck();
  const attach = db.prepare(`INSERT INTO attachments (message_id, name, size, sha256, media_type, storage_path, created_at) VALUES (?, 'f', ?, 'x', 't', NULL, ?)`);
  message.get(a, 'Rapat', 'Besok pagi', at, 'sent'); // 5 + 10 bytes
  attach.run(message.get(a, 'Undangan', 'é', at, 'sending') as number, 1000, at); // 8 + 2 bytes, 1,000 declared
  attach.run(message.get(a, 'Batal', '', at, 'cancelled') as number, 5000, at); // 5 bytes; its file was let go
  message.get(b, '😀', '', at, 'sent'); // 4 bytes
  applyMigrations(db, all);
  const usage = db.prepare<[], { user_id: number; bytes: number }>(`SELECT user_id, bytes FROM storage_usage ORDER BY user_id`).all();
  t.strictSame(usage, [{ user_id: a, bytes: 15 + 10 + 1000 + 5 }, { user_id: b, bytes: 4 }], 'UTF-8 bytes of subjects and bodies, and the attachments not let go');
});

t.test('reopening a migrated file applies nothing and keeps its data', async (t) => {
  const { store, file } = openStore(t);
  await store.createRegistration(registration('alice'));
  await store.close();

  const db = new Sqlite(file);
  t.strictSame(applyMigrations(db), { from: SCHEMA_VERSION, to: SCHEMA_VERSION });
  db.close();

  const reopened = SqliteStore.open(file);
  t.teardown(() => reopened.close());
  t.equal(userVersion(reopened.db), SCHEMA_VERSION);
  const [request] = await reopened.listRegistrations('pending', { limit: 10 });
  t.equal(request?.username, 'alice');
});

t.test('a database from a newer schema version is refused and left as it is', async (t) => {
  const file = join(tempDir(t), 'newer.db');
  const db = new Sqlite(file);
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();

  t.throws(() => SqliteStore.open(file), /schema version .* only knows up to/);

  const after = new Sqlite(file);
  t.teardown(() => after.close());
  t.equal(userVersion(after), SCHEMA_VERSION + 1, 'not downgraded');
  t.strictSame(tables(after), [], 'nothing applied');
});

t.test('a migration that fails leaves the database at the previous version, without its half', async (t) => {
  const db = new Sqlite(join(tempDir(t), 'broken.db'));
  t.teardown(() => db.close());
  const migrations = parseMigrations(
    [
      '-- header',
      '-- migration: 1',
      'CREATE TABLE a (x);',
      '-- migration: 2',
      'CREATE TABLE b (x);',
      'SELECT * FROM nowhere;',
    ].join('\n'),
  );
  t.throws(() => applyMigrations(db, migrations), /no such table: nowhere/);
  t.equal(userVersion(db), 1);
  t.strictSame(tables(db), ['a']);
});

t.test('migration sections must be numbered 1, 2, 3 in order', async (t) => {
  t.strictSame(parseMigrations('-- comment\n-- migration: 1\nA;\n--migration:2\nB;\n'), [
    { version: 1, sql: 'A;' },
    { version: 2, sql: 'B;' },
  ]);
  t.throws(() => parseMigrations('-- migration: 1\nA;\n-- migration: 3\nB;'), /expected "-- migration: 2"/);
  t.throws(() => parseMigrations('-- migration: 2\nA;'), /expected "-- migration: 1"/);
});

t.test('open() creates the directory, turns on WAL and foreign keys; SQLite itself barely waits for locks', async (t) => {
  const { store } = openStore(t);
  t.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(store.db.pragma('foreign_keys', { simple: true }), 1);
  // A lock held by another process is waited for off the event loop (lock-wait.ts), not inside SQLite.
  t.equal(store.db.pragma('busy_timeout', { simple: true }), LOCK_SPIN_MS);
  t.equal(store.db.pragma('synchronous', { simple: true }), 1, 'NORMAL by default');
});

t.test('open() uses synchronous FULL when asked', async (t) => {
  const store = SqliteStore.open(join(tempDir(t), 'full.db'), { synchronous: 'FULL' });
  t.teardown(() => store.close());
  t.equal(store.db.pragma('synchronous', { simple: true }), 2);
});
