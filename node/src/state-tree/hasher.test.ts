import fc from 'fast-check';
import t from 'tap';
import { internalHash, leafHash } from '@vigil/consensus/proof/smt.ts';
import { nodeInternalHash, nodeLeafHash, nodeSha256 } from './hasher.ts';

t.test(
  'the scratch-buffer node hashes equal the smt.ts rules (pure-JS SHA-256 and node:crypto)',
  async (t) => {
    const h32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
    fc.assert(
      fc.property(h32, h32, (a, b) => {
        const internal = Buffer.from(nodeInternalHash(a, b));
        const leaf = Buffer.from(nodeLeafHash(a, b));
        return (
          internal.equals(internalHash(a, b)) &&
          internal.equals(internalHash(a, b, nodeSha256)) &&
          leaf.equals(leafHash(a, b)) &&
          leaf.equals(leafHash(a, b, nodeSha256))
        );
      }),
      { numRuns: 500 },
    );
    // Each result is its own array: the reused scratch buffer never leaks into a returned hash.
    const x = nodeInternalHash(new Uint8Array(32), new Uint8Array(32).fill(1));
    const copy = Buffer.from(x);
    nodeLeafHash(new Uint8Array(32).fill(2), new Uint8Array(32).fill(3));
    t.same(Buffer.from(x), copy);
  },
);
