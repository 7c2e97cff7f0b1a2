// What a block's receipts are on the wire and how the state commits to them (ADR 0123), for anyone
// who must tell "this transaction is in a certified block" from "the state machine ACCEPTED it": a
// device deciding whether it may forget readings, an auditor, the dashboard. Pure: wire only.
//
// A chain whose genesis sets `consensus.receiptsRoots` writes, for every block h with at least one
// transaction, the state entry
//   key   = 0x00 || "receipts/" || uint64be(h)       (0x00: the framework's reserved key prefix)
//   value = canonical CBOR byte string of the RFC 6962 Merkle Tree Hash over the block's receipts,
//           receipt i being the canonical CBOR encoding below of transaction i's outcome.
// The entry is written by executing block h and never changed, so a state proof of it against ANY
// certified header whose state is at or after h proves the receipts of block h.
import { decodeCanonical, encodeCanonical, WireError } from '../wire/index.ts';
import { ProofError } from './errors.ts';

const RECEIPTS_TAG = new TextEncoder().encode('receipts/');

/** Most bytes of an encoded receipt: [1, code, txId] leaves a reason code ~200 characters (they are ~10-30). */
export const MAX_RECEIPT_BYTES = 256;

/** The outcome of one transaction in a block. */
export type Receipt =
  | { status: 'accepted'; txId: Uint8Array }
  /** `txId` is null when the bytes did not decode into a transaction at all. */
  | { status: 'rejected'; code: string; txId: Uint8Array | null };

/**
 * A framework state key of one block: 0x00 || tag || uint64be(height) (the receipts root here, the
 * effects digest in effects.ts). RangeError for a height that is not a block's.
 */
export function blockEntryKey(tag: Uint8Array, height: number, what: string): Uint8Array {
  if (!Number.isSafeInteger(height) || height < 1) {
    throw new RangeError(`${what}: height ${height} is not a block height`);
  }
  const k = new Uint8Array(1 + tag.length + 8);
  k[0] = 0x00;
  k.set(tag, 1);
  new DataView(k.buffer).setBigUint64(1 + tag.length, BigInt(height));
  return k;
}

/** State key of block `height`'s receipts root: 0x00 || "receipts/" || uint64be(height). */
export function receiptsRootKey(height: number): Uint8Array {
  return blockEntryKey(RECEIPTS_TAG, height, 'receiptsRootKey');
}

/** The state value under receiptsRootKey: the root as a canonical CBOR byte string. */
export function encodeReceiptsRootValue(root: Uint8Array): Uint8Array {
  return encodeCanonical(root);
}

/** Receipt: [0, txId] accepted, [1, code, txId | null] rejected (canonical CBOR). */
export function encodeReceiptBytes(r: Receipt): Uint8Array {
  return encodeCanonical(r.status === 'accepted' ? [0, r.txId] : [1, r.code, r.txId]);
}

/** Decodes receipt bytes from a peer or node; ProofError MALFORMED_PROOF for anything else. */
export function decodeReceiptBytes(bytes: Uint8Array): Receipt {
  let v: unknown;
  try {
    v = decodeCanonical(bytes, { maxBytes: MAX_RECEIPT_BYTES });
  } catch (e) {
    if (e instanceof WireError) throw new ProofError('MALFORMED_PROOF', `receipt: ${e.message}`);
    throw e;
  }
  if (Array.isArray(v)) {
    if (v.length === 2 && v[0] === 0 && v[1] instanceof Uint8Array && v[1].length === 32) {
      return { status: 'accepted', txId: v[1] };
    }
    if (
      v.length === 3 &&
      v[0] === 1 &&
      typeof v[1] === 'string' &&
      (v[2] === null || (v[2] instanceof Uint8Array && v[2].length === 32))
    ) {
      return { status: 'rejected', code: v[1], txId: v[2] };
    }
  }
  throw new ProofError('MALFORMED_PROOF', 'receipt: not [0, txId] or [1, code, txId | null]');
}
