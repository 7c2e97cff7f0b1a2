// Versioned libp2p protocol ids. A breaking change to a protocol's messages gets a new id, so nodes of
// two versions negotiate (multistream-select) instead of misparsing each other.

export const Protocol = {
  /** Long-lived stream per peer: batches of opaque signed PBFT messages. */
  consensus: '/vigil/consensus/1.0.0',
  /**
   * The same, where a message may also be a compact PRE-PREPARE (first byte 0x01, ADR 0129). A node
   * that supports it offers this id first when it opens its consensus stream; a peer that answers with
   * 1.0.0 gets every message whole.
   */
  consensusCompact: '/vigil/consensus/1.1.0',
  /** Long-lived stream per peer: batches of encoded signed transactions. */
  txgossip: '/vigil/txgossip/1.0.0',
  /** One stream per request: a range of blocks by height. */
  sync: '/vigil/sync/1.0.0',
  /** One stream per request: the peer's height, view and latest stable checkpoint. */
  status: '/vigil/status/1.0.0',
  /** One stream per request: transactions of a compact PRE-PREPARE by position, or the whole message. */
  txfetch: '/vigil/txfetch/1.0.0',
} as const;

export type StreamingProtocol = 'consensus' | 'txgossip';
export type RequestProtocol = 'sync' | 'status' | 'txfetch';
export type ProtocolName = StreamingProtocol | RequestProtocol;

export const STREAMING_PROTOCOLS: readonly StreamingProtocol[] = ['consensus', 'txgossip'];
export const PROTOCOL_NAMES: readonly ProtocolName[] = ['consensus', 'txgossip', 'sync', 'status', 'txfetch'];
