// @vigil/consensus/wire: Vigil's canonical wire format (docs/protocol.md). Pure and browser-safe:
// no Node built-ins, no clock, no randomness (ADR 0001, ADR 0002).
export { type CborValue, type DecodeOptions, decodeCanonical, encodeCanonical } from './cbor.ts';
export { WireError, WireErrorCode, isWireError } from './errors.ts';
export { bytesEqual, concatBytes, fromHex, sha256, toHex } from './hash.ts';
export * from './limits.ts';
export { assertChainId, SigningDomain, type SigningDomainName, signingPayload } from './signing.ts';
export {
  ed25519Precheck,
  referenceVerifier,
  SMALL_ORDER_Y_ENCODINGS,
  type Signer,
  signerFromSeed,
  type Verifier,
} from './ed25519.ts';
export { isTxTypeCode, TxType, type TxTypeCode, type TxTypeName, txTypeName } from './tx-types.ts';
export {
  type DecodeTransactionOptions,
  decodeTransaction,
  encodeTransaction,
  PUBLIC_KEY_BYTES,
  SIGNATURE_BYTES,
  signTransaction,
  TX_VERSION,
  type Transaction,
  transactionId,
  transactionSigningBytes,
  type UnsignedTransaction,
  verifyTransactionSignature,
} from './transaction.ts';
export {
  merkleInclusionProof,
  merkleLeafHash,
  merkleNodeHash,
  merkleRoot,
  verifyMerkleInclusionOfHash,
  verifyMerkleInclusion,
} from './merkle.ts';
export {
  BLOCK_VERSION,
  type Block,
  type BlockHeader,
  blockHash,
  type DecodeBlockOptions,
  decodeBlock,
  decodeBlockHeader,
  encodeBlock,
  encodeBlockHeader,
  HASH_BYTES,
  makeBlock,
  ZERO_HASH,
} from './block.ts';
export {
  CERT_VERSION,
  COMMIT_MESSAGE_TYPE,
  type CommitCertificate,
  type CommitVote,
  commitVoteSignBytes,
  decodeCommitCertificate,
  encodeCommitCertificate,
  faultTolerance,
  quorumSize,
  verifyCommitCertificate,
} from './certificate.ts';
