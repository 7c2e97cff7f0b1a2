// The framework's account record: the per-sender nonce, kept in the merkleised state so that every
// node agrees on it and a client can prove it. Keys starting with byte 0x00 are reserved for the
// framework; the state machine's record prefixes must not start with 0x00.
import { decodeUintDirect, encodeUintDirect } from '../store/cbor-direct.ts';

export const FRAMEWORK_KEY_PREFIX = 0x00;
const NONCE_TAG = new TextEncoder().encode('nonce/');

/** State key of a sender's last consumed nonce: 0x00 || "nonce/" || publicKey(32). */
export function nonceKey(sender: Uint8Array): Uint8Array {
  const k = new Uint8Array(1 + NONCE_TAG.length + sender.length);
  k[0] = FRAMEWORK_KEY_PREFIX;
  k.set(NONCE_TAG, 1);
  k.set(sender, 1 + NONCE_TAG.length);
  return k;
}

/** Canonical CBOR uint (written directly: one per transaction, see store/cbor-direct.ts). */
export function encodeNonce(n: number): Uint8Array {
  return encodeUintDirect(n);
}

/** The last consumed nonce (0 when the account has never sent a transaction). */
export function decodeNonce(value: Uint8Array | undefined): number {
  if (value === undefined) return 0;
  // Accepts exactly what decodeCanonical returns as a safe unsigned integer (cbor-direct.test.ts).
  const v = decodeUintDirect(value);
  if (v === undefined) throw new TypeError('corrupt nonce record');
  return v;
}
