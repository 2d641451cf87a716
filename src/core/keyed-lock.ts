/**
 * One async critical section per key, in arrival order. Used where two steps must not
 * interleave for the same attachment (two UPLOADs racing) or the same content (storing a file
 * while another message's expiry removes it).
 */
export class KeyedLock<K> {
  private readonly tails = new Map<K, Promise<unknown>>();

  async run<T>(key: K, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.then(() => undefined, () => undefined);
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      // The last one out removes the key, so the map does not grow with every attachment ever seen.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
