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
