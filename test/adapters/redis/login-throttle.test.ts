/**
 * What only the Redis login throttle has (the shared policy is test/contract/throttle/): several
 * nodes' throttles on one Redis count together, report a finished lock once between them, keep
 * at most maxKeys entries, and forget a dead node's unsettled attempts once a failure would be.
 */
import t, { type Test } from 'tap';
import type { ThrottleOptions, ThrottleReport } from '../../../src/core/ports/login-throttle.js';
import { RedisLoginThrottle } from '../../../src/adapters/redis/login-throttle.js';
import { requireCapability } from '../../helpers/capability.js';
import { freshPrefix, redisMissing, redisUrl } from '../../contract/redis.js';

const OPTIONS: ThrottleOptions = {
  freeFailures: 2, baseDelayMs: 100, maxDelayMs: 400, lockoutFailures: 5, addressLockoutFailures: 8, lockoutMs: 60_000, windowMs: 300_000,
  alertFailures: 6, maxKeys: 1000, reportIntervalMs: 60_000,
};

/** Two nodes' throttles on one Redis and one (fake) clock; stopped when the test ends. */
async function twoNodes(t: Test, options = OPTIONS) {
  const url = await redisUrl();
  const prefix = freshPrefix();
  const clock = { now: 1_000_000 };
  const open = async () => {
    const th = await RedisLoginThrottle.connect(url, options, { prefix, now: () => clock.now });
    t.teardown(() => th.stop());
    const reports: ThrottleReport[] = [];
    th.onReport = (r) => reports.push(r);
    return { th, reports };
  };
  return { a: await open(), b: await open(), clock };
}

async function fail(th: RedisLoginThrottle, username: string, address: string) {
  const s = await th.begin(username, address);
  if (s.refused) throw new Error(`refused: ${JSON.stringify(s.refused)}`);
  return s.attempt.fail();
}

t.test('failures through one node lock the pair on the other; the lock is reported once', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const { a, b, clock } = await twoNodes(t);
  for (let i = 0; i < 3; i++) await fail(a.th, 'alice', '192.0.2.1');
  t.equal((await fail(b.th, 'alice', '192.0.2.1')).delayMs, 200, 'node B slows the fourth failure as one node would');
  t.equal((await fail(a.th, 'alice', '192.0.2.1')).lockedNow, 'pair', 'the fifth, on A, locks');
  t.match((await b.th.begin('alice', '192.0.2.1')).refused, { scope: 'pair', locked: true }, 'B refuses');
  t.match((await a.th.begin('alice', '192.0.2.1')).refused, { scope: 'pair', locked: true }, 'A refuses');
  clock.now += 60_001;
  await Promise.all([a.th.sweep(), b.th.sweep()]);
  const refused = [...a.reports, ...b.reports].filter((r) => r.kind === 'refused');
  t.match(refused, [{ scope: 'pair', username: 'alice', address: '192.0.2.1', attempts: 2 }], 'one report between the two nodes');
});

t.test('the per-username alert goes out once in the cluster, from whichever node crossed it', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const { a, b } = await twoNodes(t);
  const alerts = [];
  for (let i = 0; i < 10; i++) {
    const outcome = await fail(i % 2 === 0 ? a.th : b.th, 'target', `203.0.113.${i}`);
    if (outcome.alert) alerts.push(outcome.alert);
  }
  t.equal(alerts.length, 1);
  t.match(alerts[0], { username: 'target', failures: 6 });
  t.equal(alerts[0]!.addresses.length, 6);
});

t.test('at most maxKeys entries: the oldest go, their refused attempts reported first', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const { a } = await twoNodes(t, { ...OPTIONS, maxKeys: 20 });
  for (let i = 0; i < 5; i++) await fail(a.th, 'alice', '192.0.2.1');
  t.ok((await a.th.begin('alice', '192.0.2.1')).refused);
  for (let i = 0; i < 30; i++) {
    const s = await a.th.begin(`user${i}`, `198.51.100.${i}`);
    await s.attempt!.succeed();
  }
  t.ok(await a.th.size() <= 20, `bounded (${await a.th.size()} entries)`);
  t.match(a.reports.filter((r) => r.kind === 'refused'), [{ username: 'alice', attempts: 1 }], 'the dropped lock\'s count was reported');
});

t.test('an attempt a dead node never settled stops counting once a failure would have', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const { a, b, clock } = await twoNodes(t);
  for (let i = 0; i < 5; i++) t.notOk((await a.th.begin('alice', '192.0.2.1')).refused, 'under way on A');
  await a.th.stop(); // A dies with five attempts unsettled
  t.match((await b.th.begin('alice', '192.0.2.1')).refused, { locked: false }, 'they count on B while they may still be running');
  clock.now += OPTIONS.windowMs + 1;
  t.notOk((await b.th.begin('alice', '192.0.2.1')).refused, 'then they are forgotten');
});
