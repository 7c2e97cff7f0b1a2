import fc from 'fast-check';
import t from 'tap';
import { type CborValue, decodeCanonical, encodeCanonical } from '@vigil/consensus/wire';
import { decodeNonce, encodeNonce } from '../exec/accounts.ts';
import {
  decodeUintDirect,
  encodeTaggedBytesDirect,
  encodeUintDirect,
  encodeSimpleDirect,
  encodeUintPairDirect,
  readByteStringArrayDirect,
} from './cbor-direct.ts';
import { encodeReceipt, encodeTxLocation, encodeUint } from './records.ts';

// Integers around every head-size boundary, plus random ones over the whole safe range.
const boundaries = [0, 1, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1];
const uint = fc.oneof(
  fc.constantFrom(...boundaries),
  fc.nat(),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
);

t.test('direct writers produce exactly the generic canonical encoder bytes', async (t) => {
  fc.assert(
    fc.property(
      uint,
      uint,
      fc.uint8Array({ maxLength: 300 }),
      fc.integer({ min: 0, max: 23 }),
      (a, b, bytes, tag) => {
        return (
          Buffer.from(encodeUintDirect(a)).equals(encodeCanonical(a)) &&
          Buffer.from(encodeUintPairDirect(a, b)).equals(encodeCanonical([a, b])) &&
          Buffer.from(encodeTaggedBytesDirect(tag, bytes)).equals(encodeCanonical([tag, bytes]))
        );
      },
    ),
    { numRuns: 2000 },
  );
  // The record encoders built on them.
  const id = new Uint8Array(32).fill(7);
  t.same(encodeReceipt({ status: 'accepted', txId: id }), encodeCanonical([0, id]));
  t.same(encodeTxLocation(70_000, 999), encodeCanonical([70_000, 999]));
  t.same(encodeUint(2 ** 40), encodeCanonical(2 ** 40));
  t.same(encodeNonce(5), encodeCanonical(5));
  t.throws(() => encodeUintDirect(-1), RangeError);
  t.throws(() => encodeUintDirect(1.5), RangeError);
  t.throws(() => encodeUintDirect(2 ** 53), RangeError);
});

/** What decodeCanonical makes of `b` when it is a safe unsigned integer, else undefined. */
function referenceUint(b: Uint8Array): number | undefined {
  try {
    const v = decodeCanonical(b);
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  } catch {
    return undefined;
  }
}

t.test('the direct uint reader accepts exactly what the canonical decoder accepts as a uint', async (t) => {
  // Valid encodings round-trip.
  fc.assert(
    fc.property(uint, (n) => decodeUintDirect(encodeCanonical(n)) === n),
    { numRuns: 2000 },
  );
  // Arbitrary short byte strings (non-shortest heads, other majors, truncated or trailing bytes, 2^64-1):
  // the same verdict as the reference decoder.
  const heads = fc.constantFrom(0x00, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x20, 0x40, 0x82, 0xf6);
  fc.assert(
    fc.property(heads, fc.uint8Array({ maxLength: 10 }), (head, rest) => {
      const b = Uint8Array.of(head, ...rest);
      return decodeUintDirect(b) === referenceUint(b);
    }),
    { numRuns: 5000 },
  );
  for (const hex of [
    '1817',
    '190017',
    '1a0000ffff',
    '1b00000000ffffffff',
    '1bffffffffffffffff',
    '',
    '0000',
  ]) {
    const b = Buffer.from(hex, 'hex');
    t.equal(decodeUintDirect(b), referenceUint(b), `0x${hex}`);
  }
  t.equal(decodeUintDirect(encodeCanonical(2 ** 53 - 1)), 2 ** 53 - 1);
  t.equal(decodeNonce(undefined), 0);
  t.equal(decodeNonce(encodeCanonical(42)), 42);
  t.throws(() => decodeNonce(encodeCanonical('42')), TypeError);
  t.throws(() => decodeNonce(Buffer.from('1817', 'hex')), TypeError);
});

t.test(
  'the direct record encoder: the generic bytes for simple values, undefined for anything else',
  async (t) => {
    const int = fc.oneof(
      fc.constantFrom(...boundaries, ...boundaries.map((b) => -b - 1).filter(Number.isSafeInteger)),
      fc.integer(),
      fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    );
    const ascii = fc.string({
      unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)),
      maxLength: 40,
    });
    // Simple values: what the direct encoder must take on itself.
    const { simple } = fc.letrec((tie) => ({
      simple: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        int,
        ascii,
        fc.uint8Array({ maxLength: 70 }),
        fc.constant(null),
        fc.boolean(),
        fc.array(tie('simple'), { maxLength: 6 }),
      ),
    }));
    fc.assert(
      fc.property(simple, (v) => {
        const direct = encodeSimpleDirect(v);
        return direct !== undefined && Buffer.from(direct).equals(encodeCanonical(v as CborValue));
      }),
      { numRuns: 3000 },
    );
    // Anything: either the generic bytes, or left to the generic encoder.
    const { any } = fc.letrec((tie) => ({
      any: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        int,
        fc.string({ unit: 'binary', maxLength: 10 }),
        fc.bigInt({ min: -(2n ** 64n) + 1n, max: 2n ** 64n - 1n }),
        fc.double(),
        fc.uint8Array({ maxLength: 10 }),
        fc.constantFrom(null, undefined, true, false),
        fc.array(tie('any'), { maxLength: 4 }),
      ),
    }));
    fc.assert(
      fc.property(any, (v) => {
        const direct = encodeSimpleDirect(v);
        if (direct === undefined) return true;
        return Buffer.from(direct).equals(encodeCanonical(v as CborValue));
      }),
      { numRuns: 3000 },
    );
    for (const v of [1.5, Number.NaN, 2 ** 53, 10n, 'é', undefined, {}, [1, [2, 'ü']], new Array(3)]) {
      t.equal(encodeSimpleDirect(v), undefined, `${String(v)}: left to the generic encoder`);
    }
    let deep: unknown = 1;
    for (let i = 0; i < 9; i++) deep = [deep];
    t.equal(encodeSimpleDirect(deep), undefined, 'nesting deeper than 8: left to the generic encoder');
    t.same(encodeSimpleDirect([[[[[[[[1]]]]]]]]), encodeCanonical([[[[[[[[1]]]]]]]]));
  },
);

t.test('readByteStringArrayDirect accepts exactly what decodeCanonical reads as such an array', (t) => {
  const asArray = (b: Uint8Array): string[] | undefined => {
    try {
      const v = decodeCanonical(b);
      if (!Array.isArray(v) || v.length > 3 || !v.every((x) => x instanceof Uint8Array)) return undefined;
      return v.map((x) => Buffer.from(x as Uint8Array).toString('hex'));
    } catch {
      return undefined;
    }
  };
  const direct = (b: Uint8Array) =>
    readByteStringArrayDirect(b, 3)?.map((x) => Buffer.from(x).toString('hex'));
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 4 }),
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom('same', 'flip', 'cut', 'extra'),
      (items, at, x, how) => {
        const good = encodeCanonical(items);
        const b = Uint8Array.from(good);
        const i = at % b.length;
        const mutated =
          how === 'flip'
            ? (b.fill(b[i]! ^ x, i, i + 1), b)
            : how === 'cut'
              ? b.subarray(0, i)
              : how === 'extra'
                ? Uint8Array.of(...b, x)
                : b;
        t.same(direct(mutated), asArray(mutated));
      },
    ),
    { numRuns: 3000 },
  );
  t.end();
});
