import { encodeCanonical } from '@vigil/consensus/wire';
import t from 'tap';
import { splitCborSequence } from './cbor-seq.ts';

t.test('splits concatenated canonical items back into the same items', async (t) => {
  const items = [
    encodeCanonical([1, 'chain', 50, new Uint8Array(32), 7, 1_700_000_000_000, [[1, 72, '/min', 5]]]),
    encodeCanonical(-5),
    encodeCanonical('héllo'),
    encodeCanonical([true, false, null, [[[]]], 2n ** 64n - 1n]),
    encodeCanonical(new Uint8Array(300)),
  ];
  const seq = new Uint8Array(items.reduce((n, i) => n + i.length, 0));
  let off = 0;
  for (const i of items) {
    seq.set(i, off);
    off += i.length;
  }
  t.same(
    splitCborSequence(seq).map((x) => Array.from(x)),
    items.map((x) => Array.from(x)),
  );
  t.same(splitCborSequence(new Uint8Array(0)), []);
});

t.test('truncated, indefinite, over-deep and over-long input are typed errors', async (t) => {
  const bad = (b: number[], msg: string) =>
    t.throws(() => splitCborSequence(Uint8Array.from(b)), { code: 'MALFORMED_RESPONSE' }, msg);
  bad([0x82, 0x01], 'array missing an item');
  bad([0x5a, 0xff, 0xff, 0xff, 0xff, 0x00], 'byte string length past the end');
  bad([0x9f, 0x01, 0xff], 'indefinite array');
  bad([0x1b, 0x00], 'truncated header');
  bad(Array.from({ length: 40 }, () => 0x81).concat([0x00]), 'too deep');
  t.throws(() => splitCborSequence(Uint8Array.from([1, 2, 3]), 2), { code: 'MALFORMED_RESPONSE' });
});
