// The framework's account record: the per-sender nonce, kept in the merkleised state so that every
// node agrees on it and a client can prove it. Keys starting with byte 0x00 are reserved for the
// framework; the state machine's record prefixes must not start with 0x00.
import { accountNonceKey } from '@vigil/consensus/proof/accounts.ts';
import { decodeUintDirect, encodeUintDirect } from '../store/cbor-direct.ts';

export const FRAMEWORK_KEY_PREFIX = 0x00;

/**
 * State key of a sender's last consumed nonce: 0x00 || "nonce/" || publicKey(32). One definition,
 * the light clients' (ADR 0131), so a device proves exactly the key the executor writes.
 */
export function nonceKey(sender: Uint8Array): Uint8Array {
  return accountNonceKey(sender);
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
