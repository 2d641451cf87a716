/** Login-throttle contract: slow, then lock, per pair and per address; alert per username; counted before the check. */
import t from 'tap';
import type { LoginThrottleState, ThrottleOptions, ThrottleReport } from '../../../src/core/ports/login-throttle.js';
import { forEachAdapter } from './adapters.js';

const OPTIONS: ThrottleOptions = {
  freeFailures: 2, baseDelayMs: 100, maxDelayMs: 400, lockoutFailures: 5, addressLockoutFailures: 8, lockoutMs: 60_000, windowMs: 300_000,
  alertFailures: 6, maxKeys: 1000, reportIntervalMs: 60_000,
};

/** One attempt begun and failed; what came of it. */
async function failOnce(th: LoginThrottleState, username: string, address: string) {
  const started = await th.begin(username, address);
  if (started.refused) return { refused: started.refused, delayMs: 0, lockedNow: null, alert: null };
  return { refused: null, ...(await started.attempt.fail()) };
}

forEachAdapter(t, (t, adapter) => {
  t.test('a pair is slowed past its free failures, then locked; other pairs go on; the lock runs out', async (t) => {
    let now = 1_000_000;
    const th = await adapter.open(t, OPTIONS, () => now);
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await failOnce(th, 'alice', '192.0.2.1');
      t.equal(r.refused, null);
      delays.push(r.delayMs);
      if (i === 4) t.equal(r.lockedNow, 'pair', 'the fifth failure locks the pair');
    }
    t.strictSame(delays, [0, 0, 100, 200, 400]);
    const refused = await th.begin('alice', '192.0.2.1');
    t.match(refused.refused, { scope: 'pair', locked: true });
    t.ok(refused.refused!.retryAfterMs > 0 && refused.refused!.retryAfterMs <= 60_000);
    t.notOk((await th.begin('alice', '192.0.2.2')).refused, 'the same username from another address is not refused');
    t.notOk((await th.begin('bob', '192.0.2.1')).refused, 'another username from the same address is not refused');
    now += 60_001;
    const after = await th.begin('alice', '192.0.2.1');
    t.notOk(after.refused, 'the lock ran out');
    await after.attempt!.fail();
    for (let i = 0; i < 3; i++) t.equal((await failOnce(th, 'alice', '192.0.2.1')).lockedNow, null, 'the pair counts from zero again');
  });

  t.test('attempts under way count before their outcome', async (t) => {
    const th = await adapter.open(t, OPTIONS, () => 0);
    const running = [];
    for (let i = 0; i < 5; i++) {
      const s = await th.begin('alice', '192.0.2.1');
      t.notOk(s.refused);
      running.push(s.attempt!);
    }
    t.match((await th.begin('alice', '192.0.2.1')).refused, { scope: 'pair', locked: false }, 'five under way reach the lock');
    await running[0]!.succeed();
    await running[1]!.abandon();
    t.notOk((await th.begin('alice', '192.0.2.1')).refused, 'settled attempts no longer count');
  });

  t.test('a correct password clears its pair; settling twice does nothing', async (t) => {
    const th = await adapter.open(t, OPTIONS, () => 0);
    for (let i = 0; i < 4; i++) await failOnce(th, 'alice', '192.0.2.1');
    const s = await th.begin('alice', '192.0.2.1');
    await s.attempt!.succeed();
    await s.attempt!.succeed();
    t.strictSame(await s.attempt!.fail(), { lockedNow: null, alert: null, delayMs: 0 }, 'a settled attempt cannot fail');
    const r = await failOnce(th, 'alice', '192.0.2.1');
    t.equal(r.delayMs, 0, 'the pair starts from nothing');
    t.equal(r.lockedNow, null);
  });

  t.test('an address failing across usernames is locked for every username', async (t) => {
    const th = await adapter.open(t, OPTIONS, () => 0);
    let locked = null;
    for (let i = 0; i < 8; i++) locked = (await failOnce(th, `user${i}`, '198.51.100.7')).lockedNow ?? locked;
    t.equal(locked, 'address');
    t.match((await th.begin('someone-else', '198.51.100.7')).refused, { scope: 'address', locked: true });
    t.notOk((await th.begin('someone-else', '198.51.100.8')).refused, 'other addresses are not');
  });

  t.test('failures on one username from many addresses alert once, and never lock it', async (t) => {
    const th = await adapter.open(t, OPTIONS, () => 0);
    const alerts = [];
    for (let i = 0; i < 10; i++) {
      const r = await failOnce(th, 'target', `203.0.113.${i}`);
      t.equal(r.refused, null, 'never refused');
      if (r.alert) alerts.push(r.alert);
      if (i >= 6) t.ok(r.delayMs > 0, 'slowed past the alert');
    }
    t.equal(alerts.length, 1);
    t.match(alerts[0], { username: 'target', failures: 6 });
    t.equal(alerts[0]!.addresses.length, 6);
  });

  t.test('attempts refused by a lock are reported once, with their count', async (t) => {
    let now = 0;
    const th = await adapter.open(t, OPTIONS, () => now);
    const reports: ThrottleReport[] = [];
    th.onReport = (r) => reports.push(r);
    for (let i = 0; i < 5; i++) await failOnce(th, 'alice', '192.0.2.1');
    for (let i = 0; i < 7; i++) t.ok((await th.begin('alice', '192.0.2.1')).refused);
    t.strictSame(reports, [], 'nothing while the lock holds');
    now += 60_001;
    await th.begin('alice', '192.0.2.1');
    t.match(reports, [{ kind: 'refused', scope: 'pair', username: 'alice', address: '192.0.2.1', attempts: 7 }]);
    await th.stop();
    t.equal(reports.filter((r) => r.kind === 'refused').length, 1, 'one report per lock');
  });
});
