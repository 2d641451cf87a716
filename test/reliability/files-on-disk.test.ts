/**
 * Files on disk (issue 20 item 7). The database and its -wal and -shm files hold password hashes
 * and every message: a real `siar server` creates them 0600 whether it creates the data directory
 * (0700) or finds one an administrator made 0755, and narrows those an older version left 0644. A
 * download's part file is never followed if it is a symbolic link: in a shared directory another
 * local user could plant one to make the download write into a file of their choosing.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import t, { type Test } from 'tap';
import { TransferError, downloadAttachment, uploadFile } from '../../src/client/transfer.js';
import { startServer, tempDir } from '../helpers/siar.js';
import { loginMember, noise, sendDeclared, writeFile } from '../transfer/helpers.js';
import { ChildServer, freePort } from './helpers.js';

const DATABASE_FILES = ['siar.db', 'siar.db-wal', 'siar.db-shm'];

function mode(file: string): string {
  return (statSync(file).mode & 0o777).toString(8).padStart(4, '0');
}

/** Starts a real `siar server` on `dataDir` (which has its admin written, so the log exists), then checks the three files. */
async function checkDatabaseFiles(t: Test, dataDir: string): Promise<void> {
  const server = await ChildServer.start({ dataDir, port: await freePort() });
  t.teardown(() => server.stop());
  for (const f of DATABASE_FILES) {
    const file = path.join(dataDir, f);
    t.ok(existsSync(file), `${f} exists while the server runs`);
    t.equal(mode(file), '0600', `${f} is readable by the server's user only`);
  }
  await server.stop();
}

t.test('a fresh data directory is created 0700, the database and its -wal and -shm 0600', async (t) => {
  const dataDir = path.join(tempDir(t), 'fresh', 'data');
  await checkDatabaseFiles(t, dataDir);
  t.equal(mode(dataDir), '0700', 'the data directory');
});

t.test('in a data directory that already exists 0755, the database files are still 0600', async (t) => {
  const dataDir = path.join(tempDir(t), 'data');
  mkdirSync(dataDir);
  chmodSync(dataDir, 0o755);
  await checkDatabaseFiles(t, dataDir);
  t.equal(mode(dataDir), '0755', 'the administrator\'s directory keeps its mode');
});

t.test('database files an older version left 0644 are narrowed to 0600', async (t) => {
  const dataDir = path.join(tempDir(t), 'data');
  mkdirSync(dataDir, { mode: 0o755 });
  const old = new Sqlite(path.join(dataDir, 'siar.db'));
  old.pragma('journal_mode = WAL');
  old.exec('CREATE TABLE leftover (x)');
  for (const f of DATABASE_FILES) chmodSync(path.join(dataDir, f), 0o644);
  old.close();
  await checkDatabaseFiles(t, dataDir);
});

t.test('a symbolic link planted at a download\'s part file is refused, not written through', async (t) => {
  const s = await startServer(t);
  const clients = [];
  for (const name of ['unhas', 'ugm']) {
    const { password } = await s.member(name);
    const c = await s.client();
    await loginMember(c, name, password);
    clients.push(c);
  }
  const [sender, recipient] = clients as [NonNullable<(typeof clients)[number]>, NonNullable<(typeof clients)[number]>];
  const data = noise(200_000, 31);
  const sent = await sendDeclared(sender, 'ugm', [{ name: 'laporan.pdf', data }]);
  const attachmentId = sent.attachments[0]!.id;
  await uploadFile(sender, { messageId: sent.id, attachmentId, path: writeFile(tempDir(t), 'laporan.pdf', data) });

  // Another local user's file, and a link to it where the download will put its bytes.
  const shared = tempDir(t);
  const victim = path.join(tempDir(t), 'victim.txt');
  writeFileSync(victim, 'precious\n');
  symlinkSync(victim, path.join(shared, `.siar-${sent.id}-${attachmentId}.part`));
  const err = await downloadAttachment(recipient, { messageId: sent.id, attachmentId, dir: shared }).catch((e: unknown) => e);
  t.type(err, TransferError);
  t.equal((err as TransferError).code, 'UNSAFE_PART_FILE', 'the download is refused');
  t.match((err as Error).message, /is a symbolic link or not a plain file; the download will not write through it .*Remove it/, 'with a sentence saying why and what to do');
  t.equal(readFileSync(victim, 'utf8'), 'precious\n', 'the file the link points at is untouched');

  // Once the link is gone the same download works.
  const ok = await downloadAttachment(recipient, { messageId: sent.id, attachmentId, dir: tempDir(t) });
  t.equal(ok.size, data.length, 'a download into a safe directory goes through');
});
