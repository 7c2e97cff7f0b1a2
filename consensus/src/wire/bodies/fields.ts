// Strict readers for the fields of a fixed-position CBOR array. Each throws a BodyError naming the field.

import type { CborValue } from '../cbor.ts';
import { BodyError } from './errors.ts';

export function fields(v: CborValue, arity: number, path: string): CborValue[] {
  if (!Array.isArray(v)) throw new BodyError('BODY_FIELD', path, 'expected an array');
  if (v.length !== arity)
    throw new BodyError('BODY_ARITY', path, `expected ${arity} fields, got ${v.length}`);
  return v;
}

export function list(v: CborValue, path: string, min: number, max: number): CborValue[] {
  if (!Array.isArray(v)) throw new BodyError('BODY_FIELD', path, 'expected an array');
  if (v.length < min || v.length > max) {
    throw new BodyError('BODY_FIELD', path, `expected ${min}..${max} items, got ${v.length}`);
  }
  return v;
}

export function key32(v: CborValue, path: string): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== 32)
    throw new BodyError('BODY_FIELD', path, 'expected 32 bytes');
  return v;
}

/** Non-negative safe integer in [min, max]. Timestamps are ms since the Unix epoch. */
export function uint(v: CborValue, path: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new BodyError('BODY_FIELD', path, `expected an integer in ${min}..${max}`);
  }
  return v;
}

/** Signed safe integer (reading values and thresholds may in principle be negative on other scales). */
export function int(v: CborValue, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v))
    throw new BodyError('BODY_FIELD', path, 'expected an integer');
  return v;
}

export function bool(v: CborValue, path: string): boolean {
  if (typeof v !== 'boolean') throw new BodyError('BODY_FIELD', path, 'expected a boolean');
  return v;
}

/**
 * Bytes of `s` in UTF-8 as TextEncoder writes it (a lone surrogate becomes U+FFFD, 3 bytes), counted
 * without encoding: every transaction body's text fields are measured, and encoding them only to take
 * the length was a visible share of decoding a readings transaction.
 */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // a pair: two units, four bytes
        i++;
      } else n += 2;
    } else n += 2;
  }
  return n;
}

/** Text bounded in UTF-8 bytes (not UTF-16 units), optionally matching a pattern. */
export function text(v: CborValue, path: string, maxBytes: number, pattern?: RegExp, minBytes = 1): string {
  if (typeof v !== 'string') throw new BodyError('BODY_FIELD', path, 'expected text');
  const n = utf8Length(v);
  if (n < minBytes || n > maxBytes)
    throw new BodyError('BODY_FIELD', path, `expected ${minBytes}..${maxBytes} bytes`);
  if (pattern && !pattern.test(v)) throw new BodyError('BODY_FIELD', path, `does not match ${pattern}`);
  return v;
}

export function oneOf<T extends number>(v: CborValue, path: string, allowed: readonly T[]): T {
  if (typeof v !== 'number' || !allowed.includes(v as T)) {
    throw new BodyError('BODY_ENUM', path, `expected one of ${allowed.join(', ')}`);
  }
  return v as T;
}
