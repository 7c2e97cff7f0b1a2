import fc from 'fast-check';
import t from 'tap';
import { sha256 } from '@noble/hashes/sha2.js';
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

t.test('nodeSha256 equals SHA-256 for any input and any split into parts', async (t) => {
  // Every byte value matters: the digest travels as a latin1 string, one character per byte.
  const check = fc.property(
    fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 4 }),
    (parts) => {
      const whole = Buffer.concat(parts);
      return Buffer.from(nodeSha256(...parts)).equals(sha256(whole));
    },
  );
  t.doesNotThrow(() => fc.assert(check, { numRuns: 500 }), 'no counterexample');
  t.same(
    Buffer.from(nodeSha256(new Uint8Array(0))),
    Buffer.from(sha256(new Uint8Array(0))),
    'the empty input',
  );
});
