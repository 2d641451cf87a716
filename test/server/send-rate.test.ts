/** The per-member sending rate (issue 20 item 5): a sliding one-minute window, with a clock the test moves. */
import t from 'tap';
import { SendRate } from '../../src/server/send-rate.js';

const MINUTE = 60_000;

t.test('a member may send perMinute at once, then waits; other members are counted apart', async (t) => {
  let now = 10 * MINUTE; // the start of a minute
  const rate = new SendRate(6, () => now);
  for (let i = 0; i < 6; i++) t.same(rate.take(1), { ok: true }, `send ${i + 1}`);
  const refused = rate.take(1);
  t.equal(refused.ok, false, 'the seventh in the same minute is refused');
  // The burst fell at the start of a minute: it counts fully until the next one starts, then fades.
  t.ok(!refused.ok && refused.retryAfterMs > MINUTE && refused.retryAfterMs <= MINUTE + MINUTE / 6 + 1000,
    `with a wait of a minute and a sixth at most (${!refused.ok ? refused.retryAfterMs : 0} ms)`);
  t.equal(rate.lastMinute(1), 6, 'six in the last minute');
  t.same(rate.take(2), { ok: true }, 'another member is not affected');
  now += !refused.ok ? refused.retryAfterMs : 0;
  t.same(rate.take(1), { ok: true }, 'after the wait it told, one more fits');
});

t.test('the window slides: last minute\'s sends count less as this minute goes on', async (t) => {
  let now = 20 * MINUTE;
  const rate = new SendRate(10, () => now);
  for (let i = 0; i < 10; i++) rate.take(1);
  now = 21 * MINUTE + MINUTE / 2; // halfway through the next minute: the ten count as five
  t.equal(rate.lastMinute(1), 5);
  for (let i = 0; i < 4; i++) t.same(rate.take(1), { ok: true }, `send ${i + 1} of the next minute`);
  t.equal(rate.take(1).ok, true, 'the fifth makes ten');
  t.equal(rate.take(1).ok, false, 'the sixth would be eleven');
  now = 23 * MINUTE;
  t.equal(rate.lastMinute(1), 0, 'two minutes later nothing counts');
});

t.test('0 means no limit', async (t) => {
  const rate = new SendRate(0);
  for (let i = 0; i < 1000; i++) if (!rate.take(1).ok) t.fail('refused');
  t.equal(rate.lastMinute(1), 0, 'and nothing is counted');
});
