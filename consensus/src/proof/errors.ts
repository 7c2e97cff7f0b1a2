export const ProofErrorCode = {
  /** The commit certificate does not certify the header under the validator set (see `wireCode`). */
  CERTIFICATE_INVALID: 'CERTIFICATE_INVALID',
  /** The state proof does not prove the claimed value (or absence) against header.stateRoot. */
  STATE_PROOF_INVALID: 'STATE_PROOF_INVALID',
  /** The Merkle audit path does not prove the transaction at that index against header.txRoot. */
  TX_PROOF_INVALID: 'TX_PROOF_INVALID',
  /** The receipt's audit path does not prove it is receipt `index` of the block's receipts root (ADR 0123). */
  RECEIPT_PROOF_INVALID: 'RECEIPT_PROOF_INVALID',
  /** Encoded proof bytes that are not a well-formed proof. */
  MALFORMED_PROOF: 'MALFORMED_PROOF',
} as const;
export type ProofErrorCode = (typeof ProofErrorCode)[keyof typeof ProofErrorCode];

export class ProofError extends Error {
  readonly code: ProofErrorCode;
  /** The WireError code behind a CERTIFICATE_INVALID (CERT_NO_QUORUM, CERT_BAD_SIGNATURE...). */
  readonly wireCode: string | undefined;
  constructor(code: ProofErrorCode, message: string, wireCode?: string) {
    super(`${code}: ${message}`);
    this.name = 'ProofError';
    this.code = code;
    this.wireCode = wireCode;
  }
}
