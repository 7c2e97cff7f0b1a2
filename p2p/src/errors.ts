// Typed errors of the p2p layer. Every error a peer can provoke carries a stable string `code` so the
// node can count it, log it and map it to metrics without parsing messages.

export const P2PErrorCode = {
  /** A frame's length prefix exceeds the protocol's maximum frame size. */
  frameTooLarge: 'P2P_FRAME_TOO_LARGE',
  /** A frame's length prefix is zero or otherwise impossible. */
  badLengthPrefix: 'P2P_BAD_LENGTH_PREFIX',
  /** A frame body does not parse as a batch (bad version, count, message lengths, trailing bytes). */
  badBatch: 'P2P_BAD_BATCH',
  /** A local caller tried to send a message that cannot fit in one frame (logged and counted, not thrown). */
  messageTooLarge: 'P2P_MESSAGE_TOO_LARGE',
  /** A request or response on a request/response protocol is malformed. */
  badRequest: 'P2P_BAD_REQUEST',
  /** The remote answered a request with an error status. */
  remoteError: 'P2P_REMOTE_ERROR',
  /** The peer is not connected (request/response needs a live connection). */
  notConnected: 'P2P_NOT_CONNECTED',
  /** The peer is neither a validator nor a configured observer. */
  peerNotAllowed: 'P2P_PEER_NOT_ALLOWED',
  /** A request did not complete in time. */
  timeout: 'P2P_TIMEOUT',
  /** The fault layer refused the request (partition or cut link). */
  faultInjected: 'P2P_FAULT_INJECTED',
  /** Configuration is invalid (bad seed length, bad key, bad limits). */
  invalidConfig: 'P2P_INVALID_CONFIG',
  /** A listen address could not be bound (port in use, address not on this machine). */
  listenFailed: 'P2P_LISTEN_FAILED',
  /** The network is not started or already stopped. */
  notRunning: 'P2P_NOT_RUNNING',
  /** An inbound stream closed because the same peer opened a newer one for the protocol. */
  streamSuperseded: 'P2P_STREAM_SUPERSEDED',
  /**
   * A compact PRE-PREPARE or a txfetch message that is not canonical CBOR of the specified shape
   * (wrong arity: unknown or missing fields, wrong types or sizes, a header that does not decode).
   */
  compactMalformed: 'P2P_COMPACT_MALFORMED',
  /** A compact PRE-PREPARE with more transaction ids than a block may hold. */
  compactTooManyIds: 'P2P_COMPACT_TOO_MANY_IDS',
  /** A compact PRE-PREPARE whose header does not hash to its blockHash. */
  compactHeaderMismatch: 'P2P_COMPACT_HEADER_MISMATCH',
  /** A compact PRE-PREPARE whose ids are not the header's txCount, or not under its txRoot. */
  compactIdsMismatch: 'P2P_COMPACT_IDS_MISMATCH',
  /** A txfetch request whose positions are empty, duplicated, unsorted, too many or beyond the block. */
  txFetchBadPositions: 'P2P_TXFETCH_BAD_POSITIONS',
  /** A txfetch response carrying a transaction other than the one the block names at that position. */
  txFetchWrongTx: 'P2P_TXFETCH_WRONG_TX',
  /** A txfetch response that is malformed, has the wrong count, or is not the requested message. */
  txFetchBadResponse: 'P2P_TXFETCH_BAD_RESPONSE',
  /** The peer no longer holds the block asked for (its proposal cache evicted it): not an offence. */
  txFetchUnknownBlock: 'P2P_TXFETCH_UNKNOWN_BLOCK',
} as const;

export type P2PErrorCodeValue = (typeof P2PErrorCode)[keyof typeof P2PErrorCode];

export class P2PError extends Error {
  readonly code: P2PErrorCodeValue;
  constructor(code: P2PErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'P2PError';
    this.code = code;
  }
}

/** A frame that violates the framing rules; the sender is disconnected and scored down. */
export class FrameError extends P2PError {
  constructor(
    code:
      | typeof P2PErrorCode.frameTooLarge
      | typeof P2PErrorCode.badLengthPrefix
      | typeof P2PErrorCode.badBatch,
    message: string,
  ) {
    super(code, message);
    this.name = 'FrameError';
  }
}

/** What the compact PRE-PREPARE and txfetch decoders refuse (ADR 0129); see the codes above. */
export type CompactErrorCode =
  | typeof P2PErrorCode.compactMalformed
  | typeof P2PErrorCode.compactTooManyIds
  | typeof P2PErrorCode.compactHeaderMismatch
  | typeof P2PErrorCode.compactIdsMismatch
  | typeof P2PErrorCode.txFetchBadPositions
  | typeof P2PErrorCode.txFetchWrongTx
  | typeof P2PErrorCode.txFetchBadResponse
  | typeof P2PErrorCode.txFetchUnknownBlock;

/** Hostile or unusable compact PRE-PREPARE / txfetch input; every code but UNKNOWN_BLOCK is an offence. */
export class CompactError extends P2PError {
  declare readonly code: CompactErrorCode;
  constructor(code: CompactErrorCode, message: string) {
    super(code, message);
    this.name = 'CompactError';
  }
}

export function isP2PError(err: unknown): err is P2PError {
  return err instanceof P2PError;
}
