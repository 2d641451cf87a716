/**
 * Once-per-cluster jobs (issue 19): two real `siar server` processes on one store and one Redis run
 * the registration-expiry sweep and the mail queue on one node only, the holder of each job's lease
 * (src/server/cluster-job.ts). The holder is SIGKILLed; the other node takes both over once the
 * lease runs out: it expires the next old request, and the notice mail goes out from it (each
 * node writes mail into its own data directory, so where a notice lands says who sent it).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { SiarClient } from '../../../src/client/index.js';
import { requireCapability } from '../../helpers/capability.js';
import { tempDir } from '../../helpers/siar.js';
import { ChildServer, freePort, waitFor } from '../../reliability/helpers.js';
import { clusterBus, redisMissing } from '../../contract/redis.js';

t.setTimeout(180_000);

/** This file's Redis database (test/contract/redis.ts, clusterBus): another file's cluster holds none of its leases. */
const REDIS_DB = 11;

interface LogLine { msg?: string; lease?: string; count?: number; ids?: number[] }

function logOf(server: ChildServer): LogLine[] {
  if (!existsSync(server.logFile)) return [];
  return readFileSync(server.logFile, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
}

/** Whether the server took the lease (the mail queue's is named after the mail key: mail-queue:<fingerprint>). */
const holds = (server: ChildServer, lease: string): boolean =>
  logOf(server).some((l) => l.msg?.startsWith('holds the lease of a once-per-cluster job') === true && (l.lease === lease || l.lease?.startsWith(`${lease}:`) === true));

const expiredIds = (server: ChildServer): number[] =>
  logOf(server).filter((l) => l.msg === 'registration requests expired').flatMap((l) => l.ids ?? []);

function expiryMails(dataDir: string): string[] {
  const dir = path.join(dataDir, 'mail');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('-expiry.eml')) : [];
}

t.test('the expiry sweep and the mail queue run on one node; when it is killed the other takes them over', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const bus = await clusterBus(REDIS_DB);
  const root = tempDir(t, 'siar-once-');
  const dirA = path.join(root, 'a', 'data');
  const dirB = path.join(root, 'b', 'data');
  const store = path.join(dirA, 'siar.db');
  // One mail key for both (as every cluster should have): one mail queue, one lease.
  const mailKey = path.join(root, 'mail.key');
  writeFileSync(mailKey, randomBytes(32), { mode: 0o600 });
  const common = ['--bus', bus, '--lease-ttl', '3s', '--registration-expiry-check-interval', '1s', '--mail-key-file', mailKey];
  const a = await ChildServer.start({ dataDir: dirA, port: await freePort(), logLevel: 'info', args: [...common, '--node-id', 'node-a'] });
  t.teardown(() => a.stop());
  const b = await ChildServer.start({ dataDir: dirB, port: await freePort(), logLevel: 'info', args: [...common, '--node-id', 'node-b', '--store', store] });
  t.teardown(() => b.stop());

  const holdsBoth = (x: ChildServer): boolean => holds(x, 'registration-expiry') && holds(x, 'mail-queue');
  t.ok(await waitFor(() => holdsBoth(a) || holdsBoth(b), 10_000), 'one node holds both leases');
  // The first node to start takes them, unless it stalled past the lease's time-to-live meanwhile.
  const [holder, other] = holdsBoth(a) ? [a, b] : [b, a];
  t.notOk(holds(other, 'registration-expiry') || holds(other, 'mail-queue'), 'the other holds neither');

  const db = new Database(store);
  db.pragma('busy_timeout = 5000');
  t.teardown(() => db.close());
  /** A request made through a node, then made 40 days old (the expiry is 30 days). */
  const oldRequest = async (username: string, through = b): Promise<number> => {
    const c = await SiarClient.connect({ host: '127.0.0.1', port: through.opts.port });
    try {
      const reg = await c.request('REGISTER', { institution: `Universitas ${username}`, contact: 'Humas', email: `humas@${username}.ac.id`, username });
      const id = Number(reg.args.get('id'));
      db.prepare('UPDATE registration_requests SET created_at = ? WHERE id = ?').run(new Date(Date.now() - 40 * 86_400_000).toISOString(), id);
      return id;
    } finally {
      await c.close();
    }
  };
  const status = (id: number): string => (db.prepare('SELECT status FROM registration_requests WHERE id = ?').get(id) as { status: string }).status;

  const first = await oldRequest('unhas');
  t.ok(await waitFor(() => status(first) === 'expired', 20_000), 'the old request expired');
  // The log line follows the commit: wait for it too.
  t.ok(await waitFor(() => expiredIds(holder).length > 0, 10_000), 'the holder logged its sweep');
  t.strictSame(expiredIds(holder), [first], 'the holder swept it');
  t.strictSame(expiredIds(other), [], 'the other did not sweep');
  t.ok(await waitFor(() => expiryMails(holder.opts.dataDir).length === 1, 20_000), 'the notice went out from the holder');

  await holder.kill('SIGKILL');
  t.ok(await waitFor(() => holdsBoth(other), 20_000), 'the other node took both leases over');
  const second = await oldRequest('ugm', other);
  t.ok(await waitFor(() => status(second) === 'expired', 20_000), 'the next old request expired without the dead node');
  t.ok(await waitFor(() => expiredIds(other).length > 0, 10_000), 'the other node logged its sweep');
  t.strictSame(expiredIds(other), [second], 'the other node swept it');
  t.ok(await waitFor(() => expiryMails(other.opts.dataDir).length === 1, 20_000), 'its notice went out from the other node');
  t.equal(expiryMails(holder.opts.dataDir).length, 1, 'nothing more from the dead node');
});
