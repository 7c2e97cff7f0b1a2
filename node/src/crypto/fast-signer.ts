// The validator's Ed25519 signer for consensus messages: node:crypto (OpenSSL) instead of the pure-JS
// @noble signer, which took ~5 % of validator CPU in the issue 9 profile. Ed25519 signing is
// deterministic (RFC 8032 §5.1.6: the nonce is derived from the key and the message), so the signatures
// are byte-identical to wire's signerFromSeed; fast-signer.test.ts checks that, and the public key too.
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import type { Signer } from '@vigil/consensus/wire';

// PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410 §7): this DER prefix followed by the 32 seed bytes.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function fastSignerFromSeed(seed: Uint8Array): Signer {
  if (!(seed instanceof Uint8Array) || seed.length !== 32)
    throw new RangeError('Ed25519 seed must be 32 bytes');
  const key = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const publicKey = new Uint8Array(spki.subarray(spki.length - 32));
  return {
    publicKey,
    sign: (message: Uint8Array) => new Uint8Array(sign(null, message, key)),
  };
}
