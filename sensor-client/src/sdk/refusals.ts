// Admission refusals a device can check for itself. A node's refusal of a submission (the problem code
// of POST /v1/transactions) is its word, not a claim about the chain that a proof could back; acting on
// it by dead-lettering (repair) lets one Byzantine node make a device give up valid readings. The node
// refuses at admission (node/src/mempool add) for four reasons that depend only on the transaction's
// bytes and the chain id: those the device redoes on its own bytes. Browser-safe.

import {
  decodeTransaction,
  MAX_TX_BYTES,
  referenceVerifier,
  verifyTransactionSignature,
  WireError,
} from '@vigil/consensus/wire';

/** The admission codes whose ground the device can check itself (refusalHolds). */
export const SELF_CHECKED_REFUSALS: ReadonlySet<string> = new Set([
  'TX_TOO_LARGE',
  'WRONG_CHAIN',
  'MALFORMED',
  'BAD_SIGNATURE',
]);

/**
 * Whether the device's own check of `bytes` agrees with a node's admission refusal `code` on chain
 * `chainId`: too large, another chain, not a valid envelope, or a signature that does not verify. False
 * for every other code: nothing the device can check, so no ground to give readings up. Where a node's
 * limit is below the protocol's (a smaller configured maxTxBytes) the device sees no ground either and
 * keeps the entry: kept and reported beats dropped.
 */
export function refusalHolds(code: string, bytes: Uint8Array, chainId: string): boolean {
  if (code === 'TX_TOO_LARGE') return bytes.length > MAX_TX_BYTES;
  if (!SELF_CHECKED_REFUSALS.has(code)) return false;
  let tx: ReturnType<typeof decodeTransaction>;
  try {
    tx = decodeTransaction(bytes, { chainId });
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    // As the mempool classifies a decode failure: another chain's, or malformed (TOO_LARGE included).
    return e.code === 'WRONG_CHAIN' ? code === 'WRONG_CHAIN' : code === 'MALFORMED';
  }
  return code === 'BAD_SIGNATURE' && !verifyTransactionSignature(tx, referenceVerifier);
}
