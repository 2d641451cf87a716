/**
 * The presence adapters every presence contract test runs against (issue 18; the pattern of
 * test/contract/store/adapters.ts): a new one is one folder in src/adapters and one entry below.
 *
 * - memory: presence in this process (every node of a test shares the one instance).
 * - redis: hashes on the Redis of test/contract/redis.ts, a key prefix of its own per test.
 */
import type { Test } from 'tap';
import type { Presence } from '../../../src/core/ports/presence.js';
import { MemoryPresence } from '../../../src/adapters/memory/presence.js';
import { RedisPresence } from '../../../src/adapters/redis/presence.js';
import { freshPrefix, redisMissing, redisUrl } from '../redis.js';
import { eachAdapter, type NamedAdapter } from '../each-adapter.js';

/** One presence shared by the nodes of one test. */
export interface PresenceMedium {
  /**
   * The presence as node `nodeId` sees and writes it; closed when the test ends. With `ttlMs`, its
   * entries outlive its last heartbeat (close stops it) by that long, where the adapter expires any.
   */
  node(nodeId: string, opts?: { ttlMs?: number }): Promise<Presence>;
}

export interface PresenceAdapter extends NamedAdapter {
  open(t: Test): Promise<PresenceMedium>;
  /** Whether a node that stops (no heartbeat) drops out by itself; in process nothing can stop alone. */
  expires: boolean;
}

const memory: PresenceAdapter = {
  name: 'memory',
  missing: () => false,
  expires: false,
  async open(t) {
    const presence = new MemoryPresence();
    t.teardown(() => presence.close());
    return { node: async () => presence };
  },
};

const redis: PresenceAdapter = {
  name: 'redis',
  missing: redisMissing,
  expires: true,
  async open(t) {
    const url = await redisUrl();
    const prefix = freshPrefix();
    return {
      async node(_nodeId, opts) {
        const presence = await RedisPresence.connect(url, { prefix, ttlMs: opts?.ttlMs ?? 10_000 });
        t.teardown(() => presence.close());
        return presence;
      },
    };
  },
};

export const adapters: PresenceAdapter[] = [memory, redis];

export function forEachAdapter(t: Test, cases: (t: Test, adapter: PresenceAdapter) => void): void {
  eachAdapter(t, 'presence', adapters, cases);
}
