// Server side of signed requests (docs/api.md, "Signed requests"; the client is
// signed-request-client.ts). Authenticates the caller of a patient-data read: the ed25519 signature
// over the canonical request built from the RAW request line and body bytes, a timestamp inside the
// replay window, and a nonce never seen inside that window (a bounded cache).
import { fromHex, sha256, toHex, type Verifier } from '@vigil/consensus/wire';
import { type CanonicalRequest, requestSigningBytes, SignedHeader } from './signed-request-client.ts';

export const AuthErrorCode = {
  /** No x-vigil-signature (or another required x-vigil-* header) on a route that needs one. */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** An x-vigil-* header is present but malformed. */
  BAD_AUTH_HEADER: 'BAD_AUTH_HEADER',
  /** The timestamp is outside the replay window around the node's clock. */
  REQUEST_EXPIRED: 'REQUEST_EXPIRED',
  /** This (key, nonce) was already used inside the window. */
  REPLAYED_REQUEST: 'REPLAYED_REQUEST',
  /** The signature does not verify over the canonical request. */
  BAD_REQUEST_SIGNATURE: 'BAD_REQUEST_SIGNATURE',
  /** The nonce cache is full of unexpired entries: the node refuses rather than forgets (503). */
  NONCE_CACHE_FULL: 'NONCE_CACHE_FULL',
} as const;
export type AuthErrorCode = (typeof AuthErrorCode)[keyof typeof AuthErrorCode];

export class AuthError extends Error {
  readonly code: AuthErrorCode;
  constructor(code: AuthErrorCode, message: string) {
    super(message);
    this.name = 'AuthError';
    this.code = code;
  }
  get status(): number {
    return this.code === 'NONCE_CACHE_FULL' ? 503 : 401;
  }
}

const HEX_KEY = /^[0-9a-f]{64}$/;
const HEX_SIG = /^[0-9a-f]{128}$/;
const HEX_NONCE = /^[0-9a-f]{16,64}$/;
const DECIMAL = /^[0-9]{1,16}$/;

export interface ReplayGuardOptions {
  /** A request is accepted while |now - timestamp| <= windowMs. */
  windowMs?: number;
  /** Most (key, nonce) pairs remembered at once. */
  maxEntries?: number;
}

/**
 * Remembers (key, nonce) pairs until their request could no longer pass the timestamp check, so a
 * replay inside the window is refused and memory stays bounded: an entry is only needed for
 * 2 x windowMs (timestamps may be ahead of or behind the clock).
 */
export class ReplayGuard {
  readonly windowMs: number;
  readonly maxEntries: number;
  readonly #seen = new Map<string, number>();

  constructor(o: ReplayGuardOptions = {}) {
    this.windowMs = o.windowMs ?? 60_000;
    this.maxEntries = o.maxEntries ?? 100_000;
  }

  get size(): number {
    return this.#seen.size;
  }

  checkTime(timestamp: number, now: number): void {
    if (Math.abs(now - timestamp) > this.windowMs) {
      throw new AuthError(
        'REQUEST_EXPIRED',
        `timestamp is more than ${this.windowMs} ms from the node clock`,
      );
    }
  }

  /** Records the pair, or throws REPLAYED_REQUEST / NONCE_CACHE_FULL. */
  remember(key: string, nonce: string, timestamp: number, now: number): void {
    const id = `${key}:${nonce}`;
    const until = this.#seen.get(id);
    if (until !== undefined && until >= now) throw new AuthError('REPLAYED_REQUEST', 'nonce already used');
    if (this.#seen.size >= this.maxEntries) this.#sweep(now);
    if (this.#seen.size >= this.maxEntries) {
      throw new AuthError('NONCE_CACHE_FULL', 'too many signed requests in the replay window');
    }
    // Map iteration is insertion order and expiry times are nearly monotone, so the sweep stops early.
    this.#seen.set(id, Math.max(timestamp, now) + this.windowMs);
  }

  #sweep(now: number): void {
    for (const [id, until] of this.#seen) {
      if (until >= now) break;
      this.#seen.delete(id);
    }
    if (this.#seen.size < this.maxEntries) return;
    for (const [id, until] of this.#seen) if (until < now) this.#seen.delete(id);
  }
}

export interface AuthenticatedCaller {
  key: Uint8Array;
  keyHex: string;
  purpose: number;
}

type Headers = Record<string, string | string[] | undefined>;

function header(h: Headers, name: string): string | undefined {
  const v = h[name];
  if (Array.isArray(v)) throw new AuthError('BAD_AUTH_HEADER', `${name} given more than once`);
  return v;
}

/** Whether the request carries a signature at all (routes with optional authentication). */
export function isSigned(headers: Headers): boolean {
  return headers[SignedHeader.signature] !== undefined;
}

/**
 * Authenticates a request. `rawTarget` is the request-target as received (path and query, undecoded)
 * and `rawBody` the body bytes as received.
 */
export function authenticate(
  r: { method: string; rawTarget: string; headers: Headers; rawBody: Uint8Array },
  chainId: string,
  guard: ReplayGuard,
  verifier: Verifier,
  now: number,
): AuthenticatedCaller {
  const key = header(r.headers, SignedHeader.key);
  const ts = header(r.headers, SignedHeader.timestamp);
  const nonce = header(r.headers, SignedHeader.nonce);
  const purposeText = header(r.headers, SignedHeader.purpose) ?? '1';
  const sig = header(r.headers, SignedHeader.signature);
  if (key === undefined || ts === undefined || nonce === undefined || sig === undefined) {
    throw new AuthError(
      'UNAUTHENTICATED',
      `this route needs a signed request: ${Object.values(SignedHeader).join(', ')}`,
    );
  }
  if (!HEX_KEY.test(key)) throw new AuthError('BAD_AUTH_HEADER', `${SignedHeader.key}: 64 hex characters`);
  if (!HEX_SIG.test(sig))
    throw new AuthError('BAD_AUTH_HEADER', `${SignedHeader.signature}: 128 hex characters`);
  if (!HEX_NONCE.test(nonce))
    throw new AuthError('BAD_AUTH_HEADER', `${SignedHeader.nonce}: 16..64 lower-case hex characters`);
  if (!DECIMAL.test(ts)) throw new AuthError('BAD_AUTH_HEADER', `${SignedHeader.timestamp}: decimal ms`);
  if (!/^[123]$/.test(purposeText))
    throw new AuthError('BAD_AUTH_HEADER', `${SignedHeader.purpose}: 1, 2 or 3`);
  const timestamp = Number(ts);
  const purpose = Number(purposeText);
  guard.checkTime(timestamp, now);
  const canonical: CanonicalRequest = {
    method: r.method,
    target: r.rawTarget,
    bodySha256Hex: toHex(sha256(r.rawBody)),
    timestamp,
    nonce,
    purpose,
  };
  const publicKey = fromHex(key);
  if (!verifier.verify(fromHex(sig), requestSigningBytes(chainId, canonical), publicKey)) {
    throw new AuthError('BAD_REQUEST_SIGNATURE', 'the signature does not verify over this request');
  }
  // Only a verified request consumes its nonce: an attacker cannot burn someone else's nonces.
  guard.remember(key, nonce, timestamp, now);
  return { key: publicKey, keyHex: key, purpose };
}
