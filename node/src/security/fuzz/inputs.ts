// Hostile inputs for the fuzz targets. Random bytes alone rarely get past a CBOR decoder's first
// byte, so each target mixes four sources: (1) random bytes; (2) valid encodings with bytes flipped,
// overwritten, cut off, duplicated or inserted; (3) valid CBOR of random shape (gets past the CBOR
// layer, exercises the structural checks); (4) valid encodings with one field of the top-level array
// replaced by a random value (wrong type, wrong length, out of range: one check at a time).
import { type CborValue, decodeCanonical, encodeCanonical } from '@vigil/consensus/wire';
import fc from 'fast-check';

const int: fc.Arbitrary<number | bigint> = fc.oneof(
  fc.integer({ min: -2, max: 30 }),
  fc.constantFrom(23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -1),
  fc.bigInt({ min: -(2n ** 64n) + 1n, max: 2n ** 64n - 1n }),
);

/** Any value in Vigil's canonical CBOR subset, nested a few levels. */
export const cborValue: fc.Arbitrary<CborValue> = fc.letrec<{ value: CborValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    int,
    fc.string({ maxLength: 24 }),
    fc.uint8Array({ maxLength: 40 }),
    fc.constantFrom(new Uint8Array(32), new Uint8Array(64), true, false, null),
    fc.array(tie('value'), { maxLength: 6 }),
  ),
})).value;

/** Canonical CBOR of `v`, or of null when `v` is outside what the encoder accepts (e.g. too deep). */
function encodeSafe(v: CborValue): Uint8Array {
  try {
    return encodeCanonical(v);
  } catch {
    return encodeCanonical(null);
  }
}

type Op = [kind: number, at: number, byte: number, extra: Uint8Array];

function applyOps(seed: Uint8Array, ops: readonly Op[]): Uint8Array {
  let b = seed.slice();
  for (const [kind, at0, byte, extra] of ops) {
    if (b.length === 0) {
      b = extra.slice();
      continue;
    }
    const at = at0 % b.length;
    switch (kind) {
      case 0: // flip bits
        b[at]! ^= byte || 1;
        break;
      case 1: // overwrite with an interesting byte
        b[at] = byte;
        break;
      case 2: // truncate
        b = b.slice(0, at);
        break;
      case 3: // insert
        b = Uint8Array.from([...b.subarray(0, at), ...extra, ...b.subarray(at)]);
        break;
      default: // duplicate a tail
        b = Uint8Array.from([...b, ...b.subarray(at, at + 1 + (byte % 32))]);
    }
  }
  return b;
}

const op: fc.Arbitrary<Op> = fc.tuple(
  fc.integer({ min: 0, max: 4 }),
  fc.nat(),
  fc.oneof(
    fc.integer({ min: 0, max: 255 }),
    fc.constantFrom(0x00, 0x17, 0x18, 0x1b, 0x1f, 0x5f, 0x9f, 0xbf, 0xf6, 0xff),
  ),
  fc.uint8Array({ maxLength: 12 }),
);

/** Valid encodings with a few byte-level mutations. */
export function mutated(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.nat(seeds.length - 1), fc.array(op, { minLength: 1, maxLength: 4 }))
    .map(([i, ops]) => applyOps(seeds[i]!, ops));
}

/** Valid encodings of a top-level array with one element replaced (or dropped, or one added). */
export function fieldSwapped(seeds: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const arrays = seeds
    .map((s) => {
      try {
        return decodeCanonical(s);
      } catch {
        return undefined; // not CBOR (e.g. a p2p frame): this source falls back to random values
      }
    })
    .filter((v): v is CborValue[] => Array.isArray(v) && v.length > 0);
  if (arrays.length === 0) return cborValue.map(encodeSafe);
  return fc
    .tuple(fc.nat(arrays.length - 1), fc.nat(), fc.integer({ min: 0, max: 2 }), cborValue)
    .map(([i, at, how, v]) => {
      const a = arrays[i]!.slice();
      const k = at % a.length;
      if (how === 0) a[k] = v;
      else if (how === 1) a.splice(k, 1);
      else a.push(v);
      return encodeSafe(a);
    });
}

/** The four sources mixed; `maxRandom` bounds the purely random byte strings. */
export function hostileBytes(seeds: readonly Uint8Array[], maxRandom = 256): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: maxRandom }),
    mutated(seeds),
    cborValue.map(encodeSafe),
    fieldSwapped(seeds),
  );
}
