// The validator's Ed25519 signer for consensus messages: node:crypto (OpenSSL) instead of the pure-JS
// @noble signer, which took ~5 % of validator CPU in the issue 9 profile. Ed25519 signing is
// deterministic (RFC 8032 §5.1.6: the nonce is derived from the key and the message), so the signatures
// are byte-identical to wire's signerFromSeed; fast-signer.test.ts checks that, and the public key too.
// The implementation is sensor-client's (its load generator needed the same thing first); this module
// names it for the node and rejects anything but a byte array.
import type { Signer } from '@vigil/consensus/wire';
import { nodeSignerFromSeed } from '@vigil/sensor-client/load/node-signer.ts';

export function fastSignerFromSeed(seed: Uint8Array): Signer {
  if (!(seed instanceof Uint8Array)) throw new RangeError('Ed25519 seed must be 32 bytes');
  return nodeSignerFromSeed(seed);
}
