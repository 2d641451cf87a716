/**
 * Gives back the memory a flood of peers that did not read made the heap grow. Serving them (even
 * bounded, see output.ts) churns through memory fast, and V8 answers by growing its young
 * generation and old space; it gives the pages back only at a collection that finds the program
 * allocating slowly, and an idle server hardly collects at all: measured, its RSS stayed 60–70 MiB
 * above the level before the flood for minutes after the peers had gone. So once enough such
 * peers have gone and none has for a while, the server runs a few full collections, seconds apart
 * (the first frees, the later ones see the low allocation rate and shrink the heap). Each pauses
 * the server for tens of milliseconds, once per flood.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface MemoryReleaseOptions {
  /** Peers that held output and went, since the last release, before one is worth its pauses. */
  minPeers: number;
  /** How long no such peer may have gone before the first collection, and between collections. */
  quietMs: number;
  /** Collections per release. */
  collections: number;
}

export const DEFAULT_MEMORY_RELEASE: MemoryReleaseOptions = { minPeers: 16, quietMs: 3_000, collections: 3 };

export class MemoryRelease {
  private peers = 0;
  private timer: NodeJS.Timeout | undefined;
  private left = 0;
  /** How many releases ran (for tests and the log). */
  releases = 0;

  constructor(
    private readonly options: MemoryReleaseOptions = DEFAULT_MEMORY_RELEASE,
    private readonly collect: () => void = fullCollection(),
    private readonly onRelease: (peers: number) => void = () => undefined,
  ) {}

  /** A peer that had left output untaken went (dropped, or gone on its own). */
  peerLeft(): void {
    this.peers++;
    if (this.peers < this.options.minPeers) return;
    // Another one: the flood is not over; start counting the quiet again.
    this.left = this.options.collections;
    this.schedule();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.step, this.options.quietMs);
    this.timer.unref();
  }

  private readonly step = (): void => {
    if (this.left === this.options.collections) {
      this.onRelease(this.peers);
      this.releases++;
      this.peers = 0;
    }
    this.collect();
    this.left--;
    if (this.left > 0) this.schedule();
    else this.timer = undefined;
  };
}

/**
 * V8's full collection. Node offers it only with --expose-gc on its command line; setting the flag
 * now gives the function to a new context (the main one was made before).
 */
function fullCollection(): () => void {
  let gc: (() => void) | undefined;
  return () => {
    if (!gc) {
      v8.setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    }
    gc();
  };
}
