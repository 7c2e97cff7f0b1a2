// Every failure at the wire boundary is a WireError with a stable string code, so callers (the node's
// HTTP layer, the PBFT replica, peers' logs) can branch on `code` and never on message text.
// The codes are part of the protocol specification (docs/protocol.md, "Error codes").

export const WireErrorCode = {
  /** Input longer than the caller's limit; checked before any parsing. */
  TOO_LARGE: 'TOO_LARGE',
  /** Not well-formed CBOR: truncated, reserved additional-information values, lengths past the end. */
  MALFORMED: 'MALFORMED',
  /** A complete item was followed by further bytes. */
  TRAILING_BYTES: 'TRAILING_BYTES',
  /** Well-formed CBOR that is not in Vigil's canonical form (RFC 8949 §4.2.1 + the subset). */
  NON_CANONICAL: 'NON_CANONICAL',
  /** Arrays nested deeper than the limit. */
  TOO_DEEP: 'TOO_DEEP',
  /** A CBOR type outside the subset (map, tag, float, undefined, other simple values), or an
   *  encoder input that cannot be represented (non-integer number, lone surrogate, huge bigint). */
  UNSUPPORTED_TYPE: 'UNSUPPORTED_TYPE',
  /** Valid canonical CBOR, but a structure has the wrong arity, or a field the wrong type/size/range. */
  WRONG_TYPE: 'WRONG_TYPE',
  /** Fields that contradict each other or the content: txCount/txRoot vs the block's transactions,
   *  prevHash at height 1, stateHeight >= height, unsorted certificate votes. */
  INCONSISTENT: 'INCONSISTENT',
  /** A structure's version field is not one this code understands. */
  UNSUPPORTED_VERSION: 'UNSUPPORTED_VERSION',
  /** A structure names a different chain than the one expected. */
  WRONG_CHAIN: 'WRONG_CHAIN',
  /** A transaction's type code is not in TxType. */
  UNKNOWN_TX_TYPE: 'UNKNOWN_TX_TYPE',
  /** Commit certificate: its height/blockHash do not match the header it is checked against. */
  CERT_MISMATCH: 'CERT_MISMATCH',
  /** Commit certificate: a vote names a validator index outside the validator set. */
  CERT_UNKNOWN_VALIDATOR: 'CERT_UNKNOWN_VALIDATOR',
  /** Commit certificate: two votes from the same validator index. */
  CERT_DUPLICATE_VOTE: 'CERT_DUPLICATE_VOTE',
  /** Commit certificate: a vote's signature does not verify. */
  CERT_BAD_SIGNATURE: 'CERT_BAD_SIGNATURE',
  /** Commit certificate: fewer distinct valid votes than the quorum. */
  CERT_NO_QUORUM: 'CERT_NO_QUORUM',
} as const;

export type WireErrorCode = (typeof WireErrorCode)[keyof typeof WireErrorCode];

export class WireError extends Error {
  readonly code: WireErrorCode;

  constructor(code: WireErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'WireError';
    this.code = code;
  }
}

export function isWireError(e: unknown): e is WireError {
  return e instanceof WireError;
}
