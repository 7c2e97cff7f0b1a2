// Every failure the SDK reports to a device maker is an SdkError with a stable code; callers branch on
// `code`, never on message text. Browser-safe.

export const SdkErrorCode = {
  /** The durable queue is at its bound; the reading was NOT accepted (ADR 0060). */
  QUEUE_FULL: 'QUEUE_FULL',
  /** The queue file is damaged somewhere other than a torn tail. */
  QUEUE_CORRUPT: 'QUEUE_CORRUPT',
  /** A key file is readable by group/others, or has the wrong size/format. */
  KEY_FILE_INSECURE: 'KEY_FILE_INSECURE',
  KEY_FILE_INVALID: 'KEY_FILE_INVALID',
  /** The nonce file is unreadable or not a non-negative integer. */
  NONCE_FILE_INVALID: 'NONCE_FILE_INVALID',
  /** No configured node answered (network error, 5xx or timeout on every URL). */
  NO_NODE_AVAILABLE: 'NO_NODE_AVAILABLE',
  /** A node answered with a body that does not match the API contract. */
  MALFORMED_RESPONSE: 'MALFORMED_RESPONSE',
  /** A node rejected the request with an RFC 9457 problem; `problemCode` holds the node's code. */
  REJECTED: 'REJECTED',
  /** A reading is not acceptable (unknown kind, not an integer, outside the plausible range). */
  INVALID_READING: 'INVALID_READING',
  /**
   * A reading's measurement time is not after the previous one of the same kind (in the batch, or
   * already queued by this device): the chain would reject the whole batch (READING_NOT_INCREASING).
   * Nothing was queued and no nonce was used; drop or correct that reading (a clock that stepped back?).
   */
  READING_NOT_INCREASING: 'READING_NOT_INCREASING',
  /** An inclusion proof or commit certificate does not verify. */
  PROOF_INVALID: 'PROOF_INVALID',
  /**
   * A node said a queued transaction committed, but no configured node served an inclusion proof that
   * verifies against the device's trusted validator sets with the device's own transaction bytes. The
   * entry stays queued; `problemCode` holds the first reason (e.g. TX_NOT_FOUND, CERT_BAD_SIGNATURE,
   * NO_TRUSTED_SET).
   */
  COMMIT_UNVERIFIED: 'COMMIT_UNVERIFIED',
  /**
   * With requireOutcomeProof (ADR 0131): a node's claim about the device's account nonce (NONCE_TOO_LOW,
   * ACCOUNT_LIMIT, NONCE_GAP) that would make it re-sign queued readings, and that no certified state
   * supports: the readings stay queued, same bytes, and go to another node. `problemCode`:
   * NONCE_CLAIM_FALSE (a proof, or the transaction's own proven commit, contradicts it), NONCE_NOT_PROVEN
   * (the proven nonce stayed below the claim for NONCE_UNPROVEN_AFTER_MS: every node claims it, or the
   * chain certifies no new state), NO_NONCE_PROOF (no node served a proof that verifies, for as long).
   */
  NONCE_UNPROVEN: 'NONCE_UNPROVEN',
  /** A node serves a different chain than the device is configured for. */
  CHAIN_MISMATCH: 'CHAIN_MISMATCH',
  /**
   * The device's data directory was made for another chain than the one configured or the node serves
   * (another chain id, or the same id with another genesis hash): its queue holds transactions signed
   * for that chain and its nonces count there, so sending them here would stall or misdeliver. Use a
   * new data directory for this chain, or move the old one away. The message names both chains and
   * the directory.
   */
  DATA_DIR_OTHER_CHAIN: 'DATA_DIR_OTHER_CHAIN',
  /**
   * A data directory from before chain binding (no chain.json) still holds queued readings, and no node
   * of this chain knows the oldest of them: they may belong to another chain, so they are not sent.
   */
  DATA_DIR_UNBOUND: 'DATA_DIR_UNBOUND',
  /** chain.json in the data directory is unreadable or not the expected shape. */
  CHAIN_FILE_INVALID: 'CHAIN_FILE_INVALID',
  /** Command-line usage error. */
  USAGE: 'USAGE',
  /** The device was closed. */
  CLOSED: 'CLOSED',
} as const;
export type SdkErrorCode = (typeof SdkErrorCode)[keyof typeof SdkErrorCode];

export class SdkError extends Error {
  readonly code: SdkErrorCode;
  /** For REJECTED: the node's problem code (e.g. NONCE_TOO_LOW); for others undefined. */
  readonly problemCode: string | undefined;
  readonly status: number | undefined;

  constructor(code: SdkErrorCode, message: string, opts: { problemCode?: string; status?: number } = {}) {
    super(`${code}: ${message}`);
    this.name = 'SdkError';
    this.code = code;
    this.problemCode = opts.problemCode;
    this.status = opts.status;
  }
}
