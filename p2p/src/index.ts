// @vigil/p2p: the libp2p transport between Vigil validators. See docs/p2p.md.

export type { BackoffPolicy } from './backoff.ts';
export { backoffDelay } from './backoff.ts';
export type { BlockRangeRequest, NodeStatus } from './codec.ts';
export {
  decodeBlockRangeRequest,
  decodeNodeStatus,
  encodeBlockRangeRequest,
  encodeNodeStatus,
  SyncStatus,
} from './codec.ts';
export {
  type CompactForm,
  type CompactLimits,
  type CompactPrePrepare,
  compactPrePrepare,
  decodeCompactPrePrepare,
  decodeTxFetchRequest,
  decodeTxFetchResponse,
  encodeTxFetchRequest,
  encodeTxFetchResponse,
  leafId,
  rebuildPrePrepare,
  TxFetchKind,
  type TxFetchRequest,
  type TxFetchResponse,
  TxFetchStatus,
} from './compact-codec.ts';
export { type CompactMetrics, type CompactOptions, emptyCompactMetrics } from './compact-relay.ts';
export {
  CompactError,
  type CompactErrorCode,
  FrameError,
  isP2PError,
  P2PError,
  P2PErrorCode,
  type P2PErrorCodeValue,
} from './errors.ts';
export { FaultLayer, type FaultDrop, type FaultLayerOptions, type LinkFault } from './fault.ts';
export {
  BATCH_HEADER_BYTES,
  batchBodyBytes,
  decodeBatchBody,
  encodeFrame,
  FRAME_PREFIX_BYTES,
  FRAME_VERSION,
  FrameDecoder,
  type FrameLimits,
  frameBytesFor,
  MESSAGE_OVERHEAD_BYTES,
  MIN_BODY_BYTES,
} from './frame.ts';
export { type Identity, identityFromSeed, keyHex, peerIdFromValidatorKey } from './identity.ts';
export {
  DEFAULT_COMPACT,
  DEFAULT_LIMITS,
  type LimitOverrides,
  type P2PLimits,
  type RateLimit,
  resolveLimits,
} from './limits.ts';
export { type P2PLogger, silentLogger, stderrLogger } from './logger.ts';
export {
  CONSENSUS_KINDS,
  type ConsensusKind,
  consensusKind,
  DROP_REASONS,
  type DropReason,
  type P2PMetrics,
  type ProtocolCounters,
  type QueueGauge,
} from './metrics.ts';
export {
  type AllowedPeers,
  type BlockProvider,
  type ConsensusHandler,
  type NetworkConfig,
  type PeerEntry,
  type PeerEventHandler,
  type PeerInfo,
  type PeerRole,
  type StatusProvider,
  type TransactionsHandler,
  VigilNetwork,
} from './network.ts';
export { Protocol, type ProtocolName, type RequestProtocol, type StreamingProtocol } from './protocols.ts';
export { type Rng, seededRng } from './random.ts';
