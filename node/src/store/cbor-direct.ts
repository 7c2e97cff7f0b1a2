// Direct writers (and one reader) for the few canonical CBOR shapes the executor produces per
// transaction: unsigned integers (nonces, heights), [height, position] tx locations, receipts and byte
// string heads. The generic encoder (wire encodeCanonical: a validating normalisation pass, cbor-x, a
// copy) costs several microseconds per call and a 1,000-transaction block makes thousands of calls;
// these write the same bytes directly. cbor-direct.test.ts checks byte equality with encodeCanonical
// and that the reader accepts exactly what decodeCanonical accepts for its shape.
//
// Canonical = RFC 8949 §4.2.1 "core deterministic encoding": every head in its shortest form.
import { writeU64be } from './keys.ts';

/** Bytes taken by a head carrying argument `n` (0 <= n <= 2^53 - 1). */
export function headLength(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x1_0000_0000 ? 5 : 9;
}

/** Writes the head of major type `major` with argument `n` at `o`; returns the offset after it. */
export function writeHead(out: Uint8Array, o: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) {
    out[o] = m | n;
    return o + 1;
  }
  if (n < 0x100) {
    out[o] = m | 24;
    out[o + 1] = n;
    return o + 2;
  }
  if (n < 0x10000) {
    out[o] = m | 25;
    out[o + 1] = n >>> 8;
    out[o + 2] = n & 0xff;
    return o + 3;
  }
  if (n < 0x1_0000_0000) {
    out[o] = m | 26;
    out[o + 1] = n >>> 24;
    out[o + 2] = (n >>> 16) & 0xff;
    out[o + 3] = (n >>> 8) & 0xff;
    out[o + 4] = n & 0xff;
    return o + 5;
  }
  out[o] = m | 27;
  writeU64be(out, o + 1, n);
  return o + 9;
}

function assertUint(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a safe unsigned integer: ${n}`);
}

/** Canonical CBOR of an unsigned safe integer: identical to encodeCanonical(n). */
export function encodeUintDirect(n: number): Uint8Array {
  assertUint(n);
  const out = new Uint8Array(headLength(n));
  writeHead(out, 0, 0, n);
  return out;
}

/** Canonical CBOR of [a, b], both unsigned safe integers: identical to encodeCanonical([a, b]). */
export function encodeUintPairDirect(a: number, b: number): Uint8Array {
  assertUint(a);
  assertUint(b);
  const out = new Uint8Array(1 + headLength(a) + headLength(b));
  out[0] = 0x82;
  writeHead(out, writeHead(out, 1, 0, a), 0, b);
  return out;
}

/** Canonical CBOR of [tag, bytes] for a tag < 24: identical to encodeCanonical([tag, bytes]). */
export function encodeTaggedBytesDirect(tag: number, bytes: Uint8Array): Uint8Array {
  if (!Number.isInteger(tag) || tag < 0 || tag >= 24) throw new RangeError(`tag ${tag} is not below 24`);
  const out = new Uint8Array(2 + headLength(bytes.length) + bytes.length);
  out[0] = 0x82;
  out[1] = tag;
  out.set(bytes, writeHead(out, 2, 2, bytes.length));
  return out;
}

/**
 * Reads a value that must be exactly one canonical CBOR unsigned integer within the safe range.
 * Returns undefined for anything else (another type, a non-shortest head, trailing bytes, > 2^53 - 1),
 * which is exactly the set of inputs for which decodeCanonical does not return a safe uint.
 */
export function decodeUintDirect(b: Uint8Array): number | undefined {
  if (b.length === 0 || b[0]! >> 5 !== 0) return undefined;
  const info = b[0]! & 0x1f;
  if (info < 24) return b.length === 1 ? info : undefined;
  let n: number;
  let len: number;
  if (info === 24) {
    len = 2;
    if (b.length !== len) return undefined;
    n = b[1]!;
    if (n < 24) return undefined;
  } else if (info === 25) {
    len = 3;
    if (b.length !== len) return undefined;
    n = (b[1]! << 8) | b[2]!;
    if (n < 0x100) return undefined;
  } else if (info === 26) {
    len = 5;
    if (b.length !== len) return undefined;
    n = ((b[1]! << 24) >>> 0) + ((b[2]! << 16) | (b[3]! << 8) | b[4]!);
    if (n < 0x10000) return undefined;
  } else if (info === 27) {
    len = 9;
    if (b.length !== len) return undefined;
    const hi = ((b[1]! << 24) >>> 0) + ((b[2]! << 16) | (b[3]! << 8) | b[4]!);
    const lo = ((b[5]! << 24) >>> 0) + ((b[6]! << 16) | (b[7]! << 8) | b[8]!);
    if (hi === 0) return undefined; // fits in 4 bytes: not the shortest head
    n = hi * 0x1_0000_0000 + lo;
    if (!Number.isSafeInteger(n)) return undefined;
  } else {
    return undefined;
  }
  return n;
}

/** Deepest array nesting the direct encoder takes on (deeper values go to the generic encoder). */
const SIMPLE_MAX_DEPTH = 8;

/**
 * Bytes of `v` in canonical CBOR if it is "simple": safe integers, ASCII strings, byte strings, null,
 * booleans, and arrays of those nested at most SIMPLE_MAX_DEPTH deep; -1 for anything else.
 */
function simpleSize(v: unknown, depth: number): number {
  switch (typeof v) {
    case 'number':
      if (!Number.isSafeInteger(v)) return -1;
      return headLength(v < 0 ? -1 - v : v);
    case 'string': {
      for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) > 0x7f) return -1;
      return headLength(v.length) + v.length;
    }
    case 'boolean':
      return 1;
    case 'object': {
      if (v === null) return 1;
      if (v instanceof Uint8Array) return headLength(v.length) + v.length;
      if (!Array.isArray(v) || depth >= SIMPLE_MAX_DEPTH) return -1;
      let size = headLength(v.length);
      for (let i = 0; i < v.length; i++) {
        if (!(i in v)) return -1;
        const s = simpleSize(v[i], depth + 1);
        if (s < 0) return -1;
        size += s;
      }
      return size;
    }
    default:
      return -1;
  }
}

/** Writes a value simpleSize accepted at `o`; returns the offset after it. */
function writeSimple(out: Uint8Array, o: number, v: unknown): number {
  switch (typeof v) {
    case 'number':
      return v < 0 ? writeHead(out, o, 1, -1 - v) : writeHead(out, o, 0, v);
    case 'string': {
      let p = writeHead(out, o, 3, v.length);
      for (let i = 0; i < v.length; i++) out[p++] = v.charCodeAt(i);
      return p;
    }
    case 'boolean':
      out[o] = v ? 0xf5 : 0xf4;
      return o + 1;
    default: {
      if (v === null) {
        out[o] = 0xf6;
        return o + 1;
      }
      if (v instanceof Uint8Array) {
        const p = writeHead(out, o, 2, v.length);
        out.set(v, p);
        return p + v.length;
      }
      const a = v as unknown[];
      let p = writeHead(out, o, 4, a.length);
      for (let i = 0; i < a.length; i++) p = writeSimple(out, p, a[i]);
      return p;
    }
  }
}

/**
 * Canonical CBOR of a state-machine record or index value, written directly when it is simple (see
 * simpleSize: every record shape a readings transaction writes), identical to encodeCanonical(v); for
 * anything else (non-ASCII text, big integers, deep nesting, or an invalid value) undefined, and the
 * caller uses the generic encoder, which also reports what is invalid. The generic one validates into a
 * copy, runs cbor-x and copies the result: about a tenth of a catching-up node's main thread went to it
 * (bench -- replay profile, 2026-12-05).
 */
export function encodeSimpleDirect(
  v: unknown,
  /** Where the bytes go (a Slab's alloc for bytes that die with their batch); default a new array. */
  alloc: (size: number) => Uint8Array = (size) => new Uint8Array(size),
): Uint8Array | undefined {
  const size = simpleSize(v, 0);
  if (size < 0) return undefined;
  const out = alloc(size);
  writeSimple(out, 0, v);
  return out;
}

/**
 * The items of `b` when it is exactly a canonical CBOR array of at most `maxItems` byte strings, as
 * views into `b` (no copies); undefined for anything else, including a non-shortest head, an
 * indefinite length or bytes after the array: what decodeCanonical accepts for that shape.
 */
export function readByteStringArrayDirect(b: Uint8Array, maxItems: number): Uint8Array[] | undefined {
  let o = 0;
  const head = (major: number): number | undefined => {
    if (o >= b.length) return undefined;
    const first = b[o++]!;
    if (first >> 5 !== major) return undefined;
    const info = first & 0x1f;
    if (info < 24) return info;
    const len = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (len === 0 || o + len > b.length) return undefined;
    let n = 0;
    for (let i = 0; i < len; i++) n = n * 256 + b[o + i]!;
    o += len;
    const min = len === 1 ? 24 : len === 2 ? 0x100 : len === 4 ? 0x10000 : 0x1_0000_0000;
    return n < min || !Number.isSafeInteger(n) ? undefined : n;
  };
  const count = head(4);
  if (count === undefined || count > maxItems) return undefined;
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const n = head(2);
    if (n === undefined || o + n > b.length) return undefined;
    out.push(b.subarray(o, o + n));
    o += n;
  }
  return o === b.length ? out : undefined;
}
