// An in-memory sorted key/value store implementing the query layer's KeyValueView, plus a per-transaction
// overlay implementing StateAccess/IndexAccess (reads see the transaction's own writes; a rejected
// transaction's overlay is dropped). Test and tooling use only: no persistence, O(n log n) range scans.

import { fromHex, toHex } from '@vigil/consensus/wire';
import type { IndexAccess, StateAccess } from '../../exec/types.ts';
import type { KeyValueView } from '../query.ts';

export class MemoryKv implements KeyValueView {
  readonly map = new Map<string, Uint8Array>();

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.map.get(toHex(key));
  }

  async *range(opts: { gte: Uint8Array; lt: Uint8Array; limit?: number; reverse?: boolean }) {
    const lo = toHex(opts.gte);
    const hi = toHex(opts.lt);
    // Hex of equal-prefix byte strings sorts like the bytes (lowercase hex is order-preserving).
    const keys = [...this.map.keys()].filter((k) => k >= lo && k < hi).sort();
    if (opts.reverse) keys.reverse();
    let n = 0;
    for (const k of keys) {
      if (opts.limit !== undefined && n++ >= opts.limit) return;
      yield { key: fromHex(k), value: this.map.get(k)! };
    }
  }

  /** Canonical dump: [hexKey, hexValue] sorted by key. */
  dump(): [string, string][] {
    return [...this.map.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => [k, toHex(v)]);
  }
}

export class Overlay implements StateAccess, IndexAccess {
  readonly writes = new Map<string, Uint8Array | null>();
  private readonly base: MemoryKv;
  constructor(base: MemoryKv) {
    this.base = base;
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const k = toHex(key);
    if (this.writes.has(k)) return this.writes.get(k) ?? undefined;
    return this.base.map.get(k);
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.writes.set(toHex(key), value.slice());
  }

  del(key: Uint8Array): void {
    this.writes.set(toHex(key), null);
  }

  commit(): void {
    for (const [k, v] of this.writes) {
      if (v === null) this.base.map.delete(k);
      else this.base.map.set(k, v);
    }
    this.writes.clear();
  }
}
