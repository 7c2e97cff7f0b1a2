// RFC 6962 §2.1 Merkle Tree Hash (as restated in RFC 9162 §2.1.1) over a list of byte strings, with
// audit paths (§2.1.1 / RFC 9162 §2.1.3.1) and their verification (RFC 9162 §2.1.3.2).
//
//   MTH({})      = SHA-256()
//   MTH({d0})    = SHA-256(0x00 || d0)
//   MTH(D[n])    = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])),  k = largest power of two < n
// The 0x00/0x01 prefixes keep a leaf from ever being mistaken for an interior node (second preimages).
import { WireError } from './errors.ts';
import { bytesEqual, sha256 } from './hash.ts';

const LEAF = new Uint8Array([0x00]);
const NODE = new Uint8Array([0x01]);

export function merkleLeafHash(leaf: Uint8Array): Uint8Array {
  return sha256(LEAF, leaf);
}

export function merkleNodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE, left, right);
}

/** Largest power of two strictly less than n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function mth(hashes: readonly Uint8Array[], lo: number, hi: number): Uint8Array {
  const n = hi - lo;
  if (n === 1) return hashes[lo]!;
  const k = splitPoint(n);
  return merkleNodeHash(mth(hashes, lo, lo + k), mth(hashes, lo + k, hi));
}

/** RFC 6962 Merkle Tree Hash of `leaves` (raw leaf data, hashed here with the 0x00 prefix). */
export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256();
  return mth(leaves.map(merkleLeafHash), 0, leaves.length);
}

/** RFC 6962 audit path for leaf `index`: sibling hashes from the leaf up to the root. */
export function merkleInclusionProof(leaves: readonly Uint8Array[], index: number): Uint8Array[] {
  if (!Number.isSafeInteger(index) || index < 0 || index >= leaves.length) {
    throw new WireError('WRONG_TYPE', `merkleInclusionProof: index ${index} outside [0, ${leaves.length})`);
  }
  const hashes = leaves.map(merkleLeafHash);
  const path: Uint8Array[] = [];
  // PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])        if m < k
  //              = PATH(m - k, D[k:n]) : MTH(D[0:k])    otherwise   (RFC 6962 §2.1.1)
  const walk = (m: number, lo: number, hi: number): void => {
    const n = hi - lo;
    if (n <= 1) return;
    const k = splitPoint(n);
    if (m < k) {
      walk(m, lo, lo + k);
      path.push(mth(hashes, lo + k, hi));
    } else {
      walk(m - k, lo + k, hi);
      path.push(mth(hashes, lo, lo + k));
    }
  };
  walk(index, 0, hashes.length);
  return path;
}

/**
 * RFC 9162 §2.1.3.2: true iff `proof` proves that `leaf` (raw leaf data) is at `index` in a tree of
 * `treeSize` leaves whose root is `root`. Never throws on hostile input; returns false.
 */
export function verifyMerkleInclusion(
  leaf: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!(leaf instanceof Uint8Array)) return false;
  return verifyMerkleInclusionOfHash(merkleLeafHash(leaf), index, treeSize, proof, root);
}

/**
 * The same from the leaf's hash (`merkleLeafHash` of the leaf data): what a verifier checks when it
 * may not see the leaf itself (a transaction naming a patient, docs/api.md).
 */
export function verifyMerkleInclusionOfHash(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!(leafHash instanceof Uint8Array) || leafHash.length !== 32) return false;
  if (!(root instanceof Uint8Array) || !Array.isArray(proof)) return false;
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(treeSize)) return false;
  if (index < 0 || index >= treeSize) return false;
  let fn = index;
  let sn = treeSize - 1;
  let r = leafHash;
  for (const p of proof) {
    if (!(p instanceof Uint8Array) || p.length !== 32) return false;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = merkleNodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = merkleNodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && bytesEqual(r, root);
}
