// Canonical CBOR: the one byte representation of every Vigil structure (ADR 0003, docs/protocol.md §2).
//
// The subset is RFC 8949 §4.2.1 "core deterministic encoding" restricted to:
//   major 0/1 integers in [-(2^64)+1, 2^64-1]   (no floats, ever; -(2^64) is excluded because cbor-x
//                                                can only write it as a bignum tag)
//   major 2 byte strings, major 3 UTF-8 text strings, major 4 arrays   (definite lengths only)
//   simple values false (0xf4), true (0xf5), null (0xf6)
// No maps (structures are fixed-position arrays), no tags, no undefined, no floats. Every head uses the
// shortest form (§4.2.1 "preferred serialization" of arguments).
//
// Encoding is done by cbor-x after a validating normalisation pass (cbor-x writes integers above 2^32 as
// float64 and bigints always as 8-byte 0x1b/0x3b heads; the pass hands it whichever representation it
// encodes minimally). Decoding is two layers, either of which rejects:
//   1. a structural pre-scan of the heads (bounded, iterative: no recursion or allocation driven by the
//      input), which enforces well-formedness, the subset, minimal heads, depth and no trailing bytes;
//   2. the value is built from the scanned bytes, text strings through a fatal UTF-8 decoder (the only
//      way left for input to be non-canonical: in this subset every other value has exactly one
//      encoding, and layer 1 has checked that each head is that one).
// Until 2026-12 layer 2 was cbor-x's decoder followed by a re-encoding that had to match the input
// byte for byte; that check cost more than the decoding itself on every transaction, block and PBFT
// message (issue 9 profiles), and caught nothing the two layers above do not. The property tests in
// cbor.test.ts compare both directions with an independent reference written from RFC 8949.
import { Encoder } from 'cbor-x';
import { WireError } from './errors.ts';
import { DEFAULT_MAX_BYTES, MAX_DEPTH } from './limits.ts';

/**
 * The values of the canonical subset. Integers are `number` when they are safe integers
 * (|v| <= 2^53-1) and `bigint` otherwise; the decoder always returns that representation, and the
 * encoder accepts either (a bigint in the safe range encodes exactly like the equal number).
 */
export type CborValue = number | bigint | string | Uint8Array | boolean | null | CborValue[];

export interface DecodeOptions {
  /** Reject input longer than this many bytes before parsing. Default DEFAULT_MAX_BYTES. */
  maxBytes?: number;
  /** Reject arrays nested deeper than this (outermost array = 1). Default MAX_DEPTH. */
  maxDepth?: number;
}

const U32 = 0x1_0000_0000;
const TWO_64 = 1n << 64n;

// useBuffer is cbor-x API (README, "Arena Allocation") missing from its type declarations.
const encoder: Encoder & { useBuffer(buffer: Uint8Array): void } = new Encoder({
  useRecords: false,
  tagUint8Array: false,
  structuredClone: false,
  pack: false,
  bundleStrings: false,
  variableMapSize: true,
  useFloat32: 0,
  largeBigIntToFloat: false,
}) as Encoder & { useBuffer(buffer: Uint8Array): void };

/**
 * cbor-x writes into one module-wide buffer, appending encode after encode, and when that fills it
 * allocates a new one as large as the largest value encoded so far: after a block or a PRE-PREPARE a
 * few hundred kilobytes, allocated again every few hundred small encodes (the state records and index
 * entries a transaction writes). Every result is copied out before encodeWithDepth returns, so each
 * encode can start at the beginning of one reused arena instead (cbor-x README, "Arena Allocation
 * (useBuffer())"); a value larger than the arena still gets a buffer of its own from cbor-x. Under
 * Node the arena must be a Buffer (cbor-x writes strings with Buffer#utf8Write), elsewhere a Uint8Array.
 */
const ARENA_BYTES = 64 * 1024;
const NodeBuffer = (globalThis as { Buffer?: { allocUnsafeSlow(size: number): Uint8Array } }).Buffer;
const arena: Uint8Array = NodeBuffer ? NodeBuffer.allocUnsafeSlow(ARENA_BYTES) : new Uint8Array(ARENA_BYTES);

/** Fatal: invalid UTF-8, encoded surrogates and overlong forms throw instead of becoming U+FFFD. A
 *  leading U+FEFF is kept as a character (ignoreBOM), so every valid string round-trips exactly. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** True when `s` has no lone UTF-16 surrogate, i.e. it has exactly one UTF-8 encoding. */
function isWellFormedUtf16(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}

type CborXInput = number | bigint | string | Uint8Array | boolean | null | CborXInput[];

/** Validate `v` against the subset and map it to what cbor-x encodes minimally. */
function normaliseForEncoder(v: unknown, depth: number, maxDepth: number): CborXInput {
  switch (typeof v) {
    case 'number': {
      if (!Number.isSafeInteger(v)) {
        throw new WireError('UNSUPPORTED_TYPE', `not a safe integer: ${v}`);
      }
      // cbor-x writes |v| < 2^32 with minimal heads, but larger numbers as float64: hand it a bigint.
      return v >= -U32 && v < U32 ? v : BigInt(v);
    }
    case 'bigint': {
      if (v >= TWO_64 || v <= -TWO_64)
        throw new WireError('UNSUPPORTED_TYPE', 'integer outside [-(2^64)+1, 2^64-1]');
      // cbor-x writes every bigint with an 8-byte head: only right when the value needs 8 bytes.
      return v >= -BigInt(U32) && v < BigInt(U32) ? Number(v) : v;
    }
    case 'string':
      if (!isWellFormedUtf16(v)) throw new WireError('UNSUPPORTED_TYPE', 'string has a lone surrogate');
      return v;
    case 'boolean':
      return v;
    case 'object': {
      if (v === null) return null;
      if (v instanceof Uint8Array) {
        // A plain Uint8Array view: cbor-x would tag a Node Buffer subclass differently otherwise.
        return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      }
      if (Array.isArray(v)) {
        if (depth + 1 > maxDepth) throw new WireError('TOO_DEEP', `arrays nested deeper than ${maxDepth}`);
        const out: CborXInput[] = new Array(v.length);
        for (let i = 0; i < v.length; i++) {
          if (!(i in v)) throw new WireError('UNSUPPORTED_TYPE', 'sparse array');
          out[i] = normaliseForEncoder(v[i], depth + 1, maxDepth);
        }
        return out;
      }
      throw new WireError('UNSUPPORTED_TYPE', `cannot encode ${Object.prototype.toString.call(v)}`);
    }
    default:
      throw new WireError('UNSUPPORTED_TYPE', `cannot encode a ${typeof v}`);
  }
}

/** Encode `v` in Vigil canonical CBOR. Throws WireError UNSUPPORTED_TYPE / TOO_DEEP. */
export function encodeCanonical(v: CborValue): Uint8Array {
  return encodeWithDepth(v, MAX_DEPTH);
}

function encodeWithDepth(v: CborValue, maxDepth: number): Uint8Array {
  const input = normaliseForEncoder(v, 0, maxDepth);
  let out: Uint8Array;
  try {
    encoder.useBuffer(arena);
    out = encoder.encode(input);
  } catch (e) {
    // Unreachable for validated input; kept so that nothing but WireError leaves this module.
    throw new WireError('UNSUPPORTED_TYPE', `cbor-x: ${e instanceof Error ? e.message : String(e)}`);
  }
  // cbor-x returns a Node Buffer that may share its pool: copy into a plain Uint8Array we own.
  return new Uint8Array(out);
}

/** Smallest argument that needs 1, 2 or 4 following bytes; anything smaller had a shorter head. */
const MINIMAL_FROM = [24, 0x100, 0x1_0000];

/** The big-endian 32-bit word at `p`. */
function word32(bytes: Uint8Array, p: number): number {
  return ((bytes[p]! << 24) >>> 0) + (bytes[p + 1]! << 16) + (bytes[p + 2]! << 8) + bytes[p + 3]!;
}

/**
 * The argument of a head with additional information `ai` (0..27) whose following bytes start at `pos`:
 * all of it, or for an 8-byte argument (ai 27) its low 32 bits (`word32(bytes, pos)` is the high word).
 * The head then ends at `pos + argumentBytes(ai)`. No bounds or minimality checks: the pre-scan makes
 * both before anything is built, and both layers read heads through these functions.
 */
function argumentAt(bytes: Uint8Array, pos: number, ai: number): number {
  if (ai < 24) return ai;
  if (ai === 24) return bytes[pos]!;
  if (ai === 25) return (bytes[pos]! << 8) | bytes[pos + 1]!;
  return word32(bytes, ai === 26 ? pos : pos + 4);
}

function argumentBytes(ai: number): number {
  return ai < 24 ? 0 : 1 << (ai - 24);
}

/**
 * Structural pre-scan (layer 1). Walks the heads iteratively with an explicit stack of "items still
 * expected" per open array. Never allocates in proportion to a length read from the input.
 */
function prescan(bytes: Uint8Array, maxDepth: number): void {
  const n = bytes.length;
  let pos = 0;
  // remaining[d] = items still to read in the array open at depth d+1; the virtual root expects 1 item.
  const remaining: number[] = [1];
  while (remaining.length > 0) {
    if (remaining[remaining.length - 1] === 0) {
      remaining.pop();
      continue;
    }
    remaining[remaining.length - 1]!--;
    if (pos >= n) throw new WireError('MALFORMED', 'unexpected end of input');
    const ib = bytes[pos++]!;
    const major = ib >> 5;
    const ai = ib & 0x1f;
    if (major === 7) {
      // Simple values and floats: only false/true/null are in the subset.
      if (ai === 20 || ai === 21 || ai === 22) continue;
      if (ai === 31) throw new WireError('MALFORMED', 'break code outside an indefinite-length item');
      if (ai >= 28) throw new WireError('MALFORMED', `reserved additional information ${ai}`);
      if (ai >= 25) throw new WireError('UNSUPPORTED_TYPE', 'floating-point values are not allowed');
      throw new WireError('UNSUPPORTED_TYPE', 'only false, true and null simple values are allowed');
    }
    // Read the head's argument (RFC 8949 §3): bounds first, then minimality (§4.2.1).
    if (ai === 31) {
      if (major === 0 || major === 1 || major === 6) {
        throw new WireError('MALFORMED', 'indefinite length on a type that has none');
      }
      throw new WireError('NON_CANONICAL', 'indefinite-length items are not allowed');
    }
    if (ai >= 28) throw new WireError('MALFORMED', `reserved additional information ${ai}`);
    if (pos + argumentBytes(ai) > n) throw new WireError('MALFORMED', 'truncated head');
    const arg = argumentAt(bytes, pos, ai);
    const hi = ai === 27 ? word32(bytes, pos) : 0;
    pos += argumentBytes(ai);
    if (ai >= 24 && (ai === 27 ? hi === 0 : arg < MINIMAL_FROM[ai - 24]!))
      throw new WireError('NON_CANONICAL', 'non-minimal head');
    switch (major) {
      case 0:
        break;
      case 1:
        if (hi === 0xffffffff && arg === 0xffffffff) {
          throw new WireError('UNSUPPORTED_TYPE', 'integer -(2^64)');
        }
        break;
      case 2:
      case 3: {
        const left = n - pos;
        if (hi !== 0 || arg > left) throw new WireError('MALFORMED', 'string runs past the end of input');
        pos += arg;
        break;
      }
      case 4: {
        // Each element takes at least one byte, so a count beyond the bytes left is malformed.
        if (hi !== 0 || arg > n - pos) throw new WireError('MALFORMED', 'array runs past the end of input');
        if (remaining.length > maxDepth)
          throw new WireError('TOO_DEEP', `arrays nested deeper than ${maxDepth}`);
        remaining.push(arg);
        break;
      }
      case 5:
        throw new WireError('UNSUPPORTED_TYPE', 'maps are not allowed (structures are arrays)');
      case 6:
        throw new WireError('UNSUPPORTED_TYPE', 'tags are not allowed');
    }
  }
  if (pos !== n) throw new WireError('TRAILING_BYTES', `${n - pos} bytes after the item`);
}

const TWO_32 = 0x1_0000_0000;
/** High 32 bits of 2^53: an 8-byte argument below this is a safe integer. */
const SAFE_HI = 0x20_0000;

/**
 * Layer 2: build the value of the item at `at.pos`, which layer 1 has checked (so heads are minimal,
 * lengths fit the input, nesting is within the depth limit, and only the subset's types occur).
 * Integers come back as numbers when safe and bigints otherwise; byte strings as fresh plain
 * Uint8Arrays that never alias the input.
 */
function buildItem(bytes: Uint8Array, at: { pos: number }): CborValue {
  let pos = at.pos;
  const ib = bytes[pos++]!;
  const major = ib >> 5;
  const ai = ib & 0x1f;
  if (major === 7) {
    at.pos = pos;
    return ai === 20 ? false : ai === 21 ? true : null;
  }
  const arg = argumentAt(bytes, pos, ai);
  const hi = ai === 27 ? word32(bytes, pos) : 0;
  pos += argumentBytes(ai);
  switch (major) {
    case 0:
    case 1: {
      at.pos = pos;
      if (hi < SAFE_HI) {
        const v = hi * TWO_32 + arg;
        if (major === 0) return v;
        // -1 - v is safe down to -(2^53 - 1), i.e. for v up to 2^53 - 2.
        if (v < Number.MAX_SAFE_INTEGER) return -1 - v;
      }
      const big = (BigInt(hi) << 32n) | BigInt(arg);
      return major === 0 ? big : -1n - big;
    }
    case 2: {
      const out = new Uint8Array(arg);
      out.set(bytes.subarray(pos, pos + arg));
      at.pos = pos + arg;
      return out;
    }
    case 3: {
      let s: string;
      try {
        s = utf8.decode(bytes.subarray(pos, pos + arg));
      } catch {
        throw new WireError('NON_CANONICAL', 'text string is not valid UTF-8');
      }
      at.pos = pos + arg;
      return s;
    }
    default: {
      // major 4 (layer 1 admits no other): `arg` elements, each at least one byte of checked input.
      at.pos = pos;
      const out: CborValue[] = new Array(arg);
      for (let i = 0; i < arg; i++) out[i] = buildItem(bytes, at);
      return out;
    }
  }
}

/**
 * Decode one canonical CBOR item occupying all of `bytes`. Only WireError ever escapes:
 * TOO_LARGE, MALFORMED, TRAILING_BYTES, NON_CANONICAL, TOO_DEEP, UNSUPPORTED_TYPE.
 */
export function decodeCanonical(bytes: Uint8Array, opts?: DecodeOptions): CborValue {
  const maxBytes = opts?.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxDepth = opts?.maxDepth ?? MAX_DEPTH;
  if (!(bytes instanceof Uint8Array)) throw new WireError('MALFORMED', 'input is not a Uint8Array');
  if (bytes.length > maxBytes) throw new WireError('TOO_LARGE', `${bytes.length} bytes > limit ${maxBytes}`);
  prescan(bytes, maxDepth);
  return buildItem(bytes, { pos: 0 });
}
