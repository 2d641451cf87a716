/** The loop every port's contract suite shares: its cases once per adapter, in a subtest named after it. */
import type { Test } from 'tap';
import { requireCapability } from '../helpers/capability.js';

export interface NamedAdapter {
  name: string;
  /** Why this adapter cannot run on this machine, or false (under CI a missing one fails). */
  missing(): string | false;
}

export function eachAdapter<A extends NamedAdapter>(t: Test, port: string, adapters: readonly A[], cases: (t: Test, adapter: A) => void): void {
  for (const adapter of adapters) {
    t.test(adapter.name, async (t) => {
      if (!requireCapability(t, `the ${adapter.name} ${port}`, adapter.missing())) return;
      cases(t, adapter);
    });
  }
}
