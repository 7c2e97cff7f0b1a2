import fc from 'fast-check';
import t from 'tap';
import { decodeTreeNode, encodeTreeNode, encodeTreeNodeReference, type TreeNode } from './node-codec.ts';

const hash = fc.uint8Array({ minLength: 32, maxLength: 32 });
// Lengths around every CBOR length-header boundary (23/24, 255/256, 65535/65536).
const blob = fc.oneof(
  fc.uint8Array({ maxLength: 30 }),
  fc.integer({ min: 250, max: 260 }).map((n) => new Uint8Array(n).fill(7)),
  fc.constantFrom(65535, 65536).map((n) => new Uint8Array(n).fill(1)),
);
// Versions around every CBOR integer-width boundary, up to the largest safe integer.
const version = fc.oneof(
  fc.integer({ min: 0, max: 300 }),
  fc.constantFrom(23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER),
);
const nodeArb: fc.Arbitrary<TreeNode> = fc.oneof(
  fc.record({
    kind: fc.constant('internal' as const),
    left: hash,
    right: hash,
    leftVersion: version,
    rightVersion: version,
  }),
  fc.record({ kind: fc.constant('leaf' as const), keyHash: hash, valueHash: hash, key: blob, value: blob }),
);

t.test('the direct node encoder writes exactly the canonical CBOR of the generic encoder', async (t) => {
  fc.assert(
    fc.property(nodeArb, (node) => {
      const fast = encodeTreeNode(node);
      const back = decodeTreeNode(fast);
      return (
        Buffer.from(fast).equals(encodeTreeNodeReference(node)) &&
        back.kind === node.kind &&
        (back.kind === 'leaf' ||
          (node.kind === 'internal' &&
            back.leftVersion === node.leftVersion &&
            back.rightVersion === node.rightVersion))
      );
    }),
    { numRuns: 300 },
  );
  t.pass('equal');
});

t.test('malformed node bytes are CORRUPT_NODE', async (t) => {
  t.throws(() => decodeTreeNode(Uint8Array.of(0x83, 0x02, 0x40, 0x40)), { code: 'CORRUPT_NODE' });
  t.throws(() => decodeTreeNode(Uint8Array.of(0xff)), { code: 'CORRUPT_NODE' });
  const internal = encodeTreeNode({
    kind: 'internal',
    left: new Uint8Array(32),
    right: new Uint8Array(32).fill(1),
    leftVersion: 1,
    rightVersion: 2,
  });
  // The schema 1 shape (no versions) and a negative version are refused.
  t.throws(() => decodeTreeNode(Uint8Array.of(0x83, ...internal.subarray(1, 70))), { code: 'CORRUPT_NODE' });
  const negative = internal.slice();
  negative[71] = 0x20; // -1
  t.throws(() => decodeTreeNode(negative), { code: 'CORRUPT_NODE' });
  // A version past 2^53 - 1 (an 8-byte head the decoder returns as a bigint) is no height.
  const huge = Uint8Array.of(...internal.subarray(0, 71), 0x1b, 0, 0x20, 0, 0, 0, 0, 0, 0);
  t.throws(() => decodeTreeNode(huge), { code: 'CORRUPT_NODE' });
});
