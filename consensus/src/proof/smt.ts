// The hashing rules and proof checker of Vigil's state commitment: a compressed binary sparse Merkle
// tree over 256-bit paths (path = SHA-256(state key)), in the style of Diem's Jellyfish Merkle tree
// (Gao et al., "Jellyfish Merkle Tree", 2021, §2-3) with radix 2:
//   - an empty subtree hashes to the constant EMPTY_SUBTREE (32 zero bytes, not the image of anything);
//   - a subtree holding exactly one key collapses into a leaf at the highest position where it is alone;
//   - a leaf hashes to SHA-256("VSMT-LEAF" || keyHash || valueHash) with valueHash = SHA-256(value);
//   - an internal node hashes to SHA-256("VSMT-NODE" || left || right).
// Leaf and internal hashes are domain-separated by their tags, so a leaf can never be passed off as an
// internal node or the other way round (the second-preimage attack of RFC 6962 §2.1 on untagged trees).
// This file is pure (no Node built-ins): the node builds the tree with it and browsers check proofs
// with it. The full specification is docs/storage.md, "State tree".

import { sha256 } from '../wire/index.ts';

export const HASH_BYTES = 32;
/** Path length: one bit of SHA-256(key) per level. */
export const TREE_DEPTH = 256;
/** The hash of an empty subtree. */
export const EMPTY_SUBTREE: Uint8Array = new Uint8Array(HASH_BYTES);

const encoder = new TextEncoder();
export const LEAF_TAG: Uint8Array = encoder.encode('VSMT-LEAF');
export const NODE_TAG: Uint8Array = encoder.encode('VSMT-NODE');

/** A SHA-256 implementation; the node injects node:crypto's for speed, browsers use the default. */
export type Hasher = (...parts: Uint8Array[]) => Uint8Array;

export const defaultHasher: Hasher = sha256;

export function keyHashOf(key: Uint8Array, hash: Hasher = defaultHasher): Uint8Array {
  return hash(key);
}

export function valueHashOf(value: Uint8Array, hash: Hasher = defaultHasher): Uint8Array {
  return hash(value);
}

export function leafHash(
  keyHash: Uint8Array,
  valueHash: Uint8Array,
  hash: Hasher = defaultHasher,
): Uint8Array {
  return hash(LEAF_TAG, keyHash, valueHash);
}

export function internalHash(left: Uint8Array, right: Uint8Array, hash: Hasher = defaultHasher): Uint8Array {
  return hash(NODE_TAG, left, right);
}

/** Bit `depth` of a 256-bit path, most significant bit of byte 0 first; 0 = left, 1 = right. */
export function pathBit(path: Uint8Array, depth: number): 0 | 1 {
  return ((path[depth >> 3]! >> (7 - (depth & 7))) & 1) as 0 | 1;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when the first `bits` bits of two paths agree. */
export function sharesPrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  for (let i = 0; i < bits; i++) if (pathBit(a, i) !== pathBit(b, i)) return false;
  return true;
}

/**
 * A proof about one key against a state root. `siblings[i]` is the hash of the sibling subtree at depth
 * i + 1 on the key's path, from the root downwards. The search for the key ends at depth
 * `siblings.length` in either an empty subtree (`leaf` null) or a leaf. It proves:
 *   - inclusion of (key, value) when the leaf's keyHash is SHA-256(key) and valueHash SHA-256(value);
 *   - exclusion of key when the search ends in an empty subtree, or in a leaf for ANOTHER key whose
 *     path shares the first `siblings.length` bits (the collapsed leaf sits where the key would go).
 */
export interface StateProof {
  siblings: Uint8Array[];
  leaf: { keyHash: Uint8Array; valueHash: Uint8Array } | null;
}

function isHash(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array && x.length === HASH_BYTES;
}

/** The root a proof implies for `key` (with `value`, or absent when undefined); undefined if the proof
 *  is malformed or cannot be a proof of that claim. */
export function rootFromProof(
  proof: StateProof,
  key: Uint8Array,
  value: Uint8Array | undefined,
  hash: Hasher = defaultHasher,
): Uint8Array | undefined {
  if (!Array.isArray(proof.siblings) || proof.siblings.length > TREE_DEPTH) return undefined;
  if (!proof.siblings.every(isHash)) return undefined;
  const keyHash = keyHashOf(key, hash);
  const depth = proof.siblings.length;
  let current: Uint8Array;
  if (proof.leaf === null) {
    if (value !== undefined) return undefined;
    current = EMPTY_SUBTREE;
  } else {
    const { keyHash: leafKey, valueHash } = proof.leaf;
    if (!isHash(leafKey) || !isHash(valueHash)) return undefined;
    if (value !== undefined) {
      if (!bytesEqual(leafKey, keyHash) || !bytesEqual(valueHash, valueHashOf(value, hash))) return undefined;
    } else {
      // Exclusion via another key's leaf: it must sit exactly where `key`'s search ends.
      if (bytesEqual(leafKey, keyHash) || !sharesPrefix(leafKey, keyHash, depth)) return undefined;
    }
    current = leafHash(leafKey, valueHash, hash);
  }
  for (let d = depth - 1; d >= 0; d--) {
    const sibling = proof.siblings[d]!;
    current =
      pathBit(keyHash, d) === 0 ? internalHash(current, sibling, hash) : internalHash(sibling, current, hash);
  }
  return current;
}

/**
 * Checks a state proof against a root: true iff it proves that `key` maps to `value` (or, with `value`
 * undefined, that `key` is absent). Never throws on malformed input.
 */
export function verifySparseMerkleProof(
  root: Uint8Array,
  key: Uint8Array,
  value: Uint8Array | undefined,
  proof: StateProof,
  hash: Hasher = defaultHasher,
): boolean {
  const computed = rootFromProof(proof, key, value, hash);
  return computed !== undefined && bytesEqual(computed, root);
}
