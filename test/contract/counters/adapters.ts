/**
 * The traffic-counter adapters every counters contract test runs against (issue 18; the pattern of
 * test/contract/store/adapters.ts): a new one is one folder in src/adapters and one entry below.
 *
 * - memory: counters in this process (every node of a test shares the one instance).
 */
import type { Test } from 'tap';
import type { TrafficCounters } from '../../../src/core/ports/traffic-counters.js';
import { MemoryTrafficCounters } from '../../../src/adapters/memory/traffic-counters.js';
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

export const adapters: CountersAdapter[] = [memory];

export function forEachAdapter(t: Test, cases: (t: Test, adapter: CountersAdapter) => void): void {
  eachAdapter(t, 'traffic counters', adapters, cases);
}
