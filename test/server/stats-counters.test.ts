/** TrafficStats hands each completed minute to the traffic-counters port, under its node's name. */
import t from 'tap';
import { TrafficStats } from '../../src/server/stats.js';
import { MemoryTrafficCounters } from '../../src/adapters/memory/traffic-counters.js';

t.test('completed minutes and their counts reach the counters port; the running minute does not', async (t) => {
  const port = new MemoryTrafficCounters(10);
  let now = 0;
  const stats = new TrafficStats({ now: () => now, counters: { port, node: 'node-a' } });
  stats.messageStored();
  stats.popupDelivered(3);
  now = 60_000;
  stats.catchUp();
  stats.messageStored(); // the running minute
  await new Promise((r) => setImmediate(r));
  t.strictSame((await port.totals()).nodes, [{ node: 'node-a', counters: { messages: 1, popups: 3, bytesIn: 0, bytesOut: 0, connectionsOpened: 0, urgent: 0, freedBytes: 0 } }]);
  t.match(await port.history(5, 'node-a'), [{ at: new Date(0).toISOString(), messages: 1, popups: 3, partial: false }]);
  now = 3 * 60_000;
  stats.catchUp();
  await new Promise((r) => setImmediate(r));
  t.strictSame((await port.history(5)).map((m) => m.messages), [1, 1, 0], 'every closed minute, the empty one too');
  t.equal((await port.totals()).total.messages, 2);
});

t.test('counts also go to the port between minutes; cluster() has this node live and the others as flushed, with the sum', async (t) => {
  const port = new MemoryTrafficCounters(10);
  let now = 0;
  const a = new TrafficStats({ now: () => now, counters: { port, node: 'node-a' } });
  const b = new TrafficStats({ now: () => now, counters: { port, node: 'node-b' } });
  a.messageStored();
  a.messageStored();
  b.popupDelivered(5);
  a.flushCounts();
  b.flushCounts();
  b.flushCounts(); // nothing new: nothing added twice
  a.messageStored(); // not flushed yet
  await new Promise((r) => setImmediate(r));
  const seenByB = await b.cluster();
  t.equal(seenByB.node, 'node-b');
  t.strictSame(seenByB.nodes.map((n) => [n.node, n.counters.messages, n.counters.popups]), [['node-a', 2, 0], ['node-b', 0, 5]], 'A as flushed');
  t.strictSame((await a.cluster()).nodes.map((n) => [n.node, n.counters.messages]), [['node-a', 3], ['node-b', 0]], 'A sees itself live');
  t.match(seenByB.total, { messages: 2, popups: 5 });
  t.strictSame((await new TrafficStats({ now: () => now }).cluster()).nodes.map((n) => n.node), ['local'], 'without a port: this node alone');
});

t.test('urgent messages and freed attachment bytes are counted per minute and reach the port (issue 21)', async (t) => {
  const port = new MemoryTrafficCounters(10);
  let now = 0;
  const stats = new TrafficStats({ now: () => now, counters: { port, node: 'node-a' } });
  stats.messageStored();
  stats.urgentSent();
  stats.attachmentsFreed(4096);
  t.match(stats.history(0), [{ urgent: 1, freedBytes: 4096, partial: true }], 'the running minute, alone with minutes=0');
  t.match(stats.totals(), { urgent: 1, freedBytes: 4096 });
  now = 60_000;
  stats.catchUp();
  stats.urgentSent();
  await new Promise((r) => setImmediate(r));
  t.match((await port.totals()).nodes[0]!.counters, { messages: 1, urgent: 1, freedBytes: 4096 }, 'the completed minute reached the port');
  t.match(await port.history(5, 'node-a'), [{ urgent: 1, freedBytes: 4096, partial: false }]);
  t.match(stats.history(5), [{ urgent: 1, freedBytes: 4096 }, { urgent: 1, freedBytes: 0, partial: true }]);
  t.match(stats.totals(), { urgent: 2, freedBytes: 4096 });
});
