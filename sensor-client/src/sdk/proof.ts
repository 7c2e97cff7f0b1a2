// Checking that a committed transaction really is on chain, without trusting the node that says so.
// Browser-safe. The trust anchor is the validator set (public keys, in index order), obtained out of
// band (genesis / governance), never from the node being checked. The cryptographic checks are the
// light-client verifier's (@vigil/consensus/proof verifyTransactionProof: a quorum commit certificate
// over the header, Castro-Liskov §4.2, then the RFC 6962/9162 §2.1.3.2 audit path to header.txRoot);
// this module parses the node's JSON response and adds what only the caller knows: which chain, and
// which transaction it asked about.

import { ProofError, verifyTransactionProof } from '@vigil/consensus/proof';
import {
  type BlockHeader,
  bytesEqual,
  type CommitCertificate,
  decodeBlockHeader,
  decodeCommitCertificate,
  decodeTransaction,
  referenceVerifier,
  type Transaction,
  transactionId,
  type Verifier,
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
  /**
   * The transaction bytes the caller holds (a device's own submission). Needed when the response has
   * none (the node serves a patient's transaction bytes only to signed, allowed readers); when both are
   * there they must be equal.
   */
  txBytes?: Uint8Array;
  verifier?: Verifier;
}

/**
 * Verifies a `/v1/transactions/:id/proof` response. Throws SdkError PROOF_INVALID; its `problemCode`
 * is the underlying ProofError/WireError code when there is one (e.g. CERTIFICATE_INVALID).
 */
export function verifyInclusionProof(p: ProofResponse, opts: VerifyProofOptions): VerifiedInclusion {
  const bad = (why: string, code?: string): never => {
    throw new SdkError('PROOF_INVALID', why, code === undefined ? {} : { problemCode: code });
  };
  let txBytes: Uint8Array;
  let header: BlockHeader;
  let tx: Transaction;
  let cert: CommitCertificate;
  let path: Uint8Array[];
  try {
    const served = p.tx === undefined ? undefined : fromHex(p.tx);
    if (served !== undefined && opts.txBytes !== undefined && !bytesEqual(served, opts.txBytes)) {
      return bad('the proof is for other transaction bytes than the ones given');
    }
    const held = served ?? opts.txBytes;
    if (held === undefined) return bad('the response has no transaction bytes and none were given (txBytes)');
    txBytes = held;
    tx = decodeTransaction(txBytes, { chainId: opts.chainId });
    header = decodeBlockHeader(fromHex(p.header));
    cert = decodeCommitCertificate(fromHex(p.certificate));
    path = p.proof.map(fromHex);
  } catch (e) {
    if (e instanceof WireError) return bad(e.message, e.code);
    if (e instanceof SdkError) return bad(e.message);
    throw e;
  }
  if (header.chainId !== opts.chainId) bad(`header is for chain ${header.chainId}`, 'WRONG_CHAIN');
  if (opts.expectedTxId !== undefined && toHex(transactionId(tx)) !== opts.expectedTxId) {
    bad('the proof is for a different transaction');
  }
  try {
    verifyTransactionProof(
      txBytes,
      p.index,
      path,
      header,
      cert,
      opts.validators,
      opts.verifier ?? referenceVerifier,
    );
  } catch (e) {
    if (e instanceof ProofError) return bad(e.message, e.wireCode ?? e.code);
    throw e;
  }
  return { tx, header, height: header.height, index: p.index };
}

/**
 * Convenience for callers holding the signed bytes: does this response carry exactly these bytes? False
 * when it carries none (then verify with VerifyProofOptions.txBytes).
 */
export function proofCoversBytes(p: ProofResponse, txBytes: Uint8Array): boolean {
  if (p.tx === undefined) return false;
  try {
    return bytesEqual(fromHex(p.tx), txBytes);
  } catch {
    return false;
  }
}
