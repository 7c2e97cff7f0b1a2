// Every bound the p2p layer enforces, with defaults sized for a few hospitals' validators on a LAN or
// WAN. All are overridable per node (tests shrink them to provoke the limits deterministically).

import type { BackoffPolicy } from './backoff.ts';
import { MAX_BLOCK_TXS } from '@vigil/consensus/wire';
import type { CompactOptions } from './compact-relay.ts';
import { P2PError, P2PErrorCode } from './errors.ts';
import { MIN_BODY_BYTES } from './frame.ts';
import type { ScoreConfig } from './peer-score.ts';
import type { QueueLimits } from './send-queue.ts';

export interface RateLimit {
  /** Sustained messages (or requests) per second. */
  perSecond: number;
  /** Bucket capacity: the largest burst accepted after a quiet period. */
  burst: number;
}

export interface P2PLimits {
  /**
   * Largest frame body accepted or sent on consensus streams. A whole frame is buffered before it is
   * decoded, so this is also the per-stream receive buffer bound. The node should set it to at least
   * frameBytesFor(largest consensus message it will send), or bigger messages are dropped and counted.
   */
  maxFrameBytes: number;
  /** Largest frame body accepted or sent on txgossip streams. */
  gossipMaxFrameBytes: number;
  /** Largest message count in one frame. */
  maxMessagesPerFrame: number;
  /** The writer coalesces queued messages into frames of up to this body size. */
  batchBytes: number;
  /** Per-peer send queue bounds (drop-oldest beyond them). */
  consensusQueue: QueueLimits;
  gossipQueue: QueueLimits;
  /**
   * Consensus messages queued for a peer that is down are delivered when it reconnects within this
   * long, and discarded (counted as 'consensus-stale') after a longer outage.
   */
  consensusOutageKeepMs: number;
  /** Per-peer inbound token buckets, in messages. */
  consensusRate: RateLimit;
  gossipRate: RateLimit;
  /** Per-peer inbound sync/status requests. */
  requestRate: RateLimit;
  /** Largest sync response frame, and most blocks served per request. */
  syncMaxFrameBytes: number;
  syncMaxBlocks: number;
  /** Deadline for a sync/status request, including opening the stream. */
  requestTimeoutMs: number;
  /** How many transaction hashes are remembered per peer to send each transaction at most once. */
  gossipSeenPerPeer: number;
  /**
   * Peer scoring; a penalty per invalid frame, per frame that hit the rate limit, and per hostile
   * compact PRE-PREPARE or txfetch message (malformed, mismatched, wrong transaction: ADR 0129).
   */
  score: ScoreConfig & { invalidFramePenalty: number; rateLimitPenalty: number; compactPenalty: number };
  /** Redial policy for validators; the backoff restarts only after a connection lasted `stableMs`. */
  reconnect: BackoffPolicy & { stableMs: number };
  /** libp2p's per-host inbound connection rate limit (all loopback devnet nodes share one host). */
  inboundConnectionsPerHostPerSecond: number;
  /** Inbound streams per protocol per connection. */
  maxInboundStreams: number;
  /**
   * Compact PRE-PREPAREs (ADR 0129): offered to and accepted from peers that support them, with the
   * caches and bounds of compact-relay.ts; false: this node neither offers nor accepts them (it
   * behaves as a node of the protocol's 1.0.0 version).
   */
  compact: CompactOptions | false;
  /** Per-peer inbound txfetch requests (a backup asks once or twice per incomplete PRE-PREPARE). */
  txFetchRate: RateLimit;
}

/** What a node may override: any limit, and any field of the nested score and reconnect policies. */
export type LimitOverrides = Partial<Omit<P2PLimits, 'score' | 'reconnect' | 'compact'>> & {
  score?: Partial<P2PLimits['score']>;
  reconnect?: Partial<P2PLimits['reconnect']>;
  compact?:
    | (Partial<Omit<CompactOptions, 'txCache' | 'proposalCache'>> & {
        txCache?: Partial<CompactOptions['txCache']>;
        proposalCache?: Partial<CompactOptions['proposalCache']>;
      })
    | false;
};

export const DEFAULT_COMPACT: CompactOptions = {
  maxTxs: MAX_BLOCK_TXS,
  // ~45 s of gossip at 700 tx/s: longer than a transaction waits in a full mempool (5,000) under load.
  txCache: { maxTxs: 32_768, maxBytes: 16 * 1024 * 1024 },
  proposalCache: { maxBlocks: 64, maxBytes: 64 * 1024 * 1024 },
  maxPendingPerPeer: 8,
  fetchTimeoutMs: 2_000,
};

export const DEFAULT_LIMITS: P2PLimits = {
  maxFrameBytes: 64 * 1024 * 1024,
  gossipMaxFrameBytes: 4 * 1024 * 1024,
  maxMessagesPerFrame: 65_536,
  batchBytes: 256 * 1024,
  consensusQueue: { maxBytes: 64 * 1024 * 1024, maxMessages: 200_000 },
  gossipQueue: { maxBytes: 16 * 1024 * 1024, maxMessages: 100_000 },
  consensusOutageKeepMs: 3_000,
  consensusRate: { perSecond: 50_000, burst: 100_000 },
  gossipRate: { perSecond: 50_000, burst: 100_000 },
  requestRate: { perSecond: 50, burst: 100 },
  syncMaxFrameBytes: 16 * 1024 * 1024,
  syncMaxBlocks: 256,
  requestTimeoutMs: 10_000,
  gossipSeenPerPeer: 65_536,
  score: {
    halfLifeMs: 60_000,
    banThreshold: -100,
    banMs: 60_000,
    invalidFramePenalty: 60,
    rateLimitPenalty: 2,
    compactPenalty: 20,
  },
  reconnect: { baseMs: 250, maxMs: 15_000, stableMs: 5_000 },
  inboundConnectionsPerHostPerSecond: 64,
  maxInboundStreams: 4,
  compact: DEFAULT_COMPACT,
  txFetchRate: { perSecond: 500, burst: 1_000 },
};

export function resolveLimits(overrides: LimitOverrides = {}): P2PLimits {
  const l: P2PLimits = {
    ...DEFAULT_LIMITS,
    ...overrides,
    score: { ...DEFAULT_LIMITS.score, ...overrides.score },
    reconnect: { ...DEFAULT_LIMITS.reconnect, ...overrides.reconnect },
    compact:
      overrides.compact === false
        ? false
        : {
            ...DEFAULT_COMPACT,
            ...overrides.compact,
            txCache: { ...DEFAULT_COMPACT.txCache, ...overrides.compact?.txCache },
            proposalCache: { ...DEFAULT_COMPACT.proposalCache, ...overrides.compact?.proposalCache },
          },
  };
  const bad = (what: string) => new P2PError(P2PErrorCode.invalidConfig, `invalid limit: ${what}`);
  const frameOk = (n: number) => n >= MIN_BODY_BYTES && n <= 0xffffffff;
  if (!frameOk(l.maxFrameBytes)) throw bad('maxFrameBytes');
  if (!frameOk(l.gossipMaxFrameBytes)) throw bad('gossipMaxFrameBytes');
  if (!(l.batchBytes >= MIN_BODY_BYTES && l.batchBytes <= Math.min(l.maxFrameBytes, l.gossipMaxFrameBytes))) {
    throw bad('batchBytes');
  }
  if (!(l.syncMaxFrameBytes >= MIN_BODY_BYTES && l.syncMaxFrameBytes <= 0xffffffff))
    throw bad('syncMaxFrameBytes');
  if (!(l.maxMessagesPerFrame >= 1)) throw bad('maxMessagesPerFrame');
  for (const [name, q] of [
    ['consensusQueue', l.consensusQueue],
    ['gossipQueue', l.gossipQueue],
  ] as const) {
    if (!(q.maxBytes > 0 && q.maxMessages >= 1)) throw bad(name);
  }
  for (const [name, r] of [
    ['consensusRate', l.consensusRate],
    ['gossipRate', l.gossipRate],
    ['requestRate', l.requestRate],
    ['txFetchRate', l.txFetchRate],
  ] as const) {
    if (!(r.perSecond >= 0 && r.burst >= 1)) throw bad(name);
  }
  if (!(l.consensusOutageKeepMs >= 0)) throw bad('consensusOutageKeepMs');
  if (!(l.syncMaxBlocks >= 1 && l.requestTimeoutMs > 0 && l.gossipSeenPerPeer >= 1)) throw bad('sync/gossip');
  if (!(l.score.halfLifeMs > 0 && l.score.banMs >= 0)) throw bad('score');
  if (!(l.reconnect.baseMs > 0 && l.reconnect.maxMs >= l.reconnect.baseMs && l.reconnect.stableMs >= 0)) {
    throw bad('reconnect');
  }
  const c = l.compact;
  if (
    c !== false &&
    !(
      c.maxTxs >= 1 &&
      c.txCache.maxTxs >= 1 &&
      c.txCache.maxBytes >= 1 &&
      c.proposalCache.maxBlocks >= 1 &&
      c.proposalCache.maxBytes >= 1 &&
      c.maxPendingPerPeer >= 1 &&
      c.fetchTimeoutMs > 0
    )
  ) {
    throw bad('compact');
  }
  return l;
}
