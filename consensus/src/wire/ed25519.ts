// Ed25519 signing and Vigil's signature acceptance rule (ADR 0005, docs/protocol.md §5).
//
// Ed25519 implementations disagree on crafted signatures (Chalkias, Garillot, Nikolaenko, "Taming the
// many EdDSAs", 2020): cofactored vs cofactorless equations, canonical vs permissive point encodings,
// small-order keys. In a replicated system that disagreement is a consensus split, so Vigil fixes ONE
// rule, which both the pure-JS reference verifier here and the node's OpenSSL-backed fast verifier
// (node/src/crypto/fast-verifier.ts) implement, and tests prove they agree:
//
//   Given signature (R_bytes = sig[0..32], S_bytes = sig[32..64]), message M, public key A_bytes:
//   1. sig is 64 bytes and A_bytes is 32 bytes;
//   2. S = LE(S_bytes) < L                                   (RFC 8032 §5.1.7: no malleable S);
//   3. A_bytes is canonical: y = LE(A_bytes) mod 2^255 < p   (RFC 8032 §5.1.3);
//   4. A decodes to a curve point and is NOT of small order  (none of the 8 torsion points, any sign bit);
//   5. R_bytes is not the encoding of a small-order point    (OpenSSL 3 rejects these: measured, ADR 0005);
//   6. k = SHA-512(R_bytes || A_bytes || M) mod L;
//   7. accept iff encode([S]B - [k]A) == R_bytes              (cofactorless, byte comparison, as OpenSSL).
// Step 7 compares bytes, so a non-canonical or "negative zero" R can never be accepted. Mixed-order A or
// R (a prime-order point plus a torsion component) are NOT rejected: the cofactorless equation decides,
// exactly as OpenSSL's does.
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { WireError } from './errors.ts';
import { bytesEqual, concatBytes } from './hash.ts';

// @noble/ed25519's synchronous API needs a SHA-512; @noble/hashes provides a pure-JS one.
ed.hashes.sha512 = sha512;

export interface Signer {
  readonly publicKey: Uint8Array;
  /** Ed25519 signature (64 bytes) over `message`. Synchronous. */
  sign(message: Uint8Array): Uint8Array;
}

export interface Verifier {
  /** True iff `signature` is valid for `message` and `publicKey` under the Vigil acceptance rule. */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

const { n: L, p: P } = ed.Point.CURVE();

function leToBigint(b: Uint8Array): bigint {
  let x = 0n;
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]!);
  return x;
}

/**
 * The y coordinates (sign bit cleared) of the 8 points of order dividing 8: the identity (y = 1), the
 * point of order 2 (y = p-1), the two of order 4 (y = 0) and the four of order 8 (two y values).
 * Derived from the curve rather than hard-coded: T8 is any point of order 8; its multiples are the torsion.
 */
const SMALL_ORDER_Y: readonly bigint[] = (() => {
  // 0x26e8958f...05 is the canonical encoding of a point of order 8 (it is in libsodium's blocklist).
  const t8 = ed.Point.fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05');
  const ys = new Set<bigint>();
  let q = ed.Point.ZERO;
  for (let i = 0; i < 8; i++) {
    ys.add(q.toAffine().y);
    q = q.add(t8);
  }
  if (!q.is0() || ys.size !== 5) throw new Error('ed25519 torsion derivation failed'); // unreachable
  return [...ys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
})();

/** Encodings (32 bytes, y with sign bit cleared) of the small-order y values, for byte comparisons. */
export const SMALL_ORDER_Y_ENCODINGS: readonly Uint8Array[] = SMALL_ORDER_Y.map(leBytes);

/**
 * Steps 1-5 of the acceptance rule as cheap byte-level checks (no point arithmetic). Exported so that a
 * backend such as OpenSSL can be put behind exactly the same gate. Step 4's "decodes to a curve point"
 * is left to the backend, which must reject off-curve keys. For step 5 it suffices to reject every R
 * whose y (sign bit cleared) is a small-order y: any other encoding of such a y is non-canonical and
 * fails step 7 anyway.
 */
export function ed25519Precheck(signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || !(publicKey instanceof Uint8Array)) return false;
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  // The same comparisons as LE(S) < L, y < p and y not small-order, on bytes: every signature a node
  // receives passes here, and three 32-byte BigInt conversions were ~1 % of a validator's CPU (issue 9).
  if (!leLessThan(signature, 32, L_BYTES, 0xff)) return false;
  if (!leLessThan(publicKey, 0, P_BYTES, 0x7f)) return false;
  if (isSmallOrderY(publicKey)) return false;
  return !isSmallOrderY(signature);
}

function leBytes(x: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((x >> BigInt(8 * i)) & 0xffn);
  return out;
}

const L_BYTES = leBytes(L);
const P_BYTES = leBytes(P);

/**
 * Whether the 32-byte little-endian number at `b[at..at+32]`, its top byte masked with `topMask`, is
 * below `limit` (32 bytes, little-endian): compared from the most significant byte down.
 */
function leLessThan(b: Uint8Array, at: number, limit: Uint8Array, topMask: number): boolean {
  let i = 31;
  let x = b[at + i]! & topMask;
  for (;;) {
    const y = limit[i]!;
    if (x !== y) return x < y;
    if (i === 0) return false;
    i--;
    x = b[at + i]!;
  }
}

/** Whether the point encoding in `b[0..32]` has a small-order y (sign bit ignored). */
function isSmallOrderY(b: Uint8Array): boolean {
  for (const e of SMALL_ORDER_Y_ENCODINGS) {
    let same = (b[31]! & 0x7f) === e[31];
    for (let i = 0; same && i < 31; i++) same = b[i] === e[i];
    if (same) return true;
  }
  return false;
}

// --- [k]A for repeated keys -------------------------------------------------------------------------
// Validators and devices sign many messages, so the reference verifier keeps, for recently seen keys, a
// fixed-window table T[w][j-1] = j·16^w·A (j = 1..8, 65 windows). [k]A is then at most 65 point
// additions with signed base-16 digits, instead of ~250 doublings and ~125 additions. A table costs about
// 1.4 plain multiplications to build, so it is built on a key's second use; a flood of one-off keys
// costs nothing extra. Caches are bounded LRUs; they change speed, never answers (tested against
// multiplyUnsafe).
const TABLE_WINDOWS = 65;
const MAX_TABLES = 64;
const MAX_SEEN = 1024;
const tables = new Map<string, ed.Point[][]>();
const seenOnce = new Map<string, true>();

export function buildMultiplicationTable(A: ed.Point): ed.Point[][] {
  const table: ed.Point[][] = [];
  let base = A;
  for (let w = 0; w < TABLE_WINDOWS; w++) {
    const row = [base];
    for (let j = 1; j < 8; j++) row.push(row[j - 1]!.add(base));
    table.push(row);
    base = row[7]!.double(); // 16·base = 2·(8·base)
  }
  return table;
}

/** [k]A for 0 <= k < 2^256 with signed base-16 digits in [-8, 8). */
export function multiplyWithTable(table: readonly (readonly ed.Point[])[], k: bigint): ed.Point {
  let acc = ed.Point.ZERO;
  let carry = 0;
  for (let w = 0; w < TABLE_WINDOWS; w++) {
    let d = Number(k & 15n) + carry;
    k >>= 4n;
    carry = d >= 8 ? 1 : 0;
    if (carry === 1) d -= 16;
    if (d > 0) acc = acc.add(table[w]![d - 1]!);
    else if (d < 0) acc = acc.subtract(table[w]![-d - 1]!);
  }
  return acc;
}

function lruTouch<V>(m: Map<string, V>, key: string, value: V, max: number): void {
  m.delete(key);
  m.set(key, value);
  if (m.size > max) m.delete(m.keys().next().value!);
}

function multiplyByKey(publicKey: Uint8Array, A: ed.Point, k: bigint): ed.Point {
  const id = String.fromCharCode(...publicKey);
  let table = tables.get(id);
  if (table === undefined) {
    if (!seenOnce.has(id)) {
      lruTouch(seenOnce, id, true, MAX_SEEN);
      return A.multiplyUnsafe(k);
    }
    seenOnce.delete(id);
    table = buildMultiplicationTable(A);
  }
  lruTouch(tables, id, table, MAX_TABLES);
  return multiplyWithTable(table, k);
}

/** The reference implementation of the acceptance rule, on @noble/ed25519's Point arithmetic. */
function verifyStrict(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || !(publicKey instanceof Uint8Array)) return false;
  if (!(message instanceof Uint8Array)) return false;
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  const rBytes = signature.subarray(0, 32);
  const s = leToBigint(signature.subarray(32, 64));
  if (s >= L) return false;
  let A: ed.Point;
  try {
    // zip215 = false: RFC 8032 strict decoding (y < p, and x = 0 with sign bit 1 rejected).
    A = ed.Point.fromBytes(publicKey, false);
  } catch {
    return false;
  }
  if (A.isSmallOrder()) return false;
  // Step 5 on the decoded point (independently of ed25519Precheck's byte comparison). A permissive
  // decode is enough: an R that only decodes permissively is non-canonical and fails step 7.
  try {
    if (ed.Point.fromBytes(rBytes, true).isSmallOrder()) return false;
  } catch {
    return false; // R is not a curve point: step 7 cannot match it.
  }
  const k = leToBigint(sha512(concatBytes(rBytes, publicKey, message))) % L;
  // multiplyUnsafe allows the scalar 0 (S = 0 or k = 0 are legal inputs); timing is irrelevant here:
  // verification handles only public data. [S]B uses noble's precomputed base-point table.
  const rCheck = ed.Point.BASE.multiplyUnsafe(s).subtract(multiplyByKey(publicKey, A, k));
  return bytesEqual(rCheck.toBytes(), rBytes);
}

export const referenceVerifier: Verifier = {
  verify(signature, message, publicKey) {
    try {
      return verifyStrict(signature, message, publicKey);
    } catch {
      return false;
    }
  },
};

/** An Ed25519 signer from a 32-byte RFC 8032 secret seed (deterministic signatures, §5.1.6). */
export function signerFromSeed(seed32: Uint8Array): Signer {
  if (!(seed32 instanceof Uint8Array) || seed32.length !== 32) {
    throw new WireError('WRONG_TYPE', 'signerFromSeed: the seed must be 32 bytes');
  }
  const seed = Uint8Array.prototype.slice.call(seed32);
  const publicKey = ed.getPublicKey(seed);
  return {
    publicKey,
    sign(message: Uint8Array): Uint8Array {
      return ed.sign(message, seed);
    },
  };
}
