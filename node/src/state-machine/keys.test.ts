import fc from 'fast-check';
import t from 'tap';
import { IndexKeys, Keys, makeKey, readU64, u64 } from './keys.ts';

/** The key layout as docs/state-machine.md states it, written the plain way (the reference). */
function referenceKey(tag: string, ...parts: (Uint8Array | string | number)[]): Uint8Array {
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [enc.encode(`sm/${tag}/`)];
  for (const p of parts) {
    if (typeof p === 'number') {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, BigInt(p));
      chunks.push(b);
    } else if (typeof p === 'string') {
      const s = enc.encode(p);
      chunks.push(Uint8Array.of(s.length), s);
    } else chunks.push(p);
  }
  return Uint8Array.from(chunks.flatMap((c) => [...c]));
}

const part = fc.oneof(
  fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, 255, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER)),
  fc.string({ maxLength: 40, unit: 'grapheme' }),
  fc.uint8Array({ maxLength: 40 }),
);

t.test('makeKey writes exactly the documented layout', async (t) => {
  fc.assert(
    fc.property(
      fc.constantFrom('rd', 'latest', 'alertopen', 'audit', 'ü/tag'),
      fc.array(part, { maxLength: 6 }),
      (tag, parts) => Buffer.from(makeKey(tag, ...parts)).equals(referenceKey(tag, ...parts)),
    ),
    { numRuns: 1000 },
  );
  const pk = new Uint8Array(32).fill(9);
  t.same(
    IndexKeys.reading(pk, 2, 1_700_000_000_123, pk),
    referenceKey('rd', pk, Uint8Array.of(2), 1_700_000_000_123, pk),
  );
  t.same(
    Keys.openAlert(pk, 'threshold.high.heartRate'),
    referenceKey('alertopen', pk, 'threshold.high.heartRate'),
  );
  t.equal(readU64(u64(2 ** 40 + 3), 0), 2 ** 40 + 3);
});

t.test('numbers must be safe unsigned integers; text parts at most 255 bytes', async (t) => {
  for (const bad of [-1, 1.5, 2 ** 53]) t.throws(() => makeKey('alert', bad), RangeError, `${bad}`);
  t.throws(() => makeKey('org', 'x'.repeat(256)), RangeError);
  t.equal(makeKey('org', 'x'.repeat(255)).length, 'sm/org/'.length + 1 + 255);
});
