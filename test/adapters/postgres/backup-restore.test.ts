/**
 * Backups of a PostgreSQL store (issue 19 item 3): `siar admin backup` answers with the exact
 * commands; this test runs them as printed (pg_dump and pg_restore of Debian's postgresql package)
 * against a real `siar server --store postgres://…` that keeps serving during the dump, restores
 * into a new database, starts siar on it, and checks that the message and its attachment are there
 * and that what was sent after the dump is not (the dump is one snapshot).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { postgresBinDir } from '../../../scripts/services.js';
import { freshPostgresDatabase, postgresMissing } from '../../contract/store/adapters.js';
import { requireCapability } from '../../helpers/capability.js';
import { jsonLines, siar, startSiarServer, startWithMembers } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/siar.js';

t.setTimeout(300_000);

function sh(command: string, env: Record<string, string>, cwd: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', command], { env: { ...process.env, ...env }, cwd }, (err, _stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr });
    });
  });
}

t.test('BACKUP on PostgreSQL: the printed pg_dump and pg_restore round-trip a live store', async (t) => {
  if (!requireCapability(t, 'PostgreSQL', postgresMissing())) return;
  const bin = postgresBinDir();
  if (!requireCapability(t, 'pg_dump', bin ? false : 'pg_dump and pg_restore are not installed (apt-get install postgresql)')) return;
  const url = await freshPostgresDatabase(t, { empty: true });
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  const bare = u.toString();
  const pgEnv = { PGPASSWORD: password, PATH: `${bin}:${process.env.PATH ?? ''}` };

  const dataDir = tempDir(t, 'siar-pg-backup-');
  const s = await startWithMembers(t, dataDir, [['unhas', 'Universitas Hasanuddin'], ['ugm', 'Universitas Gadjah Mada']], {
    args: ['--store', bare], env: { PGPASSWORD: password },
  });
  const file = path.join(tempDir(t), 'notulen.bin');
  const bytes = randomBytes(200_000);
  writeFileSync(file, bytes);
  const sent = jsonLines((await siar(['send', '--to', 'ugm', '--subject', 'Notulen rapat', '--body', 'Terlampir', '--attach', file, '--json'], s.as.unhas!)).stdout)[0]!;

  const backup = await siar(['admin', 'backup'], s.admin);
  t.not(backup.code, 0, 'BACKUP is not taken by siar on PostgreSQL');
  t.match(backup.stderr, /NOT_SUPPORTED/);
  t.notOk(backup.stderr.includes(password), 'the advice never shows the password');
  const advice = backup.stderr.replace(/\s+/g, ' ');
  const dump = /pg_dump --format=custom --serializable-deferrable --file=(siar-[\w-]+\.dump) '[^']+'/.exec(advice);
  const create = /createdb --maintenance-db='[^']+' siar_restored/.exec(advice);
  const restore = /pg_restore --exit-on-error --no-owner --dbname='[^']+' siar-[\w-]+\.dump/.exec(advice);
  t.ok(dump && create && restore, `the advice names the three commands: ${advice}`);
  if (!dump || !create || !restore) return;
  t.ok(dump[0].includes(bare), 'pg_dump is given this store\'s database');

  // The dump runs while the server serves; a message sent after it is not in it.
  const work = tempDir(t, 'siar-pg-dump-');
  const dumped = await sh(dump[0], pgEnv, work);
  t.equal(dumped.code, 0, `pg_dump as printed: ${dumped.stderr}`);
  t.equal((await siar(['send', '--to', 'ugm', '--subject', 'Sesudah backup', '--body', 'x'], s.as.unhas!)).code, 0);
  s.child.kill('SIGTERM');
  await once(s.child, 'exit');

  // Restore into a new database of its own name (tests share the PostgreSQL server).
  const restoredName = `siar_restored_${process.pid}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  t.teardown(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${restoredName} WITH (FORCE)`).catch(() => {});
    await admin.end();
  });
  const created = await sh(create[0].replace('siar_restored', restoredName), pgEnv, work);
  t.equal(created.code, 0, `createdb as printed: ${created.stderr}`);
  const restored = await sh(restore[0].replace('siar_restored', restoredName), pgEnv, work);
  t.equal(restored.code, 0, `pg_restore as printed: ${restored.stderr}`);

  const target = new URL(bare);
  target.pathname = `/${restoredName}`;
  const second = await startSiarServer(t, tempDir(t, 'siar-pg-restored-'), ['--store', target.toString()], { PGPASSWORD: password });
  const ugm = { ...s.as.ugm!, SIAR_SERVER: second.address };
  const inbox = jsonLines((await siar(['inbox', '--json'], ugm)).stdout);
  t.strictSame(inbox.map((m) => m.subject), ['Notulen rapat'], 'the message is there after the restore, and what came after the dump is not');
  t.equal(inbox[0]!.id, sent.id, 'with its id');
  const out = tempDir(t, 'siar-pg-restored-dl-');
  const got = await siar(['download', String(sent.id), '--to', out], ugm);
  t.equal(got.code, 0, got.stderr);
  t.ok(readFileSync(path.join(out, 'notulen.bin')).equals(bytes), 'the attachment was inside the dump');
  second.child.kill('SIGTERM');
  await once(second.child, 'exit');
});
