// @vigil/consensus/proof: light-client verification of state and transaction proofs (browser-safe).
export { accountNonceKey, decodeAccountNonce } from './accounts.ts';
export { decodeStateProof, encodeStateProof, MAX_STATE_PROOF_BYTES, STATE_PROOF_VERSION } from './codec.ts';
export { ProofError, ProofErrorCode } from './errors.ts';
export { type OutcomeProofJson, outcomeProofFromJson } from './outcome-json.ts';
export {
  EMPTY_SUBTREE,
  internalHash,
  keyHashOf,
  leafHash,
  pathBit,
  rootFromProof,
  type StateProof,
  valueHashOf,
  verifySparseMerkleProof,
} from './smt.ts';
export {
  decodeReceiptBytes,
  encodeReceiptBytes,
  encodeReceiptsRootValue,
  MAX_RECEIPT_BYTES,
  type Receipt,
  receiptsRootKey,
} from './receipts.ts';
export {
  type OutcomeProof,
  verifyStateProof,
  verifyTransactionLeafProof,
  verifyTransactionOutcome,
  verifyTransactionProof,
} from './verify.ts';
