// The signed transaction envelope (docs/protocol.md §6, ADR 0004).
//
//   Transaction = [version=1, chainId, type, sender(32), nonce, timestamp, body(array), signature(64)]
//   signed bytes = signingPayload('vigil/tx/v1', chainId, encodeCanonical(first 7 fields))
//   transaction id = SHA-256(signed bytes)
//
// The id covers the unsigned payload, not the signature: a third party who re-encodes or re-signs
// nothing can change it (Ed25519 signatures here are non-malleable by the acceptance rule, but a key
// holder can produce several valid signatures for the same payload); the id is known before signing,
// and replay protection (sender, nonce) is keyed by it.
import { type CborValue, decodeCanonical, encodeCanonical } from './cbor.ts';
import type { Signer, Verifier } from './ed25519.ts';
import { WireError } from './errors.ts';
import { expectArray, expectBytes, expectUint, expectVersion } from './fields.ts';
import { sha256 } from './hash.ts';
import { MAX_TX_BYTES } from './limits.ts';
import { assertChainId, SigningDomain, signingPayload } from './signing.ts';
import { isTxTypeCode } from './tx-types.ts';

export const TX_VERSION = 1;
export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

export interface UnsignedTransaction {
  version: 1;
  chainId: string;
  /** A TxType code. */
  type: number;
  /** The signer's Ed25519 public key (32 bytes): a device, clinician, patient, validator... */
  sender: Uint8Array;
  /** Per-sender sequence number (replay protection; the state machine defines its rule). */
  nonce: number;
  /** Milliseconds since the Unix epoch, as claimed by the sender. */
  timestamp: number;
  /** Type-specific body; its schema is the state machine's (docs/state-machine.md). */
  body: CborValue[];
}

export interface Transaction extends UnsignedTransaction {
  /** Ed25519 signature (64 bytes) over signingPayload('vigil/tx/v1', chainId, encodeCanonical(unsigned)). */
  signature: Uint8Array;
}

export interface DecodeTransactionOptions {
  /** When given, a transaction for another chain is rejected with WRONG_CHAIN. */
  chainId?: string;
  /** Default MAX_TX_BYTES. */
  maxBytes?: number;
}

function unsignedArray(tx: UnsignedTransaction): CborValue[] {
  return [tx.version, tx.chainId, tx.type, tx.sender, tx.nonce, tx.timestamp, tx.body];
}

/** Parse and check the envelope fields (shared by the encoder and the decoder). */
function parseTransaction(v: CborValue, expectedChain: string | undefined): Transaction {
  const a = expectArray(v, 'transaction');
  expectVersion(a, 'transaction', TX_VERSION);
  expectArray(v, 'transaction', 8);
  const chainId = a[1];
  assertChainId(chainId);
  if (expectedChain !== undefined && chainId !== expectedChain) {
    throw new WireError('WRONG_CHAIN', `transaction for chain ${chainId}, expected ${expectedChain}`);
  }
  const type = expectUint(a[2], 'transaction type');
  if (!isTxTypeCode(type)) throw new WireError('UNKNOWN_TX_TYPE', `unknown transaction type ${type}`);
  return {
    version: TX_VERSION,
    chainId,
    type,
    sender: expectBytes(a[3], 'sender', PUBLIC_KEY_BYTES),
    nonce: expectUint(a[4], 'nonce'),
    timestamp: expectUint(a[5], 'timestamp'),
    body: expectArray(a[6], 'body'),
    signature: expectBytes(a[7], 'signature', SIGNATURE_BYTES),
  };
}

function checkUnsigned(tx: UnsignedTransaction): void {
  // Run the decoder's checks with a placeholder signature, so an encoder never emits what we reject.
  parseTransaction([...unsignedArray(tx), new Uint8Array(SIGNATURE_BYTES)], undefined);
}

/** The exact bytes a transaction's signature covers. */
export function transactionSigningBytes(tx: UnsignedTransaction): Uint8Array {
  checkUnsigned(tx);
  return signingPayload(SigningDomain.tx, tx.chainId, encodeCanonical(unsignedArray(tx)));
}

/** SHA-256 over the unsigned signing payload: 32 bytes, independent of the signature (ADR 0004). */
export function transactionId(tx: UnsignedTransaction): Uint8Array {
  return sha256(transactionSigningBytes(tx));
}

export function signTransaction(tx: UnsignedTransaction, signer: Signer): Transaction {
  const signature = signer.sign(transactionSigningBytes(tx));
  return {
    version: TX_VERSION,
    chainId: tx.chainId,
    type: tx.type,
    sender: tx.sender,
    nonce: tx.nonce,
    timestamp: tx.timestamp,
    body: tx.body,
    signature,
  };
}

export function encodeTransaction(tx: Transaction): Uint8Array {
  const arr = [...unsignedArray(tx), tx.signature];
  parseTransaction(arr, undefined);
  const bytes = encodeCanonical(arr);
  if (bytes.length > MAX_TX_BYTES) throw new WireError('TOO_LARGE', `transaction is ${bytes.length} bytes`);
  return bytes;
}

/** Structural decode of a signed transaction. Does NOT check the signature (verifyTransactionSignature). */
export function decodeTransaction(bytes: Uint8Array, opts?: DecodeTransactionOptions): Transaction {
  const value = decodeCanonical(bytes, { maxBytes: Math.min(opts?.maxBytes ?? MAX_TX_BYTES, MAX_TX_BYTES) });
  return parseTransaction(value, opts?.chainId);
}

/** True iff tx.signature is valid for tx.sender over the transaction's signing bytes. */
export function verifyTransactionSignature(tx: Transaction, verifier: Verifier): boolean {
  let message: Uint8Array;
  try {
    message = transactionSigningBytes(tx);
  } catch {
    return false;
  }
  return verifier.verify(tx.signature, message, tx.sender);
}
