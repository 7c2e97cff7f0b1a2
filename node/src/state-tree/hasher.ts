// SHA-256 through node:crypto for the node's tree builder: several times faster than the pure-JS
// implementation for the short (41..73 byte) inputs of tree nodes. The hashing RULES are not here but in
// consensus/src/proof/smt.ts, shared with browsers; this only supplies the primitive.
import { createHash } from 'node:crypto';
import type { Hasher } from '@vigil/consensus/proof/smt.ts';

export const nodeSha256: Hasher = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
};
