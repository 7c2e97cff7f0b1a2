// State-tree nodes created since the tree was last materialised, held in memory (ADR 0116).
//
// A block that changes k state keys rewrites the k paths from the leaves to the root: on a validator
// applying blocks of ~50 readings transactions, about 1,100 tree nodes per block, 2.6 KB of the
// ~4 KB each transaction wrote to LevelDB, and the compactions that volume caused ran on all validators
// at once every ~8 s, each time taking latency from ~80 ms to 300-900 ms (docs/benchmarks-log.md). Most of
// those nodes are superseded a block or two later (the same patients' keys change again). So a block's
// nodes stay here, readable through this source, and are written only every few blocks, and then only
// the ones still reachable from the newest root: the Jellyfish Merkle tree's batching of many versions
// into one write (Gao et al., §3.3), across blocks instead of within one.
//
// What makes a held node safe to lose: every block's batch still stores its state changes (the flat
// 'S' copy), its root ('R') and the list of keys it changed ('D'); the tree of any later height is the
// stored tree plus those keys' current values (ChainStore's startup recovery).
import { EMPTY_SUBTREE, bytesEqual } from '@vigil/consensus/proof/smt.ts';
import { hexKey } from '../state-tree/hex-key.ts';
import type { CreatedNode, TreeNodeSource, TreeUpdate } from '../state-tree/tree.ts';

/** A root whose nodes are held (the state after `height`). */
interface HeldRoot {
  height: number;
  root: Uint8Array;
  version: number;
}

/**
 * Held nodes by (version, hash), keyed by the hash's first 32 bits (SHA-256 output: uniform), with the
 * rare collisions chained. A string key (version and hex hash) made holding a block's nodes 2 % of a
 * validator's CPU in the full sweep's profile: a hex string and a concatenation per node, then a hash
 * of the 70-character result.
 */
export class NodeTable {
  readonly #slots = new Map<number, CreatedNode | CreatedNode[]>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(version: number, hash: Uint8Array): CreatedNode | undefined {
    const e = this.#slots.get(slotOf(hash));
    if (e === undefined) return undefined;
    if (!Array.isArray(e)) return names(e, version, hash) ? e : undefined;
    for (const x of e) if (names(x, version, hash)) return x;
    return undefined;
  }

  set(n: CreatedNode): void {
    const slot = slotOf(n.hash);
    const e = this.#slots.get(slot);
    if (e === undefined) {
      this.#slots.set(slot, n);
      this.#size++;
    } else if (!Array.isArray(e)) {
      if (names(e, n.version, n.hash)) this.#slots.set(slot, n);
      else {
        this.#slots.set(slot, [e, n]);
        this.#size++;
      }
    } else {
      const i = e.findIndex((x) => names(x, n.version, n.hash));
      if (i >= 0) e[i] = n;
      else {
        e.push(n);
        this.#size++;
      }
    }
  }

  delete(version: number, hash: Uint8Array): void {
    const slot = slotOf(hash);
    const e = this.#slots.get(slot);
    if (e === undefined) return;
    if (!Array.isArray(e)) {
      if (names(e, version, hash)) {
        this.#slots.delete(slot);
        this.#size--;
      }
      return;
    }
    const i = e.findIndex((x) => names(x, version, hash));
    if (i < 0) return;
    e.splice(i, 1);
    this.#size--;
    if (e.length === 1) this.#slots.set(slot, e[0]!);
  }
}

function slotOf(hash: Uint8Array): number {
  return ((hash[0]! << 24) | (hash[1]! << 16) | (hash[2]! << 8) | hash[3]!) >>> 0;
}

function names(n: CreatedNode, version: number, hash: Uint8Array): boolean {
  return n.version === version && bytesEqual(n.hash, hash);
}

export class DeferredTreeNodes implements TreeNodeSource {
  readonly #stored: TreeNodeSource;
  #nodes = new NodeTable();
  readonly #rootVersions = new Map<string, number>();
  /** The held roots, oldest first. */
  #roots: HeldRoot[] = [];

  constructor(stored: TreeNodeSource) {
    this.#stored = stored;
  }

  /** Nodes held (not yet stored). */
  get size(): number {
    return this.#nodes.size;
  }

  async getNode(version: number, hash: Uint8Array): Promise<Uint8Array | undefined> {
    const held = this.#nodes.get(version, hash);
    return held !== undefined ? held.bytes : this.#stored.getNode(version, hash);
  }

  async getRootVersion(root: Uint8Array): Promise<number | undefined> {
    return this.#rootVersions.get(hexKey(root)) ?? this.#stored.getRootVersion(root);
  }

  /** Whether the tree under `root` is readable from memory or the store (a held or stored root). */
  async hasRoot(root: Uint8Array): Promise<boolean> {
    if (bytesEqual(root, EMPTY_SUBTREE)) return true;
    return (await this.getRootVersion(root)) !== undefined;
  }

  /** Holds the nodes of the update that produced the state after `height` (once its block is durable). */
  hold(height: number, update: TreeUpdate): void {
    for (const n of update.nodes) this.#nodes.set(n);
    if (bytesEqual(update.root, EMPTY_SUBTREE)) return;
    this.#rootVersions.set(hexKey(update.root), update.rootVersion);
    this.#roots.push({ height, root: update.root, version: update.rootVersion });
  }

  /**
   * The nodes under `root` that are not in the store: held ones, and those of `update` (not held yet:
   * its block is being written). A walk down from the root that stops at every stored node, so it
   * visits only what changed since the last materialisation.
   */
  unstoredUnder(root: Uint8Array, version: number, update?: TreeUpdate): CreatedNode[] {
    const fresh = new NodeTable();
    for (const n of update?.nodes ?? []) fresh.set(n);
    const out: CreatedNode[] = [];
    const seen = new NodeTable();
    const stack: [Uint8Array, number][] = [[root, version]];
    while (stack.length > 0) {
      const [hash, v] = stack.pop()!;
      if (bytesEqual(hash, EMPTY_SUBTREE) || seen.get(v, hash) !== undefined) continue;
      const n = fresh.get(v, hash) ?? this.#nodes.get(v, hash);
      if (n === undefined) continue; // stored: so is everything under it
      seen.set(n);
      out.push(n);
      if (n.node.kind === 'internal') {
        stack.push([n.node.left, n.node.leftVersion], [n.node.right, n.node.rightVersion]);
      }
    }
    return out;
  }

  /**
   * After `stored` (the nodes under the root of `height`) were written: drops them, and every held node
   * no longer reachable from the newest `keepRoots` held roots before `height` (the newest headers cite
   * states a block or two behind, so proofs against those stay possible until the next
   * materialisation; older held states are given up).
   */
  materialised(height: number, stored: readonly CreatedNode[], keepRoots: number): void {
    for (const n of stored) this.#nodes.delete(n.version, n.hash);
    const keep = this.#roots.filter((r) => r.height < height).slice(-keepRoots);
    const retained = new NodeTable();
    for (const r of keep) for (const n of this.unstoredUnder(r.root, r.version)) retained.set(n);
    this.#nodes = retained;
    this.#roots = keep;
    this.#rootVersions.clear();
    for (const r of keep) this.#rootVersions.set(hexKey(r.root), r.version);
  }
}
