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
const nodeArb: fc.Arbitrary<TreeNode> = fc.oneof(
  fc.record({ kind: fc.constant('internal' as const), left: hash, right: hash }),
  fc.record({ kind: fc.constant('leaf' as const), keyHash: hash, valueHash: hash, key: blob, value: blob }),
);

t.test('the direct node encoder writes exactly the canonical CBOR of the generic encoder', async (t) => {
  fc.assert(
    fc.property(nodeArb, (node) => {
      const fast = encodeTreeNode(node);
      return (
        Buffer.from(fast).equals(encodeTreeNodeReference(node)) && decodeTreeNode(fast).kind === node.kind
      );
    }),
    { numRuns: 300 },
  );
  t.pass('equal');
});

t.test('malformed node bytes are CORRUPT_NODE', async (t) => {
  t.throws(() => decodeTreeNode(Uint8Array.of(0x83, 0x02, 0x40, 0x40)), { code: 'CORRUPT_NODE' });
  t.throws(() => decodeTreeNode(Uint8Array.of(0xff)), { code: 'CORRUPT_NODE' });
});
