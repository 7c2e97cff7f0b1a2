// The node's Ed25519 verifier: OpenSSL (node:crypto) behind Vigil's byte-level acceptance gate.
//
// OpenSSL verifies cofactorless and compares encode([S]B - [k]A) with the R bytes, which is step 6 of
// the acceptance rule (ADR 0005). It does not reject small-order or non-canonical public keys the way
// the rule does, so `ed25519Precheck` (steps 1-4, shared with the reference) runs first. The result
// must equal `referenceVerifier` on every input: fast-verifier.test.ts proves it on RFC 8032 vectors
// and fast-check cases, including the crafted edge cases where Ed25519 libraries disagree.
//
// Building a KeyObject costs an ASN.1 parse, so KeyObjects are cached per public key in a small LRU
// (a validator set and the active devices are a bounded working set).
import { createPublicKey, type KeyObject, verify as cryptoVerify } from 'node:crypto';
import { ed25519Precheck, type Verifier } from '@vigil/consensus/wire';
import { LRUCache } from 'lru-cache';

/** DER SubjectPublicKeyInfo prefix for an Ed25519 key (RFC 8410 §4): SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (33) }. */
const ED25519_SPKI_PREFIX = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
]);

export const DEFAULT_KEY_CACHE_SIZE = 4096;

export interface FastVerifier extends Verifier {
  /** Number of cached KeyObjects (for tests and metrics). */
  readonly cachedKeys: number;
}

export interface FastVerifierOptions {
  /** Most KeyObjects kept; least recently used evicted first. Default DEFAULT_KEY_CACHE_SIZE. */
  cacheSize?: number;
}

function keyId(publicKey: Uint8Array): string {
  // latin1 maps each byte to one UTF-16 unit: a compact, collision-free Map key.
  return String.fromCharCode(...publicKey);
}

export function createFastVerifier(opts: FastVerifierOptions = {}): FastVerifier {
  const cacheSize = opts.cacheSize ?? DEFAULT_KEY_CACHE_SIZE;
  if (!Number.isSafeInteger(cacheSize) || cacheSize < 1) throw new RangeError('cacheSize must be >= 1');
  // lru-cache: a Map evicted through keys().next() costs O(deleted slots) per eviction once full, and
  // a network with more devices than the cache holds would evict on every transaction.
  const cache = new LRUCache<string, KeyObject>({ max: cacheSize });

  function keyObject(publicKey: Uint8Array): KeyObject {
    const id = keyId(publicKey);
    const hit = cache.get(id); // refreshes its recency
    if (hit !== undefined) return hit;
    const der = new Uint8Array(ED25519_SPKI_PREFIX.length + 32);
    der.set(ED25519_SPKI_PREFIX, 0);
    der.set(publicKey, ED25519_SPKI_PREFIX.length);
    const key = createPublicKey({ key: Buffer.from(der.buffer), format: 'der', type: 'spki' });
    cache.set(id, key);
    return key;
  }

  return {
    get cachedKeys() {
      return cache.size;
    },
    verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
      if (!(message instanceof Uint8Array)) return false;
      if (!ed25519Precheck(signature, publicKey)) return false;
      try {
        return cryptoVerify(null, message, keyObject(publicKey), signature);
      } catch {
        // OpenSSL refuses keys that do not decode to a curve point: not a valid signature.
        return false;
      }
    },
  };
}

/** A process-wide fast verifier with the default cache. */
export const fastVerifier: FastVerifier = createFastVerifier();

/** OpenSSL with no Vigil gate in front: only for tests that document OpenSSL's own behaviour. */
export function rawOpenSslVerify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    const der = new Uint8Array(ED25519_SPKI_PREFIX.length + publicKey.length);
    der.set(ED25519_SPKI_PREFIX, 0);
    der.set(publicKey, ED25519_SPKI_PREFIX.length);
    const key = createPublicKey({ key: Buffer.from(der.buffer), format: 'der', type: 'spki' });
    return cryptoVerify(null, message, key, signature);
  } catch {
    return false;
  }
}
