// Splitting an RFC 8742 CBOR sequence (concatenated items) into items, without decoding them: walks
// item headers (RFC 8949 §3) to find each item's length. Browser-safe; bounded depth and lengths, typed
// errors. Each item is then decoded strictly by wire's decodeCanonical/decodeTransaction.

import { SdkError } from './errors.ts';

const MAX_DEPTH = 16;

function fail(why: string): never {
  throw new SdkError('MALFORMED_RESPONSE', `CBOR sequence: ${why}`);
}

/** Offset just past the item starting at `off`. */
export function cborItemEnd(b: Uint8Array, off: number, depth = 0): number {
  if (depth > MAX_DEPTH) fail('nested too deeply');
  if (off >= b.length) fail('truncated');
  const ib = b[off]!;
  const major = ib >> 5;
  const ai = ib & 31;
  let p = off + 1;
  let arg: number;
  if (ai < 24) arg = ai;
  else if (ai <= 27) {
    const n = 1 << (ai - 24);
    if (p + n > b.length) fail('truncated header');
    arg = 0;
    for (let i = 0; i < n; i++) arg = arg * 256 + b[p + i]!;
    p += n;
  } else fail('indefinite lengths and reserved values are not allowed');
  switch (major) {
    case 0:
    case 1:
    case 7:
      return p;
    case 2:
    case 3:
      if (arg > b.length - p) fail('string past the end');
      return p + arg;
    case 4:
    case 5: {
      const items = major === 5 ? arg * 2 : arg;
      if (items > b.length - p) fail('more items than bytes');
      for (let i = 0; i < items; i++) p = cborItemEnd(b, p, depth + 1);
      return p;
    }
    default:
      return cborItemEnd(b, p, depth + 1); // tag: header then one item
  }
}

export function splitCborSequence(b: Uint8Array, maxItems = 10_000): Uint8Array[] {
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < b.length) {
    if (out.length >= maxItems) fail(`more than ${maxItems} items`);
    const end = cborItemEnd(b, off);
    out.push(b.subarray(off, end));
    off = end;
  }
  return out;
}
