// The key layout of the chain database (docs/storage.md is the reference; keep the two in step).
// Every key starts with one ASCII prefix byte naming its record type; integers in keys are fixed-width
// big-endian so that LevelDB's bytewise order is numeric order (range scans by height work).

import { Slab } from './slab.ts';

export const Prefix = {
  /** Chain metadata: 'M' || utf8(name). */
  meta: 0x4d,
  /** Encoded block (wire encodeBlock): 'B' || u64be(height). */
  block: 0x42,
  /** Encoded commit certificate: 'C' || u64be(height). */
  certificate: 0x43,
  /** Block hash to height: 'H' || blockHash(32). */
  blockHash: 0x48,
  /** Transaction index: 'T' || txId(32) -> [height, position]. */
  tx: 0x54,
  /** Receipt of the transaction at (height, position): 'X' || u64be(height) || u32be(position). */
  receipt: 0x58,
  /** State root after executing height h (0 = genesis): 'R' || u64be(h). */
  stateRoot: 0x52,
  /** State-tree node: 'N' || u64be(version) || nodeHash(32), version = the height that created it. */
  treeNode: 0x4e,
  /** Version of a state-tree root node: 'V' || rootHash(32) -> uint. */
  treeRootVersion: 0x56,
  /**
   * A height applied inside a certified range whose state root was computed only at the range's end
   * (ADR 0115): 'G' || u64be(height) -> uint end height. Such a height has no 'R' record and no tree
   * version of its own.
   */
  rangeInterior: 0x47,
  /**
   * The state keys a block changed while its tree nodes were only held in memory (ADR 0116):
   * 'D' || u64be(height) -> [key...]. Deleted when the tree is next materialised.
   */
  treeChanges: 0x44,
  /** Current value of a state key (flat copy of the tree's leaves for O(1) reads): 'S' || key. */
  state: 0x53,
  /** Secondary index data written by handlers (IndexAccess): 'I' || key. */
  index: 0x49,
  /**
   * A block's effects record (ADR 0133), on chains with `blockEffects`: 'E' || u64be(height) -> the
   * canonical record consensus/src/proof/effects.ts defines, served to nodes that catch up.
   */
  effects: 0x45,
} as const;

export const MetaKey = {
  schemaVersion: 'schemaVersion',
  chainId: 'chainId',
  genesisHash: 'genesisHash',
  genesisTime: 'genesisTime',
  validators: 'validators',
  appliedHeight: 'appliedHeight',
  headHash: 'headHash',
  stateRoot: 'stateRoot',
  /** uint: the height whose state tree is in the store (ADR 0116); absent: the applied height. */
  treeHeight: 'treeHeight',
  /** uint: blocks per state-tree update, k (ADR 0117); absent: 1, a root of every height's state. */
  stateRootInterval: 'stateRootInterval',
  /**
   * uint 1: every block's receipts root is in the state (ADR 0123, schema 6); 0 or absent: it is not.
   * Recorded either way from schema 7 on (ADR 0130).
   */
  receiptsRoots: 'receiptsRoots',
  /**
   * uint: the first height whose index records include every index of schema 7 (ADR 0130): 1 for a
   * chain created at schema 7, the height after the head for an older database upgraded.
   */
  indexedFrom: 'indexedFrom',
  /**
   * uint 1: every block's effects record is stored ('E') and its digest is in the state (ADR 0133,
   * schema 8); 0: it is not. Recorded from schema 8 on.
   */
  blockEffects: 'blockEffects',
} as const;
export type MetaKey = (typeof MetaKey)[keyof typeof MetaKey];

const utf8 = new TextEncoder();

function withPrefix(prefix: number, rest: Uint8Array): Uint8Array {
  const k = new Uint8Array(1 + rest.length);
  k[0] = prefix;
  k.set(rest, 1);
  return k;
}

/**
 * Writes a safe non-negative integer (a height, a sequence number, a time) as 8 big-endian bytes at
 * `offset`; RangeError for anything else. The one writer of integers in keys, here and in the state
 * machine's key layout.
 */
export function writeU64be(out: Uint8Array, offset: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a safe unsigned integer: ${n}`);
  // Two 32-bit halves instead of a BigInt: this runs for every tree node a block writes.
  const hi = Math.floor(n / 0x100000000);
  const lo = n >>> 0;
  out[offset] = hi >>> 24;
  out[offset + 1] = (hi >>> 16) & 0xff;
  out[offset + 2] = (hi >>> 8) & 0xff;
  out[offset + 3] = hi & 0xff;
  out[offset + 4] = lo >>> 24;
  out[offset + 5] = (lo >>> 16) & 0xff;
  out[offset + 6] = (lo >>> 8) & 0xff;
  out[offset + 7] = lo & 0xff;
}

function u64be(n: number): Uint8Array {
  const b = new Uint8Array(8);
  writeU64be(b, 0, n);
  return b;
}

export function readU64be(b: Uint8Array, offset: number): number {
  return Number(new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(offset));
}

export const keys = {
  meta: (name: MetaKey): Uint8Array => withPrefix(Prefix.meta, utf8.encode(name)),
  block: (height: number): Uint8Array => withPrefix(Prefix.block, u64be(height)),
  certificate: (height: number): Uint8Array => withPrefix(Prefix.certificate, u64be(height)),
  blockHash: (hash: Uint8Array): Uint8Array => withPrefix(Prefix.blockHash, hash),
  tx: (txId: Uint8Array): Uint8Array => withPrefix(Prefix.tx, txId),
  receipt: (height: number, position: number): Uint8Array => {
    const k = new Uint8Array(13);
    k[0] = Prefix.receipt;
    k.set(u64be(height), 1);
    new DataView(k.buffer).setUint32(9, position);
    return k;
  },
  stateRoot: (height: number): Uint8Array => withPrefix(Prefix.stateRoot, u64be(height)),
  treeNode: (version: number, hash: Uint8Array): Uint8Array => {
    const k = new Uint8Array(9 + hash.length);
    k[0] = Prefix.treeNode;
    writeU64be(k, 1, version);
    k.set(hash, 9);
    return k;
  },
  treeRootVersion: (root: Uint8Array): Uint8Array => withPrefix(Prefix.treeRootVersion, root),
  rangeInterior: (height: number): Uint8Array => withPrefix(Prefix.rangeInterior, u64be(height)),
  treeChanges: (height: number): Uint8Array => withPrefix(Prefix.treeChanges, u64be(height)),
  state: (key: Uint8Array): Uint8Array => withPrefix(Prefix.state, key),
  index: (key: Uint8Array): Uint8Array => withPrefix(Prefix.index, key),
  effects: (height: number): Uint8Array => withPrefix(Prefix.effects, u64be(height)),
};

const batchKeySlab = new Slab();

/**
 * prefix || rest carved from a shared slab (store/slab.ts): for keys that only go into a batch being
 * built (the executor's flat-state and index records, one per write), which the batch copies.
 */
export function batchKey(prefix: number, rest: Uint8Array): Uint8Array {
  const k = batchKeySlab.alloc(1 + rest.length);
  k[0] = prefix;
  k.set(rest, 1);
  return k;
}

/**
 * The receipt and transaction-index keys (`keys.receipt`, `keys.tx`) carved from the same slab, for the
 * executor's batch: one of each per transaction, and a fresh small array handed to LevelDB's native
 * put is first moved off the V8 heap (the chained batch's put was a quarter of catch-up's main thread,
 * bench -- replay profile, 2026-12-06).
 */
export const batchKeys = {
  receipt(height: number, position: number): Uint8Array {
    const k = batchKeySlab.alloc(13);
    k[0] = Prefix.receipt;
    writeU64be(k, 1, height);
    k[9] = position >>> 24;
    k[10] = (position >>> 16) & 0xff;
    k[11] = (position >>> 8) & 0xff;
    k[12] = position & 0xff;
    return k;
  },
  tx(txId: Uint8Array): Uint8Array {
    return batchKey(Prefix.tx, txId);
  },
};

/** [gte, lt) bounds covering every key with this prefix byte. */
export function prefixRange(prefix: number): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: Uint8Array.of(prefix), lt: Uint8Array.of(prefix + 1) };
}

/** [gte, lt) bounds covering every key that starts with prefix || start. */
export function subRange(prefix: number, start: Uint8Array): { gte: Uint8Array; lt?: Uint8Array } {
  const gte = withPrefix(prefix, start);
  // The smallest key greater than every extension of gte: increment the last non-0xff byte.
  const lt = gte.slice();
  for (let i = lt.length - 1; i >= 0; i--) {
    if (lt[i]! < 0xff) {
      lt[i]! += 1;
      return { gte, lt: lt.slice(0, i + 1) };
    }
  }
  return { gte };
}
