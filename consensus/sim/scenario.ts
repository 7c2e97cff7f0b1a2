// What a simulation run is: a ScenarioSpec is plain data (so it can be printed, stored in a bench result
// and rebuilt from its name, n and seed), and a RunResult is what a run measured.

import type { NetworkConfig } from './network.ts';
import type { Violation } from './invariants.ts';

export const Behaviour = {
  /** Sends nothing at all (a crashed-forever or mute replica that still counts against f). */
  silent: 'silent',
  /** As primary, sends different PRE-PREPAREs for the same height to different backups. */
  equivocate: 'equivocate',
  /** Runs correct code but corrupts the signature of every message it sends. */
  badSignatures: 'bad-signatures',
  /** Runs correct code and also re-sends old messages it sent or received, to random peers. */
  replay: 'replay',
  /** Runs correct code, but its VIEW-CHANGE messages carry forged or stale prepared certificates. */
  forgeViewChange: 'forge-view-change',
  /** Runs correct code, but as new primary its NEW-VIEW omits the prepared batches (re-proposes empty). */
  newViewOmitsPrepared: 'new-view-omits-prepared',
  /** Runs correct code, but as new primary its NEW-VIEW's PRE-PREPAREs carry other blocks than they name. */
  newViewSwapsBlocks: 'new-view-swaps-blocks',
  /** Two correct-code instances share one key; each talks to its own half of the other replicas. */
  twins: 'twins',
} as const;
export type Behaviour = (typeof Behaviour)[keyof typeof Behaviour];

export interface ByzantineSpec {
  replica: number;
  behaviour: Behaviour;
  /** For twins: the replicas that talk to instance 0 (the rest talk to instance 1). */
  twinGroup?: readonly number[];
}

export interface CrashSpec {
  replica: number;
  atMs: number;
  /**
   * `atMs` counts from the workload's last submission, not from the start: a crash placed in the final
   * quiet period, whatever the drawn submission times (ADR 0128). Restarts are then relative too.
   */
  afterLastSubmit?: boolean;
  /** Restart from the persisted records at this time; never restarts when absent. */
  restartAtMs?: number;
  /**
   * The restart comes without the PBFT records (a lost `data/consensus`; the applied chain is kept),
   * and the replica recovers as ADR 0121 prescribes, observing until it cannot contradict its past.
   */
  loseRecords?: boolean;
}

export interface PartitionSpec {
  atMs: number;
  healAtMs: number;
  /** Replicas not listed in any group are isolated. */
  groups: readonly (readonly number[])[];
}

export interface WorkloadSpec {
  /** Transactions submitted in total. */
  txCount: number;
  /** Distinct client keys (senders). */
  clients: number;
  startMs: number;
  /** Mean gap between submissions (uniform in [0, 2*mean)). */
  meanIntervalMs: number;
  /** After every `everyTxs` submissions the clients go quiet for `gapMs` (bursts, ADR 0125). */
  quietGaps?: { everyTxs: number; gapMs: number };
}

export interface CpuModel {
  /** Modelled CPU time charged to a replica's virtual clock per signature produced / verified. */
  signMs: number;
  verifyMs: number;
}

export interface ReplicaTuning {
  checkpointInterval: number;
  windowSize: number;
  maxBlockTxs: number;
  maxBlockBytes: number;
  viewChangeTimeoutMs: number;
  maxClockSkewMs: number;
}

/** Test-only mutations of the correct replicas, to show the checker can fail (ReplicaDeps.mutations). */
export interface Mutations {
  acceptNewViewWithoutPreparedProof?: boolean;
  quorumOverride?: number;
  ignoreReconfiguration?: boolean;
}

/**
 * A validator-set change (ADR 0015) the application decides when it executes block `decidedAt` (as a
 * governance transaction would, ADR 0041): from floor(decidedAt/K)*K + 2K + 1 on, `validators` (node
 * indices, in order) certify blocks.
 */
export interface ReconfigurationSpec {
  decidedAt: number;
  validators: readonly number[];
}

export interface ScenarioSpec {
  name: string;
  description: string;
  /** Nodes in the run (roster ids 0..n-1). */
  n: number;
  /** The first `genesisSize` nodes are the genesis validators; the rest join by reconfiguration. Default n. */
  genesisSize?: number;
  reconfigurations?: readonly ReconfigurationSpec[];
  chainId: string;
  byzantine: readonly ByzantineSpec[];
  crashes: readonly CrashSpec[];
  partitions: readonly PartitionSpec[];
  /** The network before GST; after GST messages are no longer lost (partial synchrony, DLS 1988). */
  network: NetworkConfig;
  /** Per replica: local clock rate (1 = true time; timers fire after afterMs / rate) and offset (ms). */
  clockRates?: readonly number[];
  clockOffsetsMs?: readonly number[];
  workload: WorkloadSpec;
  /**
   * A targeted network adversary: every COMMIT of view `view` is lost unless addressed to `exceptTo`.
   * It lets exactly one replica commit what the others only prepare (the case PBFT's view change
   * exists for, TOCS 2002 §4.4). Only that view is affected, so it stops mattering after a view change.
   */
  starveCommits?: { view: number; exceptTo: number };
  /** Global stabilisation time: no loss, partitions or crashes after it. */
  gstMs: number;
  /** Every transaction must be committed by f+1 correct replicas by max(submitted, GST) + this. */
  livenessBoundMs: number;
  /** Hard stop of virtual time (a run also stops early once everything settled and faults are over). */
  maxTimeMs: number;
  tickIntervalMs: number;
  replica: ReplicaTuning;
  /** The named mutant (scenarios.ts Mutants) the mutations came from, for the reproduce command. */
  mutant?: string;
  mutations?: Mutations;
  cpu?: CpuModel;
  realCrypto?: boolean;
}

export interface MessageStats {
  count: number;
  bytes: number;
}

export interface RunResult {
  scenario: string;
  n: number;
  seed: number;
  violations: Violation[];
  /** Heights committed by correct replicas. */
  commits: number;
  txsSubmitted: number;
  txsCommitted: number;
  /** Requests by idle primaries for a block citing the quiet chain's state (ADR 0125). */
  stateCitations: number;
  /**
   * At the end, a committed header cites the state after the last block with transactions (ADR 0125).
   * Once every transaction has settled and the faults are over, a run that does not get there within
   * CITATION_BOUND_MS fails with a liveness violation (ADR 0128).
   */
  quietStateCited: boolean;
  /** Highest view any correct replica reached (each view above 0 is one view change). */
  viewChanges: number;
  /** Highest epoch index any correct replica reached (ADR 0015). */
  epochs: number;
  /** Messages sent (one per destination), by PBFT message type name. */
  messages: Record<string, MessageStats>;
  /** messages[type] divided by commits. */
  perBlock: Record<string, MessageStats>;
  /** Submission to settlement (f+1 correct commits), ms of virtual time. */
  commitLatencies: number[];
  /** From a correct replica leaving a view to the first commit in a later view, ms. */
  viewChangeDurations: number[];
  /** Sum over replicas of the replica's own drop counters, by reason (when the replica reports them). */
  drops: Record<string, number>;
  /** Virtual time at which the run stopped. */
  endTimeMs: number;
  /** Events processed. */
  steps: number;
  /** SHA-256 of the trace (every delivery and action); equal for two runs of one (spec, seed). */
  traceHash: string;
  /** The trace lines, only when asked for. */
  trace?: string[];
  /** The one command that reproduces this run. */
  reproduce: string;
}

/**
 * After every transaction has settled and the faults are over, how long the run waits for a committed
 * header citing the last transactions' state (ADR 0128): the backups' quiet period (4 ticks), a request
 * timeout, a view change and a block, with room for a second view change.
 */
export const CITATION_BOUND_MS = 5_000;
