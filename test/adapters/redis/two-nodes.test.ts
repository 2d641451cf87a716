/**
 * Two siar server nodes on one store and one Redis (--bus redis://, --node-id): a popup sent through
 * one node reaches a member logged in on the other, ONLINE on either shows both nodes' members, and
 * a suspension made on one node closes the member's connection on the other; the cap on a member's
 * connections counts both nodes', the administrator's reserved slot aside.
 */
import path from 'node:path';
import t from 'tap';
import { RemoteError, SiarClient } from '../../../src/client/connection.js';
import { requireCapability } from '../../helpers/capability.js';
import { nextPush, startServer, until, type TestServer } from '../../helpers/siar.js';
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

t.test('the cap per member counts the connections on both nodes; the administrator\'s reserved slot is still honoured', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const bus = await clusterBus(REDIS_DB);
  const a = await startServer(t, { bus, nodeId: `a-${process.pid}`, maxConnectionsPerMember: 3 });
  const b = await startServer(t, {
    bus, nodeId: `b-${process.pid}`, store: path.join(a.dataDir, 'siar.db'), maxConnectionsPerMember: 3, maxConnections: 5, adminReservedConnections: 1,
  });
  const { password } = await a.member('bob');
  const bobId = (await a.server.store.getUserByUsername('bob'))!.id;
  const adminId = (await a.server.store.getUserByUsername('admin'))!.id;
  const open: SiarClient[] = [];
  t.teardown(() => Promise.all(open.map((c) => c.close())));
  const connect = async (s: TestServer): Promise<SiarClient> => {
    const c = await SiarClient.connect({ host: '127.0.0.1', port: s.port });
    open.push(c);
    return c;
  };
  const login = async (s: TestServer, username: string, pw: string): Promise<{ client: SiarClient; code: string; message: string }> => {
    const client = await connect(s);
    try {
      await client.login(username, pw, { popups: false });
      return { client, code: 'OK', message: '' };
    } catch (err) {
      if (err instanceof RemoteError) return { client, code: err.code, message: err.message };
      throw err;
    }
  };
  /** Until node `s` sees `n` of the member's connections on the other node. */
  const seenElsewhere = (s: TestServer, userId: number, n: number) =>
    until(`${n} connections seen elsewhere`, async () => (await s.server.router.connectionsElsewhere(userId)) === n, 10_000);

  const onA1 = await login(a, 'bob', password);
  await login(a, 'bob', password);
  await seenElsewhere(b, bobId, 2);
  t.equal((await login(b, 'bob', password)).code, 'OK', 'a third on B: 3 in the cluster');
  await seenElsewhere(a, bobId, 1);
  const fourthB = await login(b, 'bob', password);
  t.equal(fourthB.code, 'TOO_MANY_REQUESTS', 'a fourth on B is refused');
  t.match(fourthB.message, /bob already has 3 connections open/);
  t.equal((await login(a, 'bob', password)).code, 'TOO_MANY_REQUESTS', 'and on A');
  await onA1.client.close();
  await seenElsewhere(b, bobId, 1);
  t.equal((await login(b, 'bob', password)).code, 'OK', 'once one on A closes, B takes another');

  // The administrator at its cap on A (with the session that approved bob). B holds bob's two and the
  // refused fourth (still connected, not logged in).
  for (let i = 0; i < 2; i++) t.equal((await login(a, 'admin', a.adminPassword())).code, 'OK');
  await seenElsewhere(b, adminId, 3);
  t.equal(b.server.router.connectionCount(), 3);
  t.equal((await login(b, 'admin', a.adminPassword())).code, 'TOO_MANY_REQUESTS', 'on an ordinary slot of B the cap holds for the administrator too');
  t.equal(b.server.router.connectionCount(), 4, 'B\'s last slot is the administrator\'s reserve');
  const reserved = await login(b, 'admin', a.adminPassword());
  t.equal(reserved.code, 'OK', 'on the reserved slot the administrator gets in, as on one node');
});
