// Field checks shared by the structure codecs. Each throws WireError WRONG_TYPE naming the field, so a
// rejection says exactly which part of a hostile message was wrong.
import type { CborValue } from './cbor.ts';
import { WireError } from './errors.ts';

export function expectArray(v: CborValue | undefined, what: string, length?: number): CborValue[] {
  if (!Array.isArray(v)) throw new WireError('WRONG_TYPE', `${what} must be an array`);
  if (length !== undefined && v.length !== length) {
    throw new WireError('WRONG_TYPE', `${what} must have ${length} elements, has ${v.length}`);
  }
  return v;
}

/** A non-negative safe integer (0 .. 2^53-1), optionally with a lower bound. */
export function expectUint(v: CborValue | undefined, what: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new WireError('WRONG_TYPE', `${what} must be an integer in [${min}, 2^53-1]`);
  }
  return v;
}

export function expectBytes(v: CborValue | undefined, what: string, length?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new WireError('WRONG_TYPE', `${what} must be a byte string`);
  if (length !== undefined && v.length !== length) {
    throw new WireError('WRONG_TYPE', `${what} must be ${length} bytes, is ${v.length}`);
  }
  return v;
}

/** Version check first, so a future version with a different shape is reported as such. */
export function expectVersion(v: CborValue[], what: string, supported: number): void {
  if (v.length === 0) throw new WireError('WRONG_TYPE', `${what} is empty`);
  if (v[0] !== supported) throw new WireError('UNSUPPORTED_VERSION', `${what} version ${String(v[0])}`);
}
