// The node side of the state commitment: builds and reads the compressed sparse Merkle tree whose rules
// (hashing, proof shape) live in consensus/src/proof/smt.ts. Nodes are immutable and never deleted by an
// update: every root ever committed stays readable and provable until a pruning pass removes it
// (docs/storage.md, "Retention"). Each is stored under its VERSION (the height whose update created it)
// followed by its hash, and a parent names its children's versions (ADR 0114): keys that grow with the
// height let LevelDB append instead of merging random keys into ever larger levels, the way the
// Jellyfish Merkle tree keys nodes by version (Gao et al., "Jellyfish Merkle Tree", §2.2).
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
import { TreeNodeCache } from './node-cache.ts';

/** Where persisted nodes come from (the chain store's `N` and `V` prefixes, or Maps in tests). */
export interface TreeNodeSource {
  /** The node stored under (version, hash). */
  getNode(version: number, hash: Uint8Array): Promise<Uint8Array | undefined>;
  /** The version of a root node (the tree's entry point: every other version is in a parent). */
  getRootVersion(root: Uint8Array): Promise<number | undefined>;
}

/** A stored node's address: its version and hash. */
export interface NodeRef {
  hash: Uint8Array;
  version: number;
}

/** One state change: `value` undefined deletes the key. */
export interface TreeChange {
  key: Uint8Array;
  value: Uint8Array | undefined;
}

export interface TreeUpdate {
  root: Uint8Array;
  /** The root's version: the update's own when it made a new root, an older one when nothing changed. */
  rootVersion: number;
  /** Every node the update created, all of the update's version. */
  nodes: CreatedNode[];
}

/** A node an update created: its address, its stored bytes and the node itself (its children's refs). */
export interface CreatedNode {
  version: number;
  hash: Uint8Array;
  bytes: Uint8Array;
  node: TreeNode;
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

const EMPTY_REF: NodeRef = { hash: EMPTY_SUBTREE, version: 0 };

type Created = CreatedNode[];

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export class SparseMerkleTree {
  readonly #source: TreeNodeSource;
  readonly #hash: Hasher;
  readonly #cacheSize: number;
  /**
   * Decoded nodes by hash (node-cache.ts: integer-keyed, two generations). Not a Map used as an LRU:
   * evicting a Map's oldest entry with `keys().next()` skips every deleted slot before it (V8 compacts
   * only on rehash), so once the cache was full each eviction cost O(cache size); a validator's block
   * execution slowed from ~5 % to over 50 % of its CPU within minutes under load (issue 9).
   */
  readonly #cache: TreeNodeCache;
  readonly #keyHashes = new Map<string, Uint8Array>();
  /** Versions of recent roots (every update starts from one, every proof too). */
  readonly #rootVersions = new LRUCache<string, number>({ max: 4096 });

  constructor(source: TreeNodeSource, options: SparseMerkleTreeOptions = {}) {
    this.#source = source;
    this.#hash = options.hasher ?? nodeSha256;
    this.#cacheSize = options.cacheSize ?? 200_000;
    this.#cache = new TreeNodeCache(this.#cacheSize);
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
    this.#cache.delete(hash);
  }

  /** Loads the node stored under (version, hash), checking that it hashes to `hash`. */
  async loadNode(hash: Uint8Array, version: number): Promise<TreeNode> {
    const cached = this.#cache.get(hash); // refreshes its recency
    if (cached !== undefined) return cached;
    const bytes = await this.#source.getNode(version, hash);
    if (bytes === undefined) {
      throw new StateTreeError('MISSING_NODE', `node ${hex(hash)} (version ${version}) is not in the store`);
    }
    const node = decodeTreeNode(bytes);
    if (!bytesEqual(hashTreeNode(node, this.#hash), hash)) {
      throw new StateTreeError('CORRUPT_NODE', `node stored under ${hex(hash)} hashes to something else`);
    }
    this.#cache.set(hash, node);
    return node;
  }

  /** The stored address of a non-empty root; MISSING_NODE when its version is not recorded. */
  async rootRef(root: Uint8Array): Promise<NodeRef> {
    if (bytesEqual(root, EMPTY_SUBTREE)) return EMPTY_REF;
    const id = hex(root);
    let version = this.#rootVersions.get(id);
    if (version === undefined) {
      version = await this.#source.getRootVersion(root);
      if (version === undefined) {
        throw new StateTreeError('MISSING_NODE', `root ${id} has no recorded version`);
      }
      this.#rootVersions.set(id, version);
    }
    return { hash: root, version };
  }

  /** Loads a root node (startup checks): its version record, then the node, checked against `root`. */
  async loadRoot(root: Uint8Array): Promise<TreeNode> {
    const ref = await this.rootRef(root);
    return this.loadNode(ref.hash, ref.version);
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
   * Applies a set of changes to the tree with root `root`; the old root stays valid. Every node the
   * update creates gets `version` (the block height; it must exceed every version in the tree).
   *
   * Two passes: `#preload` fetches (level by level, in parallel) every stored node the update will
   * read that is not in the cache (held for this update); then `#updateSubtree` runs
   * synchronously, with no promise or microtask per node. A 1,000-transaction block rewrites a few
   * thousand nodes, and the per-node async recursion was a visible share of the executor's time.
   */
  async update(root: Uint8Array, changes: readonly TreeChange[], version: number): Promise<TreeUpdate> {
    if (!Number.isSafeInteger(version) || version < 0) throw new RangeError(`not a version: ${version}`);
    // Last change to a key wins; then sort by path so that each subtree gets a contiguous run.
    const byKey = new Map<string, PendingLeaf>();
    for (const c of changes) {
      const id = hex(c.key);
      byKey.set(id, { keyHash: this.#keyHash(id, c.key), key: c.key, value: c.value });
    }
    const sorted = [...byKey.values()].sort((a, b) => compareBytes(a.keyHash, b.keyHash));
    const rootRef = await this.rootRef(root);
    const created: Created = [];
    // Held: nothing the update preloads or creates can be evicted before the synchronous pass reads it.
    this.#cache.hold();
    let next: NodeRef;
    try {
      await this.#preload(rootRef, sorted);
      next = this.#updateSubtree(rootRef, 0, sorted, 0, sorted.length, version, created);
    } finally {
      this.#cache.release();
    }
    if (!bytesEqual(next.hash, EMPTY_SUBTREE)) this.#rootVersions.set(hex(next.hash), next.version);
    return { root: next.hash, rootVersion: next.version, nodes: created };
  }

  /**
   * Loads into the (held) cache every stored node the update of `changes` under `root` reads: the
   * nodes on the changed paths, and, in a subtree where a key is deleted, both children of each node
   * (a deletion can leave a lone leaf that must move up, which #join checks by reading the sibling).
   */
  async #preload(root: NodeRef, changes: readonly PendingLeaf[]): Promise<void> {
    interface Visit {
      hash: Uint8Array;
      version: number;
      depth: number;
      lo: number;
      hi: number;
    }
    let frontier: Visit[] = [{ hash: root.hash, version: root.version, depth: 0, lo: 0, hi: changes.length }];
    while (frontier.length > 0) {
      const visits = frontier.filter((v) => !bytesEqual(v.hash, EMPTY_SUBTREE));
      // Only misses wait for the store: Promise.all over cached nodes would still queue a microtask per
      // node, and a large block's update visits thousands of them, almost all cached.
      const nodes: TreeNode[] = new Array(visits.length);
      const loads: Promise<void>[] = [];
      visits.forEach((v, i) => {
        const hit = this.#cache.get(v.hash);
        if (hit !== undefined) nodes[i] = hit;
        else
          loads.push(
            this.loadNode(v.hash, v.version).then((n) => {
              nodes[i] = n;
            }),
          );
      });
      if (loads.length > 0) await Promise.all(loads);
      const next: Visit[] = [];
      visits.forEach((v, i) => {
        const node = nodes[i]!;
        if (node.kind === 'leaf' || v.lo === v.hi) return;
        let deletes = false;
        for (let k = v.lo; k < v.hi && !deletes; k++) deletes = changes[k]!.value === undefined;
        const split = splitAt(changes, v.depth, v.lo, v.hi);
        const depth = v.depth + 1;
        if (split > v.lo || deletes) {
          next.push({ hash: node.left, version: node.leftVersion, depth, lo: v.lo, hi: split });
        }
        if (v.hi > split || deletes) {
          next.push({ hash: node.right, version: node.rightVersion, depth, lo: split, hi: v.hi });
        }
      });
      frontier = next;
    }
  }

  /** A node the update may read: preloaded, or created by this update (the cache is held meanwhile). */
  #node(hash: Uint8Array): TreeNode {
    const node = this.#cache.get(hash);
    // Unreachable: #preload loaded every stored node the update reads, #store caches what it creates,
    // and nothing leaves the held cache but a replaced node (a hash names one position in the tree).
    if (node === undefined) throw new StateTreeError('MISSING_NODE', `node ${hex(hash)} was not preloaded`);
    return node;
  }

  #updateSubtree(
    ref: NodeRef,
    depth: number,
    changes: PendingLeaf[],
    lo: number,
    hi: number,
    version: number,
    created: Created,
  ): NodeRef {
    if (lo === hi) return ref;
    const hash = ref.hash;
    if (bytesEqual(hash, EMPTY_SUBTREE)) {
      return this.#build(depth, presentOnly(changes, lo, hi), version, created);
    }
    const node = this.#node(hash);
    if (node.kind === 'leaf') {
      // The subtree is one leaf: rebuild it from that leaf plus the changes (the changes win).
      const run = changes.slice(lo, hi);
      const merged = run.some((c) => bytesEqual(c.keyHash, node.keyHash))
        ? run
        : insertSorted(run, { keyHash: node.keyHash, key: node.key, value: node.value });
      const built = this.#build(depth, presentOnly(merged, 0, merged.length), version, created);
      if (!bytesEqual(built.hash, hash)) this.#forget(hash);
      return built;
    }
    const split = splitAt(changes, depth, lo, hi);
    const left = this.#updateSubtree(
      { hash: node.left, version: node.leftVersion },
      depth + 1,
      changes,
      lo,
      split,
      version,
      created,
    );
    const right = this.#updateSubtree(
      { hash: node.right, version: node.rightVersion },
      depth + 1,
      changes,
      split,
      hi,
      version,
      created,
    );
    if (bytesEqual(left.hash, node.left) && bytesEqual(right.hash, node.right)) return ref;
    const joined = this.#join(left, right, version, created);
    if (!bytesEqual(joined.hash, hash)) this.#forget(hash);
    return joined;
  }

  /** Builds the canonical subtree at `depth` holding exactly `leaves` (sorted, all present). */
  #build(depth: number, leaves: PendingLeaf[], version: number, created: Created): NodeRef {
    return this.#buildSubtree(depth, leaves, 0, leaves.length, version, created);
  }

  #buildSubtree(
    depth: number,
    leaves: PendingLeaf[],
    lo: number,
    hi: number,
    version: number,
    created: Created,
  ): NodeRef {
    if (lo === hi) return EMPTY_REF;
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
      return this.#store(leaf, version, created);
    }
    const split = splitAt(leaves, depth, lo, hi);
    const left = this.#buildSubtree(depth + 1, leaves, lo, split, version, created);
    const right = this.#buildSubtree(depth + 1, leaves, split, hi, version, created);
    // Two or more leaves: never collapses, even when one side is empty (the other is an internal node).
    return this.#store(internal(left, right), version, created);
  }

  /** An internal node over two children, collapsing a lone leaf upwards (an empty sibling). */
  #join(left: NodeRef, right: NodeRef, version: number, created: Created): NodeRef {
    const leftEmpty = bytesEqual(left.hash, EMPTY_SUBTREE);
    const rightEmpty = bytesEqual(right.hash, EMPTY_SUBTREE);
    if (leftEmpty && rightEmpty) return EMPTY_REF;
    // A leaf that moves up keeps its version: it is the same stored node at a shorter path.
    if (leftEmpty && this.#node(right.hash).kind === 'leaf') return right;
    if (rightEmpty && this.#node(left.hash).kind === 'leaf') return left;
    return this.#store(internal(left, right), version, created);
  }

  #store(node: TreeNode, version: number, created: Created): NodeRef {
    // The node:crypto fast path when the hasher is node:crypto's SHA-256 (the node's default);
    // any other injected hasher (tests, the pure-JS reference) goes through the smt.ts rules.
    const hash =
      this.#hash !== nodeSha256
        ? hashTreeNode(node, this.#hash)
        : node.kind === 'internal'
          ? nodeInternalHash(node.left, node.right)
          : nodeLeafHash(node.keyHash, node.valueHash);
    created.push({ version, hash, bytes: encodeTreeNode(node), node });
    this.#cache.set(hash, node);
    return { hash, version };
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
    let { hash: current, version } = await this.rootRef(root);
    for (let depth = 0; ; depth++) {
      if (bytesEqual(current, EMPTY_SUBTREE)) return { value: undefined, proof: { siblings, leaf: null } };
      const node = await this.loadNode(current, version);
      if (node.kind === 'leaf') {
        const proof: StateProof = { siblings, leaf: { keyHash: node.keyHash, valueHash: node.valueHash } };
        return { value: bytesEqual(node.keyHash, keyHash) ? node.value : undefined, proof };
      }
      if (depth >= 256) throw new StateTreeError('CORRUPT_NODE', 'internal node below the maximum depth');
      if (pathBit(keyHash, depth) === 0) {
        siblings.push(node.right);
        current = node.left;
        version = node.leftVersion;
      } else {
        siblings.push(node.left);
        current = node.right;
        version = node.rightVersion;
      }
    }
  }

  /** Every (key, value) under `root`, in path order (tests, state dumps and state transfer). */
  async *entries(root: Uint8Array): AsyncGenerator<{ key: Uint8Array; value: Uint8Array }> {
    yield* this.#entriesUnder(await this.rootRef(root));
  }

  async *#entriesUnder(ref: NodeRef): AsyncGenerator<{ key: Uint8Array; value: Uint8Array }> {
    if (bytesEqual(ref.hash, EMPTY_SUBTREE)) return;
    const node = await this.loadNode(ref.hash, ref.version);
    if (node.kind === 'leaf') {
      yield { key: node.key, value: node.value };
      return;
    }
    yield* this.#entriesUnder({ hash: node.left, version: node.leftVersion });
    yield* this.#entriesUnder({ hash: node.right, version: node.rightVersion });
  }
}

function internal(left: NodeRef, right: NodeRef): TreeNode {
  return {
    kind: 'internal',
    left: left.hash,
    right: right.hash,
    leftVersion: left.version,
    rightVersion: right.version,
  };
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
