// A bounded set with least-recently-inserted eviction, used for per-peer "already sent/seen" tx hashes.
// A Map iterates in insertion order, so the first key is the oldest; re-adding refreshes the entry.

export class LruSet<K> {
  readonly #capacity: number;
  readonly #map = new Map<K, true>();

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('LruSet capacity must be >= 1');
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#map.size;
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  /** Insert (or refresh) `key`; returns true when it was not present before. */
  add(key: K): boolean {
    const fresh = !this.#map.delete(key);
    this.#map.set(key, true);
    if (this.#map.size > this.#capacity) {
      const oldest = this.#map.keys().next();
      if (!oldest.done) this.#map.delete(oldest.value);
    }
    return fresh;
  }
}
