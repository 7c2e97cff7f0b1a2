// The transactions a node may find in a compact PRE-PREPARE (ADR 0129): every one it gossiped or
// received by gossip, by leaf key, until a PRE-PREPARE used it. Bounded in count and bytes, oldest
// out first.
//
// Why not lru-cache, and why "until used": a transaction is looked up once, when the block carrying
// it arrives, normally a few hundred milliseconds after its gossip. An LRU (recency on every get,
// byte accounting through a size callback) cost ~0.5 % of a validator's CPU at 600 tx/s, and keeping
// every transaction for the full bound (tens of seconds) made each one outlive the young generation,
// so the garbage collector copied and then marked all of them (docs/benchmarks-log.md, 2026-12-06).
// A FIFO over a Map, with entries removed when a block uses them, holds only transactions not yet
// proposed: fewer than the mempool does.
export class TxCache {
  readonly #maxTxs: number;
  readonly #maxBytes: number;
  readonly #map = new Map<string, { tx: Uint8Array; seq: number }>();
  /** Insertion order: keys with the sequence number they were inserted under (a re-insert after a
   *  removal gets a new one, so the stale ring slot does not evict it). */
  #ring: { key: string; seq: number }[] = [];
  #head = 0;
  #seq = 0;
  #bytes = 0;

  constructor(maxTxs: number, maxBytes: number) {
    this.#maxTxs = maxTxs;
    this.#maxBytes = maxBytes;
  }

  get size(): number {
    return this.#map.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get(key: string): Uint8Array | undefined {
    return this.#map.get(key)?.tx;
  }

  /** Adds `tx` under `key` unless present; the oldest go when a bound is exceeded. */
  add(key: string, tx: Uint8Array): void {
    if (this.#map.has(key) || tx.byteLength > this.#maxBytes) return;
    const seq = this.#seq++;
    this.#map.set(key, { tx, seq });
    this.#ring.push({ key, seq });
    this.#bytes += tx.byteLength;
    while (this.#map.size > this.#maxTxs || this.#bytes > this.#maxBytes) this.#evictOldest();
    this.#compactRing();
  }

  /** Removes `key` (its block arrived: it will not be looked up again). */
  delete(key: string): void {
    const e = this.#map.get(key);
    if (e === undefined) return;
    this.#map.delete(key);
    this.#bytes -= e.tx.byteLength;
    this.#compactRing();
  }

  #evictOldest(): void {
    while (this.#head < this.#ring.length) {
      const slot = this.#ring[this.#head++]!;
      const e = this.#map.get(slot.key);
      if (e !== undefined && e.seq === slot.seq) {
        this.#map.delete(slot.key);
        this.#bytes -= e.tx.byteLength;
        return;
      }
    }
  }

  /** Drops consumed and stale slots once they dominate, keeping the ring within twice the live size. */
  #compactRing(): void {
    const live = this.#map.size;
    if (this.#ring.length - this.#head <= 2 * live + 1024) {
      if (this.#head > 1024 && this.#head * 2 > this.#ring.length) {
        this.#ring.splice(0, this.#head);
        this.#head = 0;
      }
      return;
    }
    this.#ring = this.#ring.slice(this.#head).filter((s) => this.#map.get(s.key)?.seq === s.seq);
    this.#head = 0;
  }
}
