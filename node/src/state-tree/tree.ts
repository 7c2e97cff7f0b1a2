// The node side of the state commitment: builds and reads the compressed sparse Merkle tree whose rules
// (hashing, proof shape) live in consensus/src/proof/smt.ts. Nodes are content-addressed (stored under
// their own hash), immutable, and never deleted by an update: every root ever committed stays readable
// and provable until a pruning pass removes it (docs/storage.md, "Retention").
//
// Updates are batched per block: the changed keys are sorted by path and pushed down the tree together,
// so each changed key costs about log2(#keys) hashes and a path shared by several changes is rehashed
// once (the batch update of the Jellyfish Merkle tree paper, §3.3).
import {
  bytesEqual,
  EMPTY_SUBTREE,
  type Hasher,
  keyHashOf,
  pathBit,
  type StateProof,
  valueHashOf,
} from '@vigil/consensus/proof/smt.ts';
import { LRUCache } from 'lru-cache';
import { StateTreeError } from './errors.ts';
import { nodeInternalHash, nodeLeafHash, nodeSha256 } from './hasher.ts';
import { decodeTreeNode, encodeTreeNode, hashTreeNode, type LeafNode, type TreeNode } from './node-codec.ts';
import { hexKey } from './hex-key.ts';

/** Where persisted nodes come from (the chain store's `n` prefix, or a Map in tests). */
export interface TreeNodeSource {
  getNode(hash: Uint8Array): Promise<Uint8Array | undefined>;
}

/** One state change: `value` undefined deletes the key. */
export interface TreeChange {
  key: Uint8Array;
  value: Uint8Array | undefined;
}

export interface TreeUpdate {
  root: Uint8Array;
  /** Every node the update created (content-addressed, so writing one that exists is harmless). */
  nodes: { hash: Uint8Array; bytes: Uint8Array }[];
}

export interface SparseMerkleTreeOptions {
  hasher?: Hasher;
  /** Decoded nodes kept in memory (LRU); the top of the tree is hot for every update. */
  cacheSize?: number;
}

interface PendingLeaf {
  keyHash: Uint8Array;
  key: Uint8Array;
  value: Uint8Array | undefined;
}

const hex = hexKey;

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export class SparseMerkleTree {
  readonly #source: TreeNodeSource;
  readonly #hash: Hasher;
  readonly #cacheSize: number;
  /**
   * Decoded nodes by hash. lru-cache, not a Map used as an LRU: evicting a Map's oldest entry with
   * `keys().next()` skips every deleted slot before it (V8 compacts only on rehash), so once the
   * cache was full each eviction cost O(cache size); a validator's block execution slowed from ~5 %
   * to over 50 % of its CPU within minutes under load (issue 9, docs/benchmarks.md).
   */
  readonly #cache: LRUCache<string, TreeNode>;
  readonly #keyHashes = new Map<string, Uint8Array>();

  constructor(source: TreeNodeSource, options: SparseMerkleTreeOptions = {}) {
    this.#source = source;
    this.#hash = options.hasher ?? nodeSha256;
    this.#cacheSize = options.cacheSize ?? 200_000;
    this.#cache = new LRUCache({ max: this.#cacheSize });
  }

  get hasher(): Hasher {
    return this.#hash;
  }

  /** Decoded nodes held in the cache (metrics and tests). */
  get cachedNodes(): number {
    return this.#cache.size;
  }

  /**
   * A node this update replaced leaves the cache at once. Every update creates a new version of each
   * node on the changed paths, so an LRU of all of them filled with superseded versions within a minute
   * (a few thousand per block): 200,000 decoded nodes, most of them dead, were the bulk of a
   * validator's long-lived heap, and full garbage collections of it took up to 1-2 s on a loaded
   * machine, long enough for backups' request timers to expire (issue 9). Older roots stay readable:
   * their nodes are in the store, and loadNode reads them back if a proof asks.
   */
  #forget(hash: Uint8Array): void {
    this.#cache.delete(hex(hash));
  }

  #remember(id: string, node: TreeNode): void {
    this.#cache.set(id, node);
  }

  /** Loads a node, checking that it hashes to the hash it is stored under. */
  async loadNode(hash: Uint8Array): Promise<TreeNode> {
    const id = hex(hash);
    const cached = this.#cache.get(id); // refreshes its recency
    if (cached !== undefined) return cached;
    const bytes = await this.#source.getNode(hash);
    if (bytes === undefined) throw new StateTreeError('MISSING_NODE', `node ${id} is not in the store`);
    const node = decodeTreeNode(bytes);
    if (!bytesEqual(hashTreeNode(node, this.#hash), hash)) {
      throw new StateTreeError('CORRUPT_NODE', `node stored under ${id} hashes to something else`);
    }
    this.#remember(id, node);
    return node;
  }

  /** SHA-256 of a state key, remembered: a block rewrites the same keys (nonces, device records)
   *  again and again, and the path hash of a key never changes. */
  #keyHash(id: string, key: Uint8Array): Uint8Array {
    let h = this.#keyHashes.get(id);
    if (h === undefined) {
      h = keyHashOf(key, this.#hash);
      if (this.#keyHashes.size >= this.#cacheSize) this.#keyHashes.clear();
      this.#keyHashes.set(id, h);
    }
    return h;
  }

  /**
   * Applies a set of changes to the tree with root `root`; the old root stays valid.
   *
   * Two passes: `#preload` fetches (level by level, in parallel) every stored node the update will
   * read that is not in the cache and pins it for this update; then `#updateSubtree` runs
   * synchronously, with no promise or microtask per node. A 1,000-transaction block rewrites a few
   * thousand nodes, and the per-node async recursion was a visible share of the executor's time.
   */
  async update(root: Uint8Array, changes: readonly TreeChange[]): Promise<TreeUpdate> {
    // Last change to a key wins; then sort by path so that each subtree gets a contiguous run.
    const byKey = new Map<string, PendingLeaf>();
    for (const c of changes) {
      const id = hex(c.key);
      byKey.set(id, { keyHash: this.#keyHash(id, c.key), key: c.key, value: c.value });
    }
    const sorted = [...byKey.values()].sort((a, b) => compareBytes(a.keyHash, b.keyHash));
    const pinned = new Map<string, TreeNode>();
    await this.#preload(root, sorted, pinned);
    const created: { hash: Uint8Array; bytes: Uint8Array }[] = [];
    const newRoot = this.#updateSubtree(root, 0, sorted, 0, sorted.length, created, pinned);
    return { root: newRoot, nodes: created };
  }

  /**
   * Loads and pins every stored node the update of `changes` under `root` reads: the nodes on the
   * changed paths, and, in a subtree where a key is deleted, both children of each node (a deletion
   * can leave a lone leaf that must move up, which #join checks by reading the sibling).
   */
  async #preload(
    root: Uint8Array,
    changes: readonly PendingLeaf[],
    pinned: Map<string, TreeNode>,
  ): Promise<void> {
    interface Visit {
      hash: Uint8Array;
      depth: number;
      lo: number;
      hi: number;
    }
    let frontier: Visit[] = [{ hash: root, depth: 0, lo: 0, hi: changes.length }];
    while (frontier.length > 0) {
      const visits = frontier.filter((v) => !bytesEqual(v.hash, EMPTY_SUBTREE));
      const ids = visits.map((v) => hex(v.hash));
      const nodes = await Promise.all(
        visits.map((v, i) => {
          const hit = this.#cached(ids[i]!);
          return hit !== undefined ? hit : this.loadNode(v.hash);
        }),
      );
      const next: Visit[] = [];
      visits.forEach((v, i) => {
        const node = nodes[i]!;
        pinned.set(ids[i]!, node);
        if (node.kind === 'leaf' || v.lo === v.hi) return;
        let deletes = false;
        for (let k = v.lo; k < v.hi && !deletes; k++) deletes = changes[k]!.value === undefined;
        const split = splitAt(changes, v.depth, v.lo, v.hi);
        if (split > v.lo || deletes) next.push({ hash: node.left, depth: v.depth + 1, lo: v.lo, hi: split });
        if (v.hi > split || deletes) next.push({ hash: node.right, depth: v.depth + 1, lo: split, hi: v.hi });
      });
      frontier = next;
    }
  }

  /** A node from the LRU (refreshing its recency), or undefined. */
  #cached(id: string): TreeNode | undefined {
    return this.#cache.get(id);
  }

  /** A node the update may read: pinned by #preload, or created by this update (in the LRU). */
  #node(hash: Uint8Array, pinned: Map<string, TreeNode>): TreeNode {
    const id = hex(hash);
    const node = pinned.get(id) ?? this.#cache.get(id);
    // Unreachable: #preload pins every stored node the update reads, #store pins what it creates.
    if (node === undefined) throw new StateTreeError('MISSING_NODE', `node ${id} was not preloaded`);
    return node;
  }

  #updateSubtree(
    hash: Uint8Array,
    depth: number,
    changes: PendingLeaf[],
    lo: number,
    hi: number,
    created: { hash: Uint8Array; bytes: Uint8Array }[],
    pinned: Map<string, TreeNode>,
  ): Uint8Array {
    if (lo === hi) return hash;
    if (bytesEqual(hash, EMPTY_SUBTREE)) {
      return this.#build(depth, presentOnly(changes, lo, hi), created, pinned);
    }
    const node = this.#node(hash, pinned);
    if (node.kind === 'leaf') {
      // The subtree is one leaf: rebuild it from that leaf plus the changes (the changes win).
      const run = changes.slice(lo, hi);
      const merged = run.some((c) => bytesEqual(c.keyHash, node.keyHash))
        ? run
        : insertSorted(run, { keyHash: node.keyHash, key: node.key, value: node.value });
      const built = this.#build(depth, presentOnly(merged, 0, merged.length), created, pinned);
      if (!bytesEqual(built, hash)) this.#forget(hash);
      return built;
    }
    const split = splitAt(changes, depth, lo, hi);
    const left = this.#updateSubtree(node.left, depth + 1, changes, lo, split, created, pinned);
    const right = this.#updateSubtree(node.right, depth + 1, changes, split, hi, created, pinned);
    if (bytesEqual(left, node.left) && bytesEqual(right, node.right)) return hash;
    const joined = this.#join(left, right, created, pinned);
    if (!bytesEqual(joined, hash)) this.#forget(hash);
    return joined;
  }

  /** Builds the canonical subtree at `depth` holding exactly `leaves` (sorted, all present). */
  #build(
    depth: number,
    leaves: PendingLeaf[],
    created: { hash: Uint8Array; bytes: Uint8Array }[],
    pinned: Map<string, TreeNode>,
  ): Uint8Array {
    return this.#buildSubtree(depth, leaves, 0, leaves.length, created, pinned);
  }

  #buildSubtree(
    depth: number,
    leaves: PendingLeaf[],
    lo: number,
    hi: number,
    created: { hash: Uint8Array; bytes: Uint8Array }[],
    pinned: Map<string, TreeNode>,
  ): Uint8Array {
    if (lo === hi) return EMPTY_SUBTREE;
    if (hi - lo === 1) {
      const l = leaves[lo]!;
      const value = l.value!;
      const leaf: LeafNode = {
        kind: 'leaf',
        keyHash: l.keyHash,
        valueHash: valueHashOf(value, this.#hash),
        key: l.key,
        value,
      };
      return this.#store(leaf, created, pinned);
    }
    const split = splitAt(leaves, depth, lo, hi);
    const left = this.#buildSubtree(depth + 1, leaves, lo, split, created, pinned);
    const right = this.#buildSubtree(depth + 1, leaves, split, hi, created, pinned);
    // Two or more leaves: never collapses, even when one side is empty (the other is an internal node).
    return this.#store({ kind: 'internal', left, right }, created, pinned);
  }

  /** An internal node over two children, collapsing a lone leaf upwards (an empty sibling). */
  #join(
    left: Uint8Array,
    right: Uint8Array,
    created: { hash: Uint8Array; bytes: Uint8Array }[],
    pinned: Map<string, TreeNode>,
  ): Uint8Array {
    const leftEmpty = bytesEqual(left, EMPTY_SUBTREE);
    const rightEmpty = bytesEqual(right, EMPTY_SUBTREE);
    if (leftEmpty && rightEmpty) return EMPTY_SUBTREE;
    if (leftEmpty && this.#node(right, pinned).kind === 'leaf') return right;
    if (rightEmpty && this.#node(left, pinned).kind === 'leaf') return left;
    return this.#store({ kind: 'internal', left, right }, created, pinned);
  }

  #store(
    node: TreeNode,
    created: { hash: Uint8Array; bytes: Uint8Array }[],
    pinned: Map<string, TreeNode>,
  ): Uint8Array {
    // The node:crypto fast path when the hasher is node:crypto's SHA-256 (the node's default);
    // any other injected hasher (tests, the pure-JS reference) goes through the smt.ts rules.
    const hash =
      this.#hash !== nodeSha256
        ? hashTreeNode(node, this.#hash)
        : node.kind === 'internal'
          ? nodeInternalHash(node.left, node.right)
          : nodeLeafHash(node.keyHash, node.valueHash);
    created.push({ hash, bytes: encodeTreeNode(node) });
    const id = hex(hash);
    // Pinned too: the LRU may evict it before this update is done with it (a later #join reads it).
    pinned.set(id, node);
    this.#remember(id, node);
    return hash;
  }

  /** The value of `key` under `root`, or undefined when absent. */
  async get(root: Uint8Array, key: Uint8Array): Promise<Uint8Array | undefined> {
    return (await this.prove(root, key)).value;
  }

  /** An inclusion or exclusion proof for `key` under `root`, with the value found. */
  async prove(
    root: Uint8Array,
    key: Uint8Array,
  ): Promise<{ value: Uint8Array | undefined; proof: StateProof }> {
    const keyHash = keyHashOf(key, this.#hash);
    const siblings: Uint8Array[] = [];
    let current = root;
    for (let depth = 0; ; depth++) {
      if (bytesEqual(current, EMPTY_SUBTREE)) return { value: undefined, proof: { siblings, leaf: null } };
      const node = await this.loadNode(current);
      if (node.kind === 'leaf') {
        const proof: StateProof = { siblings, leaf: { keyHash: node.keyHash, valueHash: node.valueHash } };
        return { value: bytesEqual(node.keyHash, keyHash) ? node.value : undefined, proof };
      }
      if (depth >= 256) throw new StateTreeError('CORRUPT_NODE', 'internal node below the maximum depth');
      if (pathBit(keyHash, depth) === 0) {
        siblings.push(node.right);
        current = node.left;
      } else {
        siblings.push(node.left);
        current = node.right;
      }
    }
  }

  /** Every (key, value) under `root`, in path order (tests, state dumps and state transfer). */
  async *entries(root: Uint8Array): AsyncGenerator<{ key: Uint8Array; value: Uint8Array }> {
    if (bytesEqual(root, EMPTY_SUBTREE)) return;
    const node = await this.loadNode(root);
    if (node.kind === 'leaf') {
      yield { key: node.key, value: node.value };
      return;
    }
    yield* this.entries(node.left);
    yield* this.entries(node.right);
  }
}

/** Index in [lo, hi) of the first change whose path has bit `depth` set (sorted by path), or hi. */
function splitAt(changes: readonly PendingLeaf[], depth: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pathBit(changes[mid]!.keyHash, depth) === 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The changes in [lo, hi) that set a value (deletions dropped). */
function presentOnly(changes: readonly PendingLeaf[], lo: number, hi: number): PendingLeaf[] {
  const out: PendingLeaf[] = [];
  for (let i = lo; i < hi; i++) if (changes[i]!.value !== undefined) out.push(changes[i]!);
  return out;
}

function insertSorted(changes: PendingLeaf[], extra: PendingLeaf): PendingLeaf[] {
  const out = [...changes];
  let i = 0;
  while (i < out.length && compareBytes(out[i]!.keyHash, extra.keyHash) < 0) i++;
  out.splice(i, 0, extra);
  return out;
}
