/**
 * A real `siar server --store postgres://…` process (issue 19 item 1, the store part): members
 * register, are approved, log in with their own passwords, send and read their inboxes through the
 * real `siar` executable, and every row lands in PostgreSQL, none in a SQLite file. The password
 * reaches the server through PGPASSWORD (or SIAR_STORE / the config file), never on the command
 * line, and no log line or --print-config shows it. BACKUP says to use pg_dump instead.
 *
 * Runs on SIAR_TEST_PG_URL (CI) or a private PostgreSQL started for this file
 * (test/contract/store/adapters.ts); without PostgreSQL it is skipped, except under CI.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { freshPostgresDatabase, postgresMissing } from '../../contract/store/adapters.js';
import { requireCapability } from '../../helpers/capability.js';
import { jsonLines, siar, startWithMembers } from '../../helpers/cli.js';
import { tempDir, until } from '../../helpers/siar.js';

t.setTimeout(300_000);

t.test('a siar server on PostgreSQL: register, approve, own password, send, inbox through the real CLI', async (t) => {
  if (!requireCapability(t, 'PostgreSQL', postgresMissing())) return;
  const url = await freshPostgresDatabase(t, { empty: true });
  const withPassword = new URL(url);
  const password = decodeURIComponent(withPassword.password);
  const noPassword = new URL(url);
  noPassword.password = '';
  const dataDir = tempDir(t, 'siar-pg-server-');

  const { admin, as, listening } = await startWithMembers(t, dataDir, [['unhas', 'Universitas Hasanuddin'], ['ugm', 'Universitas Gadjah Mada']], {
    args: ['--store', noPassword.toString()],
    env: { PGPASSWORD: password },
  });
  t.equal(listening.store, noPassword.toString(), 'the start-up line names the store');
  t.notOk(JSON.stringify(listening).includes(password), 'and never its password');
  t.notOk(existsSync(path.join(dataDir, 'siar.db')), 'no SQLite file was made');

  const sent = await siar(['send', '--to', 'ugm', '--subject', 'Seminar nasional', '--body', 'Undangan untuk semua'], as.unhas!);
  t.equal(sent.code, 0, sent.stderr);
  const inbox = await siar(['inbox', '--json'], as.ugm!);
  t.equal(inbox.code, 0, inbox.stderr);
  t.match(jsonLines(inbox.stdout).flatMap((r) => (Array.isArray(r) ? r : [r])), [{ subject: 'Seminar nasional', from: 'unhas' }], 'ugm reads it');

  const db = new pg.Client({ connectionString: url });
  await db.connect();
  t.teardown(() => db.end());
  const rows = await db.query<{ subject: string; sender: string }>(
    'SELECT m.subject, u.username AS sender FROM messages m JOIN users u ON u.id = m.sender_id');
  t.strictSame(rows.rows, [{ subject: 'Seminar nasional', sender: 'unhas' }], 'the message is a row in PostgreSQL');
  const members = await db.query<{ username: string }>(`SELECT username FROM users WHERE role = 'member' ORDER BY username`);
  t.strictSame(members.rows.map((r) => r.username), ['ugm', 'unhas'], 'so are the members');

  // A scheduled message (issue 21): held in PostgreSQL, out at its time, claimed by the server's due-jobs runner.
  const later = await siar(['send', '--to', 'ugm', '--subject', 'Nanti saja', '--at', '15s', '--json'], as.unhas!);
  t.equal(later.code, 0, later.stderr);
  t.match(jsonLines(later.stdout)[0], { state: 'scheduled' });
  // Held, read straight from the database: a CLI start can take seconds on a busy machine, so the
  // recipient's inbox (another CLI run) is no clock for "before its time"; the store contract checks
  // that a held message is invisible to its recipients, on PostgreSQL too.
  const heldNow = await db.query<{ held: boolean; due: boolean }>(
    `SELECT m.pending_recipients IS NOT NULL AS held, a.release_due_at IS NOT NULL AS due FROM messages m JOIN message_alerts a ON a.message_id = m.id WHERE m.subject = 'Nanti saja'`);
  t.strictSame(heldNow.rows, [{ held: true, due: true }], 'held in PostgreSQL with its time');
  await until('it is in the inbox at its time', async () => /Nanti saja/.test((await siar(['inbox'], as.ugm!)).stdout), 60_000);
  const held = await db.query<{ held: boolean; due: string | null }>(
    `SELECT m.pending_recipients IS NOT NULL AS held, a.release_due_at AS due FROM messages m JOIN message_alerts a ON a.message_id = m.id WHERE m.subject = 'Nanti saja'`);
  t.strictSame(held.rows, [{ held: false, due: null }], 'released in the database');

  const backup = await siar(['admin', 'backup'], admin);
  t.not(backup.code, 0, 'BACKUP is refused on PostgreSQL');
  t.match(backup.stderr, /pg_dump --format=custom --serializable-deferrable/, 'saying what to run instead');
  t.match(backup.stderr, /NOT_SUPPORTED/);
});

t.test('--store: the password is masked in --print-config, and a store siar does not know is refused', async (t) => {
  const printed = await siar(['server', '--print-config', '--json'], { SIAR_STORE: 'postgres://siar:hunter2-secret@db.example.org:5432/siar' });
  t.equal(printed.code, 0, printed.stderr);
  t.notOk(printed.stdout.includes('hunter2-secret'), 'the password is never printed');
  t.match(JSON.parse(printed.stdout), { settings: { store: { value: 'postgres://siar:***@db.example.org:5432/siar', source: 'env' } } });
  const file = await siar(['server', '--print-config', '--json', '--store', 'sqlite:/var/lib/siar/siar.db']);
  t.match(JSON.parse(file.stdout), { settings: { store: { value: 'sqlite:/var/lib/siar/siar.db', source: 'flag' } } }, 'a path is shown as is');
  const unknown = await siar(['server', '--print-config', '--store', 'mysql://siar:hunter2-secret@db/siar']);
  t.not(unknown.code, 0);
  t.match(unknown.stderr, /--store/);
  t.notOk(unknown.stderr.includes('hunter2-secret'), 'not even in the refusal');
});
