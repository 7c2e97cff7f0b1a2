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
import { StateTreeError } from './errors.ts';
import { nodeSha256 } from './hasher.ts';
import { decodeTreeNode, encodeTreeNode, hashTreeNode, type LeafNode, type TreeNode } from './node-codec.ts';

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

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export class SparseMerkleTree {
  readonly #source: TreeNodeSource;
  readonly #hash: Hasher;
  readonly #cacheSize: number;
  readonly #cache = new Map<string, TreeNode>();

  constructor(source: TreeNodeSource, options: SparseMerkleTreeOptions = {}) {
    this.#source = source;
    this.#hash = options.hasher ?? nodeSha256;
    this.#cacheSize = options.cacheSize ?? 200_000;
  }

  get hasher(): Hasher {
    return this.#hash;
  }

  #remember(id: string, node: TreeNode): void {
    if (this.#cache.size >= this.#cacheSize) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(id, node);
  }

  /** Loads a node, checking that it hashes to the hash it is stored under. */
  async loadNode(hash: Uint8Array): Promise<TreeNode> {
    const id = hex(hash);
    const cached = this.#cache.get(id);
    if (cached !== undefined) {
      // Refresh recency (Map iteration order is insertion order).
      this.#cache.delete(id);
      this.#cache.set(id, cached);
      return cached;
    }
    const bytes = await this.#source.getNode(hash);
    if (bytes === undefined) throw new StateTreeError('MISSING_NODE', `node ${id} is not in the store`);
    const node = decodeTreeNode(bytes);
    if (!bytesEqual(hashTreeNode(node, this.#hash), hash)) {
      throw new StateTreeError('CORRUPT_NODE', `node stored under ${id} hashes to something else`);
    }
    this.#remember(id, node);
    return node;
  }

  /** Applies a set of changes to the tree with root `root`; the old root stays valid. */
  async update(root: Uint8Array, changes: readonly TreeChange[]): Promise<TreeUpdate> {
    // Last change to a key wins; then sort by path so that each subtree gets a contiguous run.
    const byPath = new Map<string, PendingLeaf>();
    for (const c of changes) {
      const keyHash = keyHashOf(c.key, this.#hash);
      byPath.set(hex(keyHash), { keyHash, key: c.key, value: c.value });
    }
    const sorted = [...byPath.values()].sort((a, b) => compareBytes(a.keyHash, b.keyHash));
    const created: { hash: Uint8Array; bytes: Uint8Array }[] = [];
    const newRoot = await this.#updateSubtree(root, 0, sorted, created);
    return { root: newRoot, nodes: created };
  }

  async #updateSubtree(
    hash: Uint8Array,
    depth: number,
    changes: PendingLeaf[],
    created: { hash: Uint8Array; bytes: Uint8Array }[],
  ): Promise<Uint8Array> {
    if (changes.length === 0) return hash;
    if (bytesEqual(hash, EMPTY_SUBTREE)) {
      return this.#build(
        depth,
        changes.filter((c) => c.value !== undefined),
        created,
      );
    }
    const node = await this.loadNode(hash);
    if (node.kind === 'leaf') {
      // The subtree is one leaf: rebuild it from that leaf plus the changes (the changes win).
      const merged = changes.some((c) => bytesEqual(c.keyHash, node.keyHash))
        ? changes
        : insertSorted(changes, { keyHash: node.keyHash, key: node.key, value: node.value });
      return this.#build(
        depth,
        merged.filter((c) => c.value !== undefined),
        created,
      );
    }
    const split = splitAt(changes, depth);
    const [left, right] = await Promise.all([
      this.#updateSubtree(node.left, depth + 1, changes.slice(0, split), created),
      this.#updateSubtree(node.right, depth + 1, changes.slice(split), created),
    ]);
    if (bytesEqual(left, node.left) && bytesEqual(right, node.right)) return hash;
    return this.#join(left, right, created);
  }

  /** Builds the canonical subtree at `depth` holding exactly `leaves` (sorted, all present). */
  #build(
    depth: number,
    leaves: PendingLeaf[],
    created: { hash: Uint8Array; bytes: Uint8Array }[],
  ): Uint8Array {
    return this.#buildSubtree(depth, leaves, created).hash;
  }

  #buildSubtree(
    depth: number,
    leaves: PendingLeaf[],
    created: { hash: Uint8Array; bytes: Uint8Array }[],
  ): { hash: Uint8Array; isLeaf: boolean } {
    if (leaves.length === 0) return { hash: EMPTY_SUBTREE, isLeaf: false };
    if (leaves.length === 1) {
      const l = leaves[0]!;
      const value = l.value!;
      const leaf: LeafNode = {
        kind: 'leaf',
        keyHash: l.keyHash,
        valueHash: valueHashOf(value, this.#hash),
        key: l.key,
        value,
      };
      return { hash: this.#store(leaf, created), isLeaf: true };
    }
    const split = splitAt(leaves, depth);
    const left = this.#buildSubtree(depth + 1, leaves.slice(0, split), created);
    const right = this.#buildSubtree(depth + 1, leaves.slice(split), created);
    // Two or more leaves: never collapses, even when one side is empty (the other is an internal node).
    return {
      hash: this.#store({ kind: 'internal', left: left.hash, right: right.hash }, created),
      isLeaf: false,
    };
  }

  /** An internal node over two children, collapsing a lone leaf upwards (an empty sibling). */
  async #join(
    left: Uint8Array,
    right: Uint8Array,
    created: { hash: Uint8Array; bytes: Uint8Array }[],
  ): Promise<Uint8Array> {
    const leftEmpty = bytesEqual(left, EMPTY_SUBTREE);
    const rightEmpty = bytesEqual(right, EMPTY_SUBTREE);
    if (leftEmpty && rightEmpty) return EMPTY_SUBTREE;
    if (leftEmpty && (await this.loadNode(right)).kind === 'leaf') return right;
    if (rightEmpty && (await this.loadNode(left)).kind === 'leaf') return left;
    return this.#store({ kind: 'internal', left, right }, created);
  }

  #store(node: TreeNode, created: { hash: Uint8Array; bytes: Uint8Array }[]): Uint8Array {
    const hash = hashTreeNode(node, this.#hash);
    created.push({ hash, bytes: encodeTreeNode(node) });
    this.#remember(hex(hash), node);
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

/** Index of the first change whose path has bit `depth` set (changes are sorted by path). */
function splitAt(changes: readonly PendingLeaf[], depth: number): number {
  let lo = 0;
  let hi = changes.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pathBit(changes[mid]!.keyHash, depth) === 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(changes: PendingLeaf[], extra: PendingLeaf): PendingLeaf[] {
  const out = [...changes];
  let i = 0;
  while (i < out.length && compareBytes(out[i]!.keyHash, extra.keyHash) < 0) i++;
  out.splice(i, 0, extra);
  return out;
}
