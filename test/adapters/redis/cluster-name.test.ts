/**
 * Two clusters on one Redis database (issue 19): what --cluster-name keeps apart. The node adapters
 * are opened the way the server opens them (openNode, src/adapters/index.ts) on one real Redis and
 * its default database: nodes of clusters with different names hear none of each other's events and
 * see none of each other's presence, leases, login-throttle counts or traffic, even under the same
 * node id; nodes of the same name share all of them. Then a real `siar server --cluster-name` writes
 * every key under siar@NAME: and nothing under the unnamed cluster's siar:.
 */
import path from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { openNode, type NodeAdapters } from '../../../src/adapters/index.js';
import type { BusEvent } from '../../../src/core/ports/bus.js';
import type { PresenceEntry } from '../../../src/core/ports/presence.js';
import { DEFAULT_THROTTLE, type ThrottleOptions } from '../../../src/server/throttle.js';
import { requireCapability } from '../../helpers/capability.js';
import { tempDir } from '../../helpers/siar.js';
import { ChildServer, freePort, waitFor } from '../../reliability/helpers.js';
import { redisMissing, redisUrl } from '../../contract/redis.js';

t.setTimeout(120_000);

const THROTTLE: ThrottleOptions = { ...DEFAULT_THROTTLE, freeFailures: 0, baseDelayMs: 0, maxDelayMs: 0, lockoutFailures: 3, addressLockoutFailures: 100 };

/** A name no other run uses (the database is shared with every other test). */
const unique = (tag: string): string => `t${process.pid}-${Date.now().toString(36)}-${tag}`;

/** Every key of the database that begins with `prefix`. */
async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys.sort();
}

/** The node adapters of `nodeId` in cluster `name`, closed (and the cluster's keys removed) when the test ends. */
async function node(t: Test, url: string, name: string, nodeId: string): Promise<NodeAdapters> {
  const adapters = await openNode({ bus: url, nodeId, clusterName: name, statsHistoryMinutes: 60, loginThrottle: THROTTLE, maxSendsPerMinute: 2, maxReportsPerMinute: 1 }, pino({ level: 'silent' }));
  t.teardown(async () => {
    await adapters.throttle.stop();
    await Promise.all([adapters.bus.close(), adapters.presence.close(), adapters.counters.close(), adapters.leases.close(), adapters.sendRate.stop(), adapters.reportRate.stop()]);
    const redis = new Redis(url);
    const keys = await keysUnder(redis, `siar@${name}:`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });
  return adapters;
}

const entry = (node: string, userId: number): PresenceEntry => ({
  node, cid: 1, userId, username: `u${userId}`, address: '127.0.0.1', since: new Date().toISOString(), admin: false, popups: true,
});

const notice = (n: number): BusEvent => ({ type: 'admin_notice', event: 'TEST', args: { n } });

/** The `n` of every TEST notice a node hears. */
function heard(adapters: NodeAdapters): number[] {
  const ns: number[] = [];
  adapters.bus.subscribe((e) => { if (e.type === 'admin_notice' && e.event === 'TEST') ns.push(Number((e.args as { n: number }).n)); });
  return ns;
}

t.test('clusters with different names on one Redis database share nothing; nodes of one name share everything', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const url = await redisUrl();
  const [nameA, nameB] = [unique('a'), unique('b')];
  // The same node id in both clusters: the name alone keeps them apart.
  const a1 = await node(t, url, nameA, 'node-1');
  const a2 = await node(t, url, nameA, 'node-2');
  const b1 = await node(t, url, nameB, 'node-1');
  const onA2 = heard(a2);
  const onB1 = heard(b1);

  // The bus: A's event reaches A's other node; B's own later event reaches B, A's never did.
  await a1.bus.publish(notice(1));
  t.ok(await waitFor(() => onA2.includes(1), 10_000), 'node 2 of A hears node 1 of A');
  await b1.bus.publish(notice(2));
  t.ok(await waitFor(() => onB1.includes(2), 10_000), 'B hears its own event');
  // Redis hands a subscriber the messages of a channel in the order they were published: had B's
  // channel been A's, event 1 (published, and heard by A, before 2) would have come first.
  t.strictSame(onB1, [2], 'B never heard A\'s event');
  await a1.bus.publish(notice(3));
  t.ok(await waitFor(() => onA2.includes(3), 10_000), 'A hears its next event');
  t.strictSame(onA2, [1, 3], 'and never heard B\'s, published before it');

  // Presence.
  // Presence: member 7 on node-1 of A, member 8 on node-1 of B.
  await a1.presence.set(entry('node-1', 7));
  await b1.presence.set(entry('node-1', 8));
  t.equal(await a2.presence.connectionsOf(7), 1, 'A\'s other node sees its member online');
  t.ok(await a2.presence.acceptsPopups(7));
  t.equal(await b1.presence.connectionsOf(7), 0, 'B does not');
  t.notOk(await b1.presence.acceptsPopups(7));
  t.equal(await a2.presence.connectionsOf(8), 0, 'nor A B\'s');
  t.strictSame((await a2.presence.online()).map((o) => o.userId), [7], 'A\'s online list: its own');
  t.strictSame((await b1.presence.online()).map((o) => o.userId), [8], 'B\'s: its own');
  await a1.presence.removeNode('node-1');
  t.equal(await b1.presence.connectionsOf(8), 1, 'A forgetting its node-1 leaves B\'s node-1 alone');

  // Leases: one holder per name and cluster.
  const lease = await a1.leases.acquire('mail-queue', 10_000);
  t.ok(lease, 'node 1 of A holds the mail queue');
  t.equal(await a2.leases.acquire('mail-queue', 10_000), null, 'so node 2 of A does not');
  t.ok(await b1.leases.acquire('mail-queue', 10_000), 'B\'s mail queue is its own');

  // The login throttle: A locks the pair on both its nodes, not on B.
  for (let i = 0; i < THROTTLE.lockoutFailures; i++) {
    const started = await a1.throttle.begin('target', '10.0.0.9');
    if (started.refused) break;
    await started.attempt.fail();
  }
  t.ok((await a2.throttle.begin('target', '10.0.0.9')).refused, 'the pair is locked on A\'s other node');
  const onB = await b1.throttle.begin('target', '10.0.0.9');
  t.notOk(onB.refused, 'and free on B');
  await onB.attempt?.abandon();

  // The sending rate (2 a minute): A's member at its limit on both A's nodes, not on B.
  t.same([await a1.sendRate.take(7), await a1.sendRate.take(7)], [{ ok: true }, { ok: true }]);
  t.equal((await a2.sendRate.take(7)).ok, false, 'member 7 is at its limit on A\'s other node');
  t.same(await b1.sendRate.take(7), { ok: true }, 'and free on B');
  // The report rate (1 a minute): a counter of its own, one for A's nodes.
  t.same(await a1.reportRate.take(7), { ok: true }, 'member 7\'s sends do not count against its reports');
  t.equal((await a2.reportRate.take(7)).ok, false, 'its report on A\'s other node is refused');
  t.same(await b1.reportRate.take(7), { ok: true }, 'and free on B');

  // Traffic counters.
  await a1.counters.add('node-1', { messages: 5 });
  await b1.counters.add('node-1', { messages: 2 });
  t.equal((await a2.counters.totals()).total.messages, 5, 'A counts A\'s messages');
  t.match(await b1.counters.totals(), { nodes: [{ node: 'node-1', counters: { messages: 2 } }], total: { messages: 2 } }, 'B only its own');

  // Everything A wrote is under its prefix; B's under B's.
  const redis = new Redis(url);
  t.teardown(() => redis.disconnect());
  const ofA = await keysUnder(redis, `siar@${nameA}:`);
  const ofB = await keysUnder(redis, `siar@${nameB}:`);
  for (const part of ['presence:', 'lease:mail-queue', 'throttle:', 'send:', 'traffic:']) {
    t.ok(ofA.some((k) => k.startsWith(`siar@${nameA}:${part}`)), `A's ${part} keys are under siar@${nameA}:`);
    t.ok(ofB.some((k) => k.startsWith(`siar@${nameB}:${part}`)), `B's ${part} keys are under siar@${nameB}:`);
  }
  const unnamed = (await keysUnder(redis, 'siar:')).filter((k) => k.includes(nameA) || k.includes(nameB) || k.includes('node-1'));
  t.strictSame(unnamed, [], 'nothing under the unnamed cluster\'s siar:');
});

t.test('a real node with --cluster-name keeps every key under siar@NAME:', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const url = await redisUrl();
  const name = unique('node');
  const nodeId = `${name}-n1`;
  const redis = new Redis(url);
  t.teardown(() => redis.disconnect());
  const root = tempDir(t, 'siar-cluster-name-');
  const server = await ChildServer.start({
    dataDir: path.join(root, 'data'), port: await freePort(), logLevel: 'info', args: ['--bus', url, '--cluster-name', name, '--node-id', nodeId],
  });
  t.teardown(async () => {
    await server.stop();
    const keys = await keysUnder(redis, `siar@${name}:`);
    if (keys.length > 0) await redis.del(...keys);
  });
  // The node listed in the traffic counters at start; the lease of each once-per-cluster job taken.
  const prefix = `siar@${name}:`;
  t.ok(await waitFor(async () => {
    const keys = await keysUnder(redis, prefix);
    return keys.some((k) => k.startsWith(`${prefix}lease:mail-queue:`)) && keys.includes(`${prefix}lease:registration-expiry`);
  }, 20_000), `the leases are under ${prefix}`);
  t.not(await redis.zscore(`${prefix}traffic:nodes`, nodeId), null, `the node is in ${prefix}traffic:nodes`);
  const stray = (await keysUnder(redis, 'siar:')).filter((k) => k.includes(nodeId));
  t.strictSame(stray, [], 'nothing of this node under siar:');
  const channels = await redis.pubsub('CHANNELS', `${prefix}*`) as string[];
  t.strictSame(channels, [`${prefix}bus`], 'its bus channel is the cluster\'s');
});
