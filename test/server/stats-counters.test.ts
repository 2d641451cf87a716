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
