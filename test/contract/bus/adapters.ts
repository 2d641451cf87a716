/**
 * The bus adapters every bus contract test runs against (issue 18; the pattern of
 * test/contract/store/adapters.ts): a new bus is one folder in src/adapters and one entry in
 * `adapters` below.
 *
 * - memory: the in-process bus (one hub per test; every node of the test joins it).
 * - redis: pub/sub on the Redis of test/contract/redis.ts, a channel of its own per test.
 */
import type { Test } from 'tap';
import type { Bus, BusEvent } from '../../../src/core/ports/bus.js';
import { MemoryBusHub } from '../../../src/adapters/memory/bus.js';
import { RedisBus } from '../../../src/adapters/redis/bus.js';
import { freshPrefix, killClient, redisMissing, redisUrl } from '../redis.js';
import { eachAdapter, type NamedAdapter } from '../each-adapter.js';

/** One bus shared by the nodes of one test. */
export interface BusMedium {
  /** Joins the bus as `nodeId`; closed when the test ends. `onError` hears what a listener threw. */
  node(nodeId: string, onError?: (err: unknown, event: BusEvent) => void): Promise<Bus>;
}

export interface BusAdapter extends NamedAdapter {
  open(t: Test): Promise<BusMedium>;
  /**
   * Cuts the node's connection to the bus the way a network fault or a restart of the bus would;
   * the adapter reconnects by itself. Absent where the bus cannot lose a connection.
   */
  interrupt?(bus: Bus): Promise<void>;
}

const memory: BusAdapter = {
  name: 'memory',
  missing: () => false,
  async open(t) {
    const hub = new MemoryBusHub();
    return {
      async node(nodeId, onError) {
        const bus = hub.node(nodeId, onError);
        t.teardown(() => bus.close());
        return bus;
      },
    };
  },
};

const redisPrefixes = new WeakMap<Bus, string>();

const redis: BusAdapter = {
  name: 'redis',
  missing: redisMissing,
  async open(t) {
    const url = await redisUrl();
    const prefix = freshPrefix();
    return {
      async node(nodeId, onError) {
        const bus = await RedisBus.connect(url, nodeId, { prefix, onListenerError: onError });
        redisPrefixes.set(bus, prefix);
        t.teardown(() => bus.close());
        return bus;
      },
    };
  },
  async interrupt(bus) {
    await killClient(await redisUrl(), RedisBus.listenerName(redisPrefixes.get(bus)!, bus.nodeId));
  },
};

export const adapters: BusAdapter[] = [memory, redis];

/** Defines the same cases for every adapter, each in a subtest named after it. */
export function forEachAdapter(t: Test, cases: (t: Test, adapter: BusAdapter) => void): void {
  eachAdapter(t, 'bus', adapters, cases);
}

/** What a node heard, in order, with the publishing node. */
export function listen(bus: Bus): Array<{ event: BusEvent; origin: string }> {
  const heard: Array<{ event: BusEvent; origin: string }> = [];
  bus.subscribe((event, meta) => heard.push({ event, origin: meta.origin }));
  return heard;
}

export async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Lets events still on their way arrive (for checks that something did NOT arrive). */
export function settle(ms = 100): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
