// SHA-256 through node:crypto for the node's tree builder and tx root: several times faster than the
// pure-JS implementation for the short (41..73 byte) inputs of tree nodes. The hashing RULES are not
// here but in consensus/src/proof/smt.ts, shared with browsers; this only supplies the primitive.
// The parts are concatenated and hashed with the one-shot crypto.hash (no Hash object per call).
//
// The digest is asked for as a latin1 ('binary') string and copied into a 32-byte Uint8Array, which
// lives on the V8 heap: a Buffer result has its own off-heap backing store, and allocating, tracking
// and freeing one per tree node took a fifth of the time per hash (about 1,000 -> 820 ns, results kept
// alive as the tree keeps them; a 73-byte input on this machine).
import { hash } from 'node:crypto';
import type { Hasher } from '@vigil/consensus/proof/smt.ts';

/** The 32 bytes of a latin1 digest string (one character per byte). */
function digestBytes(latin1: string): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = latin1.charCodeAt(i);
  return out;
}

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
  return digestBytes(hash('sha256', input, 'binary') as string);
};

const LEAF_TAG_BYTES = new TextEncoder().encode('VSMT-LEAF');
const NODE_TAG_BYTES = new TextEncoder().encode('VSMT-NODE');
/** tag(9) ‖ hash(32) ‖ hash(32): both node preimages have this shape (consensus/src/proof/smt.ts). */
const scratch = new Uint8Array(9 + 32 + 32);

function digestTagged(tag: Uint8Array, a: Uint8Array, b: Uint8Array): Uint8Array {
  scratch.set(tag, 0);
  scratch.set(a, 9);
  scratch.set(b, 41);
  return digestBytes(hash('sha256', scratch, 'binary') as string);
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
