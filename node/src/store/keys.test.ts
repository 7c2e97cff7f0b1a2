import fc from 'fast-check';
import t from 'tap';
import { batchKeys, keys, Prefix, readU64be } from './keys.ts';
import { encodeTxLocation, encodeTxLocationForBatch } from './records.ts';

/** The reference: DataView's BigInt writer. */
function bigintU64be(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

const height = fc.oneof(
  fc.constantFrom(0, 1, 255, 256, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER),
  fc.integer({ min: 0, max: 2 ** 32 + 5 }),
  fc.maxSafeNat(),
);

t.test('heights in keys: 8 big-endian bytes, the BigInt encoding, read back, in numeric order', async (t) => {
  fc.assert(
    fc.property(height, height, (a, b) => {
      const ka = keys.block(a);
      if (Buffer.compare(ka.subarray(1), bigintU64be(a)) !== 0) return false;
      if (readU64be(ka, 1) !== a) return false;
      return Math.sign(Buffer.compare(ka, keys.block(b))) === Math.sign(a - b);
    }),
    { numRuns: 500 },
  );
  for (const bad of [-1, 1.5, 2 ** 53, Number.NaN]) t.throws(() => keys.block(bad), RangeError, `${bad}`);
});

t.test('tree node keys: N, version, hash; one version before another whatever the hashes', async (t) => {
  const low = new Uint8Array(32).fill(0xff);
  const high = new Uint8Array(32);
  const a = keys.treeNode(7, low);
  t.equal(a.length, 41);
  t.equal(a[0], Prefix.treeNode);
  t.equal(readU64be(a, 1), 7);
  t.same(a.subarray(9), low);
  t.ok(Buffer.compare(a, keys.treeNode(8, high)) < 0, 'version orders first');
  t.throws(() => keys.treeNode(-1, low), RangeError);
});

t.test('batchKeys are the same bytes as keys, carved from the batch slab', (t) => {
  for (const [h, p] of [
    [0, 0],
    [1, 2],
    [2 ** 40 + 5, 70_000],
    [Number.MAX_SAFE_INTEGER, 0xffffffff],
  ] as const) {
    t.same(batchKeys.receipt(h, p), keys.receipt(h, p), `receipt ${h}/${p}`);
  }
  const id = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
  t.same(batchKeys.tx(id), keys.tx(id));
  t.same(encodeTxLocationForBatch(123_456, 789), encodeTxLocation(123_456, 789));
  t.end();
});
