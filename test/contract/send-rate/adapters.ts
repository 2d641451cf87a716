/**
 * The sending-rate adapters every send-rate contract test runs against (issue 19; the pattern of
 * test/contract/throttle/adapters.ts): a new one is one folder in src/adapters and one entry below.
 *
 * - memory: counts in this process; the nodes of a test share the one instance (a single node).
 * - redis: on the Redis of test/contract/redis.ts, a key prefix of its own per open(); each node is a
 *   connection of its own under that prefix. The fake clock is passed to every script, as the
 *   server passes Date.now, so no case sleeps.
 */
import type { Test } from 'tap';
import type { SendRate } from '../../../src/core/ports/send-rate.js';
import { MemorySendRate } from '../../../src/adapters/memory/send-rate.js';
import { RedisSendRate } from '../../../src/adapters/redis/send-rate.js';
import { freshPrefix, redisMissing, redisUrl } from '../redis.js';
import { eachAdapter, type NamedAdapter } from '../each-adapter.js';

/** One cluster's counts (fresh and empty), as each of its nodes sees them. */
export interface SendRateCluster {
  /** The sending rate as one node sees it; stopped when the test ends. */
  node(): Promise<SendRate>;
}

export interface SendRateAdapter extends NamedAdapter {
  open(t: Test, perMinute: number, now: () => number): Promise<SendRateCluster>;
}

const memory: SendRateAdapter = {
  name: 'memory',
  missing: () => false,
  async open(t, perMinute, now) {
    const rate = new MemorySendRate(perMinute, now);
    t.teardown(() => rate.stop());
    return { node: async () => rate };
  },
};

const redis: SendRateAdapter = {
  name: 'redis',
  missing: redisMissing,
  async open(t, perMinute, now) {
    const prefix = freshPrefix();
    const url = await redisUrl();
    return {
      async node() {
        const rate = await RedisSendRate.connect(url, perMinute, { prefix, now });
        t.teardown(() => rate.stop());
        return rate;
      },
    };
  },
};

export const adapters: SendRateAdapter[] = [memory, redis];

export function forEachAdapter(t: Test, cases: (t: Test, adapter: SendRateAdapter) => void): void {
  eachAdapter(t, 'sending rate', adapters, cases);
}
