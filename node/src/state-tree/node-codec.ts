// Persisted form of state-tree nodes (docs/storage.md, prefix `n`): canonical CBOR arrays
//   leaf:     [0, keyHash(32), valueHash(32), key, value]
//   internal: [1, leftHash(32), rightHash(32)]
// A leaf keeps the key and value themselves so that any retained historical root can still answer
// "what was the value of K at height h" with a proof, not only the current state.
import { decodeCanonical, encodeCanonical } from '@vigil/consensus/wire';
import { type Hasher, HASH_BYTES, internalHash, leafHash } from '@vigil/consensus/proof/smt.ts';
import { StateTreeError } from './errors.ts';

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
}
export type TreeNode = LeafNode | InternalNode;

/** Upper bound on a stored node; state values are canonical CBOR records far below this. */
export const MAX_NODE_BYTES = 1 << 20;

export function encodeTreeNode(node: TreeNode): Uint8Array {
  return node.kind === 'leaf'
    ? encodeCanonical([0, node.keyHash, node.valueHash, node.key, node.value])
    : encodeCanonical([1, node.left, node.right]);
}

export function hashTreeNode(node: TreeNode, hash: Hasher): Uint8Array {
  return node.kind === 'leaf'
    ? leafHash(node.keyHash, node.valueHash, hash)
    : internalHash(node.left, node.right, hash);
}

function isHash(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array && x.length === HASH_BYTES;
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
  } else if (Array.isArray(v) && v.length === 3 && v[0] === 1) {
    const [, left, right] = v;
    if (isHash(left) && isHash(right)) return { kind: 'internal', left, right };
  }
  throw new StateTreeError('CORRUPT_NODE', 'node has the wrong shape');
}
