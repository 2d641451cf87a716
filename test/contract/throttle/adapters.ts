/**
 * The login-throttle adapters every throttle contract test runs against (issue 18; the pattern of
 * test/contract/store/adapters.ts): a new one is one folder in src/adapters and one entry below.
 *
 * - memory: counts in this process.
 * - redis: on the Redis of test/contract/redis.ts, a key prefix of its own per test; the fake clock
 *   is passed to every script, as the server passes Date.now.
 */
import type { Test } from 'tap';
import type { LoginThrottleState, ThrottleOptions } from '../../../src/core/ports/login-throttle.js';
import { MemoryLoginThrottle } from '../../../src/adapters/memory/login-throttle.js';
import { RedisLoginThrottle } from '../../../src/adapters/redis/login-throttle.js';
import { freshPrefix, redisMissing, redisUrl } from '../redis.js';
import { eachAdapter, type NamedAdapter } from '../each-adapter.js';

export interface ThrottleAdapter extends NamedAdapter {
  /** Fresh, empty counts under these settings and this clock; stopped when the test ends. */
  open(t: Test, options: ThrottleOptions, now: () => number): Promise<LoginThrottleState>;
}

const memory: ThrottleAdapter = {
  name: 'memory',
  missing: () => false,
  async open(t, options, now) {
    const throttle = new MemoryLoginThrottle(options, now);
    t.teardown(() => throttle.stop());
    return throttle;
  },
};

const redis: ThrottleAdapter = {
  name: 'redis',
  missing: redisMissing,
  async open(t, options, now) {
    const throttle = await RedisLoginThrottle.connect(await redisUrl(), options, { prefix: freshPrefix(), now });
    t.teardown(() => throttle.stop());
    return throttle;
  },
};

export const adapters: ThrottleAdapter[] = [memory, redis];

export function forEachAdapter(t: Test, cases: (t: Test, adapter: ThrottleAdapter) => void): void {
  eachAdapter(t, 'login throttle', adapters, cases);
}
