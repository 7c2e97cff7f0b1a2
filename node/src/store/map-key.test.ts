import fc from 'fast-check';
import t from 'tap';
import { mapKey } from './map-key.ts';

t.test('mapKey: one character per byte, equal exactly when the bytes are', async (t) => {
  t.equal(mapKey(new Uint8Array(0)), '');
  t.equal(mapKey(Uint8Array.of(0, 0x41, 0xff)), '\u0000A\u00ff');
  const long = new Uint8Array(10_000).map((_, i) => i % 251);
  t.equal(mapKey(long).length, 10_000, 'inputs longer than one chunk');
  t.equal(mapKey(long).charCodeAt(9_999), 9_999 % 251);
  const bytes = fc.uint8Array({ maxLength: 64 });
  const check = fc.property(bytes, bytes, (a, b) => {
    const sameBytes = Buffer.from(a).equals(Buffer.from(b));
    return (mapKey(a) === mapKey(b)) === sameBytes && mapKey(a).length === a.length;
  });
  t.doesNotThrow(() => fc.assert(check, { numRuns: 2_000 }), 'no counterexample');
  // A view into a larger buffer is keyed by its own bytes only.
  const big = Uint8Array.of(9, 1, 2, 3, 9);
  t.equal(mapKey(big.subarray(1, 4)), mapKey(Uint8Array.of(1, 2, 3)));
});
