// Transport form of a state proof (docs/storage.md, "Proofs"): canonical CBOR
//   [1, [sibling(32)...], null | [keyHash(32), valueHash(32)]]
// siblings from the root downwards, at most 256.
import { decodeCanonical, encodeCanonical, WireError } from '../wire/index.ts';
import { ProofError } from './errors.ts';
import { HASH_BYTES, type StateProof, TREE_DEPTH } from './smt.ts';

export const STATE_PROOF_VERSION = 1;
export const MAX_STATE_PROOF_BYTES = 16 + TREE_DEPTH * (HASH_BYTES + 2) + 2 * (HASH_BYTES + 2);

export function encodeStateProof(p: StateProof): Uint8Array {
  return encodeCanonical([
    STATE_PROOF_VERSION,
    [...p.siblings],
    p.leaf === null ? null : [p.leaf.keyHash, p.leaf.valueHash],
  ]);
}

function isHash(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array && x.length === HASH_BYTES;
}

/** Decodes hostile bytes; throws only ProofError MALFORMED_PROOF. */
export function decodeStateProof(bytes: Uint8Array): StateProof {
  let v: unknown;
  try {
    v = decodeCanonical(bytes, { maxBytes: MAX_STATE_PROOF_BYTES });
  } catch (e) {
    if (e instanceof WireError) throw new ProofError('MALFORMED_PROOF', e.message);
    throw e;
  }
  if (!Array.isArray(v) || v.length !== 3) throw new ProofError('MALFORMED_PROOF', 'not a 3-element array');
  const [version, siblings, leaf] = v;
  if (version !== STATE_PROOF_VERSION) throw new ProofError('MALFORMED_PROOF', `version ${String(version)}`);
  if (!Array.isArray(siblings) || siblings.length > TREE_DEPTH || !siblings.every(isHash)) {
    throw new ProofError('MALFORMED_PROOF', 'siblings must be at most 256 32-byte hashes');
  }
  if (leaf === null) return { siblings, leaf: null };
  if (!Array.isArray(leaf) || leaf.length !== 2 || !isHash(leaf[0]) || !isHash(leaf[1])) {
    throw new ProofError('MALFORMED_PROOF', 'leaf must be null or [keyHash, valueHash]');
  }
  return { siblings, leaf: { keyHash: leaf[0], valueHash: leaf[1] } };
}
