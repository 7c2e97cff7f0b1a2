import fc from 'fast-check';
import t from 'tap';
import { encodeCanonical } from '../wire/index.ts';
import { decodeStateProof, encodeStateProof } from './codec.ts';
import { ProofError } from './errors.ts';
import type { StateProof } from './smt.ts';

const hash = fc.uint8Array({ minLength: 32, maxLength: 32 });
const proofArb: fc.Arbitrary<StateProof> = fc.record({
  siblings: fc.array(hash, { maxLength: 40 }),
  leaf: fc.option(fc.record({ keyHash: hash, valueHash: hash }), { nil: null }),
});

t.test('state proofs round-trip through canonical CBOR', async (t) => {
  fc.assert(
    fc.property(proofArb, (p) => {
      const back = decodeStateProof(encodeStateProof(p));
      return Buffer.from(encodeStateProof(back)).equals(encodeStateProof(p));
    }),
    { numRuns: 500 },
  );
  t.pass('round trip');
});

t.test('hostile bytes only ever raise ProofError MALFORMED_PROOF', async (t) => {
  const valid = encodeStateProof({ siblings: [new Uint8Array(32)], leaf: null });
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
          const b = valid.slice();
          b[i]! ^= x;
          return b;
        }),
      ),
      (bytes) => {
        try {
          decodeStateProof(bytes);
          return true;
        } catch (e) {
          return e instanceof ProofError && e.code === 'MALFORMED_PROOF';
        }
      },
    ),
    { numRuns: 3000 },
  );
  t.throws(() => decodeStateProof(encodeCanonical([2, [], null])), { code: 'MALFORMED_PROOF' });
  t.throws(() => decodeStateProof(encodeCanonical([1, [new Uint8Array(31)], null])), {
    code: 'MALFORMED_PROOF',
  });
  t.throws(() => decodeStateProof(encodeCanonical([1, Array(257).fill(new Uint8Array(32)), null])), {
    code: 'MALFORMED_PROOF',
  });
  t.throws(() => decodeStateProof(encodeCanonical([1, [], [new Uint8Array(32)]])), {
    code: 'MALFORMED_PROOF',
  });
});
