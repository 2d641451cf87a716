/**
 * The lease adapters every lease contract test runs against (issue 19; the pattern of
 * test/contract/store/adapters.ts): a new one is one folder in src/adapters and one entry below.
 *
 * - memory: leases in this process (every node of a test shares the one instance), a fake clock.
 * - redis: on the Redis of test/contract/redis.ts, a key prefix of its own per test; Redis's clock,
 *   so time passes for real (the cases use leases of a few hundred milliseconds).
 */
import type { Test } from 'tap';
import type { Leases } from '../../../src/core/ports/lease.js';
import { MemoryLeases } from '../../../src/adapters/memory/lease.js';
import { RedisLeases } from '../../../src/adapters/redis/lease.js';
import { freshPrefix, redisMissing, redisUrl } from '../redis.js';
import { eachAdapter, type NamedAdapter } from '../each-adapter.js';

/** Leases shared by the nodes of one test, and a way to let time pass for them. */
export interface LeaseMedium {
  /** The leases as one node sees them; closed when the test ends. */
  node(): Promise<Leases>;
  /** Lets `ms` pass for the leases' clock. */
  pass(ms: number): Promise<void>;
}

export interface LeaseAdapter extends NamedAdapter {
  open(t: Test): Promise<LeaseMedium>;
}

const memory: LeaseAdapter = {
  name: 'memory',
  missing: () => false,
  async open(t) {
    let now = 1_000_000;
    const leases = new MemoryLeases(() => now);
    t.teardown(() => leases.close());
    return { node: async () => leases, pass: async (ms) => { now += ms; } };
  },
};

const redis: LeaseAdapter = {
  name: 'redis',
  missing: redisMissing,
  async open(t) {
    const url = await redisUrl();
    const prefix = freshPrefix();
    return {
      async node() {
        const leases = await RedisLeases.connect(url, { prefix });
        t.teardown(() => leases.close());
        return leases;
      },
      pass: (ms) => new Promise((r) => setTimeout(r, ms)),
    };
  },
};

export const adapters: LeaseAdapter[] = [memory, redis];

export function forEachAdapter(t: Test, cases: (t: Test, adapter: LeaseAdapter) => void): void {
  eachAdapter(t, 'leases', adapters, cases);
}
