// SHA-256 through node:crypto for the node's tree builder and tx root: several times faster than the
// pure-JS implementation for the short (41..73 byte) inputs of tree nodes. The hashing RULES are not
// here but in consensus/src/proof/smt.ts, shared with browsers; this only supplies the primitive.
// The parts are concatenated and hashed with the one-shot crypto.hash (no Hash object per call).
import { hash } from 'node:crypto';
import type { Hasher } from '@vigil/consensus/proof/smt.ts';

export const nodeSha256: Hasher = (...parts: Uint8Array[]): Uint8Array => {
  let input: Uint8Array;
  if (parts.length === 1) input = parts[0]!;
  else {
    let n = 0;
    for (const p of parts) n += p.length;
    input = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      input.set(p, o);
      o += p.length;
    }
  }
  const d = hash('sha256', input, 'buffer') as Buffer;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
};

const LEAF_TAG_BYTES = new TextEncoder().encode('VSMT-LEAF');
const NODE_TAG_BYTES = new TextEncoder().encode('VSMT-NODE');
/** tag(9) ‖ hash(32) ‖ hash(32): both node preimages have this shape (consensus/src/proof/smt.ts). */
const scratch = new Uint8Array(9 + 32 + 32);

function digestTagged(tag: Uint8Array, a: Uint8Array, b: Uint8Array): Uint8Array {
  scratch.set(tag, 0);
  scratch.set(a, 9);
  scratch.set(b, 41);
  const d = hash('sha256', scratch, 'buffer') as Buffer;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/**
 * smt.ts's internalHash(left, right) and leafHash(keyHash, valueHash) with node:crypto, written into
 * one reused buffer instead of concatenating fresh arrays: the tree hashes thousands of nodes per
 * block (hasher.test.ts checks equality with the smt.ts rules). Both hashes must be 32 bytes.
 */
export function nodeInternalHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return digestTagged(NODE_TAG_BYTES, left, right);
}

export function nodeLeafHash(keyHash: Uint8Array, valueHash: Uint8Array): Uint8Array {
  return digestTagged(LEAF_TAG_BYTES, keyHash, valueHash);
}
