/**
 * Sending-rate contract (issue 20 item 5; one count across the cluster since issue 19): a sliding
 * one-minute window per member, with a clock the test moves; counted and decided in one step, on
 * every node alike.
 */
import t from 'tap';
import { forEachAdapter } from './adapters.js';

const MINUTE = 60_000;

forEachAdapter(t, (t, adapter) => {
  t.test('a member may send perMinute at once, then waits; other members are counted apart', async (t) => {
    let now = 10 * MINUTE; // the start of a minute
    const rate = await (await adapter.open(t, 6, () => now)).node();
    for (let i = 0; i < 6; i++) t.same(await rate.take(1), { ok: true }, `send ${i + 1}`);
    const refused = await rate.take(1);
    t.equal(refused.ok, false, 'the seventh in the same minute is refused');
    // The burst fell at the start of a minute: it counts fully until the next one starts, then fades.
    t.ok(!refused.ok && refused.retryAfterMs > MINUTE && refused.retryAfterMs <= MINUTE + MINUTE / 6 + 1000,
      `with a wait of a minute and a sixth at most (${!refused.ok ? refused.retryAfterMs : 0} ms)`);
    t.same(await rate.lastMinute([1]), new Map([[1, 6]]), 'six in the last minute (the refused one is not counted)');
    t.same(await rate.take(2), { ok: true }, 'another member is not affected');
    now += !refused.ok ? refused.retryAfterMs : 0;
    t.same(await rate.take(1), { ok: true }, 'after the wait it told, one more fits');
  });

  t.test('the window slides: last minute\'s sends count less as this minute goes on', async (t) => {
    let now = 20 * MINUTE;
    const rate = await (await adapter.open(t, 10, () => now)).node();
    for (let i = 0; i < 10; i++) await rate.take(1);
    now = 21 * MINUTE + MINUTE / 2; // halfway through the next minute: the ten count as five
    t.same(await rate.lastMinute([1]), new Map([[1, 5]]));
    for (let i = 0; i < 4; i++) t.same(await rate.take(1), { ok: true }, `send ${i + 1} of the next minute`);
    t.equal((await rate.take(1)).ok, true, 'the fifth makes ten');
    t.equal((await rate.take(1)).ok, false, 'the sixth would be eleven');
    now = 23 * MINUTE;
    t.same(await rate.lastMinute([1]), new Map([[1, 0]]), 'two minutes later nothing counts');
    t.same(await rate.take(1), { ok: true }, 'and a send fits at once');
  });

  t.test('0 means no limit', async (t) => {
    const rate = await (await adapter.open(t, 0, () => 30 * MINUTE)).node();
    let refused = 0;
    for (let i = 0; i < 500; i++) if (!(await rate.take(1)).ok) refused++;
    t.equal(refused, 0, 'nothing refused');
    t.same(await rate.lastMinute([1]), new Map([[1, 0]]), 'and nothing is counted');
  });

  t.test('the nodes of a cluster share one count: sends through two nodes stop at the limit', async (t) => {
    const now = 40 * MINUTE + 1000;
    const cluster = await adapter.open(t, 6, () => now);
    const [a, b] = [await cluster.node(), await cluster.node()];
    for (let i = 0; i < 3; i++) t.same(await a.take(7), { ok: true }, `send ${i + 1} through A`);
    for (let i = 0; i < 3; i++) t.same(await b.take(7), { ok: true }, `send ${i + 1} through B`);
    t.equal((await a.take(7)).ok, false, 'A refuses the seventh');
    t.equal((await b.take(7)).ok, false, 'so does B');
    t.same(await a.lastMinute([7]), new Map([[7, 6]]), 'A counts the sends of both');
    t.same(await b.lastMinute([7]), new Map([[7, 6]]), 'so does B');
  });

  t.test('sends at once through two nodes: exactly the limit pass', async (t) => {
    const cluster = await adapter.open(t, 10, () => 50 * MINUTE);
    const [a, b] = [await cluster.node(), await cluster.node()];
    const verdicts = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).take(3)));
    t.equal(verdicts.filter((v) => v.ok).length, 10, 'ten of thirty counted');
    t.same(await a.lastMinute([3]), new Map([[3, 10]]));
  });

  t.test('lastMinute answers for many members at once, 0 for those who sent nothing', async (t) => {
    const rate = await (await adapter.open(t, 100, () => 60 * MINUTE + 5000)).node();
    for (const [id, n] of [[1, 3], [2, 1], [4, 7]] as const) for (let i = 0; i < n; i++) await rate.take(id);
    t.same(await rate.lastMinute([4, 3, 2, 1]), new Map([[4, 7], [3, 0], [2, 1], [1, 3]]));
    t.same(await rate.lastMinute([]), new Map(), 'none asked, none answered');
    const many = Array.from({ length: 1200 }, (_, i) => i + 1); // more than one batch of an adapter that reads in batches
    const counts = await rate.lastMinute(many);
    t.equal(counts.size, 1200, 'a long list is answered whole');
    t.same([counts.get(1), counts.get(4), counts.get(1200)], [3, 7, 0]);
  });

  t.test('two clusters keep their counts apart', async (t) => {
    const now = 70 * MINUTE;
    const one = await (await adapter.open(t, 2, () => now)).node();
    const two = await (await adapter.open(t, 2, () => now)).node();
    await one.take(1);
    await one.take(1);
    t.equal((await one.take(1)).ok, false, 'the first cluster is at its limit');
    t.same(await two.take(1), { ok: true }, 'the second is not');
  });
});
