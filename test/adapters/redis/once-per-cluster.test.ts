/**
 * Once-per-cluster jobs (issue 19): two real `siar server` processes on one store and one Redis run
 * the registration-expiry sweep and the mail queue on one node only, the holder of each job's lease
 * (src/server/cluster-job.ts). The holder is SIGKILLed; the other node takes both over once the
 * lease runs out: it expires the next old request, and the notice mail goes out from it.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { SiarClient } from '../../../src/client/index.js';
import { requireCapability } from '../../helpers/capability.js';
import { tempDir } from '../../helpers/siar.js';
import { ChildServer, freePort, waitFor } from '../../reliability/helpers.js';
import { redisMissing, redisUrl } from '../../contract/redis.js';

t.setTimeout(180_000);

/** A Redis database of this file's own, so another test file's cluster on the same Redis holds none of our leases. */
const REDIS_DB = 11;

interface LogLine { msg?: string; lease?: string; count?: number; ids?: number[] }

function logOf(server: ChildServer): LogLine[] {
  if (!existsSync(server.logFile)) return [];
  return readFileSync(server.logFile, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
}

const holds = (server: ChildServer, lease: string): boolean =>
  logOf(server).some((l) => l.msg?.startsWith('holds the lease of a once-per-cluster job') === true && l.lease === lease);

const expiredIds = (server: ChildServer): number[] =>
  logOf(server).filter((l) => l.msg === 'registration requests expired').flatMap((l) => l.ids ?? []);

function expiryMails(dataDir: string): string[] {
  const dir = path.join(dataDir, 'mail');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('-expiry.eml')) : [];
}

t.test('the expiry sweep and the mail queue run on one node; when it is killed the other takes them over', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const bus = `${await redisUrl()}/${REDIS_DB}`;
  const root = tempDir(t, 'siar-once-');
  const dirA = path.join(root, 'a', 'data');
  const dirB = path.join(root, 'b', 'data');
  const store = path.join(dirA, 'siar.db');
  const common = ['--bus', bus, '--lease-ttl', '1s', '--registration-expiry-check-interval', '1s'];
  const a = await ChildServer.start({ dataDir: dirA, port: await freePort(), logLevel: 'info', args: [...common, '--node-id', 'node-a'] });
  t.teardown(() => a.stop());
  const b = await ChildServer.start({ dataDir: dirB, port: await freePort(), logLevel: 'info', args: [...common, '--node-id', 'node-b', '--store', store] });
  t.teardown(() => b.stop());

  t.ok(await waitFor(() => holds(a, 'registration-expiry') && holds(a, 'mail-queue'), 10_000), 'the first node holds both leases');
  t.notOk(holds(b, 'registration-expiry') || holds(b, 'mail-queue'), 'the second holds neither');

  const db = new Database(store);
  db.pragma('busy_timeout = 5000');
  t.teardown(() => db.close());
  /** A request made through node B, then made 40 days old (the expiry is 30 days). */
  const oldRequest = async (username: string): Promise<number> => {
    const c = await SiarClient.connect({ host: '127.0.0.1', port: b.opts.port });
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
  t.strictSame(expiredIds(a), [first], 'node A swept it');
  t.strictSame(expiredIds(b), [], 'node B did not sweep');
  t.ok(await waitFor(() => expiryMails(dirA).length === 1, 20_000), 'the notice went out from node A');

  await a.kill('SIGKILL');
  t.ok(await waitFor(() => holds(b, 'registration-expiry') && holds(b, 'mail-queue'), 20_000), 'node B took both leases over');
  const second = await oldRequest('ugm');
  t.ok(await waitFor(() => status(second) === 'expired', 20_000), 'the next old request expired without node A');
  t.strictSame(expiredIds(b), [second], 'node B swept it');
  t.ok(await waitFor(() => expiryMails(dirB).length === 1, 20_000), 'its notice went out from node B');
  t.equal(expiryMails(dirA).length, 1, 'nothing more from the dead node');
});
