// A block's transactions decoded once, with the bytes their signatures cover and their ids, without
// re-encoding anything.
//
// wire.transactionSigningBytes re-encodes the first seven envelope fields with the generic canonical
// encoder (and re-checks them). That is unnecessary for a transaction that was just DECODED: wire's
// decodeCanonical only accepts the canonical encoding of the value it returns (minimal heads checked by
// its layer 1, UTF-8 by layer 2; ADR 0111), so the received bytes ARE the canonical encoding. A signed transaction is
//   0x88 ‖ field1..field7 ‖ 0x58 0x40 ‖ signature(64)          (array(8), last item a 64-byte string)
// and the unsigned payload is array(7) of the same fields, i.e.
//   0x87 ‖ field1..field7
// so the signing bytes are signingPayload('vigil/tx/v1', chainId, 0x87 ‖ encoded[1 .. len - 66]):
// one copy instead of an encode. tx-envelope.test.ts checks equality with transactionSigningBytes.
import {
  decodeTransaction,
  SigningDomain,
  signingPayload,
  type Transaction,
  transactionSigningBytes,
} from '@vigil/consensus/wire';
import { nodeSha256 } from '../state-tree/hasher.ts';

/** 0x58 0x40 ‖ 64 signature bytes: the last item of a canonical signed transaction. */
const SIGNATURE_ITEM_BYTES = 66;

/** signingPayload(tx domain, chainId, empty): the prefix of every signing payload on this chain. */
const prefixes = new Map<string, Uint8Array>();

function prefixFor(chainId: string): Uint8Array {
  let p = prefixes.get(chainId);
  if (p === undefined) {
    p = signingPayload(SigningDomain.tx, chainId, new Uint8Array(0));
    if (prefixes.size > 64) prefixes.clear(); // a node serves one chain; bound it anyway
    prefixes.set(chainId, p);
  }
  return p;
}

/**
 * The signing bytes of `tx`, which `encoded` decoded to. Falls back to re-encoding when the bytes do
 * not have the expected frame (cannot happen for decodeTransaction's output, but this function does
 * not rely on its caller for that).
 */
export function signingBytesOf(tx: Transaction, encoded: Uint8Array): Uint8Array {
  const n = encoded.length;
  if (
    n <= 1 + SIGNATURE_ITEM_BYTES ||
    encoded[0] !== 0x88 ||
    encoded[n - SIGNATURE_ITEM_BYTES] !== 0x58 ||
    encoded[n - SIGNATURE_ITEM_BYTES + 1] !== 0x40
  ) {
    return transactionSigningBytes(tx);
  }
  const prefix = prefixFor(tx.chainId);
  const fields = n - 1 - SIGNATURE_ITEM_BYTES;
  const out = new Uint8Array(prefix.length + 1 + fields);
  out.set(prefix, 0);
  out[prefix.length] = 0x87;
  out.set(encoded.subarray(1, 1 + fields), prefix.length + 1);
  return out;
}

export interface DecodedTx {
  tx: Transaction;
  /** The bytes the signature covers. */
  signingBytes: Uint8Array;
  /** SHA-256 of the signing bytes (wire transactionId, ADR 0004). */
  txId: Uint8Array;
}

/** decodeTransaction, plus the signing bytes and the id, each computed once. Throws what it throws. */
export function decodeTx(encoded: Uint8Array, chainId: string): DecodedTx {
  const tx = decodeTransaction(encoded, { chainId });
  const signingBytes = signingBytesOf(tx, encoded);
  return { tx, signingBytes, txId: nodeSha256(signingBytes) };
}
