/**
 * docs/PROTOCOL.md §Errors, the policy: "a handler that throws gets INTERNAL, a log line, and the
 * server keeps serving". The fault is real: another program damages the database under the running
 * server (renames a column the inbox query reads, as a botched hand migration would), so the INBOX
 * handler's query fails with an SQLite error that is neither a SiarError nor BUSY.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { startServer } from '../helpers/siar.js';

t.test('a handler that throws: INTERNAL for the request, an error line in the log, and the server keeps serving', async (t) => {
  const s = await startServer(t);
  await s.member('ugm');
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  await unhas.request('SEND', { to: 'ugm', subject: 'Sebelum kerusakan', body: 'Isi' });
  t.equal((await ugm.request('INBOX')).items.length, 1, 'INBOX answers before the damage');

  const db = new Database(path.join(s.dataDir, 'siar.db'));
  t.teardown(() => db.close());
  db.pragma('busy_timeout = 10000');
  db.exec('ALTER TABLE message_routes RENAME COLUMN via TO via_damaged');

  const logged = s.logs.records.length;
  await t.rejects(ugm.request('INBOX'), { code: 'INTERNAL', message: 'Internal server error.' }, 'the client hears INTERNAL, and nothing of the cause');
  const errors = s.logs.records.slice(logged).filter((r) => r.level === 50);
  t.match(errors, [{ msg: 'command failed', verb: 'INBOX', rid: /^\d+$/, err: { message: /via/, stack: /SqliteError/ } }], 'one error line, with the command and the cause');
  t.notOk(JSON.stringify(errors).includes(ugm.token), 'and without the session token');

  t.equal((await ugm.request('WHOAMI')).args.get('username'), 'ugm', 'the same connection goes on');
  t.equal((await unhas.request('SEND', { to: 'ugm', subject: 'Selama kerusakan' })).args.get('recipients'), '1', 'other commands go on');
  const fresh = await s.memberClient('ugm');
  t.equal((await fresh.request('PING')).args.get('pong'), '1', 'a new connection is served');

  db.exec('ALTER TABLE message_routes RENAME COLUMN via_damaged TO via');
  t.equal((await ugm.request('INBOX')).items.length, 2, 'once repaired, INBOX answers again, with both messages');
});
