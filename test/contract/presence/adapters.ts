/**
 * The presence adapters every presence contract test runs against (issue 18; the pattern of
 * test/contract/store/adapters.ts): a new one is one folder in src/adapters and one entry below.
 *
 * - memory: presence in this process (every node of a test shares the one instance).
 */
import type { Test } from 'tap';
import type { Presence } from '../../../src/core/ports/presence.js';
import { MemoryPresence } from '../../../src/adapters/memory/presence.js';
import { eachAdapter, type NamedAdapter } from '../each-adapter.js';

/** One presence shared by the nodes of one test. */
export interface PresenceMedium {
  /** The presence as node `nodeId` sees and writes it; closed when the test ends. */
  node(nodeId: string): Promise<Presence>;
}

export interface PresenceAdapter extends NamedAdapter {
  open(t: Test): Promise<PresenceMedium>;
}

const memory: PresenceAdapter = {
  name: 'memory',
  missing: () => false,
  async open(t) {
    const presence = new MemoryPresence();
    t.teardown(() => presence.close());
    return { node: async () => presence };
  },
};

export const adapters: PresenceAdapter[] = [memory];

export function forEachAdapter(t: Test, cases: (t: Test, adapter: PresenceAdapter) => void): void {
  eachAdapter(t, 'presence', adapters, cases);
}
