// Helpers shared by the wire tests (not part of the public API; imported only by *.test.ts).
import fc from 'fast-check';
import type { CborValue } from './cbor.ts';
import { WireError } from './errors.ts';

/** Property-test run counts: CI-sized by default, multiplied by VIGIL_PROPERTY_SCALE for soak runs. */
export function propertyRuns(base: number): number {
  const scale = Number(process.env['VIGIL_PROPERTY_SCALE'] ?? '1');
  return Math.max(1, Math.floor(base * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

export const arbInteger: fc.Arbitrary<number | bigint> = fc.oneof(
  fc.integer({ min: -30, max: 30 }),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 64n) + 1n, max: 2n ** 64n - 1n }),
);

export const arbCborValue: fc.Arbitrary<CborValue> = fc.letrec<{ value: CborValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    arbInteger,
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: 'grapheme-ascii', minLength: 20, maxLength: 300 }),
    fc.uint8Array({ maxLength: 40 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 6, depthIdentifier: 'cbor' }),
  ),
})).value;

/** What decode(encode(v)) returns: safe bigints become numbers, -0 becomes 0, bytes become Uint8Array. */
export function normalise(v: CborValue): CborValue {
  if (typeof v === 'bigint') {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  if (typeof v === 'number') return v === 0 ? 0 : v;
  if (v instanceof Uint8Array) return Uint8Array.from(v);
  if (Array.isArray(v)) return v.map(normalise);
  return v;
}

interface Assertions {
  fail(message: string): void;
  pass(message: string): void;
}

/** Asserts that `fn` throws a WireError with `code` (and nothing else). */
export function expectWireError(t: Assertions, fn: () => unknown, code: string, what: string): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof WireError && e.code === code) {
      t.pass(`${what}: ${code}`);
      return;
    }
    t.fail(`${what}: expected WireError ${code}, got ${e instanceof WireError ? e.code : String(e)}`);
    return;
  }
  t.fail(`${what}: expected WireError ${code}, but nothing was thrown`);
}

/** Exact structural equality of CborValues (number vs bigint distinguished; bytes compared by content). */
export function sameValue(a: CborValue, b: CborValue): boolean {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) return false;
    if (Object.getPrototypeOf(a) !== Uint8Array.prototype) return false;
    return a.every((x, i) => x === b[i]);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length) return false;
    return a.every((x, i) => sameValue(x, b[i]!));
  }
  return a === b;
}
