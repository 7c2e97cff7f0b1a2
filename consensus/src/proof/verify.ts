// What a light client (the sensor client, a browser, an auditor) runs to trust one fact about the
// chain while holding only the validator set: first that a quorum of validators committed the block
// header (its commit certificate), then that the fact is committed to by that header: a state entry
// by header.stateRoot, a transaction by header.txRoot. Pure: imports only the wire module.
//
// Note the pipelining rule of the header (docs/protocol.md): header.stateRoot is the state AFTER block
// header.stateHeight (< header.height). A proof of state "at height h" is therefore checked against
// the header of a block whose stateHeight is h; the returned `stateHeight` says which state was proven.
import {
  type BlockHeader,
  type CommitCertificate,
  type Verifier,
  verifyCommitCertificate,
  merkleLeafHash,
  verifyMerkleInclusionOfHash,
  WireError,
} from '../wire/index.ts';
import { ProofError } from './errors.ts';
import { decodeReceiptBytes, encodeReceiptsRootValue, type Receipt, receiptsRootKey } from './receipts.ts';
import { type StateProof, verifySparseMerkleProof } from './smt.ts';

function checkCertificate(
  header: BlockHeader,
  certificate: CommitCertificate,
  validators: readonly Uint8Array[],
  verifier: Verifier,
): void {
  try {
    verifyCommitCertificate(header.chainId, certificate, header, validators, verifier);
  } catch (e) {
    if (e instanceof WireError) throw new ProofError('CERTIFICATE_INVALID', e.message, e.code);
    throw e;
  }
}

/**
 * Throws ProofError unless `certificate` certifies `header` and `proof` shows that `key` maps to
 * `value` (or is absent, with `value` undefined) in the state after block header.stateHeight.
 */
export function verifyStateProof(
  proof: StateProof,
  key: Uint8Array,
  value: Uint8Array | undefined,
  header: BlockHeader,
  certificate: CommitCertificate,
  validators: readonly Uint8Array[],
  verifier: Verifier,
): { stateHeight: number } {
  checkCertificate(header, certificate, validators, verifier);
  if (!verifySparseMerkleProof(header.stateRoot, key, value, proof)) {
    throw new ProofError(
      'STATE_PROOF_INVALID',
      value === undefined ? 'does not prove the key absent' : 'does not prove the key-value pair',
    );
  }
  return { stateHeight: header.stateHeight };
}

/**
 * Throws ProofError unless `certificate` certifies `header` and `merkleProof` (an RFC 6962 audit path)
 * shows that `txBytes` is transaction number `index` of that block. A reading is proven this way: by
 * the inclusion of the device-signed transaction that carried it (its receipt says whether it was
 * accepted).
 */
export function verifyTransactionProof(
  txBytes: Uint8Array,
  index: number,
  merkleProof: readonly Uint8Array[],
  header: BlockHeader,
  certificate: CommitCertificate,
  validators: readonly Uint8Array[],
  verifier: Verifier,
): { height: number } {
  const leaf = txBytes instanceof Uint8Array ? merkleLeafHash(txBytes) : undefined;
  return checkInclusion(leaf, 'transaction', index, merkleProof, header, certificate, validators, verifier);
}

/**
 * As verifyTransactionProof, from the transaction's RFC 9162 leaf hash (SHA-256 of 0x00 and its bytes)
 * when the verifier may not see the bytes: a node serves a patient's transaction bytes only to readers
 * allowed to read them (docs/api.md, "Patient data on the chain routes"). It proves that the certified
 * block holds a transaction with this leaf hash at `index`, not which transaction that is: binding it to
 * a transaction id takes the bytes.
 */
export function verifyTransactionLeafProof(
  leafHash: Uint8Array,
  index: number,
  merkleProof: readonly Uint8Array[],
  header: BlockHeader,
  certificate: CommitCertificate,
  validators: readonly Uint8Array[],
  verifier: Verifier,
): { height: number } {
  return checkInclusion(leafHash, 'leaf', index, merkleProof, header, certificate, validators, verifier);
}

/** The certificate over the header, then the RFC 9162 audit path from the leaf hash to header.txRoot. */
function checkInclusion(
  leafHash: Uint8Array | undefined,
  what: string,
  index: number,
  merkleProof: readonly Uint8Array[],
  header: BlockHeader,
  certificate: CommitCertificate,
  validators: readonly Uint8Array[],
  verifier: Verifier,
): { height: number } {
  checkCertificate(header, certificate, validators, verifier);
  if (
    leafHash === undefined ||
    !verifyMerkleInclusionOfHash(leafHash, index, header.txCount, merkleProof, header.txRoot)
  ) {
    throw new ProofError('TX_PROOF_INVALID', `not ${what} ${index} of block ${header.height}`);
  }
  return { height: header.height };
}

/**
 * What /v1/transactions/{id}/proof serves on a chain whose state commits to receipts (ADR 0123): the
 * transaction's inclusion, its receipt's inclusion in the block's receipts root, and a state proof of
 * that root under another certified header (one whose state is at or after the block).
 */
export interface OutcomeProof {
  /** Position of the transaction in its block; its receipt has the same position. */
  index: number;
  /** RFC 9162 audit path of the transaction to header.txRoot. */
  txProof: readonly Uint8Array[];
  /** The transaction's block and the certificate that committed it. */
  header: BlockHeader;
  certificate: CommitCertificate;
  /** The receipt's canonical bytes (receipts.ts). */
  receipt: Uint8Array;
  /** RFC 9162 audit path of the receipt to `receiptsRoot` (tree size header.txCount). */
  receiptProof: readonly Uint8Array[];
  receiptsRoot: Uint8Array;
  /** Proof of receiptsRootKey(header.height) = receiptsRoot against stateHeader.stateRoot. */
  stateProof: StateProof;
  stateHeader: BlockHeader;
  stateCertificate: CommitCertificate;
}

/**
 * Throws ProofError unless `proof` shows what the state machine decided for the transaction whose
 * bytes (or RFC 9162 leaf hash) are given: that it is transaction `index` of a certified block, that
 * the receipt is receipt `index` of that block, and that a certified state holds the block's receipts
 * root. Returns the receipt; the caller decides what `rejected` means for it. `validatorsAt` gives the
 * set that certifies a height (the two headers may lie in different epochs).
 */
export function verifyTransactionOutcome(
  tx: { bytes: Uint8Array } | { leafHash: Uint8Array },
  proof: OutcomeProof,
  validatorsAt: (height: number) => readonly Uint8Array[],
  verifier: Verifier,
): { height: number; receipt: Receipt; stateHeight: number } {
  const { header, stateHeader } = proof;
  const leaf = 'bytes' in tx ? merkleLeafHash(tx.bytes) : tx.leafHash;
  checkInclusion(
    leaf,
    'transaction',
    proof.index,
    proof.txProof,
    header,
    proof.certificate,
    validatorsAt(header.height),
    verifier,
  );
  if (
    !verifyMerkleInclusionOfHash(
      merkleLeafHash(proof.receipt),
      proof.index,
      header.txCount,
      proof.receiptProof,
      proof.receiptsRoot,
    )
  ) {
    throw new ProofError(
      'RECEIPT_PROOF_INVALID',
      `not receipt ${proof.index} of block ${header.height}'s receipts root`,
    );
  }
  if (stateHeader.chainId !== header.chainId) {
    throw new ProofError('STATE_PROOF_INVALID', `the state header is of chain ${stateHeader.chainId}`);
  }
  // Written by executing block h, so absent from every state before it: the proven state is at or
  // after h whatever stateHeight says, and the root cannot have been changed since (ADR 0123).
  const { stateHeight } = verifyStateProof(
    proof.stateProof,
    receiptsRootKey(header.height),
    encodeReceiptsRootValue(proof.receiptsRoot),
    stateHeader,
    proof.stateCertificate,
    validatorsAt(stateHeader.height),
    verifier,
  );
  return { height: header.height, receipt: decodeReceiptBytes(proof.receipt), stateHeight };
}
