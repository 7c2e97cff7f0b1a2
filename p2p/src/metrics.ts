// Counters as a plain object so the node can export them (Prometheus text, JSON) without this package
// depending on a metrics library. Counters only grow; gauges (queues, connections) are filled in when a
// snapshot is taken.

import { type CompactMetrics, emptyCompactMetrics } from './compact-relay.ts';
import type { ProtocolName } from './protocols.ts';
import { PROTOCOL_NAMES } from './protocols.ts';

export type DropReason =
  /** A per-peer send queue was full; the oldest message was dropped. */
  | 'queue-full'
  /** A batch lost because its stream failed as it was written (it is reopened). */
  | 'stream-failed'
  /** An inbound message exceeded the peer's token bucket. */
  | 'rate-limited'
  /** Fault layer: loss. */
  | 'fault-loss'
  /** Fault layer: partition. */
  | 'fault-partition'
  /** Fault layer: one-way cut. */
  | 'fault-cut'
  /** An observer sent on a validator-only protocol (consensus, txgossip). */
  | 'observer-not-voting'
  /** Addressed to a peer that is not (or no longer) allowed. */
  | 'unknown-peer'
  /** Discarded from queues of a peer removed from the allowed set, or at stop. */
  | 'peer-removed'
  /** Gossip queued for a peer that lost its last connection (it is re-offered after reconnection). */
  | 'gossip-disconnected'
  /** Consensus messages queued for a peer that stayed down longer than consensusOutageKeepMs. */
  | 'consensus-stale'
  /** A message too large for one frame of its protocol (a local sizing bug; logged). */
  | 'message-too-large'
  /** The user's handler threw. */
  | 'handler-error';

export const DROP_REASONS: readonly DropReason[] = [
  'queue-full',
  'stream-failed',
  'rate-limited',
  'fault-loss',
  'fault-partition',
  'fault-cut',
  'observer-not-voting',
  'unknown-peer',
  'peer-removed',
  'gossip-disconnected',
  'consensus-stale',
  'message-too-large',
  'handler-error',
];

export interface ProtocolCounters {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
}

/**
 * Kinds of consensus message, by the PBFT type in their second byte (docs/consensus.md "Messages"), plus
 * the compact PRE-PREPARE (ADR 0129) and anything else.
 */
export const CONSENSUS_KINDS = [
  'other',
  'prePrepare',
  'prepare',
  'commit',
  'checkpoint',
  'viewChange',
  'newView',
  'fetch',
  'blockReply',
  'suspect',
  'prePrepareCompact',
] as const;
export type ConsensusKind = (typeof CONSENSUS_KINDS)[number];

/** The kind of an encoded PBFT message: a one-byte CBOR array head and a type 1-9. */
export function consensusKind(m: Uint8Array): ConsensusKind {
  const head = m[0] ?? 0;
  const type = m[1] ?? 0;
  if (head >= 0x80 && head <= 0x97 && type >= 1 && type <= 9) return CONSENSUS_KINDS[type]!;
  return 'other';
}

export interface QueueGauge {
  messages: number;
  bytes: number;
}

export interface P2PMetrics {
  protocols: Record<ProtocolName, ProtocolCounters>;
  connections: {
    /** Gauge: open connections to allowed peers. */
    open: number;
    /** Successful outbound dials (including reconnections). */
    dials: number;
    dialFailures: number;
    /** Connections refused by the gater after the handshake, by reason. */
    refusedNotAllowed: number;
    refusedBanned: number;
    /** Peers disconnected for sending invalid frames. */
    disconnectedForInvalidFrames: number;
    /** Peers banned because their score fell below the threshold. */
    bans: number;
    /** Connections to allowed peers that closed before `reconnect.stableMs` (e.g. the peer refused us). */
    shortLived: number;
    /** Inbound consensus/gossip streams closed because their peer opened a newer one for the protocol. */
    streamsSuperseded: number;
  };
  /** Invalid inbound frames, by error code. */
  invalidFrames: Record<string, number>;
  dropped: Record<DropReason, number>;
  /** Gauge: per peer key, per streaming protocol. */
  queues: Record<string, Record<'consensus' | 'txgossip', QueueGauge>>;
  /** Gauge: messages held in the fault layer's delay lines. */
  faultPending: number;
  /**
   * Consensus messages written to peers by kind (the form actually sent): how many, and their bytes
   * (payload plus its 4-byte length in the frame, and its kind byte on a 1.1.0 stream).
   */
  consensusOut: Record<ConsensusKind, { messages: number; bytes: number }>;
  /** The compact PRE-PREPARE encoding's counters (ADR 0129). */
  compact: CompactMetrics;
}

export function emptyMetrics(): P2PMetrics {
  const protocols = {} as Record<ProtocolName, ProtocolCounters>;
  for (const p of PROTOCOL_NAMES) {
    protocols[p] = { framesIn: 0, framesOut: 0, bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 };
  }
  const dropped = {} as Record<DropReason, number>;
  for (const r of DROP_REASONS) dropped[r] = 0;
  const consensusOut = {} as P2PMetrics['consensusOut'];
  for (const k of CONSENSUS_KINDS) consensusOut[k] = { messages: 0, bytes: 0 };
  return {
    protocols,
    connections: {
      open: 0,
      dials: 0,
      dialFailures: 0,
      refusedNotAllowed: 0,
      refusedBanned: 0,
      disconnectedForInvalidFrames: 0,
      bans: 0,
      shortLived: 0,
      streamsSuperseded: 0,
    },
    invalidFrames: {},
    dropped,
    queues: {},
    faultPending: 0,
    consensusOut,
    compact: emptyCompactMetrics(),
  };
}
