/**
 * The periodic catch-up (--catch-up-interval, issue 19): a wake-up lost on the bus delays a popup by
 * at most the interval and never loses it. Two real nodes on one store; node B listens on a bus
 * channel node A does not publish to (another key prefix on the same Redis), so every wake-up of A's
 * is lost to B, as Redis pub/sub loses them across a disconnect. B's members still get every popup
 * sent through A, once each, from the store; with the catch-up off they would wait for their next login.
 */
import path from 'node:path';
import t, { type Test } from 'tap';
import { SiarClient } from '../../../src/client/index.js';
import { SiarServer } from '../../../src/server/server.js';
import { RedisBus } from '../../../src/adapters/redis/bus.js';
import { RedisPresence } from '../../../src/adapters/redis/presence.js';
import { RedisTrafficCounters } from '../../../src/adapters/redis/traffic-counters.js';
import { RedisLeases } from '../../../src/adapters/redis/lease.js';
import { MemorySendRate } from '../../../src/adapters/memory/send-rate.js';
import { MemoryLoginThrottle } from '../../../src/adapters/memory/login-throttle.js';
import { createLogger } from '../../../src/server/logger.js';
import { PeriodicCatchUp } from '../../../src/core/services/delivery.js';
import { popupOutlet } from '../../../src/server/delivery.js';
import { requireCapability } from '../../helpers/capability.js';
import { Capture, startServer, tempDir, until } from '../../helpers/siar.js';
import { clusterBus, freshPrefix, redisMissing } from '../../contract/redis.js';

/** This file's Redis database (test/contract/redis.ts, clusterBus). */
const REDIS_DB = 15;

/**
 * A second node on node A's store whose bus is a channel of its own (another key prefix): it hears
 * none of A's wake-ups. `catchUpIntervalMs` 0: no periodic catch-up.
 */
async function deafNode(t: Test, url: string, nodeId: string, storeDir: string, catchUpIntervalMs: number) {
  const prefix = freshPrefix();
  const node = {
    bus: await RedisBus.connect(url, nodeId, { prefix }),
    presence: await RedisPresence.connect(url, { prefix }),
    counters: await RedisTrafficCounters.connect(url, 60, { prefix }),
    throttle: new MemoryLoginThrottle(),
    sendRate: new MemorySendRate(0),
    reportRate: new MemorySendRate(0),
    leases: await RedisLeases.connect(url, { prefix }),
  };
  const b = await SiarServer.start({
    host: '127.0.0.1', port: 0, dataDir: tempDir(t), store: path.join(storeDir, 'siar.db'), bus: url, nodeId, catchUpIntervalMs,
  }, { logger: createLogger('debug', new Capture()), adapters: { node } });
  t.teardown(async () => {
    await b.stop();
    await Promise.all([node.bus.close(), node.presence.close(), node.counters.close(), node.leases.close()]);
  });
  return { b, node };
}

/** `username` logs in on node B with popups; `sender` (on node A) sends it five messages. */
async function fiveSentTo(t: Test, b: SiarServer, username: string, password: string, sender: SiarClient) {
  const c = await SiarClient.connect({ host: '127.0.0.1', port: b.address().port });
  t.teardown(() => c.close());
  await c.login(username, password);
  const popups: number[] = [];
  c.on('popup', (p) => popups.push(p.id));
  const sent: number[] = [];
  for (let i = 0; i < 5; i++) sent.push((await sender.send({ to: [username], subject: `lost wake-up ${i}` })).id);
  return { popups, sent };
}

t.test('popups whose wake-up never reached node B arrive there through the periodic catch-up, each once', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const url = await clusterBus(REDIS_DB);
  const a = await startServer(t, { bus: url, nodeId: `a-${process.pid}`, catchUpIntervalMs: 0 });
  // Node B: the same store and Redis, but a bus channel of its own: it hears nothing A publishes.
  const { b, node } = await deafNode(t, url, `b-${process.pid}`, a.dataDir, 400);
  let heardOnB = 0;
  node.bus.subscribe((e) => { if (e.type === 'message_stored') heardOnB++; });

  const { password } = await a.member('bob');
  const alice = await a.memberClient('alice');
  const { popups, sent } = await fiveSentTo(t, b, 'bob', password, alice);
  await until('every popup on B', () => popups.length >= sent.length, 20_000);
  // Two more ticks: nothing comes twice.
  await new Promise((r) => setTimeout(r, 1000));
  t.same(popups, sent, 'each popup once, oldest first');
  t.equal(heardOnB, 0, 'B never heard a wake-up: the catch-up delivered them');
  const undelivered = await b.store.listUndelivered((await b.store.getUserByUsername('bob'))!.id, 10);
  t.same(undelivered, [], 'and recorded them delivered');

  const outbox = await alice.request('OUTBOX');
  t.ok(outbox.items.length >= 5, 'the sender sees them sent');
});

t.test('a tick pushes at most its batch; the rest follow at the next ticks', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const url = await clusterBus(REDIS_DB);
  const a = await startServer(t, { bus: url, nodeId: `a2-${process.pid}`, catchUpIntervalMs: 0 });
  const { password } = await a.member('carol');
  const alice = await a.memberClient('alice');
  const { b } = await deafNode(t, url, `b2-${process.pid}`, a.dataDir, 0);
  const { popups, sent } = await fiveSentTo(t, b, 'carol', password, alice);

  // The server's own catch-up is off (0); a pass with a batch of 2, run by hand, takes the oldest two.
  const catchUp = new PeriodicCatchUp({
    store: b.store, outlet: popupOutlet(b.router.local), counters: b.stats, intervalMs: 0, batch: 2, onError: (err) => { throw err; },
  });
  t.equal(await catchUp.tick(), 2);
  await until('two popups', () => popups.length === 2, 10_000);
  t.same(popups, sent.slice(0, 2), 'the oldest two');
  t.equal(await catchUp.tick(), 2);
  t.equal(await catchUp.tick(), 1);
  t.equal(await catchUp.tick(), 0, 'nothing left');
  await until('all popups', () => popups.length === 5, 10_000);
  t.same(popups, sent, 'each once, in order');
});
