// The contract between the pure PBFT replica and its drivers (the deterministic simulator in
// consensus/sim and the real node in node/). Modelled on etcd raft's Ready: the driver feeds one Event
// at a time into `Replica.step`, and carries out the returned Ready strictly in this order:
//   1. persist every record durably (fsync) — PBFT's safety across crashes depends on a replica never
//      contradicting a message it sent before it crashed (Castro & Liskov, TOCS 2002, §4.4 / §5.3);
//   2. send the messages;
//   3. apply the committed blocks, in height order, each exactly once;
//   4. arm/cancel timers, and start any state transfer asked for.
// The replica never reads a clock, sets a timer, draws randomness or does I/O itself.
// Two further obligations (docs/consensus.md):
//   - deliver `tick` periodically (every few hundred ms): retransmission and catch-up run on ticks;
//   - after `Replica.restore`, first report the last block applied before the crash with an `executed`
//     event: the replica re-delivers committed-but-unreported blocks above that height only. A 'set'
//     timer action for an id that is already armed re-arms it.

import type { Block, CommitCertificate, Signer, Verifier } from '../wire/index.ts';

export interface ReplicaConfig {
  chainId: string;
  /** Validator public keys; a replica's id is its index here. n = validators.length. */
  validators: readonly Uint8Array[];
  /** This replica's index in `validators` (ignored when `selfKey` is given). */
  self: number;
  /**
   * This replica's public key, for a node that is not (or not only) a genesis validator: it becomes a
   * member in the epochs that list this key (ADR 0015) and follows as an observer otherwise.
   */
  selfKey?: Uint8Array;
  /** K: a checkpoint is taken every K heights (PBFT §4.3). */
  checkpointInterval: number;
  /** L: heights accepted are (low watermark, low watermark + L]; a multiple of K. */
  windowSize: number;
  /** Upper bounds on one block's transactions. */
  maxBlockTxs: number;
  maxBlockBytes: number;
  /** Base view-change timeout; doubled for each consecutive failed view change (PBFT §4.5.2). */
  viewChangeTimeoutMs: number;
  /** A proposed block's timestamp may be at most this far ahead of the receiving replica's `now`. */
  maxClockSkewMs: number;
  /** State root before any block (the root "after height 0"); the first blocks carry it. Default: 32 zeros. */
  genesisStateRoot?: Uint8Array;
  /** Timestamp of the virtual block 0; the first block's timestamp must exceed it. Default: 0. */
  genesisTimestamp?: number;
  /**
   * Set when this replica may have lost what it persisted (a node whose consensus records are missing,
   * or restored onto a new disk): a local time no earlier than the replica's clock before the loss plus
   * the clock skew it allowed proposals. The replica then follows as an observer (no PREPARE, COMMIT,
   * PRE-PREPARE, VIEW-CHANGE, NEW-VIEW or SUSPECT) until it can no longer contradict anything it signed
   * before: ADR 0121 and docs/consensus.md "Recovery after lost records".
   */
  recoverAfter?: number;
  /** TEST-ONLY deliberately broken variants (see ReplicaMutations). Never set in production. */
  mutations?: ReplicaMutations;
}

/**
 * TEST-ONLY switches that break the protocol on purpose, so the simulator can show that its safety
 * checker catches violations ("the checker can fail" mutants). A replica with any of these set is not PBFT.
 */
export interface ReplicaMutations {
  /**
   * The new primary builds NEW-VIEW from the checkpoint alone (null blocks in place of every prepared
   * block), and backups accept a NEW-VIEW without recomputing O from the VIEW-CHANGE proofs (§4.5.2).
   * Blocks committed at some replicas can then be replaced by others: a fork.
   */
  acceptNewViewWithoutPreparedProof?: boolean;
  /** Use this many matching messages as the quorum instead of floor((n+f)/2)+1. */
  quorumOverride?: number;
  /**
   * Ignore validator-set changes (ADR 0015): the genesis set keeps certifying every height, so blocks of
   * a later epoch carry certificates of the wrong set.
   */
  ignoreReconfiguration?: boolean;
}

export interface ReplicaDeps {
  signer: Signer;
  verifier: Verifier;
  /**
   * Application-level validity of a proposed block's transactions (decodable, not already committed,
   * well-formed), checked by backups before they PREPARE. Must be deterministic and side-effect free.
   * Returns undefined when valid, or a reason code.
   */
  validateTransactions?: (txs: readonly Uint8Array[]) => string | undefined;
  /**
   * The RFC 6962 Merkle root of a block's transactions (wire merkleRoot by default, pure-JS SHA-256 so
   * that the core runs anywhere). A node passes the same function over its platform's SHA-256; it must
   * return what merkleRoot returns, or this replica refuses every block.
   */
  txRoot?: (txs: readonly Uint8Array[]) => Uint8Array;
  /** TEST-ONLY; merged over config.mutations. */
  mutations?: ReplicaMutations;
}

export type TimerId = string;

export type Event =
  /** A consensus message (encoded, signed) received from roster id `from`. Hostile until checked. */
  | { type: 'receive'; from: number; message: Uint8Array }
  /** The driver's clock reading, in ms; the only notion of time the replica has. */
  | { type: 'tick'; now: number }
  /** A timer the replica armed has fired. */
  | { type: 'timeout'; timer: TimerId; now: number }
  /**
   * The node has these transactions ready (mempool order). The primary may batch them into its next
   * block; a backup arms its request timer while it holds transactions that have not committed (§4.4).
   * An empty list tells the replica nothing is pending.
   */
  | { type: 'propose'; txs: readonly Uint8Array[]; now: number }
  /**
   * The node is idle and no committed header cites a state at or after `through` (its last
   * transactions' height, rounded up to its state-root interval): the primary proposes a block without
   * transactions that cites its executed state, so that state gets certified (ADR 0125).
   */
  | { type: 'citeState'; through: number; now: number }
  /** The driver applied block `height`; `stateRoot` is the state root after it. */
  | { type: 'executed'; height: number; stateRoot: Uint8Array }
  /**
   * A validator-set change (ADR 0015): from `fromHeight` (a checkpoint height + 1) on, `validators` (in
   * order) certify blocks. The driver hands it in right after applying the block that decided it and
   * BEFORE that block's `executed` event (and before `stateTransferred` for changes inside transferred
   * blocks); after a restart it may hand in known changes again (duplicates are ignored), as the state
   * has them: one final set per start height (a later change for the same start replaces an earlier one
   * only while that epoch cannot have started).
   */
  | { type: 'reconfigure'; fromHeight: number; validators: readonly Uint8Array[] }
  /** A state transfer the replica requested finished at a verified stable checkpoint. */
  | { type: 'stateTransferred'; height: number; stateRoot: Uint8Array; blockHash: Uint8Array };

/** A durable record: the driver writes `value` under `key` (or deletes `key` when value is null). */
export interface PersistRecord {
  key: string;
  value: Uint8Array | null;
}

export interface Outbound {
  /** A roster id (the genesis index for genesis validators, ADR 0015), or 'all' for every other node. */
  to: number | 'all';
  message: Uint8Array;
}

export interface CommittedBlock {
  block: Block;
  certificate: CommitCertificate;
}

export type TimerAction =
  | { type: 'set'; timer: TimerId; afterMs: number }
  | { type: 'cancel'; timer: TimerId };

export interface StateTransferRequest {
  /** The stable checkpoint to fetch state for, proven by 2f+1 CHECKPOINT messages. */
  height: number;
  stateRoot: Uint8Array;
  /** Encoded, signed CHECKPOINT messages proving the checkpoint is stable. */
  proof: readonly Uint8Array[];
}

export interface Ready {
  persist: PersistRecord[];
  send: Outbound[];
  commit: CommittedBlock[];
  timers: TimerAction[];
  stateTransfer?: StateTransferRequest;
}
