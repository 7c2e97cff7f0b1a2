import fc from 'fast-check';
import t from 'tap';
import { hexKey } from './hex-key.ts';

t.test('hexKey is the lowercase hex of exactly the view, offsets included', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(10), fc.nat(10), (bytes, a, b) => {
      const start = Math.min(a, bytes.length);
      const end = Math.max(start, bytes.length - b);
      const view = bytes.subarray(start, end);
      return hexKey(view) === Buffer.from(view).toString('hex');
    }),
    { numRuns: 1000 },
  );
  t.equal(hexKey(new Uint8Array(0)), '');
});
