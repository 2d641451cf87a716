/** Presence contract: who is online on which node and connection, as every node sees it. */
import t from 'tap';
import type { PresenceEntry } from '../../../src/core/ports/presence.js';
import { forEachAdapter } from './adapters.js';

function entry(node: string, cid: number, userId: number, extra: Partial<PresenceEntry> = {}): PresenceEntry {
  return {
    node, cid, userId, username: `user${userId}`, address: `192.0.2.${cid % 250}`,
    since: new Date(Date.UTC(2026, 11, 7, 4, 0, cid)).toISOString(), admin: false, popups: true, ...extra,
  };
}

forEachAdapter(t, (t, adapter) => {
  t.test('a member is online while it has a connection on any node, and counted across nodes', async (t) => {
    const medium = await adapter.open(t);
    const a = await medium.node('node-a');
    const b = await medium.node('node-b');
    t.equal(await a.connectionsOf(1), 0);
    t.strictSame([...await a.onlineAmong([1, 2])], []);
    await a.set(entry('node-a', 1, 1));
    await b.set(entry('node-b', 1, 1)); // the same cid on another node is another connection
    await b.set(entry('node-b', 2, 2));
    t.equal(await a.connectionsOf(1), 2);
    t.equal(await b.connectionsOf(1), 2);
    t.equal(await a.connectionsOf(1, { exceptNode: 'node-a' }), 1, 'the other nodes\' only');
    t.equal(await a.connectionsOf(2, { exceptNode: 'node-b' }), 0);
    t.equal(await b.connectionsOf(2, { exceptNode: 'node-a' }), 1);
    t.strictSame([...await a.onlineAmong([1, 2, 3])].sort(), [1, 2]);
    await a.remove('node-a', 1);
    t.equal(await b.connectionsOf(1), 1);
    await b.remove('node-b', 1);
    await b.remove('node-b', 1); // twice is harmless
    t.equal(await a.connectionsOf(1), 0);
    t.strictSame([...await a.onlineAmong([1, 2])], [2]);
  });

  t.test('a connection logged in again as someone else counts for the new member only', async (t) => {
    const medium = await adapter.open(t);
    const a = await medium.node('node-a');
    await a.set(entry('node-a', 5, 1));
    await a.set(entry('node-a', 5, 2, { username: 'user2' }));
    t.equal(await a.connectionsOf(1), 0);
    t.equal(await a.connectionsOf(2), 1);
    t.strictSame((await a.online()).map((o) => [o.userId, o.username, o.connections.length]), [[2, 'user2', 1]]);
  });

  t.test('the online list: members in the order they came online, each with its connections in order', async (t) => {
    const medium = await adapter.open(t);
    const a = await medium.node('node-a');
    const b = await medium.node('node-b');
    await b.set(entry('node-b', 3, 20));
    await a.set(entry('node-a', 1, 10));
    await a.set(entry('node-a', 2, 20));
    const online = await a.online();
    t.strictSame(online.map((o) => o.userId), [20, 10]);
    t.strictSame(online[0]!.connections, [
      { node: 'node-b', cid: 3, address: '192.0.2.3', since: entry('node-b', 3, 20).since },
      { node: 'node-a', cid: 2, address: '192.0.2.2', since: entry('node-a', 2, 20).since },
    ]);
    t.strictSame(await b.online(), online, 'every node sees the same list');
  });

  t.test('a member takes popups when one of its connections does', async (t) => {
    const medium = await adapter.open(t);
    const a = await medium.node('node-a');
    const b = await medium.node('node-b');
    t.equal(await a.acceptsPopups(1), false, 'offline');
    await a.set(entry('node-a', 1, 1, { popups: false }));
    t.equal(await b.acceptsPopups(1), false, 'a one-shot connection takes none');
    await b.set(entry('node-b', 1, 1, { popups: true }));
    t.equal(await a.acceptsPopups(1), true);
    await b.set(entry('node-b', 1, 1, { popups: false }));
    t.equal(await a.acceptsPopups(1), false, 'set again, it changes');
  });

  t.test('a node gone is forgotten at once, the others untouched', async (t) => {
    const medium = await adapter.open(t);
    const a = await medium.node('node-a');
    const b = await medium.node('node-b');
    for (let cid = 1; cid <= 20; cid++) await a.set(entry('node-a', cid, 100 + (cid % 5)));
    await b.set(entry('node-b', 1, 100));
    await b.set(entry('node-b', 2, 999));
    await b.removeNode('node-a');
    t.equal(await b.connectionsOf(100), 1);
    t.equal(await a.connectionsOf(101), 0);
    t.strictSame((await a.online()).map((o) => o.userId), [100, 999]);
  });

  t.test('a node that stops renewing its entries drops out by itself', async (t) => {
    if (!adapter.expires) {
      t.pass(`a ${adapter.name} node cannot stop without its presence`);
      return;
    }
    const medium = await adapter.open(t);
    const dying = await medium.node('node-a', { ttlMs: 600 });
    const other = await medium.node('node-b');
    await dying.set(entry('node-a', 1, 1));
    await other.set(entry('node-b', 1, 2));
    await new Promise((r) => setTimeout(r, 1000));
    t.equal(await other.connectionsOf(1), 1, 'kept while its heartbeat runs');
    await dying.close(); // as if killed: no heartbeat, no clean-up
    const until = Date.now() + 5000;
    while ((await other.connectionsOf(1)) > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    t.equal(await other.connectionsOf(1), 0, 'gone within its time to live');
    t.strictSame((await other.online()).map((o) => o.userId), [2]);
  });
});
