/**
 * Two siar server nodes on one store and one Redis (--bus redis://, --node-id): a popup sent through
 * one node reaches a member logged in on the other, ONLINE on either shows both nodes' members, and
 * a suspension made on one node closes the member's connection on the other.
 */
import path from 'node:path';
import t from 'tap';
import { SiarClient } from '../../../src/client/index.js';
import { requireCapability } from '../../helpers/capability.js';
import { nextPush, startServer } from '../../helpers/siar.js';
import { clusterBus, redisMissing } from '../../contract/redis.js';

/** This file's Redis database (test/contract/redis.ts, clusterBus). */
const REDIS_DB = 10;

t.test('a popup sent on node A reaches a member on node B; presence and closings cross nodes', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const bus = await clusterBus(REDIS_DB);
  const a = await startServer(t, { bus, nodeId: `a-${process.pid}` });
  const b = await startServer(t, { bus, nodeId: `b-${process.pid}`, store: path.join(a.dataDir, 'siar.db') });
  const { password } = await a.member('bob');
  const alice = await a.memberClient('alice');
  const bob = await SiarClient.connect({ host: '127.0.0.1', port: b.port });
  t.teardown(() => bob.close());
  await bob.login('bob', password);

  const popup = nextPush(bob, 'POPUP');
  const sent = await alice.request('SEND', { to: 'bob', subject: 'across nodes', body: 'from A to B' });
  const got = await popup;
  t.equal(got.get('id'), sent.args.get('id'));
  t.equal(got.get('subject'), 'across nodes');

  const admin = await a.adminClient();
  const online = await admin.request('ONLINE');
  t.same(online.items.map((i) => i.get('username')).sort(), ['admin', 'alice', 'bob'], 'A sees who is on B');

  const closed = new Promise<void>((resolve) => bob.once('close', () => resolve()));
  const suspended = await admin.request('SUSPEND', { username: 'bob' });
  t.equal(suspended.args.get('connections'), '1', 'counted on B');
  await closed;
  t.pass('bob\'s connection on B was closed by the suspension made on A');
});
