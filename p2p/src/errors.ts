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

export function isP2PError(err: unknown): err is P2PError {
  return err instanceof P2PError;
}
