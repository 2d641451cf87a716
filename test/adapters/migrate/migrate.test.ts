/**
 * `siar migrate` (issue 19 item 2) end to end: a real single-node server on SQLite is used through
 * the real CLI (register, approve, own passwords, direct / group / channel / broadcast messages, an
 * attachment, read, acknowledgement), stopped, migrated into a real PostgreSQL, and a server started
 * on that store must show every member the same inbox, outbox, read and ack state, channels and
 * groups, with the attachment byte-identical. Then the refusals: a target holding data, a running
 * server, a password in argv, an unreachable database; and a tampered target found by --verify.
 *
 * Runs on SIAR_TEST_PG_URL (CI) or a private PostgreSQL (test/contract/store/adapters.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import t, { type Test } from 'tap';
import { postgresBinDir } from '../../../scripts/services.js';
import { freshPostgresDatabase, postgresMissing } from '../../contract/store/adapters.js';
import { requireCapability } from '../../helpers/capability.js';
import { SIAR, jsonLines, siar, startSiarServer, startWithMembers, type Run } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/siar.js';

t.setTimeout(600_000);

const expectOk = (t: Test, r: Run, what: string): string => {
  t.equal(r.code, 0, `${what}${r.stderr ? `: ${r.stderr.trim()}` : ''}`);
  return r.stdout;
};

/** The URL without its password, and the password (given through PGPASSWORD). */
function split(url: string): { bare: string; password: string } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { bare: u.toString(), password };
}

/** What every member sees, through the real CLI: the state that must survive the move. */
async function snapshot(t: Test, as: Record<string, Record<string, string>>, admin: Record<string, string>) {
  const seen: Record<string, unknown> = {};
  for (const [name, env] of Object.entries(as)) {
    seen[`${name} inbox`] = jsonLines(expectOk(t, await siar(['inbox', '--json'], env), `${name} inbox`));
    seen[`${name} outbox`] = jsonLines(expectOk(t, await siar(['outbox', '--json'], env), `${name} outbox`));
    seen[`${name} channels`] = jsonLines(expectOk(t, await siar(['channels', '--json'], env), `${name} channels`));
  }
  seen['groups'] = jsonLines(expectOk(t, await siar(['admin', 'group', 'list', '--json'], admin), 'groups'));
  seen['group ptn'] = jsonLines(expectOk(t, await siar(['admin', 'group', 'show', 'ptn', '--json'], admin), 'group show'));
  seen['members'] = jsonLines(expectOk(t, await siar(['admin', 'members', '--json'], admin), 'members'))
    // What a login or this server's life changes (the snapshot itself logs in) is left out.
    .map(({ online: _o, lastLoginAt: _l, sentLastMinute: _s, ...rest }) => rest);
  return seen;
}

t.test('a used single-node installation moves to PostgreSQL and a server there shows the same', async (t) => {
  if (!requireCapability(t, 'PostgreSQL', postgresMissing())) return;
  const url = await freshPostgresDatabase(t, { empty: true });
  const { bare, password } = split(url);
  const dataDir = tempDir(t, 'siar-migrate-from-');
  const members: Array<[string, string]> = [['unhas', 'Universitas Hasanuddin'], ['ugm', 'Universitas Gadjah Mada'], ['itb', 'Institut Teknologi Bandung']];
  const first = await startWithMembers(t, dataDir, members);
  const { admin, as } = first;

  // The main flows, through the real CLI.
  const file = path.join(tempDir(t, 'siar-migrate-file-'), 'undangan.bin');
  const bytes = randomBytes(300_000);
  writeFileSync(file, bytes);
  const direct = jsonLines(expectOk(t, await siar(['send', '--to', 'ugm', '--subject', 'Undangan seminar', '--body', 'Lihat lampiran', '--attach', file, '--json'], as.unhas!), 'send with attachment'))[0]!;
  expectOk(t, await siar(['admin', 'group', 'create', 'ptn', '--members', 'ugm,itb'], admin), 'group create');
  expectOk(t, await siar(['admin', 'channel', 'create', 'beasiswa', '--description', 'Info beasiswa'], admin), 'channel create');
  expectOk(t, await siar(['subscribe', 'beasiswa'], as.itb!), 'subscribe');
  expectOk(t, await siar(['subscribe', 'beasiswa'], as.unhas!), 'subscribe the publisher');
  expectOk(t, await siar(['send', '--to', '@ptn', '--subject', 'Rapat PTN', '--body', 'Besok'], as.unhas!), 'send to a group');
  expectOk(t, await siar(['send', '--channel', 'beasiswa', '--subject', 'Beasiswa S2', '--body', 'Dibuka'], as.unhas!), 'publish');
  const alert = jsonLines(expectOk(t, await siar(['send', '--all', '--subject', 'Gempa: evakuasi', '--body', 'Segera', '--priority', 'urgent', '--json'], admin), 'urgent broadcast'))[0]!;
  expectOk(t, await siar(['read', String(direct.id)], as.ugm!), 'read');
  expectOk(t, await siar(['ack', String(alert.id)], as.itb!), 'ack');
  const before = await snapshot(t, as, admin);
  const report = jsonLines(expectOk(t, await siar(['report', String(alert.id), '--json'], admin), 'report'));

  // The server is still running: migrate refuses.
  const running = await siar(['migrate', '--from', dataDir, '--to', bare], { PGPASSWORD: password });
  t.equal(running.code, 1);
  t.match(running.stderr, /a siar server \(pid \d+.*\) is running on .*stop it first/, 'a running server is named');
  first.child.kill('SIGTERM');
  await once(first.child, 'exit');

  // A password in --to is refused before anything is touched.
  const inArgv = await siar(['migrate', '--from', dataDir, '--to', url]);
  t.equal(inArgv.code, 1);
  t.match(inArgv.stderr, /--to carries a password.*PGPASSWORD/);
  t.notOk(inArgv.stderr.includes(password), 'and the password is not repeated');

  const migrated = await siar(['migrate', '--from', dataDir, '--to', bare], { PGPASSWORD: password });
  expectOk(t, migrated, 'siar migrate');
  t.match(migrated.stdout, /every table and attachment matches/);
  for (const table of ['users', 'messages', 'message_recipients', 'attachments', 'message_acks', 'channel_subscriptions', 'group_members', 'audit_events', 'mail_queue']) {
    t.match(migrated.stdout, new RegExp(`^${table}\\s+(\\d+)\\s+\\1\\s+([0-9a-f]{16})\\s+\\2\\s+ok$`, 'm'), `${table}: counts and hashes printed and equal`);
  }
  t.match(migrated.stdout, /^attachment content\s+1\s+1\s+300000 bytes/m);
  t.notOk(migrated.stdout.includes(password) || migrated.stderr.includes(password), 'the password is never printed');

  const db = new pg.Client({ connectionString: url });
  await db.connect();
  t.teardown(() => db.end());
  const next = await db.query<{ id: number }>(`INSERT INTO audit_events (at, kind) VALUES (now(), 'probe') RETURNING id`);
  const maxAudit = await db.query<{ max: number }>(`SELECT max(id)::int AS max FROM audit_events WHERE kind <> 'probe'`);
  t.equal(Number(next.rows[0]!.id), maxAudit.rows[0]!.max + 1, 'the sequences were moved past the copied ids');
  await db.query(`DELETE FROM audit_events WHERE kind = 'probe'`);

  // A server on PostgreSQL (a new data dir: nothing of the old one but what the store holds).
  const pgData = tempDir(t, 'siar-migrate-to-');
  const second = await startSiarServer(t, pgData, ['--store', bare], { PGPASSWORD: password });
  const moved = (env: Record<string, string>) => ({ ...env, SIAR_SERVER: second.address });
  const asAfter = Object.fromEntries(Object.entries(as).map(([k, v]) => [k, moved(v)]));
  const after = await snapshot(t, asAfter, moved(admin));
  t.strictSame(after, before, 'every member logs in with its own password and sees the same inbox, outbox, read/ack state, channels, groups');
  t.strictSame(jsonLines(expectOk(t, await siar(['report', String(alert.id), '--json'], moved(admin)), 'report after')), report, 'the ack report is the same');
  const sent = expectOk(t, await siar(['send', '--to', 'ugm', '--subject', 'Setelah pindah', '--body', 'ok', '--json'], asAfter.unhas!), 'send after');
  t.ok((jsonLines(sent)[0]!.id as number) > (alert.id as number), 'a new message gets an id after the copied ones');
  const out = tempDir(t, 'siar-migrate-dl-');
  expectOk(t, await siar(['download', String(direct.id), '--to', out], asAfter.ugm!), 'download after');
  t.ok(readFileSync(path.join(out, 'undangan.bin')).equals(bytes), 'the attachment downloads byte-identical from PostgreSQL');
  second.child.kill('SIGTERM');
  await once(second.child, 'exit');

  // Again into the same database: refused, it holds data now.
  const again = await siar(['migrate', '--from', dataDir, '--to', bare], { PGPASSWORD: password });
  t.equal(again.code, 1);
  t.match(again.stderr, /already holds siar data \(users.*give --replace/, 'a non-empty target is refused with a sentence');

  // --verify compares again: the message sent on PostgreSQL since is a difference, in those tables only.
  const verify = await siar(['migrate', '--verify', '--from', dataDir, '--to', bare, '--json'], { PGPASSWORD: password });
  t.equal(verify.code, 1);
  const differ = (JSON.parse(verify.stdout) as { tables: Array<{ table: string; ok: boolean }> }).tables.filter((x) => !x.ok).map((x) => x.table);
  t.ok(['messages', 'message_recipients'].every((x) => differ.includes(x)), `the new message shows (${differ.join(', ')})`);
});

t.test('--verify reports a tampered row and a tampered attachment; --replace copies again', async (t) => {
  if (!requireCapability(t, 'PostgreSQL', postgresMissing())) return;
  const url = await freshPostgresDatabase(t, { empty: true });
  const { bare, password } = split(url);
  const env = { PGPASSWORD: password };
  const dataDir = tempDir(t, 'siar-migrate-tamper-');
  const s = await startWithMembers(t, dataDir, [['unhas', 'Universitas Hasanuddin'], ['ugm', 'Universitas Gadjah Mada']]);
  const file = path.join(tempDir(t), 'a.txt');
  writeFileSync(file, 'isi lampiran\n');
  expectOk(t, await siar(['send', '--to', 'ugm', '--subject', 'Satu', '--body', 'x', '--attach', file], s.as.unhas!), 'send');
  const lost = path.join(tempDir(t), 'hilang.txt');
  writeFileSync(lost, 'berkas yang hilang\n');
  expectOk(t, await siar(['send', '--to', 'ugm', '--subject', 'Hilang', '--body', 'y', '--attach', lost], s.as.unhas!), 'send another');
  s.child.kill('SIGTERM');
  await once(s.child, 'exit');

  // The data dir lost one attachment's file: the rest is copied, and the report names it.
  const lostSha = createHash('sha256').update(readFileSync(lost)).digest('hex');
  const lostFile = path.join(dataDir, 'attachments', lostSha.slice(0, 2), lostSha);
  const kept = readFileSync(lostFile);
  rmSync(lostFile);
  const partial = await siar(['migrate', '--from', dataDir, '--to', bare], env);
  t.equal(partial.code, 1, 'a missing attachment file exits 1');
  t.match(partial.stdout, new RegExp(`attachment ${lostSha}: the file attachments/${lostSha.slice(0, 2)}/${lostSha} hashes to nothing: it cannot be read`));
  t.match(partial.stdout, /^messages\s+2\s+2\s+.*ok$/m, 'every table copied');
  t.match(partial.stdout, /^attachment content\s+2\s+1\s+/m, 'one of two contents verified');
  writeFileSync(lostFile, kept);
  expectOk(t, await siar(['migrate', '--replace', '--from', dataDir, '--to', bare], env), 'migrate again once the file is back');

  const db = new pg.Client({ connectionString: url });
  await db.connect();
  t.teardown(() => db.end());
  await db.query(`UPDATE messages SET subject = 'Dua' WHERE subject = 'Satu'`);
  await db.query(`UPDATE content_chunks SET data = 'X'::bytea || substring(data from 2)
    WHERE blob_id = (SELECT id FROM content_blobs WHERE sha256 <> $1)`, [lostSha]);
  const verify = await siar(['migrate', '--verify', '--from', dataDir, '--to', bare, '--json'], env);
  t.equal(verify.code, 1, 'a difference exits 1');
  const r = JSON.parse(verify.stdout) as { ok: boolean; tables: Array<{ table: string; ok: boolean; sourceRows: number; targetRows: number }>; content: { problems: string[] } };
  t.equal(r.ok, false);
  t.strictSame(r.tables.filter((x) => !x.ok).map((x) => x.table), ['messages'], 'the changed table, and only it, differs');
  t.match(r.tables.find((x) => x.table === 'messages'), { sourceRows: 2, targetRows: 2 }, 'same count, different hash');
  t.match(r.content.problems, [/PostgreSQL's copy hashes to [0-9a-f]{64}/], 'the attachment read back differs');
  t.match(verify.stderr, /differs from the data directory in: messages, attachment content/);

  const replaced = await siar(['migrate', '--replace', '--from', dataDir, '--to', bare], env);
  expectOk(t, replaced, 'migrate --replace');
  t.match(replaced.stdout, /every table and attachment matches/);
});

t.test('a database that cannot be reached, or is not a URL, gets a sentence', async (t) => {
  const dataDir = tempDir(t, 'siar-migrate-bad-');
  const none = await siar(['migrate', '--from', dataDir, '--to', 'postgres://siar@127.0.0.1:1/siar']);
  t.equal(none.code, 1);
  t.match(none.stderr, /holds no siar database/, 'an empty data dir first');

  if (!requireCapability(t, 'PostgreSQL', postgresMissing())) return;
  const s = await startWithMembers(t, dataDir, [['unhas', 'Universitas Hasanuddin']]);
  s.child.kill('SIGTERM');
  await once(s.child, 'exit');
  const refused = await siar(['migrate', '--from', dataDir, '--to', 'postgres://siar@127.0.0.1:1/siar']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /^siar: migrate refused: the PostgreSQL database cannot be reached or prepared: nothing listens at the address given/m);
  const url = await freshPostgresDatabase(t, { empty: true });
  const { bare } = split(url);
  const wrong = await siar(['migrate', '--from', dataDir, '--to', bare], { PGPASSWORD: 'not-the-password' });
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /refused the user name or password/);
  const noDb = await siar(['migrate', '--from', dataDir, '--to', `${bare.replace(/\/[^/]*$/, '/no_such_db')}`], { PGPASSWORD: split(url).password });
  t.match(noDb.stderr, /that database does not exist/);
  const notUrl = await siar(['migrate', '--from', dataDir, '--to', 'mysql://x@y/z']);
  t.match(notUrl.stderr, /must be a postgres:\/\/ URL/);
  const nothing = await siar(['migrate', '--from', dataDir], { SIAR_STORE: '' });
  t.match(nothing.stderr, /needs the PostgreSQL database/);
});

t.test("the README's Moving to PostgreSQL commands run as written", async (t) => {
  if (!requireCapability(t, 'PostgreSQL', postgresMissing())) return;
  const bin = postgresBinDir();
  if (!requireCapability(t, 'createdb', bin ? false : 'PostgreSQL\'s client programs are not installed')) return;
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('<!-- migrate:begin -->'), readme.indexOf('<!-- migrate:end -->'));
  const block = /^```sh\n([\s\S]*?)^```$/m.exec(section)?.[1];
  t.ok(block, 'the README has the block');
  if (!block) return;

  const dir = tempDir(t, 'siar-migrate-readme-');
  const s = await startWithMembers(t, path.join(dir, 'data'), [['unhas', 'Universitas Hasanuddin']]);
  s.child.kill('SIGTERM');
  await once(s.child, 'exit');

  // The README's database, host and user become the test server's; a database name of its own.
  const server = new URL(await freshPostgresDatabase(t, { empty: true }));
  const name = `siar_readme_${process.pid}`;
  const admin = new pg.Client({ connectionString: server.toString() });
  await admin.connect();
  t.teardown(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await admin.end();
  });
  const target = new URL(server.toString());
  target.password = '';
  target.pathname = `/${name}`;
  const script = block
    .replaceAll('--host=db.example.ac.id --username=siar siar', `--host=${server.hostname} --port=${server.port} --username=${server.username} ${name}`)
    .replaceAll('postgres://siar@db.example.ac.id/siar', target.toString());
  const shims = path.join(dir, 'shims');
  mkdirSync(shims);
  writeFileSync(path.join(shims, 'siar'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(SIAR)} "$@"\n`, { mode: 0o755 });
  const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    // A timeout: should the block lose its password, createdb would prompt on the terminal and wait.
    execFile('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: dir, timeout: 120_000, env: { ...process.env, PATH: `${shims}:${bin}:${process.env.PATH ?? ''}`, DB_PASSWORD: decodeURIComponent(server.password), PGPASSWORD: '' },
    }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }));
  });
  t.equal(run.code, 0, `the block runs: ${run.stderr}`);
  t.match(run.stdout, /migrated .*siar\.db/);
  t.match(run.stdout, /compared .*siar\.db/);
  t.equal(run.stdout.match(/every table and attachment matches/g)?.length, 2, 'the copy and the later --verify both match');
});
