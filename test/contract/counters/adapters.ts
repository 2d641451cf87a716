/**
 * The traffic-counter adapters every counters contract test runs against (issue 18; the pattern of
 * test/contract/store/adapters.ts): a new one is one folder in src/adapters and one entry below.
 *
 * - memory: counters in this process (every node of a test shares the one instance).
 * - redis: on the Redis of test/contract/redis.ts, a key prefix of its own per test.
 */
import type { Test } from 'tap';
import type { TrafficCounters } from '../../../src/core/ports/traffic-counters.js';
import { MemoryTrafficCounters } from '../../../src/adapters/memory/traffic-counters.js';
import { RedisTrafficCounters } from '../../../src/adapters/redis/traffic-counters.js';
import { freshPrefix, redisMissing, redisUrl } from '../redis.js';
import { eachAdapter, type NamedAdapter } from '../each-adapter.js';

export interface CountersAdapter extends NamedAdapter {
  /** Fresh counters keeping `historyMinutes` minutes per node, as node `node` writes and reads them; closed when the test ends. */
  open(t: Test, historyMinutes: number): Promise<{ node(nodeId: string): Promise<TrafficCounters> }>;
}

const memory: CountersAdapter = {
  name: 'memory',
  missing: () => false,
  async open(t, historyMinutes) {
    const counters = new MemoryTrafficCounters(historyMinutes);
    t.teardown(() => counters.close());
    return { node: async () => counters };
  },
};

const redis: CountersAdapter = {
  name: 'redis',
  missing: redisMissing,
  async open(t, historyMinutes) {
    const url = await redisUrl();
    const prefix = freshPrefix();
    return {
      async node() {
        const counters = await RedisTrafficCounters.connect(url, historyMinutes, { prefix });
        t.teardown(() => counters.close());
        return counters;
      },
    };
  },
};

export const adapters: CountersAdapter[] = [memory, redis];

export function forEachAdapter(t: Test, cases: (t: Test, adapter: CountersAdapter) => void): void {
  eachAdapter(t, 'traffic counters', adapters, cases);
}
