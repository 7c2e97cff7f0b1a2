// Persisted form of state-tree nodes (docs/storage.md, prefix `N`): canonical CBOR arrays
//   leaf:     [0, keyHash(32), valueHash(32), key, value]
//   internal: [1, leftHash(32), rightHash(32), leftVersion, rightVersion]
// A leaf keeps the key and value themselves so that any retained historical root can still answer
// "what was the value of K at height h" with a proof, not only the current state. An internal node
// names the version (the height whose update created it) of each child, because a node is stored
// under version || hash (ADR 0114); the versions are storage addresses, not part of any hash.
import { decodeCanonical, encodeCanonical } from '@vigil/consensus/wire';
import { type Hasher, HASH_BYTES, internalHash, leafHash } from '@vigil/consensus/proof/smt.ts';
import { headLength, writeHead } from '../store/cbor-direct.ts';
import { StateTreeError } from './errors.ts';
import { Slab } from '../store/slab.ts';

export interface LeafNode {
  kind: 'leaf';
  keyHash: Uint8Array;
  valueHash: Uint8Array;
  key: Uint8Array;
  value: Uint8Array;
}
export interface InternalNode {
  kind: 'internal';
  left: Uint8Array;
  right: Uint8Array;
  /** The version the left child is stored under (0 for an empty child). */
  leftVersion: number;
  rightVersion: number;
}
export type TreeNode = LeafNode | InternalNode;

/** Upper bound on a stored node; state values are canonical CBOR records far below this. */
export const MAX_NODE_BYTES = 1 << 20;

/** Canonical CBOR via the generic encoder: the reference the fast path is tested against. */
export function encodeTreeNodeReference(node: TreeNode): Uint8Array {
  return node.kind === 'leaf'
    ? encodeCanonical([0, node.keyHash, node.valueHash, node.key, node.value])
    : encodeCanonical([1, node.left, node.right, node.leftVersion, node.rightVersion]);
}

/** A byte string's head and bytes at `o`; the offset after them. */
function writeBstr(out: Uint8Array, o: number, b: Uint8Array): number {
  const p = writeHead(out, o, 2, b.length);
  out.set(b, p);
  return p + b.length;
}

/**
 * Encoded nodes are carved out of shared slabs (store/slab.ts): they die with the block's batch, and a
 * backing store per node cost more than encoding it.
 */
const nodeSlab = new Slab();

function allocNode(size: number): Uint8Array {
  return nodeSlab.alloc(size);
}

/**
 * The same bytes as encodeTreeNodeReference, written directly: tens of thousands of nodes are encoded
 * per large block, and the generic encoder's normalisation dominated the tree update
 * (node-codec.test.ts checks byte equality with the reference).
 */
export function encodeTreeNode(node: TreeNode): Uint8Array {
  if (node.kind === 'internal') {
    const out = allocNode(70 + headLength(node.leftVersion) + headLength(node.rightVersion));
    out[0] = 0x85; // array(5)
    out[1] = 0x01;
    writeBstr(out, 2, node.left);
    writeBstr(out, 36, node.right);
    writeHead(out, writeHead(out, 70, 0, node.leftVersion), 0, node.rightVersion);
    return out;
  }
  const size =
    2 +
    headLength(node.keyHash.length) +
    node.keyHash.length +
    headLength(node.valueHash.length) +
    node.valueHash.length +
    headLength(node.key.length) +
    node.key.length +
    headLength(node.value.length) +
    node.value.length;
  const out = allocNode(size);
  out[0] = 0x85; // array(5)
  out[1] = 0x00;
  let o = writeBstr(out, 2, node.keyHash);
  o = writeBstr(out, o, node.valueHash);
  o = writeBstr(out, o, node.key);
  writeBstr(out, o, node.value);
  return out;
}

export function hashTreeNode(node: TreeNode, hash: Hasher): Uint8Array {
  return node.kind === 'leaf'
    ? leafHash(node.keyHash, node.valueHash, hash)
    : internalHash(node.left, node.right, hash);
}

function isHash(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array && x.length === HASH_BYTES;
}

function isVersion(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Decodes a stored node; throws CORRUPT_NODE on anything but a well-formed node. */
export function decodeTreeNode(bytes: Uint8Array): TreeNode {
  let v: unknown;
  try {
    v = decodeCanonical(bytes, { maxBytes: MAX_NODE_BYTES });
  } catch (e) {
    throw new StateTreeError('CORRUPT_NODE', `undecodable node: ${(e as Error).message}`);
  }
  if (Array.isArray(v) && v.length === 5 && v[0] === 0) {
    const [, keyHash, valueHash, key, value] = v;
    if (isHash(keyHash) && isHash(valueHash) && key instanceof Uint8Array && value instanceof Uint8Array) {
      return { kind: 'leaf', keyHash, valueHash, key, value };
    }
  } else if (Array.isArray(v) && v.length === 5 && v[0] === 1) {
    const [, left, right, leftVersion, rightVersion] = v;
    if (isHash(left) && isHash(right) && isVersion(leftVersion) && isVersion(rightVersion)) {
      return { kind: 'internal', left, right, leftVersion, rightVersion };
    }
  }
  throw new StateTreeError('CORRUPT_NODE', 'node has the wrong shape');
}
