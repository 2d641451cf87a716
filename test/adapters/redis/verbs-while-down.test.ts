/**
 * What members and the administrator get while Redis is down under two nodes (issue 19). These
 * verbs used to wait on a presence or bus command that ioredis kept queued until Redis was back
 * (LOGIN on the throttle and presence, ONLINE on presence, SUSPEND on presence and the bus): now
 * - LOGIN works (the throttle counts on this node meanwhile);
 * - ONLINE lists this node's members, `partial=1`, with a sentence saying the cluster-wide view is
 *   unavailable;
 * - MEMBERS, which shows cluster-wide counts, answers BUSY with a sentence;
 * - SUSPEND suspends (the store is the truth) and closes the member's connections on this node at
 *   once; the node that could not hear it closes its own when Redis is back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { SiarClient } from '../../../src/client/connection.js';
import { redisServerPath, startRedis } from '../../../scripts/services.js';
import { requireCapability } from '../../helpers/capability.js';
import { startServer, until } from '../../helpers/siar.js';

t.setTimeout(180_000);

/** Answers within `ms` or says it hung (before the fix these waited for Redis, for ever). */
function answers<T>(what: string, p: Promise<T>, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} hung while Redis was down`)), ms); });
  return Promise.race([p, hung]).finally(() => clearTimeout(timer));
}

function closing(c: SiarClient): Promise<void> {
  return new Promise((resolve) => c.once('close', () => resolve()));
}

t.test('Redis down: LOGIN, ONLINE and SUSPEND answer; the other node closes a suspended member when Redis is back', async (t) => {
  if (!requireCapability(t, 'Redis', redisServerPath() ? false : 'Redis is not installed (apt-get install redis-server)')) return;
  const dir = mkdtempSync(path.join(tmpdir(), 'siar-redis-verbs-'));
  const redis = await startRedis(path.join(dir, 'redis'));
  t.teardown(async () => { await redis.stop(); rmSync(dir, { recursive: true, force: true }); });

  const a = await startServer(t, { bus: redis.url, nodeId: 'a', catchUpIntervalMs: 500 });
  const b = await startServer(t, { bus: redis.url, nodeId: 'b', catchUpIntervalMs: 500, store: path.join(a.dataDir, 'siar.db') });
  const admin = await a.adminClient();
  const carol = await a.memberClient('carol');
  const { password: bobPassword } = await a.member('bob');
  const { password: davePassword } = await a.member('dave');
  const bob = await SiarClient.connect({ host: '127.0.0.1', port: b.port });
  t.teardown(() => bob.close());
  await bob.login('bob', bobPassword);
  await until('bob on B seen from A', async () => (await admin.request('ONLINE')).items.some((i) => i.get('username') === 'bob'), 20_000);

  await redis.stop();

  const dave = await SiarClient.connect({ host: '127.0.0.1', port: a.port });
  t.teardown(() => dave.close());
  await answers('LOGIN', dave.login('dave', davePassword));
  t.pass('a member logs in while Redis is down');

  const online = await answers('ONLINE', admin.request('ONLINE'));
  t.same(online.items.map((i) => i.get('username')).sort(), ['admin', 'carol', 'dave'], 'ONLINE lists the members on this node');
  t.equal(online.args.get('partial'), '1', 'marked partial');
  t.match(online.args.get('note'), /only the members connected to this node \(a\).*cluster-wide view is unavailable/i, 'with the sentence');
  const partial = await admin.admin.online();
  t.match(partial.note, /cluster-wide view is unavailable/, 'the client library carries the sentence');

  await t.rejects(answers('MEMBERS', admin.request('MEMBERS')), {
    name: 'RemoteError', code: 'BUSY', message: 'The server cannot reach Redis, which the nodes of this cluster share, right now; try again shortly.',
  }, 'MEMBERS (cluster-wide counts) answers BUSY with a sentence');

  const carolClosed = closing(carol);
  const onA = await answers('SUSPEND', admin.request('SUSPEND', { username: 'carol' }));
  t.equal(onA.args.get('status'), 'suspended');
  t.equal(onA.args.get('connections'), '1', 'counted on this node');
  await carolClosed;
  t.pass('carol\'s connection on this node is closed at once');

  let bobClosed = false;
  bob.once('close', () => { bobClosed = true; });
  const onB = await answers('SUSPEND', admin.request('SUSPEND', { username: 'bob' }));
  t.equal(onB.args.get('status'), 'suspended', 'a member on the other node is suspended in the store');
  t.equal(bobClosed, false, 'B cannot hear it yet');

  await redis.start();
  await until('B closes bob\'s connection once Redis is back', () => bobClosed, 60_000);
  t.pass('the suspension reached B');
  await until('ONLINE whole again', async () => (await admin.request('ONLINE')).args.get('partial') === undefined, 30_000);
  t.pass('ONLINE is cluster-wide again');
});
