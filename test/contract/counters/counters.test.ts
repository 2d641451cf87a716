/** Traffic-counters contract: counts per node and their sum; completed minutes per node, bounded, summed per minute. */
import t from 'tap';
import type { MinuteSample } from '../../../src/protocol/index.js';
import { forEachAdapter } from './adapters.js';

function minute(i: number, extra: Partial<MinuteSample> = {}): MinuteSample {
  return {
    at: new Date(Date.UTC(2026, 11, 7, 4, i)).toISOString(), messages: 1, popups: 2, bytesIn: 100, bytesOut: 200, connectionsOpened: 1,
    connections: 3, liveListeners: 0, transfers: 0, loopP99Ms: 1, loopMaxMs: 2, urgent: 0, freedBytes: 0, partial: false, ...extra,
  };
}

forEachAdapter(t, (t, adapter) => {
  t.test('each node\'s counts add up, and the totals are their sum', async (t) => {
    const medium = await adapter.open(t, 60);
    const a = await medium.node('node-a');
    const b = await medium.node('node-b');
    t.strictSame(await a.totals(), { nodes: [], total: { messages: 0, popups: 0, bytesIn: 0, bytesOut: 0, connectionsOpened: 0, urgent: 0, freedBytes: 0 } });
    await a.add('node-a', { messages: 2, popups: 5 });
    await b.add('node-b', { messages: 1, bytesIn: 1000, bytesOut: 10, connectionsOpened: 4 });
    await a.add('node-a', { messages: 3 });
    const totals = await b.totals();
    t.strictSame(totals.nodes, [
      { node: 'node-a', counters: { messages: 5, popups: 5, bytesIn: 0, bytesOut: 0, connectionsOpened: 0, urgent: 0, freedBytes: 0 } },
      { node: 'node-b', counters: { messages: 1, popups: 0, bytesIn: 1000, bytesOut: 10, connectionsOpened: 4, urgent: 0, freedBytes: 0 } },
    ]);
    t.strictSame(totals.total, { messages: 6, popups: 5, bytesIn: 1000, bytesOut: 10, connectionsOpened: 4, urgent: 0, freedBytes: 0 });
    await a.restart('node-a');
    await a.add('node-a', { popups: 1 });
    await b.restart('node-c');
    t.strictSame((await b.totals()).nodes, [
      { node: 'node-a', counters: { messages: 0, popups: 1, bytesIn: 0, bytesOut: 0, connectionsOpened: 0, urgent: 0, freedBytes: 0 } },
      { node: 'node-b', counters: { messages: 1, popups: 0, bytesIn: 1000, bytesOut: 10, connectionsOpened: 4, urgent: 0, freedBytes: 0 } },
      { node: 'node-c', counters: { messages: 0, popups: 0, bytesIn: 0, bytesOut: 0, connectionsOpened: 0, urgent: 0, freedBytes: 0 } },
    ], 'a node started again counts from zero, in its place; a new one is listed at once');
  });

  t.test('urgent messages and freed attachment bytes are counted per node and summed like the others (issue 21)', async (t) => {
    const medium = await adapter.open(t, 60);
    const a = await medium.node('node-a');
    const b = await medium.node('node-b');
    await a.add('node-a', { messages: 3, urgent: 2 });
    await b.add('node-b', { urgent: 1, freedBytes: 5 * 1024 ** 3 });
    await a.add('node-a', { freedBytes: 1234 });
    const totals = await a.totals();
    t.match(totals.nodes, [{ node: 'node-a', counters: { urgent: 2, freedBytes: 1234 } }, { node: 'node-b', counters: { urgent: 1, freedBytes: 5 * 1024 ** 3 } }]);
    t.match(totals.total, { messages: 3, urgent: 3, freedBytes: 5 * 1024 ** 3 + 1234 }, 'bytes beyond 32 bits add up exactly');
    await a.recordMinute('node-a', minute(0, { urgent: 2, freedBytes: 100 }));
    await b.recordMinute('node-b', minute(0, { urgent: 1 }));
    t.match((await a.history(5))[0], { urgent: 3, freedBytes: 100 }, 'a minute sums them over the nodes');
    const { urgent: _u, freedBytes: _f, ...older } = minute(1);
    await a.recordMinute('node-a', older as unknown as ReturnType<typeof minute>);
    await b.recordMinute('node-b', minute(1, { urgent: 4 }));
    t.match((await b.history(5))[1], { urgent: 4, freedBytes: 0 }, 'a minute a node recorded before the counters existed reads them as 0');
  });

  t.test('minutes are kept per node, oldest first, at most historyMinutes of them', async (t) => {
    const medium = await adapter.open(t, 3);
    const a = await medium.node('node-a');
    for (let i = 0; i < 5; i++) await a.recordMinute('node-a', minute(i, { messages: i }));
    t.strictSame((await a.history(10, 'node-a')).map((m) => m.messages), [2, 3, 4]);
    t.strictSame((await a.history(2, 'node-a')).map((m) => m.messages), [3, 4]);
    t.strictSame(await a.history(0, 'node-a'), []);
    t.strictSame(await a.history(10, 'node-z'), [], 'a node never heard of has none');
  });

  t.test('the nodes\' samples of one minute are summed; lateness is the worst node\'s', async (t) => {
    const medium = await adapter.open(t, 60);
    const a = await medium.node('node-a');
    const b = await medium.node('node-b');
    await a.recordMinute('node-a', minute(0));
    await a.recordMinute('node-a', minute(1, { loopMaxMs: 50 }));
    await b.recordMinute('node-b', minute(1, { messages: 10, connections: 7, loopP99Ms: 9 }));
    const h = await b.history(10);
    t.strictSame(h.map((m) => m.at), [minute(0).at, minute(1).at]);
    t.match(h[1], { messages: 11, popups: 4, bytesIn: 200, connections: 10, loopP99Ms: 9, loopMaxMs: 50, partial: false });
    t.strictSame(h[0], minute(0), 'a minute one node reported is as it reported it');
  });
});
