/**
 * Redis unreachable under the Redis adapters (issue 19): nothing is queued and nothing waits for it.
 * ioredis used to keep every command issued while Redis was down in memory (its offline queue, no
 * bound) and resolve none of them until Redis was back: a bus publish, a presence read, a lease or
 * a traffic count hung, and memory grew with every one. Now each fails at once with BusUnreachable
 * (the bus still tells this node's own listeners), the login throttle counts on this node, a send is
 * let through uncounted, and nothing issued while Redis was down runs after it is back.
 *
 * A private Redis (scripts/services.ts), stopped and started again; skipped without Redis, except
 * under CI.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { redisServerPath, startRedis } from '../../../scripts/services.js';
import { RedisBus } from '../../../src/adapters/redis/bus.js';
import { RedisLeases } from '../../../src/adapters/redis/lease.js';
import { RedisLoginThrottle } from '../../../src/adapters/redis/login-throttle.js';
import { RedisPresence } from '../../../src/adapters/redis/presence.js';
import { RedisSendRate } from '../../../src/adapters/redis/send-rate.js';
import { RedisTrafficCounters } from '../../../src/adapters/redis/traffic-counters.js';
import type { BusEvent } from '../../../src/core/ports/bus.js';
import { BusUnreachable } from '../../../src/core/ports/unreachable.js';
import { DEFAULT_THROTTLE } from '../../../src/core/ports/login-throttle.js';
import { requireCapability } from '../../helpers/capability.js';
import { until } from '../../helpers/siar.js';

t.setTimeout(120_000);

/** Settles within `ms` or says it hung (before the fix these waited for Redis, for ever). */
function settles<T>(what: string, p: Promise<T>, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what} hung while Redis was down`)), ms); });
  return Promise.race([p, hung]).finally(() => clearTimeout(timer));
}

const unreachable = { name: 'BusUnreachable', message: /Redis \(--bus\) is unreachable/ };

t.test('Redis down: every adapter fails or degrades at once, queues nothing, and works again when Redis is back', async (t) => {
  if (!requireCapability(t, 'Redis', redisServerPath() ? false : 'Redis is not installed (apt-get install redis-server)')) return;
  const dir = mkdtempSync(path.join(tmpdir(), 'siar-redis-down-'));
  const redis = await startRedis(path.join(dir, 'redis'));
  t.teardown(async () => { await redis.stop(); rmSync(dir, { recursive: true, force: true }); });

  const errors: string[] = [];
  // What the node's log line says (src/adapters/index.ts): what was done instead, when the adapter says.
  const onError = (err: unknown): void => { errors.push(err instanceof BusUnreachable && err.meaning ? err.meaning : String(err)); };
  const bus = await RedisBus.connect(redis.url, 'n1', { onError });
  const presence = await RedisPresence.connect(redis.url, { onError });
  const counters = await RedisTrafficCounters.connect(redis.url, 60, { onError });
  const leases = await RedisLeases.connect(redis.url, { onError });
  const throttle = await RedisLoginThrottle.connect(redis.url, { ...DEFAULT_THROTTLE, freeFailures: 0, lockoutFailures: 3 }, { onError });
  const sendRate = await RedisSendRate.connect(redis.url, 1, { onError });
  t.teardown(async () => {
    await Promise.allSettled([bus.close(), presence.close(), counters.close(), leases.close(), throttle.stop(), sendRate.stop()]);
  });
  const heard: BusEvent[] = [];
  bus.subscribe((e) => heard.push(e));
  let reconnected = 0;
  bus.onReconnect(() => { reconnected++; });
  t.equal((await sendRate.take(7)).ok, true, 'the one send a minute, counted');
  t.equal((await sendRate.take(7)).ok, false, 'a second is refused while Redis counts');

  await redis.stop();
  await until('the adapters to see Redis gone', () => bus.sub.status !== 'ready' && presence['redis'].status !== 'ready', 20_000);

  const notice: BusEvent = { type: 'admin_notice', event: 'TEST', args: { n: 1 } };
  await t.rejects(settles('bus publish', bus.publish(notice)), unreachable, 'a publish fails');
  t.same(heard, [notice], '... and this node heard its own event all the same');
  await t.rejects(settles('presence read', presence.onlineAmong([1, 2])), unreachable, 'a presence read fails');
  await t.rejects(settles('presence write', presence.set({
    node: 'n1', cid: 1, userId: 1, username: 'u1', address: '127.0.0.1', since: new Date().toISOString(), admin: false, popups: true,
  })), unreachable, 'a presence write fails');
  await t.rejects(settles('lease', leases.acquire('job', 10_000)), unreachable, 'a lease is not granted');
  await t.rejects(settles('counters', counters.totals()), unreachable, 'the traffic totals are not read');
  t.equal((await settles('send rate', sendRate.take(7))).ok, true, 'a send goes through uncounted');
  t.ok(errors.some((e) => /without counting toward --max-sends-per-minute/.test(e)), 'and the log says so');

  // The login throttle counts on this node: three failures lock the pair here.
  for (let i = 0; i < 3; i++) {
    const started = await settles('throttle', throttle.begin('mallory', '10.0.0.9'));
    t.ok(started.attempt, `attempt ${i + 1} is checked`);
    await started.attempt!.fail();
  }
  const locked = await settles('throttle', throttle.begin('mallory', '10.0.0.9'));
  t.equal(locked.refused?.locked, true, 'the fourth is refused: locked on this node');
  t.ok(errors.some((e) => /counted on this node only/.test(e)), 'the log says where attempts are counted');

  // Many commands while Redis is down: none waits in memory to run later.
  const settled = await Promise.allSettled(Array.from({ length: 2000 }, () => counters.add('while-down', { messages: 1 })));
  t.ok(settled.every((s) => s.status === 'rejected'), 'every count issued while Redis is down fails at once');

  await redis.start();
  await until('the adapters back', async () => {
    try {
      await counters.add('probe', { messages: 1 });
      await presence.onlineAmong([1]);
      // The bus publishes on a connection of its own, which may come back after the listening one.
      await bus.publish({ type: 'admin_notice', event: 'PROBE', args: {} });
      return reconnected > 0;
    } catch {
      return false;
    }
  }, 30_000);
  const totals = await counters.totals();
  t.same(totals.nodes.map((n) => n.node), ['probe'], 'nothing issued while Redis was down ran after it came back');
  t.ok(await leases.acquire('job', 10_000), 'a lease is granted again');
  await bus.publish({ type: 'admin_notice', event: 'TEST', args: { n: 2 } });
  await until('the bus carries events again', () => heard.filter((e) => e.type === 'admin_notice' && e.event === 'TEST').length === 2, 20_000);
  t.equal((await throttle.begin('mallory', '10.0.0.9')).attempt !== undefined, true, 'the throttle counts in Redis again (this pair has no failures there)');
});
