// Checking that a committed transaction really is on chain, without trusting the node that says so.
// Browser-safe. The trust anchor is the validator set (public keys, in index order), obtained out of
// band (genesis / governance), never from the node being checked. Steps:
//  1. the commit certificate carries a quorum of valid validator signatures over the header's hash
//     (wire.verifyCommitCertificate: Castro-Liskov §4.2 commit quorum, q = floor((n+f)/2)+1);
//  2. the transaction bytes are leaf `index` of the header's txRoot (RFC 6962/9162 §2.1.3.2 audit path);
//  3. the transaction is the one we expected (its id), for the chain we expected.
// TODO(issue #8): switch to the node-core engineer's consensus/src/proof verifier once it exports one
// for transactions; today it holds only the state tree (smt.ts).

import {
  type BlockHeader,
  bytesEqual,
  decodeBlockHeader,
  decodeCommitCertificate,
  decodeTransaction,
  referenceVerifier,
  type Transaction,
  transactionId,
  type Verifier,
  verifyMerkleInclusion,
  verifyCommitCertificate,
  WireError,
} from '@vigil/consensus/wire';
import { fromHex, toHex } from '../util/hex.ts';
import type { ProofResponse } from './api-client.ts';
import { SdkError } from './errors.ts';

export interface VerifiedInclusion {
  tx: Transaction;
  header: BlockHeader;
  height: number;
  index: number;
}

export interface VerifyProofOptions {
  chainId: string;
  /** Validator public keys, in validator-index order. */
  validators: readonly Uint8Array[];
  /** When given, the proven transaction must have this id (hex). */
  expectedTxId?: string;
  verifier?: Verifier;
}

/** Verifies a `/v1/transactions/:id/proof` response. Throws SdkError PROOF_INVALID with the reason. */
export function verifyInclusionProof(p: ProofResponse, opts: VerifyProofOptions): VerifiedInclusion {
  const bad = (why: string): never => {
    throw new SdkError('PROOF_INVALID', why);
  };
  let txBytes: Uint8Array;
  let header: BlockHeader;
  let tx: Transaction;
  try {
    txBytes = fromHex(p.tx);
    tx = decodeTransaction(txBytes, { chainId: opts.chainId });
    header = decodeBlockHeader(fromHex(p.header));
    const cert = decodeCommitCertificate(fromHex(p.certificate));
    verifyCommitCertificate(opts.chainId, cert, header, opts.validators, opts.verifier ?? referenceVerifier);
  } catch (e) {
    if (e instanceof WireError || e instanceof SdkError) return bad(e.message);
    throw e;
  }
  if (opts.expectedTxId !== undefined && toHex(transactionId(tx)) !== opts.expectedTxId) {
    bad('the proof is for a different transaction');
  }
  let proof: Uint8Array[];
  try {
    proof = p.proof.map(fromHex);
  } catch {
    return bad('proof path is not hex');
  }
  if (!proof.every((h) => h.length === 32)) bad('proof path entries must be 32-byte hashes');
  if (!verifyMerkleInclusion(txBytes, p.index, header.txCount, proof, header.txRoot)) {
    bad(`transaction is not leaf ${p.index} of the block's txRoot`);
  }
  return { tx, header, height: header.height, index: p.index };
}

/** Convenience for callers holding the signed bytes: does this proof cover exactly these bytes? */
export function proofCoversBytes(p: ProofResponse, txBytes: Uint8Array): boolean {
  try {
    return bytesEqual(fromHex(p.tx), txBytes);
  } catch {
    return false;
  }
}
