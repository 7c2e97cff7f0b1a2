// Decoded state-tree nodes by hash, for the tree's hot path. A 55-transaction block rewrites about a
// thousand nodes, and each is looked up, stored and forgotten several times: keyed by a 64-character hex
// string in an LRU, those operations were 18 % of a catching-up node's main thread (lru-cache 11 %, hex
// 7 %; bench replay profile of a 256-device chain, docs/benchmarks-log.md). Here the key is a small integer
// taken from the hash itself (a Map with Smi keys needs no string and no hashing of one) and entries
// with the same integer are chained and told apart by the full hash, so a collision costs a comparison,
// never a wrong node.
//
// The bound is kept by two generations instead of a recency list (the "2Q"/generational
// approximation of LRU): entries go into the young table; when it is full it becomes the old table and
// the previous old table is dropped; a hit in the old table moves the entry back to the young one. A
// node used at least once per generation therefore stays, as in an LRU, at O(1) per operation with
// plain Map calls.
import { randomInt } from 'node:crypto';
import type { TreeNode } from './node-codec.ts';

interface Slot {
  hash: Uint8Array;
  node: TreeNode;
  next: Slot | undefined;
}

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The 30 bits of `hash` starting at byte `offset` (a Smi on every V8 build). Node hashes are SHA-256
 * outputs, so these bits are uniform; the offset is chosen per process so that nobody can precompute
 * state values whose nodes all land on one chain.
 */
function slotKey(hash: Uint8Array, offset: number): number {
  return (
    (hash[offset]! << 22) | (hash[offset + 1]! << 14) | (hash[offset + 2]! << 6) | (hash[offset + 3]! >> 2)
  );
}

/** A hash-keyed table of nodes with no bound (one update's working set, or a cache generation). */
export class NodeTable {
  readonly #slots = new Map<number, Slot>();
  readonly #offset: number;
  #size = 0;

  /** `offset`: where in a hash the table key is read (0..28; hashes shorter than offset + 4 are refused). */
  constructor(offset = 0) {
    if (!Number.isInteger(offset) || offset < 0 || offset > 28)
      throw new RangeError(`bad key offset ${offset}`);
    this.#offset = offset;
  }

  get size(): number {
    return this.#size;
  }

  #key(hash: Uint8Array): number {
    if (hash.length < this.#offset + 4)
      throw new RangeError(`a node hash is at least ${this.#offset + 4} bytes`);
    return slotKey(hash, this.#offset);
  }

  get(hash: Uint8Array): TreeNode | undefined {
    let s = this.#slots.get(this.#key(hash));
    while (s !== undefined && !sameHash(s.hash, hash)) s = s.next;
    return s?.node;
  }

  /** Stores `node` under `hash`, replacing what was there. */
  set(hash: Uint8Array, node: TreeNode): void {
    const k = this.#key(hash);
    const head = this.#slots.get(k);
    for (let s = head; s !== undefined; s = s.next) {
      if (sameHash(s.hash, hash)) {
        s.node = node;
        return;
      }
    }
    this.#slots.set(k, { hash, node, next: head });
    this.#size++;
  }

  /** Removes `hash`; the node it held, or undefined when absent. */
  delete(hash: Uint8Array): TreeNode | undefined {
    const k = this.#key(hash);
    const head = this.#slots.get(k);
    if (head === undefined) return undefined;
    if (sameHash(head.hash, hash)) {
      if (head.next === undefined) this.#slots.delete(k);
      else this.#slots.set(k, head.next);
      this.#size--;
      return head.node;
    }
    for (let prev = head; prev.next !== undefined; prev = prev.next) {
      if (sameHash(prev.next.hash, hash)) {
        const removed = prev.next;
        prev.next = removed.next;
        this.#size--;
        return removed.node;
      }
    }
    return undefined;
  }
}

/**
 * At most `2 * max(1, floor(max / 2))` decoded nodes (so `max` for any max >= 2) outside hold(),
 * recently used ones kept (see the file comment for the policy).
 */
export class TreeNodeCache {
  readonly #offset: number;
  readonly #generation: number;
  #young: NodeTable;
  #old: NodeTable;
  #holds = 0;

  /** `offset`: tests fix where the table key is read; by default it is random per cache. */
  constructor(max: number, options: { offset?: number } = {}) {
    if (!(max >= 1)) throw new RangeError(`cache size must be at least 1, not ${max}`);
    this.#offset = options.offset ?? randomInt(0, 29);
    this.#generation = Math.max(1, Math.floor(max / 2));
    this.#young = new NodeTable(this.#offset);
    this.#old = new NodeTable(this.#offset);
  }

  /** Nodes held (both generations). */
  get size(): number {
    return this.#young.size + this.#old.size;
  }

  get(hash: Uint8Array): TreeNode | undefined {
    const hit = this.#young.get(hash);
    if (hit !== undefined) return hit;
    const old = this.#old.delete(hash);
    if (old !== undefined) this.#insertYoung(hash, old);
    return old;
  }

  set(hash: Uint8Array, node: TreeNode): void {
    this.#old.delete(hash);
    this.#insertYoung(hash, node);
  }

  delete(hash: Uint8Array): void {
    this.#young.delete(hash);
    this.#old.delete(hash);
  }

  /**
   * Nothing is evicted until the matching release(): a tree update holds the cache while it reads what
   * it preloaded and what it created, so it needs no table of its own for them. The cache then exceeds
   * its bound by at most that working set, until one more generation has filled after release().
   */
  hold(): void {
    this.#holds++;
  }

  release(): void {
    if (this.#holds === 0) throw new RangeError('release() without hold()');
    this.#holds--;
    if (this.#holds === 0 && this.#young.size >= this.#generation) this.#rotate();
  }

  #rotate(): void {
    this.#old = this.#young;
    this.#young = new NodeTable(this.#offset);
  }

  #insertYoung(hash: Uint8Array, node: TreeNode): void {
    if (this.#holds === 0 && this.#young.size >= this.#generation && this.#young.get(hash) === undefined) {
      this.#rotate();
    }
    this.#young.set(hash, node);
  }
}
