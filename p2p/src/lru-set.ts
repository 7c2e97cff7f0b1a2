// A bounded set with least-recently-used eviction, used for per-peer "already sent/seen" tx hashes.
// Backed by lru-cache: a Map evicted through `keys().next()` skips every deleted slot before the oldest
// live entry (V8 compacts only on rehash), so once full every insert cost O(capacity), and this set
// sees one insert per gossiped transaction per peer.
import { LRUCache } from 'lru-cache';

export class LruSet<K extends {}> {
  readonly #lru: LRUCache<K, true>;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('LruSet capacity must be >= 1');
    this.#lru = new LRUCache({ max: capacity });
  }

  get size(): number {
    return this.#lru.size;
  }

  /** Membership without refreshing recency. */
  has(key: K): boolean {
    return this.#lru.has(key);
  }

  /** Insert (or refresh) `key`; returns true when it was not present before. */
  add(key: K): boolean {
    const fresh = !this.#lru.has(key);
    this.#lru.set(key, true);
    return fresh;
  }
}
