// The framework's account record as a light client proves it (ADR 0131): a sender's last consumed
// nonce is a state entry like any other, so a state proof against a certified header shows it without
// trusting the node that serves it. A device acts on a node's "your nonce is used" only when such a
// proof supports it. Pure: wire only; the node builds its key with this function and writes the same value (node/src/exec/accounts.ts,
// docs/storage.md "State keys"), and node/src/api/api.test.ts checks the two agree on a live chain.
//
//   key   = 0x00 || "nonce/" || publicKey(32)      (0x00: the framework's reserved key prefix)
//   value = canonical CBOR unsigned integer: the sender's last consumed nonce; absent = 0 (never sent)
import { decodeCanonical, WireError } from '../wire/index.ts';
import { ProofError } from './errors.ts';

const NONCE_TAG = new TextEncoder().encode('nonce/');

/** Longest canonical CBOR unsigned integer: a 0x1b head and 8 bytes. */
const MAX_NONCE_VALUE_BYTES = 9;

/** State key of `publicKey`'s last consumed nonce: 0x00 || "nonce/" || publicKey. */
export function accountNonceKey(publicKey: Uint8Array): Uint8Array {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw new RangeError('accountNonceKey: a public key is 32 bytes');
  }
  const k = new Uint8Array(1 + NONCE_TAG.length + 32);
  k[0] = 0x00;
  k.set(NONCE_TAG, 1);
  k.set(publicKey, 1 + NONCE_TAG.length);
  return k;
}

/**
 * The nonce a proven state value says (`undefined`: the key is absent, so 0). Hostile bytes: anything
 * but a canonical CBOR unsigned safe integer is ProofError MALFORMED_PROOF, never a TypeError.
 */
export function decodeAccountNonce(value: Uint8Array | undefined): number {
  if (value === undefined) return 0;
  let v: unknown;
  try {
    v = decodeCanonical(value, { maxBytes: MAX_NONCE_VALUE_BYTES });
  } catch (e) {
    if (e instanceof WireError) throw new ProofError('MALFORMED_PROOF', `account nonce: ${e.message}`);
    throw e;
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new ProofError('MALFORMED_PROOF', 'account nonce: not an unsigned safe integer');
  }
  return v;
}
