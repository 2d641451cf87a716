/**
 * Two siar server nodes on one store and one Redis bus: a scheduled message and its automatic
 * reminders happen once per cluster, not once per node (the store's atomic claim, issue 21), and
 * the member on the other node gets them through the bus.
 */
import path from 'node:path';
import t from 'tap';
import { SiarClient } from '../../../src/client/index.js';
import { requireCapability } from '../../helpers/capability.js';
import { collectPushes, startServer, until } from '../../helpers/siar.js';
import { clusterBus, redisMissing } from '../../contract/redis.js';

/** This file's Redis database (test/contract/redis.ts, clusterBus). */
const REDIS_DB = 14;

t.test('a scheduled message with reminders goes out once and reminds once per period, with two nodes running', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const bus = await clusterBus(REDIS_DB);
  const fast = { remindMinIntervalMs: 1000 };
  const a = await startServer(t, { ...fast, bus, nodeId: `a-${process.pid}` });
  const b = await startServer(t, { ...fast, bus, nodeId: `b-${process.pid}`, store: path.join(a.dataDir, 'siar.db') });
  const { password } = await a.member('bob');
  const alice = await a.memberClient('alice');
  const bob = await SiarClient.connect({ host: '127.0.0.1', port: b.port });
  t.teardown(() => bob.close());
  await bob.login('bob', password);
  const popups = collectPushes(bob, 'POPUP');

  const sent = await alice.send({ to: ['bob'], subject: 'Apel', at: '2s', ack: true, remindEvery: 1, remindMax: 3 });
  t.equal(sent.state, 'scheduled');
  await until('the popup and three reminders came', () => popups.length >= 4, 30_000);
  const store = a.server.store;
  await until('the reminders are over', async () => (await store.alertsOf([sent.id])).get(sent.id)!.nextRemindAt === null, 30_000);
  await new Promise((r) => setTimeout(r, 1500)); // a tick of each node more: nothing else comes
  await bob.ping();
  t.strictSame(popups.map((p) => p.get('reminder') ?? ''), ['', '1', '2', '3'], 'the popup once, then each reminder once');
  const admin = await a.adminClient();
  t.equal((await admin.admin.audit({ kind: 'message_delivered_scheduled' })).length, 1, 'released by one node');
  t.equal((await admin.admin.audit({ kind: 'message_reminded' })).length, 3, 'each reminder by one node');
});
