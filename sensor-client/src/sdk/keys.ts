// Device keys. Browser-safe: randomness from the Web Crypto API (globalThis.crypto, present in browsers
// and Node >= 19), signing through wire's Signer (@noble/ed25519). A key is its 32-byte Ed25519 seed
// (RFC 8032 §5.1.5); the public key is derived from it.

import { type Signer, signerFromSeed } from '@vigil/consensus/wire';

export const SEED_BYTES = 32;

/** A fresh random seed from the platform CSPRNG. Never derive production device keys from a PRNG. */
export function generateSeed(): Uint8Array {
  const seed = new Uint8Array(SEED_BYTES);
  globalThis.crypto.getRandomValues(seed);
  return seed;
}

export function signerForSeed(seed: Uint8Array): Signer {
  return signerFromSeed(seed);
}
