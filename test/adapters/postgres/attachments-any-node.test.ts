/**
 * Attachments from any node (issue 19): two real `siar server --store postgres://…` processes on
 * one database, each with its own data directory. An attachment sent through node A is stored in
 * PostgreSQL, not in A's data dir; A is killed and its data dir deleted; the recipient downloads the
 * attachment, byte-identical, through node C.
 *
 * Runs on SIAR_TEST_PG_URL (CI) or a private PostgreSQL (test/contract/store/adapters.ts); without
 * PostgreSQL it is skipped, except under CI.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import t from 'tap';
import { freshPostgresDatabase, postgresMissing } from '../../contract/store/adapters.js';
import { requireCapability } from '../../helpers/capability.js';
import { jsonLines, siar, startSiarServer, startWithMembers } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/siar.js';

t.setTimeout(300_000);

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Every file below a directory (none when it does not exist). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
}

t.test('an attachment sent through node A downloads through node C after A and its disk are gone', async (t) => {
  if (!requireCapability(t, 'PostgreSQL', postgresMissing())) return;
  const url = await freshPostgresDatabase(t, { empty: true });
  const dirA = tempDir(t, 'siar-node-a-');
  const nodeA = await startWithMembers(t, dirA, [['unhas', 'Universitas Hasanuddin'], ['ugm', 'Universitas Gadjah Mada']], {
    args: ['--store', url],
  });

  const bytes = randomBytes(3 * 1024 * 1024 + 12_345);
  const src = path.join(tempDir(t), 'laporan.bin');
  writeFileSync(src, bytes);
  const send = await siar(['send', '--to', 'ugm', '--subject', 'Laporan', '--body', 'terlampir', '--attach', src, '--json'], nodeA.as.unhas!);
  t.equal(send.code, 0, send.stderr);
  const sent = JSON.parse(send.stdout) as { id: number; state: string };
  t.equal(sent.state, 'sent', 'the message went out once its attachment was committed');

  t.strictSame(filesUnder(path.join(dirA, 'attachments')), [], 'node A keeps no copy on its disk');
  t.strictSame(filesUnder(path.join(dirA, 'tmp')), [], 'not even a partial one');
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  t.teardown(() => db.end());
  const blob = await db.query<{ sha256: string; size: string }>('SELECT sha256, size FROM content_blobs');
  t.strictSame(blob.rows, [{ sha256: sha256(bytes), size: String(bytes.length) }], 'the content is in PostgreSQL');
  const path_ = await db.query<{ storage_path: string }>('SELECT storage_path FROM attachments');
  t.strictSame(path_.rows, [{ storage_path: `pg:${sha256(bytes)}` }]);

  nodeA.child.kill('SIGKILL');
  await once(nodeA.child, 'exit');
  rmSync(dirA, { recursive: true, force: true });

  const nodeC = await startSiarServer(t, tempDir(t, 'siar-node-c-'), ['--store', url]);
  const ugm = { ...nodeA.as.ugm!, SIAR_SERVER: nodeC.address };
  const to = path.join(tempDir(t), 'unduhan');
  const dl = await siar(['download', String(sent.id), '--to', to, '--json'], ugm);
  t.equal(dl.code, 0, dl.stderr);
  const [got] = jsonLines(dl.stdout) as Array<{ path: string; sha256: string }>;
  t.equal(got?.sha256, sha256(bytes), 'node C serves the attachment');
  t.ok(readFileSync(got!.path).equals(bytes), 'byte-identical');
});
