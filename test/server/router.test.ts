/**
 * This process's connections (LocalConnections, what the local router was): which connections a push reaches, over real loopback connections.
 * Detaching is a lookup by connection (it used to scan every user, so a server disconnecting
 * its 19,864 clients did 19,864² steps).
 */
import t from 'tap';
import { LocalConnections } from '../../src/server/local-connections.js';
import { serverSideConnection, waitFor } from '../helpers/server-connection.js';

const alice = { id: 1, username: 'alice' };
const bob = { id: 2, username: 'bob' };

t.test('a connection logged in again as someone else gets only the new user\'s pushes', async (t) => {
  const router = new LocalConnections();
  const c = await serverSideConnection(t, router, alice);
  t.ok(router.isOnline(alice.id));
  c.conn.user = { userId: bob.id, username: bob.username, role: 'member', sessionId: 2, expiresAt: Date.now() + 3_600_000, boundAt: Date.now() };
  router.attach(c.conn);
  t.notOk(router.isOnline(alice.id), 'alice is no longer online through it');
  t.ok(router.isOnline(bob.id));
  t.equal(router.pushToUser(alice.id, 'NOTE', { text: 'for alice' }), 0);
  t.equal(router.pushToUser(bob.id, 'NOTE', { text: 'for bob' }), 1);
  await waitFor(() => c.received().includes('for bob'));
  t.notMatch(c.received(), /for alice/);
  t.strictSame(router.online().map((e) => [e.username, e.connections.length]), [['bob', 1]]);
});

t.test('a user with two connections stays online until the last one goes', async (t) => {
  const router = new LocalConnections();
  const first = await serverSideConnection(t, router, alice);
  const second = await serverSideConnection(t, router, alice);
  const other = await serverSideConnection(t, router, bob);
  t.equal(router.pushToUser(alice.id, 'NOTE', { text: 'x' }), 2);
  router.detach(first.conn);
  router.detach(first.conn); // twice is harmless
  t.ok(router.isOnline(alice.id));
  t.equal(router.pushToUser(alice.id, 'NOTE', { text: 'y' }), 1);
  second.conn.close();
  await waitFor(() => !router.isOnline(alice.id));
  t.ok(router.isOnline(bob.id), 'others are untouched');
  other.conn.close();
  await waitFor(() => router.connectionCount() === 1, 5000); // `first` is still connected, only detached
  t.strictSame(router.online(), []);
});

t.test('many connections closing leave nobody behind', async (t) => {
  const router = new LocalConnections();
  const conns = [];
  for (let i = 0; i < 200; i++) conns.push(await serverSideConnection(t, router, { id: 100 + (i % 50), username: `m${i % 50}` }));
  t.equal(router.online().length, 50);
  for (const c of conns) c.conn.close();
  await waitFor(() => router.connectionCount() === 0);
  t.strictSame(router.online(), []);
  for (let i = 0; i < 50; i++) t.notOk(router.isOnline(100 + i));
});

t.test('a closing of sessions heard late spares a connection that logged in after it was decided', async (t) => {
  // Node A changes bob's password (closing his other sessions) and bob logs in again on node B at
  // once with the new one: when B hears A's event, the new login must not be the one closed.
  const router = new LocalConnections();
  const before = await serverSideConnection(t, router, bob);
  const decidedAt = Date.now();
  const after = await serverSideConnection(t, router, bob);
  after.conn.user = { ...after.conn.user!, sessionId: 7, boundAt: decidedAt + 1 };
  t.equal(router.disconnectSessions(bob.id, { except: 99 }, 'SESSION_CLOSED', 'closed elsewhere', decidedAt), 1, 'only the one bound before');
  await waitFor(() => before.received().includes('closed elsewhere'));
  t.notMatch(after.received(), /SESSION_CLOSED/, 'the later login is untouched');
  t.ok(router.isOnline(bob.id));
  t.equal(router.disconnectSessions(bob.id, { all: true }, 'SESSION_CLOSED', 'suspended'), 1, 'with no time given, every selected connection');
});
