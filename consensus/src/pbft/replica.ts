// The PBFT replica as a pure, synchronous state machine (Castro & Liskov, OSDI 1999; TOCS 2002).
// Events in (`step`), a Ready out (persist, send, commit, timers, state transfer); see types.ts for the
// driver's obligations and docs/consensus.md for the protocol as implemented and its departures from
// the paper (ADRs 0010-0014).

import {
  type Block,
  type BlockHeader,
  blockHash,
  type CborValue,
  type CommitCertificate,
  decodeBlock,
  decodeCanonical,
  decodeCommitCertificate,
  encodeCanonical,
  encodeCommitCertificate,
  merkleRoot,
  sha256,
  WireError,
} from '../wire/index.ts';
import { Authenticator } from './auth.ts';
import { bytesEqual, hex } from './bytes.ts';
import { type ProtocolContext, validateConfig } from './context.ts';
import {
  checkNewEpoch,
  decodeEpochsRecord,
  type Epoch,
  encodeEpochsRecord,
  epochIndexAt,
  epochKnownThrough,
  Roster,
} from './epochs.ts';
import { DropReason, PbftConfigError, PbftDecodeError, PbftRejectError, PbftRestoreError } from './errors.ts';
import {
  type BlockReply,
  type Checkpoint,
  type Commit,
  createMessage,
  decodeMessage,
  encodeMessage,
  type Fetch,
  MAX_FETCH_COUNT,
  type MessageLimits,
  MessageType,
  messageLimits,
  type NewView,
  type PbftMessage,
  type PrePrepare,
  type Prepare,
  type PreparedProof,
  blockBytesOf,
  type Suspect,
  type ViewChange,
} from './messages.ts';
import { buildNewView, type CheckedNewView, checkNewView, computeNewViewPlan } from './newview.ts';
import {
  blockShapeProblem,
  type CheckedViewChange,
  checkCheckpointProof,
  decodeNested,
  checkPreparedProof,
  checkViewChange,
  genesisCheckpoint,
  sameCheckpoint,
  type StableCheckpoint,
} from './proofs.ts';
import { maxFaulty, primaryOf, quorumSize } from './quorum.ts';
import {
  decodeCheckpointRecord,
  decodeExecutedRecord,
  decodePreparedRecord,
  decodeRecoveryRecord,
  decodeViewRecord,
  decodeVotesRecord,
  encodeCheckpointRecord,
  encodeExecutedRecord,
  encodePreparedRecord,
  encodeRecoveryRecord,
  encodeViewRecord,
  encodeVotesRecord,
  type HeightRecordKind,
  parseHeightKey,
  RecordKey,
  type RecoveryRecord,
} from './records.ts';
import type {
  CommittedBlock,
  Event,
  PersistRecord,
  Ready,
  ReplicaConfig,
  ReplicaDeps,
  ReplicaMutations,
  TimerId,
} from './types.ts';

/** Timer ids this replica arms. */
export const Timers = {
  /** Backup waiting for a request/pre-prepare to commit (§4.4). */
  request: 'pbft/request',
  /** Waiting for NEW-VIEW after sending VIEW-CHANGE (§4.5.2). */
  viewChange: 'pbft/view-change',
} as const satisfies Record<string, TimerId>;

/** Messages for views not yet entered, kept per signer (§4.5.2 lets a replica buffer them). */
const FUTURE_PER_PEER_FACTOR = 3;
/** Cap on the exponent of the view-change backoff (2^16 x base). */
const MAX_BACKOFF = 16;
/**
 * Farthest a citeState `through` may lie beyond the executed height (ADR 0125): the node asks for its
 * last transactions' height rounded up to its state-root interval (at most 1,024, ADR 0117).
 */
const MAX_CITE_AHEAD = 1024;

export interface ReplicaStats {
  /** Index in the current epoch's validator list; -1 when this node is not a member (an observer). */
  id: number;
  /** Current epoch (ADR 0015): its index, first height and size. */
  epoch: number;
  epochStart: number;
  epochSize: number;
  /** Times this replica moved to a later epoch. */
  epochSwitches: number;
  view: number;
  active: boolean;
  lowWatermark: number;
  highWatermark: number;
  lastCommitted: number;
  lastExecuted: number;
  /** The highest state height a header committed in this process cites (ADR 0125). */
  citedThrough: number;
  /** A backup's expected citation (ADR 0128); the citation is owed while it exceeds citedThrough. */
  awaitedCitation: number;
  /** Messages dropped, by reason code (see DropReason). */
  dropped: Record<string, number>;
  viewChangesStarted: number;
  /** SUSPECT messages this replica sent (request timer expiries in an active view, ADR 0112). */
  suspicionsSent: number;
  newViewsInstalled: number;
  /** NEW-VIEWs this primary re-sent to a replica still asking for its view with a VIEW-CHANGE. */
  newViewsServed: number;
  /** View changes this replica started to join a later view that f + 1 others run (ADR 0134). */
  laterViewsJoined: number;
  stableCheckpoints: number;
  /** Stable proofs adopted short of their epoch's quorum while lagging, since completed (ADR 0015). */
  stableProofsCompleted: number;
  blocksCommitted: number;
  blocksProposed: number;
  stateTransfersRequested: number;
  fetchesSent: number;
  signatureVerifications: number;
  /** Sizes of every internal collection a peer can influence: all must stay bounded. */
  sizes: {
    slots: number;
    votes: number;
    heldPrePrepares: number;
    futureBuffered: number;
    viewChangeMessages: number;
    checkpointVotes: number;
    retainedBlocks: number;
    txIndex: number;
    verifiedCache: number;
    pendingTxs: number;
    fetchedBlocks: number;
  };
}

interface AcceptedPrePrepare {
  view: number;
  hash: Uint8Array;
  hashHex: string;
  block: Block;
  blockBytes: Uint8Array;
  raw: Uint8Array;
}

interface PreparedCert {
  view: number;
  hashHex: string;
  proof: PreparedProof;
}

/** Per-height protocol state; the vote maps are keyed by sender, so one vote per sender per slot. */
interface Slot {
  height: number;
  pp: AcceptedPrePrepare | undefined;
  prepares: Map<number, { hashHex: string; raw: Uint8Array }>;
  commits: Map<number, { hashHex: string; signature: Uint8Array }>;
  sentPrepare: boolean;
  sentCommit: boolean;
  /** prepared(m, v, n, i) in the current view AND the parent prepared or committed (chain rule). */
  preparedLocal: boolean;
  /** committed-local(m, v, n, i) (§4.2). */
  committedLocal: boolean;
  /** Highest-view prepared certificate at this height from any view (for VIEW-CHANGE's P set). */
  cert: PreparedCert | undefined;
  /** When this replica last answered a peer's retransmission at this height (peer -> logical time). */
  answeredAt: Map<number, number>;
}

interface CommittedInfo {
  height: number;
  hash: Uint8Array;
  header: BlockHeader;
  block: Block;
  blockBytes: Uint8Array;
  certificate: CommitCertificate;
}

interface ChainPoint {
  hash: Uint8Array;
  timestamp: number;
}

function emptySlot(height: number): Slot {
  return {
    height,
    pp: undefined,
    prepares: new Map(),
    commits: new Map(),
    sentPrepare: false,
    sentCommit: false,
    preparedLocal: false,
    committedLocal: false,
    cert: undefined,
    answeredAt: new Map(),
  };
}

/** What the driver and the API may read about an epoch. */
export interface EpochInfo {
  index: number;
  start: number;
  /** Last height, when a later epoch is known. */
  last: number | undefined;
  validators: Uint8Array[];
  /** Roster ids of the validators, in order. */
  rosterIds: number[];
}

export class Replica {
  readonly #cfg: ReplicaConfig;
  readonly #deps: ReplicaDeps;
  /** The context of the current epoch: the one containing the height just above the stable checkpoint. */
  #ctx!: ProtocolContext;
  readonly #mutations: ReplicaMutations;
  readonly #limits: MessageLimits;
  readonly #roster: Roster;
  /** FETCH and BLOCK are signed under the roster id: observers and new validators send them too. */
  readonly #rosterAuth: Authenticator;
  /** This node's roster id, or -1 while its key is in no epoch. */
  #rosterSelf: number;
  readonly #selfKey: Uint8Array | undefined;
  #epochs: Epoch[];
  #ctxs: ProtocolContext[] = [];
  #epochIdx = 0;
  /** This node's index in the current epoch; -1 when not a member. */
  #selfIndex = -1;
  /**
   * Set while recovering from lost records (ADR 0121): the replica is no member (id -1) until its
   * stable checkpoint reaches `until`, one window above the first stable checkpoint whose block is
   * later than `after`; `until` is unknown until such a checkpoint is stable.
   */
  #recovery: RecoveryRecord | undefined;
  #retiredVerifications = 0;
  #epochSwitches = 0;

  #view = 0;
  /** False between sending VIEW-CHANGE for #view and accepting its NEW-VIEW (§4.4). */
  #active = true;
  #backoff = 0;
  #now = 0;

  #stable: StableCheckpoint;
  #slots = new Map<number, Slot>();
  #lastCommitted = 0;
  #lastExecuted = 0;
  /** The block at #lastCommitted (or the checkpoint/genesis it was transferred to). */
  #lastBlock: ChainPoint;
  #committed = new Map<number, CommittedInfo>();
  #executedRoots = new Map<number, Uint8Array>();
  /** The primary's last proposed height in this view. */
  #lastProposed = 0;
  /** The highest stateHeight a block committed in this process cites (ADR 0125). */
  #citedThrough = 0;
  /**
   * A backup's expectation (ADR 0128): the primary owes a block citing a state at or after this height.
   * While it is above #citedThrough the backup is waiting, as for a request (§4.4).
   */
  #awaitedCitation = 0;

  #held = new Map<number, { message: PrePrepare; raw: Uint8Array }>();
  #future = new Map<number, { view: number; message: PbftMessage; raw: Uint8Array }[]>();
  /**
   * Per replica, the latest view above this replica's of a normal-case message from it that verified
   * (ADR 0134): f + 1 of them show that a correct replica runs that view.
   */
  #laterViews = new Map<number, number>();
  #viewChanges = new Map<number, CheckedViewChange>();
  #ownViewChange: Uint8Array | undefined;
  #checkpointVotes = new Map<number, Map<number, { message: Checkpoint; raw: Uint8Array }>>();
  /** Checkpoint votes above the high watermark: only the latest per sender (catch-up detection). */
  #farCheckpointVotes = new Map<number, { message: Checkpoint; raw: Uint8Array }>();
  /** Matching CHECKPOINTs gathered toward a short stable proof (#completeStableProof), by signer index. */
  #stableProofExtra = new Map<number, Uint8Array>();
  #stableProofCheck: { stable: StableCheckpoint; ctxs: ProtocolContext[]; holds: boolean } | undefined;
  #fetched = new Map<number, { block: Block; blockBytes: Uint8Array; certificate: CommitCertificate }>();
  #fetchGoal = 0;
  #lastFetchAt = Number.NEGATIVE_INFINITY;
  #fetchRound = 0;
  #fetchesWithoutProgress = 0;
  #servedFetchAt = new Map<number, number>();
  /** When this primary last handed its NEW-VIEW to each replica (by index) of the current view. */
  #newViewServedAt = new Map<number, number>();
  #lastRetransmitAt = 0;
  /** Logical time of the last commit or view installation: retransmission starts a while after it. */
  #lastProgressAt = 0;
  /** The NEW-VIEW this replica sent as primary of the current view (retransmitted while stalled). */
  #sentNewView: Uint8Array | undefined;
  #transferTarget: number | undefined;

  #pending: { tx: Uint8Array; hash: string }[] = [];
  #pendingUncommitted = 0;
  /** tx hash -> height of the block holding it (in flight in this view, or committed and retained). */
  #txIndex = new Map<string, number>();
  #txsAt = new Map<number, string[]>();

  #requestTimerArmed = false;
  /**
   * Replicas (this one included) that suspect the primary of the current view since this replica's last
   * commit (ADR 0112). f + 1 of them start the view change; a commit clears them: a suspicion only counts
   * while nothing has committed since.
   */
  #suspicions = new Set<number>();
  #viewChangeTimerArmed = false;
  #viewChangeTimeout = 0;
  #progressed = false;
  #restoreActions: (() => void)[] = [];
  #redeliver: CommittedBlock[] = [];

  #out: Ready = { persist: [], send: [], commit: [], timers: [] };
  #stats = {
    dropped: {} as Record<string, number>,
    viewChangesStarted: 0,
    suspicionsSent: 0,
    newViewsInstalled: 0,
    newViewsServed: 0,
    laterViewsJoined: 0,
    stableCheckpoints: 0,
    stableProofsCompleted: 0,
    blocksCommitted: 0,
    blocksProposed: 0,
    stateTransfersRequested: 0,
    fetchesSent: 0,
  };

  private constructor(config: ReplicaConfig, deps: ReplicaDeps) {
    validateConfig(config);
    this.#cfg = config;
    this.#deps = deps;
    this.#mutations = { ...config.mutations, ...deps.mutations };
    this.#roster = new Roster(config.validators);
    // Message size bounds use the roster size as n: it bounds every epoch's size.
    this.#limits = messageLimits(config);
    if (deps.txRoot !== undefined) this.#limits.txRoot = deps.txRoot;
    this.#rosterAuth = new Authenticator(config.chainId, this.#roster.keys, deps.verifier);
    this.#selfKey = config.selfKey;
    this.#rosterSelf = config.selfKey === undefined ? config.self : (this.#roster.idOf(config.selfKey) ?? -1);
    this.#epochs = [{ start: 1, members: config.validators.map((_, i) => i) }];
    if (config.recoverAfter !== undefined) {
      this.#recovery = { after: config.recoverAfter, until: undefined };
      // Written before anything this replica sends: a crash during recovery must not end it.
      this.#restoreActions.push(() => {
        if (this.#recovery !== undefined)
          this.#persist(RecordKey.recovery, encodeRecoveryRecord(this.#recovery));
      });
    }
    this.#rebuildContexts();
    this.#setEpoch(0);
    this.#stable = genesisCheckpoint(this.#ctx);
    this.#lastBlock = { hash: this.#stable.blockHash, timestamp: this.#stable.timestamp };
    this.#executedRoots.set(0, this.#stable.stateRoot);
  }

  /** A fresh replica in view 0 at genesis. */
  static create(config: ReplicaConfig, deps: ReplicaDeps): Replica {
    return new Replica(config, deps);
  }

  /**
   * A replica restarted after a crash, from exactly the records it persisted (docs/consensus.md
   * "Persistence"). The first Ready after restore re-delivers blocks this replica committed whose
   * execution was never reported (heights above the last `executed`); a driver that already applied
   * some of them before crashing should report its last applied height with an `executed` event first,
   * and the replica then re-delivers only the blocks above it.
   */
  static restore(
    config: ReplicaConfig,
    deps: ReplicaDeps,
    records: ReadonlyMap<string, Uint8Array>,
  ): Replica {
    const r = new Replica(config, deps);
    r.#restoreFrom(records);
    return r;
  }

  get view(): number {
    return this.#view;
  }
  /** Index in the current epoch's validator list (the `replica` field of its messages); -1 if none. */
  get id(): number {
    return this.#selfIndex;
  }
  /** This node's roster id (stable across epochs; how drivers address peers), -1 if not yet named. */
  get rosterId(): number {
    return this.#rosterSelf;
  }
  /** Index of the current epoch (cheap; `epoch` has the details). */
  get epochIndex(): number {
    return this.#epochIdx;
  }
  /** The current epoch: the one containing the height above the stable checkpoint. */
  get epoch(): EpochInfo {
    return this.#epochInfo(this.#epochIdx);
  }
  /** Every epoch known, oldest first. */
  epochs(): EpochInfo[] {
    return this.#epochs.map((_, i) => this.#epochInfo(i));
  }
  /** The validator keys that certify height h, as far as this replica knows. */
  validatorsAt(h: number): Uint8Array[] {
    return this.#epochInfo(epochIndexAt(this.#epochs, h)).validators;
  }
  /** Roster keys, by roster id (drivers map peers to ids with it). */
  get roster(): readonly Uint8Array[] {
    return this.#roster.keys;
  }
  get lowWatermark(): number {
    return this.#stable.height;
  }
  get lastCommitted(): number {
    return this.#lastCommitted;
  }
  /**
   * The height of the block this replica last proposed as primary in the current view (0 if none yet).
   * Drivers that batch proposals read `lastProposed - lastCommitted` as the blocks in flight.
   */
  get lastProposed(): number {
    return this.#lastProposed;
  }
  /** Whether the replica is in normal-case operation (not waiting for a NEW-VIEW). */
  get active(): boolean {
    return this.#active;
  }
  /**
   * While recovering from lost records (ADR 0121): the height its stable checkpoint must reach before it
   * votes again, or null while not yet known. Undefined when not recovering.
   */
  get recoveringUntil(): number | null | undefined {
    return this.#recovery === undefined ? undefined : (this.#recovery.until ?? null);
  }
  get isPrimary(): boolean {
    return primaryOf(this.#view, this.#ctx.n) === this.id;
  }

  stats(): ReplicaStats {
    let votes = 0;
    for (const s of this.#slots.values()) votes += s.prepares.size + s.commits.size;
    let future = 0;
    for (const b of this.#future.values()) future += b.length;
    let cpv = this.#farCheckpointVotes.size;
    for (const m of this.#checkpointVotes.values()) cpv += m.size;
    return {
      id: this.id,
      epoch: this.#epochIdx,
      epochStart: this.#epochs[this.#epochIdx]!.start,
      epochSize: this.#ctx.n,
      epochSwitches: this.#epochSwitches,
      view: this.#view,
      active: this.#active,
      lowWatermark: this.#stable.height,
      highWatermark: this.#high(),
      lastCommitted: this.#lastCommitted,
      lastExecuted: this.#lastExecuted,
      citedThrough: this.#citedThrough,
      awaitedCitation: this.#awaitedCitation,
      dropped: { ...this.#stats.dropped },
      viewChangesStarted: this.#stats.viewChangesStarted,
      suspicionsSent: this.#stats.suspicionsSent,
      newViewsInstalled: this.#stats.newViewsInstalled,
      newViewsServed: this.#stats.newViewsServed,
      laterViewsJoined: this.#stats.laterViewsJoined,
      stableCheckpoints: this.#stats.stableCheckpoints,
      stableProofsCompleted: this.#stats.stableProofsCompleted,
      blocksCommitted: this.#stats.blocksCommitted,
      blocksProposed: this.#stats.blocksProposed,
      stateTransfersRequested: this.#stats.stateTransfersRequested,
      fetchesSent: this.#stats.fetchesSent,
      signatureVerifications:
        this.#retiredVerifications +
        this.#rosterAuth.verifications +
        this.#ctxs.reduce((a, c) => a + c.auth.verifications, 0),
      sizes: {
        slots: this.#slots.size,
        votes,
        heldPrePrepares: this.#held.size,
        futureBuffered: future,
        viewChangeMessages: this.#viewChanges.size,
        checkpointVotes: cpv,
        retainedBlocks: this.#committed.size,
        txIndex: this.#txIndex.size,
        verifiedCache: this.#ctx.auth.cacheSize,
        pendingTxs: this.#pending.length,
        fetchedBlocks: this.#fetched.size,
      },
    };
  }

  // -------------------------------------------------------------------------------------------------
  // Event dispatch

  step(event: Event): Ready {
    this.#out = { persist: [], send: [], commit: [], timers: [] };
    this.#progressed = false;
    if (this.#restoreActions.length > 0) {
      const actions = this.#restoreActions;
      this.#restoreActions = [];
      if (event.type === 'executed') this.#onExecuted(event.height, event.stateRoot);
      for (const a of actions) a();
    }
    switch (event.type) {
      case 'receive':
        this.#onReceive(event.from, event.message);
        break;
      case 'tick':
        this.#advanceClock(event.now);
        this.#retryHeld();
        this.#maybeRetransmit();
        this.#maybeRefetch();
        break;
      case 'timeout':
        this.#advanceClock(event.now);
        this.#onTimeout(event.timer);
        break;
      case 'propose':
        this.#advanceClock(event.now);
        this.#onPropose(event.txs);
        break;
      case 'citeState':
        this.#advanceClock(event.now);
        this.#onCiteState(event.through);
        break;
      case 'executed':
        this.#onExecuted(event.height, event.stateRoot);
        break;
      case 'stateTransferred':
        this.#onStateTransferred(event.height, event.stateRoot, event.blockHash);
        break;
      case 'reconfigure':
        this.#onReconfigure(event.fromHeight, event.validators);
        break;
    }
    this.#tryPropose();
    this.#updateRequestTimer();
    const out = this.#out;
    this.#out = { persist: [], send: [], commit: [], timers: [] };
    return out;
  }

  #advanceClock(now: number) {
    if (Number.isFinite(now) && now > this.#now) this.#now = now;
  }

  #drop(reason: DropReason) {
    this.#stats.dropped[reason] = (this.#stats.dropped[reason] ?? 0) + 1;
  }

  #persist(key: string, value: Uint8Array | null) {
    const rec: PersistRecord = { key, value };
    this.#out.persist.push(rec);
  }

  #broadcast(message: Uint8Array) {
    this.#out.send.push({ to: 'all', message });
  }

  /** The high watermark: one window above the checkpoint, never past the current epoch (ADR 0015). */
  #high(): number {
    return Math.min(
      this.#stable.height + this.#ctx.windowSize,
      this.#ctx.epochLast ?? Number.POSITIVE_INFINITY,
    );
  }

  /** Heights whose epoch this replica is sure of; it never votes or proposes above (epochs.ts). */
  #knownThrough(): number {
    return epochKnownThrough(this.#lastExecuted, this.#ctx.checkpointInterval);
  }

  #inWindow(h: number): boolean {
    return h > this.#stable.height && h <= this.#high();
  }

  #slot(h: number): Slot {
    let s = this.#slots.get(h);
    if (s === undefined) {
      s = emptySlot(h);
      this.#slots.set(h, s);
    }
    return s;
  }

  #onReceive(from: number, raw: Uint8Array) {
    if (!Number.isSafeInteger(from) || from < 0 || from >= this.#roster.size)
      return this.#drop(DropReason.notMember);
    let m: PbftMessage;
    try {
      m = decodeMessage(raw, this.#limits);
    } catch (e) {
      if (e instanceof PbftDecodeError) {
        return this.#drop(e.code === 'NOT_MEMBER' ? DropReason.notMember : DropReason.malformed);
      }
      throw e;
    }
    // Own messages echoed back are duplicates, but only where `replica` is an index in the current epoch
    // or a roster id. A CHECKPOINT is indexed in its height's epoch and a VIEW-CHANGE/NEW-VIEW in the
    // epoch above its checkpoint: across a boundary the same index names another validator, and dropping
    // that validator's message starves the switch (ADR 0015). Those handlers check after placing the
    // message; a replica's own CHECKPOINT coming back after a restart is a vote it lost with its memory.
    const byRoster = m.type === MessageType.fetch || m.type === MessageType.blockReply;
    const currentEpoch =
      m.type === MessageType.prePrepare ||
      m.type === MessageType.prepare ||
      m.type === MessageType.commit ||
      m.type === MessageType.suspect;
    if ((byRoster && m.replica === this.#rosterSelf) || (currentEpoch && m.replica === this.id))
      return this.#drop(DropReason.duplicate);
    try {
      this.#dispatch(m, raw);
    } catch (e) {
      const reason = rejectionReason(e);
      if (reason === undefined) throw e;
      return this.#drop(reason);
    }
  }

  /** Routes a decoded message whose signature is not yet checked. */
  #dispatch(m: PbftMessage, raw: Uint8Array) {
    switch (m.type) {
      case MessageType.prePrepare:
      case MessageType.prepare:
      case MessageType.commit:
        return this.#onNormalCase(m, raw);
      case MessageType.checkpoint:
        return this.#onCheckpoint(m, raw);
      case MessageType.viewChange:
        return this.#onViewChange(m, raw);
      case MessageType.newView:
        return this.#onNewView(m);
      case MessageType.fetch:
        return this.#onFetch(m);
      case MessageType.blockReply:
        return this.#onBlockReply(m);
      case MessageType.suspect:
        return this.#onSuspect(m);
    }
  }

  #verify(m: PbftMessage): boolean {
    if (this.#ctx.auth.verify(m)) return true;
    this.#drop(DropReason.badSignature);
    return false;
  }

  // -------------------------------------------------------------------------------------------------
  // Normal case (§4.2)

  #onNormalCase(m: PrePrepare | Prepare | Commit, raw: Uint8Array) {
    // §4.2: a replica accepts normal-case messages only for its current view, while not changing views.
    // Normal-case messages are signed under the current epoch's indices (the window lies inside it).
    if (m.replica >= this.#ctx.n) return this.#drop(DropReason.notMember);
    if (m.view < this.#view) return this.#drop(DropReason.staleView);
    if (m.view > this.#view || !this.#active) return this.#bufferFuture(m, raw);
    if (!this.#inWindow(m.height)) return this.#drop(DropReason.outOfWindow);
    // Heights committed here stay open while in the window: a NEW-VIEW may re-propose them, and this
    // replica's votes help replicas that missed the commit (§4.4).
    if (m.type === MessageType.prePrepare) return this.#onPrePrepare(m, raw);
    if (m.type === MessageType.prepare) return this.#onPrepare(m, raw);
    return this.#onCommit(m);
  }

  #bufferFuture(m: PbftMessage & { view: number }, raw: Uint8Array) {
    let buf = this.#future.get(m.replica);
    if (buf === undefined) {
      buf = [];
      this.#future.set(m.replica, buf);
    }
    // A correct peer retransmits what it sent while this replica waits for a NEW-VIEW: keeping the copies
    // would fill its bounded buffer with one message and drop its later, different ones.
    for (const held of buf) if (bytesEqual(held.raw, raw)) return this.#drop(DropReason.duplicate);
    if (buf.length >= FUTURE_PER_PEER_FACTOR * this.#ctx.windowSize) return this.#drop(DropReason.futureView);
    if (!this.#verify(m)) return;
    buf.push({ view: m.view, message: m, raw });
    if (m.view > this.#view && m.view > (this.#laterViews.get(m.replica) ?? -1)) {
      this.#laterViews.set(m.replica, m.view);
      this.#joinLaterView();
    }
  }

  /**
   * ADR 0134: a replica that missed a view change (it was down, or restarted from records of an older
   * view) runs its old view, where nobody else does: it would not vote again until the next view change,
   * and every quorum meanwhile needs all the others. Normal-case messages of a later view from f + 1
   * replicas show that at least one correct replica is active there, which only a valid NEW-VIEW makes it
   * (§4.4), so the view is no invention of the f faulty ones. The replica then leaves for the latest view
   * that f + 1 run and sends its VIEW-CHANGE for it; that view's primary answers with its NEW-VIEW
   * (#serveNewView) and the buffered messages replay once it is installed. Moving to a later view is
   * always safe (§4.5.2 does it on f + 1 VIEW-CHANGEs); the f + 1 bound only keeps the faulty from
   * pulling a replica out of a working view.
   */
  #joinLaterView() {
    if (this.id < 0) return;
    const views: number[] = [];
    for (const v of this.#laterViews.values()) if (v > this.#view) views.push(v);
    const f = this.#ctx.f;
    if (views.length < f + 1) return;
    views.sort((a, b) => b - a);
    const target = views[f]!;
    this.#stats.laterViewsJoined++;
    this.#startViewChange(target);
  }

  #onPrePrepare(m: PrePrepare, raw: Uint8Array) {
    const primary = primaryOf(this.#view, this.#ctx.n);
    if (m.replica !== primary) return this.#drop(DropReason.wrongPrimary);
    // Re-proposals of committed heights come only inside a NEW-VIEW; a fresh PRE-PREPARE for a height
    // committed here can only be from a faulty primary (a correct one proposes above max-s), or the
    // primary's own retransmission of one it has not committed yet: then it lacks our votes.
    if (m.height <= this.#lastCommitted) {
      const done = this.#slots.get(m.height);
      if (done?.pp !== undefined && bytesEqual(done.pp.hash, m.blockHash)) {
        this.#answerRetransmission(done, m.replica, () => this.#ctx.auth.verify(m));
      }
      return this.#drop(DropReason.duplicate);
    }
    const slot = this.#slots.get(m.height);
    const held = this.#held.get(m.height);
    const existing = slot?.pp?.hash ?? held?.message.blockHash;
    if (existing !== undefined) {
      // §4.2: a backup accepts a pre-prepare only if it has not accepted another for (v, n) with a
      // different digest. A second, different one is evidence of a faulty primary; keep the first.
      if (!this.#verify(m)) return;
      return this.#drop(bytesEqual(existing, m.blockHash) ? DropReason.duplicate : DropReason.equivocation);
    }
    if (!this.#verify(m)) return;
    const shape = blockShapeProblem(this.#ctx, m.block, m.blockHash, m.height);
    if (shape !== undefined) return this.#drop(DropReason.badBlock);
    const h = m.block.header;
    // Fresh proposals carry the current view and the primary as proposer.
    if (h.view !== this.#view || h.proposer !== primary) return this.#drop(DropReason.badBlock);
    const verdict = this.#checkProposal(m);
    if (verdict === 'hold') return this.#hold(m, raw);
    if (verdict !== undefined) return this.#drop(verdict);
    this.#acceptPrePrepare(m.height, m.view, m.blockHash, m.block, m.blockBytes, raw);
    this.#progress(m.height);
    // A child held for this parent can be decided now.
    if (this.#held.has(m.height + 1)) this.#retryHeld();
  }

  /** The block at `h`, if this replica knows it: committed, the stable checkpoint, or pre-prepared here. */
  #chainPoint(h: number): ChainPoint | undefined {
    if (h === this.#lastCommitted) return this.#lastBlock;
    const c = this.#committed.get(h);
    if (c !== undefined) return { hash: c.hash, timestamp: c.header.timestamp };
    if (h === this.#stable.height) return { hash: this.#stable.blockHash, timestamp: this.#stable.timestamp };
    const pp = this.#slots.get(h)?.pp;
    if (pp !== undefined && pp.view === this.#view)
      return { hash: pp.hash, timestamp: pp.block.header.timestamp };
    return undefined;
  }

  #rootAt(h: number): Uint8Array | undefined {
    return this.#executedRoots.get(h) ?? (h === this.#stable.height ? this.#stable.stateRoot : undefined);
  }

  /**
   * Backup checks on a fresh proposal beyond §4.2 (ADR 0010): hash chain, timestamps, the state root the
   * primary claims, the application's transaction validity, and tx de-duplication. 'hold' when the
   * replica cannot decide yet (parent, state or clock behind).
   */
  #checkProposal(m: PrePrepare): DropReason | 'hold' | undefined {
    // Not before this replica knows the height's epoch (ADR 0015): it must execute further first.
    if (m.height > this.#knownThrough()) return 'hold';
    const h = m.block.header;
    const parent = this.#chainPoint(m.height - 1);
    if (parent === undefined) return 'hold';
    if (!bytesEqual(h.prevHash, parent.hash)) return DropReason.badChain;
    if (h.timestamp <= parent.timestamp) return DropReason.badBlock;
    if (h.timestamp > this.#now + this.#cfg.maxClockSkewMs) return 'hold';
    if (h.stateHeight > this.#lastExecuted) return 'hold';
    const root = this.#rootAt(h.stateHeight);
    if (root === undefined || !bytesEqual(root, h.stateRoot)) return DropReason.badStateRoot;
    const seen = new Set<string>();
    for (const tx of m.block.txs) {
      const k = txKey(tx);
      if (seen.has(k)) return DropReason.duplicateTransaction;
      seen.add(k);
      const at = this.#txIndex.get(k);
      if (at !== undefined && at !== m.height) return DropReason.duplicateTransaction;
    }
    const invalid = this.#deps.validateTransactions?.(m.block.txs);
    if (invalid !== undefined) return DropReason.invalidTransactions;
    return undefined;
  }

  /** Pre-prepares waiting for their parent, state or clock: at most one per height in the window. */
  #hold(m: PrePrepare, raw: Uint8Array) {
    if (this.#held.size >= this.#ctx.windowSize) return this.#drop(DropReason.heldOverflow);
    this.#held.set(m.height, { message: m, raw });
    // The primary built on a parent this replica lacks: it may have missed committed blocks. Ask for
    // them on the next tick (rate-limited); if they are merely in flight, the request is harmless.
    if (this.#chainPoint(m.height - 1) === undefined)
      this.#fetchGoal = Math.max(this.#fetchGoal, m.height - 1);
  }

  #retryHeld() {
    if (this.#held.size === 0 || !this.#active) return;
    const heights = [...this.#held.keys()].sort((a, b) => a - b);
    for (const h of heights) {
      const e = this.#held.get(h)!;
      if (e.message.view !== this.#view || !this.#inWindow(h) || h <= this.#lastCommitted) {
        this.#held.delete(h);
        continue;
      }
      const verdict = this.#checkProposal(e.message);
      if (verdict === 'hold') continue;
      this.#held.delete(h);
      if (verdict !== undefined) {
        this.#drop(verdict);
        continue;
      }
      const m = e.message;
      this.#acceptPrePrepare(m.height, m.view, m.blockHash, m.block, m.blockBytes, e.raw);
      this.#progress(m.height);
    }
  }

  #acceptPrePrepare(
    height: number,
    view: number,
    hash: Uint8Array,
    block: Block,
    blockBytes: Uint8Array,
    raw: Uint8Array,
  ) {
    const slot = this.#slot(height);
    slot.pp = { view, hash, hashHex: hex(hash), block, blockBytes, raw };
    this.#persist(RecordKey.prePrepare(height), raw);
    this.#indexTxs(height, block.txs);
    this.#held.delete(height);
  }

  #onPrepare(m: Prepare, raw: Uint8Array) {
    // §4.2: PREPAREs come from backups; the primary's pre-prepare stands for its vote.
    if (m.replica === primaryOf(this.#view, this.#ctx.n)) return this.#drop(DropReason.malformed);
    const slot = this.#slot(m.height);
    const prior = slot.prepares.get(m.replica);
    if (!this.#verify(m)) return;
    if (prior !== undefined) {
      if (prior.hashHex !== hex(m.blockHash)) return this.#drop(DropReason.equivocation);
      this.#answerRetransmission(slot, m.replica);
      return this.#drop(DropReason.duplicate);
    }
    slot.prepares.set(m.replica, { hashHex: hex(m.blockHash), raw });
    this.#progress(m.height);
  }

  #onCommit(m: Commit) {
    const slot = this.#slot(m.height);
    const prior = slot.commits.get(m.replica);
    if (!this.#verify(m)) return;
    if (prior !== undefined) {
      if (prior.hashHex !== hex(m.blockHash)) return this.#drop(DropReason.equivocation);
      this.#answerRetransmission(slot, m.replica);
      return this.#drop(DropReason.duplicate);
    }
    slot.commits.set(m.replica, { hashHex: hex(m.blockHash), signature: m.signature });
    this.#progress(m.height);
  }

  /**
   * A peer re-sending a vote (or, the primary, a PRE-PREPARE) we already hold is stalled at that height (it retransmits only when
   * nothing commits, see #maybeRetransmit), so it probably lost our vote. Once this replica has moved
   * on (committed the height, so it will never retransmit there itself), nobody else would re-send it:
   * answer with our own PREPARE and COMMIT for the slot, to that peer only. Castro's implementation
   * does the same through its status messages (TOCS 2002 §5.2). At most one answer per peer and
   * height per quarter timeout, each no larger than the message that caused it: no amplification.
   */
  #answerRetransmission(slot: Slot, peer: number, authentic: () => boolean = () => true) {
    const pp = slot.pp;
    if (pp === undefined || pp.view !== this.#view || !this.#active || !slot.sentCommit) return;
    const last = slot.answeredAt.get(peer);
    // The same quarter timeout as the peer's own retransmissions: every round of theirs can be answered.
    if (last !== undefined && this.#now - last < this.#cfg.viewChangeTimeoutMs / 4) return;
    // Checked last, so a flood of copies costs at most one signature check per peer and period.
    if (!authentic()) return;
    slot.answeredAt.set(peer, this.#now);
    const to = this.#epochs[this.#epochIdx]!.members[peer];
    if (to === undefined) return;
    const own = slot.prepares.get(this.id);
    if (own !== undefined) this.#out.send.push({ to, message: own.raw });
    const c = slot.commits.get(this.id);
    if (c === undefined) return;
    const m: Commit = {
      type: MessageType.commit,
      view: this.#view,
      height: slot.height,
      blockHash: pp.hash,
      replica: this.id,
      signature: c.signature,
    };
    this.#out.send.push({ to, message: encodeMessage(m) });
  }

  /** The chain rule (ADR 0011): height h may prepare only once h-1 is prepared here or committed. */
  #parentSettled(h: number): boolean {
    if (h - 1 <= this.#lastCommitted || h - 1 <= this.#stable.height) return true;
    const p = this.#slots.get(h - 1);
    return p !== undefined && (p.preparedLocal || p.committedLocal);
  }

  /** Re-evaluates slots from `from` upward while something changes (a change at h can unblock h+1). */
  #progress(from: number) {
    for (let h = from; h <= this.#high(); h++) {
      const s = this.#slots.get(h);
      if (s === undefined) break;
      const changed = this.#advanceSlot(s);
      if (!changed && h > from) break;
    }
    this.#deliver();
  }

  #matching(votes: Map<number, { hashHex: string }>, hashHex: string): number {
    let c = 0;
    for (const v of votes.values()) if (v.hashHex === hashHex) c++;
    return c;
  }

  #advanceSlot(s: Slot): boolean {
    const pp = s.pp;
    if (pp === undefined || pp.view !== this.#view || !this.#active || s.committedLocal) return false;
    // No vote, and no counting, above the heights whose membership is certain here (ADR 0015).
    if (s.height > this.#knownThrough()) return false;
    let changed = false;
    const settled = this.#parentSettled(s.height);
    const member = this.id >= 0;
    // §4.2: a backup multicasts PREPARE once it accepts the PRE-PREPARE; here also only after the
    // parent prepared (chain rule). A node outside the epoch follows the votes without casting any.
    if (!s.sentPrepare && !this.isPrimary && settled && member) {
      const prep = createMessage<Prepare>(this.#ctx.chainId, this.#deps.signer, {
        type: MessageType.prepare,
        view: this.#view,
        height: s.height,
        blockHash: pp.hash,
        replica: this.id,
      });
      s.sentPrepare = true;
      s.prepares.set(this.id, { hashHex: pp.hashHex, raw: prep.bytes });
      this.#persistVotes(s);
      this.#broadcast(prep.bytes);
      changed = true;
    }
    // §4.2 prepared(m, v, n, i): the pre-prepare plus 2f (here q-1) matching PREPAREs from distinct
    // backups (the primary sends none, so every counted prepare is from a backup).
    if (!s.preparedLocal && settled && this.#matching(s.prepares, pp.hashHex) >= this.#ctx.q - 1) {
      s.preparedLocal = true;
      changed = true;
    }
    if (s.preparedLocal && !s.sentCommit && member) {
      const prepares: Uint8Array[] = [];
      for (const v of s.prepares.values()) if (v.hashHex === pp.hashHex) prepares.push(v.raw);
      s.cert = { view: pp.view, hashHex: pp.hashHex, proof: { prePrepare: pp.raw, prepares } };
      // The certificate is what a later VIEW-CHANGE must carry: persist it before the COMMIT it enables.
      this.#persist(RecordKey.prepared(s.height), encodePreparedRecord(s.cert.proof));
      const commit = createMessage<Commit>(this.#ctx.chainId, this.#deps.signer, {
        type: MessageType.commit,
        view: this.#view,
        height: s.height,
        blockHash: pp.hash,
        replica: this.id,
      });
      s.sentCommit = true;
      s.commits.set(this.id, { hashHex: pp.hashHex, signature: commit.message.signature });
      this.#persistVotes(s);
      this.#broadcast(commit.bytes);
      changed = true;
    }
    // §4.2 committed-local: prepared and 2f+1 (q) matching COMMITs, possibly including its own.
    if (s.preparedLocal && !s.committedLocal && this.#matching(s.commits, pp.hashHex) >= this.#ctx.q) {
      s.committedLocal = true;
      changed = true;
    }
    return changed;
  }

  #persistVotes(s: Slot) {
    this.#persist(
      RecordKey.votes(s.height),
      encodeVotesRecord({ view: this.#view, sentPrepare: s.sentPrepare, sentCommit: s.sentCommit }),
    );
  }

  /** Delivers committed blocks strictly in height order, each once (§4.2: execute in sequence order). */
  #deliver() {
    for (;;) {
      const h = this.#lastCommitted + 1;
      const s = this.#slots.get(h);
      if (s?.committedLocal && s.pp !== undefined) {
        const votes: { validator: number; signature: Uint8Array }[] = [];
        for (const [validator, v] of s.commits)
          if (v.hashHex === s.pp.hashHex) votes.push({ validator, signature: v.signature });
        votes.sort((a, b) => a.validator - b.validator);
        const certificate: CommitCertificate = { height: h, view: s.pp.view, blockHash: s.pp.hash, votes };
        this.#commitBlock(s.pp.block, s.pp.blockBytes, s.pp.hash, certificate);
        continue;
      }
      const f = this.#fetched.get(h);
      if (f !== undefined) {
        this.#fetched.delete(h);
        if (!bytesEqual(f.block.header.prevHash, this.#lastBlock.hash)) continue;
        this.#commitBlock(f.block, f.blockBytes, f.certificate.blockHash, f.certificate);
        continue;
      }
      return;
    }
  }

  #commitBlock(block: Block, blockBytes: Uint8Array, hash: Uint8Array, certificate: CommitCertificate) {
    const h = block.header.height;
    this.#persist(RecordKey.committed(h), encodeCertificateRecord(certificate));
    // A block delivered through FETCH has no pre-prepare record yet; keep the block for re-delivery.
    const slot = this.#slots.get(h);
    if (slot?.pp === undefined || !bytesEqual(slot.pp.hash, hash)) {
      this.#persist(RecordKey.prePrepare(h), blockOnlyRecord(blockBytes));
    }
    this.#lastCommitted = h;
    this.#lastBlock = { hash, timestamp: block.header.timestamp };
    if (block.header.stateHeight > this.#citedThrough) this.#citedThrough = block.header.stateHeight;
    this.#committed.set(h, { height: h, hash, header: block.header, block, blockBytes, certificate });
    this.#indexTxs(h, block.txs);
    this.#out.commit.push({ block, certificate });
    this.#stats.blocksCommitted++;
    this.#progressed = true;
    this.#lastProgressAt = this.#now;
    this.#backoff = 0;
    this.#fetchesWithoutProgress = 0;
    this.#suspicions.clear();
    if (slot !== undefined) slot.committedLocal = true;
    if (this.#pending.length > 0) this.#recountPending();
  }

  // -------------------------------------------------------------------------------------------------
  // Proposals (the primary's side of §4.2) and the request timer (§4.4)

  #onPropose(txs: readonly Uint8Array[]) {
    // Skip what is known committed before capping: a driver whose mempool lags behind the chain (it
    // drops a transaction only once it executed its block) must not hide new work behind old.
    const cap = this.#ctx.maxBlockTxs * this.#ctx.windowSize;
    const pending: { tx: Uint8Array; hash: string }[] = [];
    for (const tx of txs) {
      if (pending.length >= cap) break;
      const hash = txKey(tx);
      const at = this.#txIndex.get(hash);
      if (at !== undefined && at <= this.#lastCommitted) continue;
      pending.push({ tx, hash });
    }
    this.#pending = pending;
    this.#recountPending();
  }

  #recountPending() {
    let c = 0;
    for (const p of this.#pending) {
      const at = this.#txIndex.get(p.hash);
      if (at === undefined || at > this.#lastCommitted) c++;
    }
    this.#pendingUncommitted = c;
  }

  #indexTxs(height: number, txs: readonly Uint8Array[]) {
    this.#unindexTxs(height);
    const hashes = txs.map(txKey);
    for (const k of hashes) this.#txIndex.set(k, height);
    this.#txsAt.set(height, hashes);
  }

  #unindexTxs(height: number) {
    const old = this.#txsAt.get(height);
    if (old === undefined) return;
    for (const k of old) if (this.#txIndex.get(k) === height) this.#txIndex.delete(k);
    this.#txsAt.delete(height);
  }

  #tryPropose() {
    if (!this.#active || !this.isPrimary || this.#pending.length === 0) return;
    for (;;) {
      const h = Math.max(this.#lastProposed, this.#lastCommitted, this.#stable.height) + 1;
      if (h > this.#high() || h > this.#knownThrough()) return;
      const parent = this.#chainPoint(h - 1);
      if (parent === undefined) return;
      const stateRoot = this.#rootAt(this.#lastExecuted);
      if (stateRoot === undefined) return;
      const txs: Uint8Array[] = [];
      const chosen = new Set<string>();
      let bytes = 0;
      for (const p of this.#pending) {
        if (txs.length >= this.#ctx.maxBlockTxs) break;
        if (this.#txIndex.has(p.hash) || chosen.has(p.hash)) continue;
        if (bytes + p.tx.length > this.#ctx.maxBlockBytes) continue;
        txs.push(p.tx);
        chosen.add(p.hash);
        bytes += p.tx.length;
      }
      // No empty blocks: nothing new to propose (null blocks come only from NEW-VIEW, and the blocks
      // that cite a quiet chain's state, #onCiteState).
      if (txs.length === 0) return;
      this.#proposeBlock(h, parent, stateRoot, txs);
    }
  }

  /**
   * ADR 0125: on a quiet chain no header cites the state after the last blocks, so nothing certifies it
   * (a client proving the last transactions' outcome, or any newest value, waits for the next traffic).
   * The node asks, once it is idle, for a block without transactions whose header cites the executed
   * state: the primary proposes one when nothing is pending or in flight and no committed header cites
   * a state at or after `through` yet. Backups check it like any block. Each such block cites a later
   * height than the last, so a fixed `through` is reached in at most `through - #citedThrough` blocks.
   *
   * ADR 0128: a backup's node asks too, later than the primary's. The backup then expects the citation
   * as it expects a request to execute (§4.4): #waiting() holds, the request timer runs, and a primary
   * that crashed or stays silent is suspected and replaced by a view change, whose primary cites.
   */
  #onCiteState(through: number) {
    if (!this.#active || this.id < 0) return;
    if (
      !Number.isSafeInteger(through) ||
      through <= this.#citedThrough ||
      through > this.#lastExecuted + MAX_CITE_AHEAD
    )
      return;
    if (this.#pendingUncommitted > 0 || this.#lastExecuted < this.#lastCommitted) return;
    if (!this.isPrimary) {
      if (through > this.#awaitedCitation) this.#awaitedCitation = through;
      return;
    }
    const h = Math.max(this.#lastProposed, this.#lastCommitted, this.#stable.height) + 1;
    if (h !== this.#lastCommitted + 1 || h > this.#high() || h > this.#knownThrough()) return;
    const parent = this.#chainPoint(h - 1);
    const stateRoot = this.#rootAt(this.#lastExecuted);
    if (parent === undefined || stateRoot === undefined) return;
    this.#proposeBlock(h, parent, stateRoot, []);
  }

  #proposeBlock(h: number, parent: ChainPoint, stateRoot: Uint8Array, txs: Uint8Array[]) {
    const header: BlockHeader = {
      version: 1,
      chainId: this.#ctx.chainId,
      height: h,
      view: this.#view,
      prevHash: parent.hash,
      txRoot: (this.#limits.txRoot ?? merkleRoot)(txs),
      txCount: txs.length,
      stateRoot,
      stateHeight: this.#lastExecuted,
      proposer: this.id,
      timestamp: Math.max(this.#now, parent.timestamp + 1),
    };
    const block: Block = { header, txs };
    const blockBytes = blockBytesOf(block);
    const hash = blockHash(header);
    const pp = createMessage<PrePrepare>(this.#ctx.chainId, this.#deps.signer, {
      type: MessageType.prePrepare,
      view: this.#view,
      height: h,
      blockHash: hash,
      replica: this.id,
      block,
      blockBytes,
    });
    this.#acceptPrePrepare(h, this.#view, hash, block, blockBytes, pp.bytes);
    this.#broadcast(pp.bytes);
    this.#lastProposed = h;
    this.#stats.blocksProposed++;
    this.#progress(h);
  }

  /** A backup is waiting while it holds uncommitted transactions or an uncommitted pre-prepare (§4.4). */
  #waiting(): boolean {
    // A node outside the current epoch never starts view changes: it only follows.
    if (!this.#active || this.isPrimary || this.id < 0) return false;
    if (this.#pendingUncommitted > 0) return true;
    if (this.#awaitedCitation > this.#citedThrough) return true;
    for (const s of this.#slots.values())
      if (s.pp !== undefined && s.height > this.#lastCommitted) return true;
    return this.#held.size > 0;
  }

  #updateRequestTimer() {
    const waiting = this.#waiting();
    if (waiting && (!this.#requestTimerArmed || this.#progressed)) {
      if (this.#requestTimerArmed) this.#out.timers.push({ type: 'cancel', timer: Timers.request });
      this.#out.timers.push({ type: 'set', timer: Timers.request, afterMs: this.#requestTimeout() });
      this.#requestTimerArmed = true;
    } else if (!waiting && this.#requestTimerArmed) {
      this.#out.timers.push({ type: 'cancel', timer: Timers.request });
      this.#requestTimerArmed = false;
    }
  }

  /**
   * TOCS 2002 §4.5.2: after a view change the replica waits T for a NEW-VIEW "or before it executes a
   * request in the new view that it had not executed previously"; if that fails "it starts the view
   * change for view v+2 but this time it will wait 2T". So the request timer of a view reached by k
   * consecutive view changes without a commit runs as long as the last view-change timer, T x 2^(k-1),
   * not the base T: with a fixed 1 s a machine too loaded to commit a block within a second kept
   * changing view (25 view changes for 18 blocks, n = 7 on 2 cores: docs/benchmarks-log.md). A commit
   * resets the backoff (#commit), so a live view keeps the base timeout.
   */
  #requestTimeout(): number {
    return this.#cfg.viewChangeTimeoutMs * 2 ** Math.min(Math.max(this.#backoff - 1, 0), MAX_BACKOFF);
  }

  #onTimeout(timer: TimerId) {
    if (timer === Timers.request) {
      if (!this.#requestTimerArmed) return;
      this.#requestTimerArmed = false;
      if (this.#active) this.#suspectPrimary();
    } else if (timer === Timers.viewChange) {
      if (!this.#viewChangeTimerArmed) return;
      this.#viewChangeTimerArmed = false;
      // §4.5.2: if the timer expires before NEW-VIEW arrives, move on to v+2 with a doubled timeout.
      if (!this.#active) this.#startViewChange(this.#view + 1);
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Checkpoints and garbage collection (§4.3)

  #onExecuted(height: number, stateRoot: Uint8Array) {
    if (height <= this.#lastExecuted || height > this.#lastCommitted) return;
    const knownBefore = this.#knownThrough();
    this.#lastExecuted = height;
    this.#executedRoots.set(height, stateRoot);
    this.#persist(RecordKey.root(height), stateRoot);
    this.#redeliver = this.#redeliver.filter((c) => c.block.header.height > height);
    const c = this.#committed.get(height);
    const hash = c?.hash ?? (height === this.#lastCommitted ? this.#lastBlock.hash : undefined);
    const timestamp = c?.header.timestamp ?? this.#lastBlock.timestamp;
    if (hash !== undefined) {
      this.#persist(
        RecordKey.executed,
        encodeExecutedRecord({ height, stateRoot, blockHash: hash, timestamp }),
      );
    }
    // A checkpoint is signed by the members of the epoch containing its height (ADR 0015).
    const signer = this.#epochs[epochIndexAt(this.#epochs, height)]!.members.indexOf(this.#rosterSelf);
    if (
      height % this.#ctx.checkpointInterval === 0 &&
      height > this.#stable.height &&
      hash !== undefined &&
      signer >= 0
    ) {
      const cp = createMessage<Checkpoint>(this.#ctx.chainId, this.#deps.signer, {
        type: MessageType.checkpoint,
        height,
        blockHash: hash,
        stateRoot,
        timestamp,
        replica: signer,
      });
      this.#broadcast(cp.bytes);
      this.#recordCheckpointVote(cp.message, cp.bytes);
    }
    // Executing further can make more heights' membership certain: slots waiting on it may move.
    if (this.#knownThrough() > knownBefore) this.#progress(knownBefore + 1);
    this.#retryHeld();
  }

  #onCheckpoint(m: Checkpoint, raw: Uint8Array) {
    if (m.height < this.#stable.height) return this.#drop(DropReason.outOfWindow);
    if (m.height % this.#ctx.checkpointInterval !== 0) return this.#drop(DropReason.malformed);
    if (m.height === this.#stable.height && this.#stableProofHolds())
      return this.#drop(DropReason.outOfWindow);
    const cctx = this.#ctxAt(m.height);
    if (m.replica >= cctx.n) return this.#drop(DropReason.notMember);
    if (!cctx.auth.verify(m)) return this.#drop(DropReason.badSignature);
    if (m.height === this.#stable.height) return this.#completeStableProof(m, raw);
    this.#recordCheckpointVote(m, raw);
  }

  /**
   * Whether the stable checkpoint's proof holds under the epoch now known to certify its height. A
   * replica that caught up while lagging adopted it under the latest epoch it knew then (ADR 0015, "the
   * lagging replica"); having since executed the blocks that name the real epoch, the proof can fall
   * short of that epoch's quorum, and every peer would reject a VIEW-CHANGE carrying it. Cached per
   * (stable checkpoint, epochs known).
   */
  #stableProofHolds(): boolean {
    const c = this.#stableProofCheck;
    if (c !== undefined && c.stable === this.#stable && c.ctxs === this.#ctxs) return c.holds;
    let holds = true;
    try {
      checkCheckpointProof(this.#ctx, this.#stable.proof);
    } catch (e) {
      if (!(e instanceof PbftRejectError)) throw e;
      holds = false;
    }
    this.#stableProofCheck = { stable: this.#stable, ctxs: this.#ctxs, holds };
    return holds;
  }

  /**
   * Completes a stable checkpoint's short proof (see #stableProofHolds) from matching CHECKPOINTs that
   * still arrive: peers re-send the boundary checkpoint's proof while stalled after a switch. The stored
   * proof is replaced (and persisted) only once it holds, so a restart never reads a weaker one.
   */
  #completeStableProof(m: Checkpoint, raw: Uint8Array) {
    const s = this.#stable;
    if (
      m.timestamp !== s.timestamp ||
      !bytesEqual(m.blockHash, s.blockHash) ||
      !bytesEqual(m.stateRoot, s.stateRoot)
    )
      return this.#drop(DropReason.equivocation);
    const cctx = this.#ctxAt(m.height);
    const votes = new Map<number, Uint8Array>();
    for (const r of [...s.proof, ...this.#stableProofExtra.values()]) {
      const v = decodeNested(cctx, r);
      if (v.type === MessageType.checkpoint && v.replica < cctx.n && cctx.auth.verify(v))
        votes.set(v.replica, r);
    }
    if (votes.has(m.replica)) return this.#drop(DropReason.duplicate);
    votes.set(m.replica, raw);
    this.#stableProofExtra.set(m.replica, raw);
    if (votes.size < cctx.q) return;
    this.#stable = { ...s, proof: [...votes.values()] };
    this.#stableProofExtra.clear();
    this.#stats.stableProofsCompleted++;
    this.#persist(RecordKey.checkpoint, encodeCheckpointRecord(this.#stable));
  }

  /** Far checkpoint votes are kept per signer key (roster id): indices differ between epochs. */
  #checkpointSigner(m: Checkpoint): number {
    return this.#epochs[epochIndexAt(this.#epochs, m.height)]!.members[m.replica] ?? -1;
  }

  #recordCheckpointVote(m: Checkpoint, raw: Uint8Array) {
    if (m.height <= this.#high()) {
      let votes = this.#checkpointVotes.get(m.height);
      if (votes === undefined) {
        votes = new Map();
        this.#checkpointVotes.set(m.height, votes);
      }
      const prior = votes.get(m.replica);
      if (prior !== undefined) {
        return this.#drop(sameCheckpoint(prior.message, m) ? DropReason.duplicate : DropReason.equivocation);
      }
      votes.set(m.replica, { message: m, raw });
    } else {
      const signer = this.#checkpointSigner(m);
      const prior = this.#farCheckpointVotes.get(signer);
      if (prior !== undefined && prior.message.height >= m.height) return this.#drop(DropReason.duplicate);
      this.#farCheckpointVotes.set(signer, { message: m, raw });
    }
    this.#checkStable(m);
  }

  /** §4.3: a checkpoint with q matching CHECKPOINT messages from distinct replicas is stable. */
  #checkStable(m: Checkpoint) {
    const candidates: { message: Checkpoint; raw: Uint8Array }[] = [];
    const inWindow = this.#checkpointVotes.get(m.height);
    if (inWindow !== undefined) candidates.push(...inWindow.values());
    for (const v of this.#farCheckpointVotes.values()) if (v.message.height === m.height) candidates.push(v);
    const matching = candidates.filter((c) => sameCheckpoint(c.message, m));
    const senders = new Set(matching.map((c) => c.message.replica));
    // Counted against the epoch that certifies the checkpoint's height (ADR 0015).
    const cctx = this.#ctxAt(m.height);
    // f+1 matching votes: at least one correct replica committed and executed this height, so blocks up
    // to it can be fetched with their certificates even before the checkpoint is stable (ADR 0014).
    if (senders.size >= cctx.f + 1 && m.height > this.#lastCommitted && m.height > this.#fetchGoal) {
      this.#fetchGoal = m.height;
      this.#sendFetch();
    }
    if (senders.size < cctx.q) return;
    this.#becomeStable({
      height: m.height,
      blockHash: m.blockHash,
      stateRoot: m.stateRoot,
      timestamp: m.timestamp,
      proof: matching.map((c) => c.raw),
    });
  }

  #becomeStable(c: StableCheckpoint) {
    if (c.height <= this.#stable.height) return;
    this.#stable = c;
    this.#stableProofExtra.clear();
    this.#stats.stableCheckpoints++;
    this.#persist(RecordKey.checkpoint, encodeCheckpointRecord(c));
    // §4.3: discard every pre-prepare, prepare and commit with sequence number <= n, and earlier
    // checkpoints; the low watermark moves to n.
    for (const h of [...this.#slots.keys()]) {
      if (h > c.height) continue;
      this.#slots.delete(h);
      this.#deleteHeightRecords(h);
    }
    for (const h of [...this.#held.keys()]) if (h <= c.height) this.#held.delete(h);
    for (const h of [...this.#checkpointVotes.keys()]) if (h <= c.height) this.#checkpointVotes.delete(h);
    // The boundary checkpoint of the next epoch is stable: the new membership takes over (ADR 0015).
    this.#syncEpoch();
    this.#advanceRecovery();
    for (const [r, v] of [...this.#farCheckpointVotes]) {
      if (v.message.height <= c.height) this.#farCheckpointVotes.delete(r);
      else if (v.message.height <= this.#high()) {
        this.#farCheckpointVotes.delete(r);
        this.#recordCheckpointVote(v.message, v.raw);
      }
    }
    // Committed blocks, executed roots and tx hashes are kept one window below the checkpoint: for
    // FETCH replies, for proposals whose stateHeight lags, and as the tx-replay horizon.
    const horizon = c.height - this.#ctx.windowSize;
    for (const h of [...this.#committed.keys()]) if (h <= horizon) this.#committed.delete(h);
    for (const h of [...this.#executedRoots.keys()]) {
      if (h < horizon && h !== this.#lastExecuted) {
        this.#executedRoots.delete(h);
        this.#persist(RecordKey.root(h), null);
      }
    }
    for (const h of [...this.#txsAt.keys()]) if (h <= horizon) this.#unindexTxs(h);
    for (const h of [...this.#fetched.keys()]) if (h <= this.#lastCommitted) this.#fetched.delete(h);
    if (c.height > this.#lastCommitted) this.#catchUp(c);
    this.#retryHeld();
  }

  #deleteHeightRecords(h: number) {
    this.#persist(RecordKey.prePrepare(h), null);
    this.#persist(RecordKey.prepared(h), null);
    this.#persist(RecordKey.votes(h), null);
    this.#persist(RecordKey.committed(h), null);
  }

  // -------------------------------------------------------------------------------------------------
  // Catch-up: FETCH for small gaps, state transfer for large ones

  #catchUp(c: StableCheckpoint) {
    if (c.height > this.#lastExecuted + this.#ctx.windowSize) {
      if (this.#transferTarget !== undefined && this.#transferTarget >= c.height) return;
      this.#transferTarget = c.height;
      this.#stats.stateTransfersRequested++;
      this.#out.stateTransfer = { height: c.height, stateRoot: c.stateRoot, proof: c.proof };
      return;
    }
    this.#fetchGoal = Math.max(this.#fetchGoal, c.height);
    this.#sendFetch();
  }

  #sendFetch() {
    const from = this.#lastCommitted + 1;
    // Ask the current epoch's members (by roster id); this node may be an observer or not yet a member.
    const peers = this.#epochs[this.#epochIdx]!.members.filter((m) => m !== this.#rosterSelf);
    if (this.#fetchGoal < from || peers.length === 0 || this.#rosterSelf < 0) return;
    // Every peer asked twice without progress: the goal was a false alarm (e.g. a faulty primary's
    // PRE-PREPARE on an unknown parent). Forget it until new evidence arrives.
    // A stable checkpoint is no false alarm (q replicas executed it): that goal is kept, and pursued at
    // the refetch pace.
    if (this.#fetchesWithoutProgress >= 2 * (peers.length + 1)) {
      this.#fetchGoal = Math.max(this.#lastCommitted, this.#stable.height);
      this.#fetchesWithoutProgress = 0;
      return;
    }
    this.#fetchesWithoutProgress++;
    const count = Math.min(MAX_FETCH_COUNT, this.#fetchGoal - this.#lastCommitted);
    const fetch = createMessage<Fetch>(this.#ctx.chainId, this.#deps.signer, {
      type: MessageType.fetch,
      fromHeight: from,
      count,
      replica: this.#rosterSelf,
    });
    // Ask one peer at a time, rotating, so a faulty peer only delays catch-up.
    const target = peers[(this.#rosterSelf + this.#fetchRound) % peers.length]!;
    this.#fetchRound++;
    this.#out.send.push({ to: target, message: fetch.bytes });
    this.#lastFetchAt = this.#now;
    this.#stats.fetchesSent++;
  }

  /**
   * Retransmission (TOCS 2002 §5.2 assumes a retransmitting transport; PBFT replicas retransmit their
   * last messages when they suspect loss). If nothing committed for a quarter timeout while work is pending,
   * re-send this replica's own current-view messages: the primary its PRE-PREPAREs and NEW-VIEW, backups
   * their PREPAREs/COMMITs, a replica changing views its VIEW-CHANGE. A lost message then costs a
   * retransmission instead of a view change. Receivers drop the copies as DUPLICATE.
   *
   * "Stalled" is measured from the last progress, not in fixed periods: the request timer fires one
   * timeout after the last progress, so retransmitting every quarter timeout from then on leaves room
   * for at least two rounds (with ticks at most a quarter timeout apart) before anyone gives up on the
   * view. Fixed half-timeout periods could start just after a commit and end after the timer fired.
   */
  #maybeRetransmit() {
    const quiet = this.#cfg.viewChangeTimeoutMs / 4;
    if (this.#now - this.#lastRetransmitAt < quiet || this.#now - this.#lastProgressAt < quiet) return;
    // Nothing new sent by this tick's held-proposal retry, or that is the retransmission.
    if (this.#out.send.length > 0) return;
    this.#lastRetransmitAt = this.#now;
    // Stalled right after an epoch switch: peers that missed the boundary checkpoint's CHECKPOINTs stay
    // in the old epoch (their window ends there). Re-send the proof; each message keeps its signature.
    const boundary = this.#epochs[this.#epochIdx]!.start - 1;
    if (boundary > 0 && this.#stable.height === boundary && this.#lastCommitted <= boundary) {
      for (const raw of this.#stable.proof) this.#broadcast(raw);
    }
    if (!this.#active) {
      if (this.#ownViewChange !== undefined) this.#broadcast(this.#ownViewChange);
      return;
    }
    let pending = false;
    for (const s of this.#slots.values()) {
      const pp = s.pp;
      if (pp === undefined || pp.view !== this.#view || s.height <= this.#lastCommitted) continue;
      pending = true;
      if (this.isPrimary) {
        this.#broadcast(pp.raw);
        continue;
      }
      const fields = { view: this.#view, height: s.height, blockHash: pp.hash, replica: this.id };
      const own = s.prepares.get(this.id);
      if (own !== undefined) this.#broadcast(own.raw);
      const c = s.commits.get(this.id);
      if (c !== undefined) {
        const m: Commit = { type: MessageType.commit, ...fields, signature: c.signature };
        this.#broadcast(encodeMessage(m));
      }
    }
    if (pending && this.isPrimary && this.#sentNewView !== undefined) this.#broadcast(this.#sentNewView);
  }

  #maybeRefetch() {
    if (
      this.#fetchGoal > this.#lastCommitted &&
      this.#now - this.#lastFetchAt >= this.#cfg.viewChangeTimeoutMs / 2
    ) {
      this.#sendFetch();
    }
  }

  #onFetch(m: Fetch) {
    // At most one answered FETCH per peer per half timeout: a faulty peer cannot turn us into a
    // bandwidth amplifier.
    const last = this.#servedFetchAt.get(m.replica);
    if (last !== undefined && this.#now - last < this.#cfg.viewChangeTimeoutMs / 2)
      return this.#drop(DropReason.duplicate);
    if (!this.#rosterAuth.verify(m)) return this.#drop(DropReason.badSignature);
    for (let h = m.fromHeight; h < m.fromHeight + m.count; h++) {
      const c = this.#committed.get(h);
      if (c === undefined) continue;
      // Only an answered FETCH counts against the limit: one that arrived just before this replica
      // committed the blocks must not silence the peer's next request for them.
      this.#servedFetchAt.set(m.replica, this.#now);
      const reply = createMessage<BlockReply>(this.#ctx.chainId, this.#deps.signer, {
        type: MessageType.blockReply,
        height: h,
        blockHash: c.hash,
        replica: this.#rosterSelf,
        block: c.block,
        blockBytes: c.blockBytes,
        certificate: c.certificate,
      });
      this.#out.send.push({ to: m.replica, message: reply.bytes });
    }
  }

  #onBlockReply(m: BlockReply) {
    const h = m.height;
    if (h <= this.#lastCommitted || h > this.#lastCommitted + MAX_FETCH_COUNT || this.#fetched.has(h)) {
      return this.#drop(DropReason.duplicate);
    }
    if (!this.#rosterAuth.verify(m)) return this.#drop(DropReason.badSignature);
    // Fetched blocks are checked against the epoch of their height, which must be certain here.
    if (h > this.#knownThrough()) return this.#drop(DropReason.outOfWindow);
    const shape = blockShapeProblem(this.#ctxAt(h), m.block, m.blockHash, h);
    if (shape !== undefined) return this.#drop(DropReason.badBlock);
    if (!this.#certificateValid(m.certificate, m.blockHash, h)) return this.#drop(DropReason.badCertificate);
    this.#fetched.set(h, { block: m.block, blockBytes: m.blockBytes, certificate: m.certificate });
    this.#deliver();
    if (this.#fetchGoal > this.#lastCommitted && !this.#fetched.has(this.#lastCommitted + 1))
      this.#sendFetch();
    this.#progress(this.#lastCommitted + 1);
  }

  /** q valid COMMIT signatures from distinct validators for (view, h, hash): the block is committed. */
  #certificateValid(cert: CommitCertificate, hash: Uint8Array, h: number): boolean {
    if (cert.height !== h || !bytesEqual(cert.blockHash, hash)) return false;
    // Votes are indices into the validator list of the epoch containing h (ADR 0015).
    const ctx = this.#ctxAt(h);
    const seen = new Set<number>();
    for (const v of cert.votes) {
      if (v.validator >= ctx.n || seen.has(v.validator)) return false;
      const commit: Commit = {
        type: MessageType.commit,
        view: cert.view,
        height: h,
        blockHash: hash,
        replica: v.validator,
        signature: v.signature,
      };
      if (!ctx.auth.verify(commit)) return false;
      seen.add(v.validator);
    }
    return seen.size >= ctx.q;
  }

  #onStateTransferred(height: number, stateRoot: Uint8Array, hash: Uint8Array) {
    if (height <= this.#lastCommitted) return;
    const timestamp =
      height === this.#stable.height && bytesEqual(hash, this.#stable.blockHash)
        ? this.#stable.timestamp
        : this.#lastBlock.timestamp;
    this.#lastCommitted = height;
    this.#lastExecuted = height;
    this.#lastBlock = { hash, timestamp };
    this.#executedRoots.set(height, stateRoot);
    this.#transferTarget = undefined;
    // The headers of the transferred blocks never pass through #commitBlock, so this replica cannot
    // tell what they cite: drop the expectation rather than suspect a primary that may have cited
    // (ADR 0128). The node asks again if its own record of applied headers still finds it owed.
    this.#awaitedCitation = 0;
    this.#persist(
      RecordKey.executed,
      encodeExecutedRecord({ height, stateRoot, blockHash: hash, timestamp }),
    );
    for (const h of [...this.#fetched.keys()]) if (h <= height) this.#fetched.delete(h);
    this.#progressed = true;
    if (this.#fetchGoal > height) this.#sendFetch();
    this.#progress(height + 1);
    this.#retryHeld();
  }

  // -------------------------------------------------------------------------------------------------
  // View changes (§4.4, §4.5)

  /** Clears per-view state; keeps prepared certificates and slots committed here (§4.4). */
  #resetViewState() {
    this.#suspicions.clear();
    // Slots committed here are reset too: the NEW-VIEW re-proposes their blocks and this replica takes
    // part again (without re-delivering), so replicas that missed the commit can complete it (§4.4).
    for (const s of this.#slots.values()) {
      if (s.pp !== undefined && s.height > this.#lastCommitted) this.#unindexTxs(s.height);
      s.pp = undefined;
      s.committedLocal = false;
      s.prepares.clear();
      s.commits.clear();
      s.sentPrepare = false;
      s.sentCommit = false;
      s.preparedLocal = false;
    }
    this.#held.clear();
    this.#lastProposed = 0;
  }

  /**
   * The request timer expired in an active view: broadcast SUSPECT and stay in the view, voting (ADR
   * 0112). PBFT as published (§4.4) sends VIEW-CHANGE here, which abandons the view at once: a backup
   * that alone was too slow to see a commit within T (a long GC or block application on a loaded
   * machine) then sat in view v + 1 without voting until f + 1 others moved, and every quorum of view v
   * needed all the remaining replicas (issue 9: n = 4 ran for minutes with 3 of 4 voting). Like
   * Mod-SMaRt's STOP (Sousa and Bessani, EDCC 2012), the view change starts once f + 1 replicas suspect
   * the view, so at least one correct replica does; a lone suspicion is re-sent every T while nothing
   * commits. Safety is untouched: a SUSPECT is no promise (nothing is persisted, no VIEW-CHANGE exists
   * until the view is left). Liveness: when the primary fails every correct backup's timer expires,
   * and the 2f + 1 >= f + 1 of them agree.
   */
  #suspectPrimary() {
    const s = createMessage<Suspect>(this.#ctx.chainId, this.#deps.signer, {
      type: MessageType.suspect,
      view: this.#view,
      replica: this.id,
    });
    this.#broadcast(s.bytes);
    this.#stats.suspicionsSent++;
    this.#suspicions.add(this.id);
    if (this.#leaveIfSuspected()) return;
    // Still in the view and still waiting: suspect again after another T unless something commits.
    this.#out.timers.push({ type: 'set', timer: Timers.request, afterMs: this.#requestTimeout() });
    this.#requestTimerArmed = true;
  }

  #onSuspect(m: Suspect) {
    if (m.replica >= this.#ctx.n) return this.#drop(DropReason.notMember);
    if (m.view < this.#view || (m.view === this.#view && !this.#active))
      return this.#drop(DropReason.staleView);
    // A suspicion of a later view than this replica's: the sender is ahead; the f + 1 VIEW-CHANGE rule
    // (§4.5.2) brings this replica along if the others moved too.
    if (m.view > this.#view) return this.#drop(DropReason.futureView);
    if (this.#suspicions.has(m.replica)) return this.#drop(DropReason.duplicate);
    if (!this.#verify(m)) return;
    this.#suspicions.add(m.replica);
    this.#leaveIfSuspected();
  }

  /**
   * Starts the view change when f + 1 replicas suspect the current view: by SUSPECT since this replica's
   * last commit, or by a VIEW-CHANGE to a later view (which abandons this one, a stronger statement).
   * Counting the latter matters when the others are not all active in this view: a replica left alone
   * in it with its primary, the rest already changing view, must still be able to follow them.
   */
  #leaveIfSuspected(): boolean {
    if (!this.#active || this.id < 0) return false;
    let count = this.#suspicions.size;
    for (const [r, v] of this.#viewChanges) {
      if (v.message.newView > this.#view && !this.#suspicions.has(r)) count++;
    }
    if (count < this.#ctx.f + 1) return false;
    this.#startViewChange(this.#view + 1);
    return true;
  }

  #startViewChange(newView: number) {
    // Views only move forward; a node outside the epoch takes no part.
    if (newView <= this.#view || this.id < 0) return;
    this.#view = newView;
    this.#active = false;
    this.#resetViewState();
    this.#stats.viewChangesStarted++;
    // §4.4: VIEW-CHANGE carries the stable checkpoint proof C and, for every height above it, the
    // prepared certificate with the highest view (the P set).
    const prepared: PreparedProof[] = [];
    const heights = [...this.#slots.keys()].filter((h) => h > this.#stable.height).sort((a, b) => a - b);
    for (const h of heights) {
      const cert = this.#slots.get(h)!.cert;
      if (cert !== undefined) prepared.push(cert.proof);
    }
    const vc = createMessage<ViewChange>(this.#ctx.chainId, this.#deps.signer, {
      type: MessageType.viewChange,
      newView,
      checkpointProof: this.#stable.proof,
      prepared,
      replica: this.id,
    });
    this.#ownViewChange = vc.bytes;
    this.#forgetNewView();
    this.#persist(
      RecordKey.view,
      encodeViewRecord({ view: newView, active: false, backoff: this.#backoff + 1 }),
    );
    this.#persist(RecordKey.viewChange, vc.bytes);
    this.#broadcast(vc.bytes);
    this.#viewChanges.set(this.id, {
      message: vc.message,
      raw: vc.bytes,
      checkpoint: this.#stable,
      prepared: new Map(
        prepared.map((p) => {
          const e = checkPreparedProof(this.#ctx, p);
          return [e.height, e];
        }),
      ),
    });
    if (this.#requestTimerArmed) {
      this.#out.timers.push({ type: 'cancel', timer: Timers.request });
      this.#requestTimerArmed = false;
    }
    // §4.5.2: exponential backoff, so correct replicas eventually overlap in one view long enough.
    this.#viewChangeTimeout = this.#cfg.viewChangeTimeoutMs * 2 ** Math.min(this.#backoff, MAX_BACKOFF);
    this.#backoff = Math.min(this.#backoff + 1, MAX_BACKOFF);
    if (this.#viewChangeTimerArmed) {
      this.#out.timers.push({ type: 'cancel', timer: Timers.viewChange });
      this.#viewChangeTimerArmed = false;
    }
    for (const [r, v] of [...this.#viewChanges]) if (v.message.newView < newView) this.#viewChanges.delete(r);
    this.#armViewChangeTimer();
    this.#tryNewView();
  }

  /**
   * §4.5.2: "If a replica receives a set of 2f+1 valid VIEW-CHANGE messages from other replicas for view
   * v+1 ... it starts its timer". Waiting for a quorum keeps an isolated replica from racing through
   * views on its own (it could not rejoin the others until they caught up with it).
   */
  #armViewChangeTimer() {
    if (this.#active || this.#viewChangeTimerArmed) return;
    // A VIEW-CHANGE for a later view also abandons this one, so it counts: otherwise a sender that moved
    // on (its latest VIEW-CHANGE replaced the earlier one here) could leave this replica short forever.
    let votes = 0;
    for (const v of this.#viewChanges.values()) if (v.message.newView >= this.#view) votes++;
    if (votes < this.#ctx.q) return;
    this.#out.timers.push({ type: 'set', timer: Timers.viewChange, afterMs: this.#viewChangeTimeout });
    this.#viewChangeTimerArmed = true;
  }

  /**
   * A VIEW-CHANGE or NEW-VIEW belongs to the epoch right above its (highest) checkpoint (ADR 0015).
   * Older epoch: stale. Newer: its checkpoint proof is a stable checkpoint past this replica's epoch
   * end, so adopt it (the switch follows), then handle the message in that epoch. Returns false when the
   * message cannot be placed in the current epoch.
   */
  #enterEpochOf(proofs: readonly (readonly Uint8Array[])[]): boolean {
    let best: readonly Uint8Array[] = [];
    let top = 0;
    for (const proof of proofs) {
      if (proof.length === 0) continue;
      const first = decodeNested(this.#ctx, proof[0]!);
      if (first.type !== MessageType.checkpoint)
        throw new PbftRejectError(DropReason.badCheckpoint, 'not a CHECKPOINT');
      if (first.height > top) {
        top = first.height;
        best = proof;
      }
    }
    const e = epochIndexAt(this.#epochs, top + 1);
    if (e < this.#epochIdx) return false;
    if (e > this.#epochIdx) this.#becomeStable(checkCheckpointProof(this.#ctx, best));
    return e === this.#epochIdx;
  }

  #onViewChange(m: ViewChange, raw: Uint8Array) {
    if (!this.#enterEpochOf([m.checkpointProof])) return this.#drop(DropReason.staleView);
    if (m.replica === this.id) return this.#drop(DropReason.duplicate);
    if (m.replica >= this.#ctx.n) return this.#drop(DropReason.notMember);
    if (m.newView === this.#view && this.#active) this.#serveNewView(m);
    if (m.newView < this.#view || (m.newView === this.#view && this.#active))
      return this.#drop(DropReason.staleView);
    const prior = this.#viewChanges.get(m.replica);
    // One VIEW-CHANGE per sender is kept: the one for the highest view.
    if (prior !== undefined && prior.message.newView >= m.newView) return this.#drop(DropReason.duplicate);
    const checked = checkViewChange(this.#ctx, raw, m);
    this.#viewChanges.set(m.replica, checked);
    this.#armViewChangeTimer();
    // §4.5.2 liveness rule: on f+1 VIEW-CHANGEs for views above its own, a replica joins the smallest.
    let above = 0;
    let smallest = Number.POSITIVE_INFINITY;
    for (const v of this.#viewChanges.values()) {
      if (v.message.replica === this.id) continue;
      if (v.message.newView > this.#view) {
        above++;
        smallest = Math.min(smallest, v.message.newView);
      }
    }
    if (this.id >= 0 && above >= this.#ctx.f + 1 && Number.isFinite(smallest))
      this.#startViewChange(smallest);
    else if (!this.#leaveIfSuspected()) this.#tryNewView();
  }

  /**
   * A VIEW-CHANGE for the view this replica is primary of and already runs: its sender missed the
   * NEW-VIEW (lost, or sent before this primary restarted) and retransmits every quarter timeout. Hand
   * it the NEW-VIEW directly, so it joins the view instead of timing out into the next one (§4.5.2 leaves
   * the view change to retransmission; this is that retransmission, aimed). At most once per sender per
   * quarter timeout, and only for a signed VIEW-CHANGE: NEW-VIEW is large, so a faulty peer must not
   * use it as an amplifier.
   */
  #serveNewView(m: ViewChange) {
    if (!this.isPrimary || this.#sentNewView === undefined) return;
    const last = this.#newViewServedAt.get(m.replica);
    if (last !== undefined && this.#now - last < this.#cfg.viewChangeTimeoutMs / 4) return;
    if (!this.#ctx.auth.verify(m)) return;
    const to = this.#epochs[this.#epochIdx]!.members[m.replica];
    if (to === undefined) return;
    this.#newViewServedAt.set(m.replica, this.#now);
    this.#stats.newViewsServed++;
    this.#out.send.push({ to, message: this.#sentNewView });
  }

  /** Leaves the role of a view's primary: its NEW-VIEW is no longer needed, here or on disk. */
  /** The NEW-VIEW record read back on restore: this replica's own, for the view it is active in. */
  #restoredNewView(raw: Uint8Array): Uint8Array {
    let m: PbftMessage;
    try {
      m = decodeMessage(raw, this.#ctx.limits);
    } catch (e) {
      throw new PbftRestoreError(`record ${RecordKey.newView}: ${(e as Error).message}`);
    }
    // Written and deleted in the same batches as the view record, so any mismatch is corruption.
    if (
      m.type !== MessageType.newView ||
      m.view !== this.#view ||
      m.replica !== this.id ||
      !this.#active ||
      !this.isPrimary
    ) {
      throw new PbftRestoreError(
        `record ${RecordKey.newView}: not this primary's NEW-VIEW for view ${this.#view}`,
      );
    }
    return raw;
  }

  #forgetNewView() {
    if (this.#sentNewView === undefined) return;
    this.#sentNewView = undefined;
    this.#persist(RecordKey.newView, null);
  }

  /** The new primary: q VIEW-CHANGEs for its view -> NEW-VIEW (§4.4). */
  #tryNewView() {
    if (this.#active || primaryOf(this.#view, this.#ctx.n) !== this.id) return;
    const vcs = [...this.#viewChanges.values()]
      .filter((v) => v.message.newView === this.#view)
      .sort((a, b) => a.message.replica - b.message.replica);
    if (vcs.length < this.#ctx.q) return;
    const chosen = vcs.slice(0, this.#ctx.q);
    const lax = this.#ctx.mutations.acceptNewViewWithoutPreparedProof === true;
    const plan = computeNewViewPlan(this.#ctx, this.#view, chosen, lax);
    const nv = buildNewView(this.#ctx, this.#deps.signer, this.id, plan, chosen);
    // Kept durably: after a restart the primary can still hand NEW-VIEW to backups that missed it,
    // instead of leaving them to time out into the next view.
    this.#persist(RecordKey.newView, nv.bytes);
    this.#broadcast(nv.bytes);
    this.#sentNewView = nv.bytes;
    this.#enterView({ plan, prePrepares: nv.prePrepares });
  }

  #onNewView(m: NewView) {
    const proofs: (readonly Uint8Array[])[] = [];
    for (const raw of m.viewChanges) {
      const vc = decodeNested(this.#ctx, raw);
      if (vc.type !== MessageType.viewChange) return this.#drop(DropReason.badNewView);
      proofs.push(vc.checkpointProof);
    }
    if (!this.#enterEpochOf(proofs)) return this.#drop(DropReason.staleView);
    if (m.replica === this.id) return this.#drop(DropReason.duplicate);
    if (m.view < this.#view || (m.view === this.#view && this.#active))
      return this.#drop(DropReason.staleView);
    if (m.replica !== primaryOf(m.view, this.#ctx.n)) return this.#drop(DropReason.wrongPrimary);
    if (!this.#verify(m)) return;
    const checked = checkNewView(this.#ctx, m);
    this.#enterView(checked);
  }

  #enterView(nv: CheckedNewView) {
    const { plan } = nv;
    if (plan.view !== this.#view || this.#active) this.#resetViewState();
    this.#view = plan.view;
    this.#active = true;
    this.#lastProgressAt = this.#now;
    this.#stats.newViewsInstalled++;
    this.#persist(
      RecordKey.view,
      encodeViewRecord({ view: this.#view, active: true, backoff: this.#backoff }),
    );
    this.#persist(RecordKey.viewChange, null);
    this.#ownViewChange = undefined;
    if (primaryOf(this.#view, this.#ctx.n) !== this.id) this.#forgetNewView();
    this.#newViewServedAt.clear();
    if (this.#viewChangeTimerArmed) {
      this.#out.timers.push({ type: 'cancel', timer: Timers.viewChange });
      this.#viewChangeTimerArmed = false;
    }
    for (const [r, v] of [...this.#viewChanges])
      if (v.message.newView <= this.#view) this.#viewChanges.delete(r);
    if (plan.checkpoint.height > this.#stable.height) this.#becomeStable(plan.checkpoint);
    // Install O: each block is pre-prepared in the new view (§4.4), and the normal case runs again.
    for (const [i, b] of plan.blocks.entries()) {
      if (!this.#inWindow(b.height)) continue;
      const mine = this.#committed.get(b.height);
      // By PBFT safety O re-proposes the block committed here; never vote for anything else.
      if (mine !== undefined && !bytesEqual(mine.hash, b.blockHash)) {
        this.#drop(DropReason.badNewView);
        continue;
      }
      if (b.height <= this.#lastCommitted && mine === undefined) continue;
      this.#acceptPrePrepare(
        b.height,
        this.#view,
        b.blockHash,
        b.block,
        b.blockBytes,
        nv.prePrepares[i]!.bytes,
      );
    }
    const top = plan.blocks.length > 0 ? plan.blocks[plan.blocks.length - 1]!.height : plan.checkpoint.height;
    this.#lastProposed = Math.max(top, this.#stable.height);
    this.#progress(this.#stable.height + 1);
    this.#replayFuture();
    this.#retryHeld();
  }

  #replayFuture() {
    for (const [r, v] of [...this.#laterViews]) if (v <= this.#view) this.#laterViews.delete(r);
    const replay: { message: PbftMessage; raw: Uint8Array }[] = [];
    for (const [r, buf] of [...this.#future]) {
      const keep = buf.filter((e) => e.view > this.#view);
      for (const e of buf) if (e.view === this.#view) replay.push(e);
      if (keep.length === 0) this.#future.delete(r);
      else this.#future.set(r, keep);
    }
    for (const e of replay) {
      try {
        this.#dispatch(e.message, e.raw);
      } catch (err) {
        const reason = rejectionReason(err);
        if (reason === undefined) throw err;
        this.#drop(reason);
      }
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Epochs (ADR 0015): the membership of each height, and the switch at a stable boundary checkpoint

  /** One ProtocolContext per known epoch; rebuilt when an epoch is added (rare). */
  #rebuildContexts() {
    for (const c of this.#ctxs) this.#retiredVerifications += c.auth.verifications;
    this.#limits.n = Math.max(this.#limits.n, this.#roster.size);
    const cfg = this.#cfg;
    this.#ctxs = this.#epochs.map((e, i) => {
      const validators = e.members.map((m) => this.#roster.keys[m]!);
      const n = validators.length;
      const next = this.#epochs[i + 1];
      const override = this.#mutations.quorumOverride;
      const ctx: ProtocolContext = {
        chainId: cfg.chainId,
        validators,
        n,
        f: maxFaulty(n),
        q: override !== undefined && override <= n ? override : quorumSize(n),
        checkpointInterval: cfg.checkpointInterval,
        windowSize: cfg.windowSize,
        maxBlockTxs: cfg.maxBlockTxs,
        maxBlockBytes: cfg.maxBlockBytes,
        limits: this.#limits,
        auth: new Authenticator(cfg.chainId, validators, this.#deps.verifier),
        genesisStateRoot: cfg.genesisStateRoot ?? new Uint8Array(32),
        genesisTimestamp: cfg.genesisTimestamp ?? 0,
        mutations: this.#mutations,
        epochStart: e.start,
        ...(next !== undefined ? { epochLast: next.start - 1 } : {}),
        contextAt: (h: number) => this.#ctxAt(h),
      };
      return ctx;
    });
    if (this.#ctxs[this.#epochIdx] !== undefined) this.#ctx = this.#ctxs[this.#epochIdx]!;
  }

  #setEpoch(i: number) {
    this.#epochIdx = i;
    this.#ctx = this.#ctxs[i]!;
    this.#selfIndex = this.#recovery !== undefined ? -1 : this.#epochs[i]!.members.indexOf(this.#rosterSelf);
  }

  /**
   * ADR 0121. Every height this replica voted at before losing its records lies at or below its old
   * high watermark: old stable checkpoint + L. That checkpoint's block was accepted by correct replicas,
   * so its timestamp is at most `after`; committed timestamps strictly increase with height, so a
   * stable checkpoint with a later timestamp is above it, and one window above that is above every
   * height it could have signed for. From there it votes again.
   */
  #advanceRecovery() {
    const r = this.#recovery;
    if (r === undefined) return;
    if (r.until === undefined && this.#stable.timestamp > r.after) {
      r.until = this.#stable.height + this.#cfg.windowSize;
      this.#persist(RecordKey.recovery, encodeRecoveryRecord(r));
    }
    if (r.until === undefined || this.#stable.height < r.until) return;
    this.#recovery = undefined;
    this.#persist(RecordKey.recovery, null);
    this.#setEpoch(this.#epochIdx);
  }

  /**
   * The context of the epoch containing h among the epochs known here. For a height beyond what this
   * replica can be sure of, that is the latest known epoch: only checkpoint proofs are checked that way
   * (a proof that verifies carries q signatures of that set's members; ADR 0015 states the assumption).
   */
  #ctxAt(h: number): ProtocolContext {
    return this.#ctxs[epochIndexAt(this.#epochs, h)]!;
  }

  #epochInfo(i: number): EpochInfo {
    const e = this.#epochs[i]!;
    const next = this.#epochs[i + 1];
    return {
      index: i,
      start: e.start,
      last: next === undefined ? undefined : next.start - 1,
      validators: e.members.map((m) => this.#roster.keys[m]!),
      rosterIds: [...e.members],
    };
  }

  /** The driver hands in a validator-set change decided by a block it just applied (types.ts). */
  #onReconfigure(fromHeight: number, keys: readonly Uint8Array[]) {
    if (this.#mutations.ignoreReconfiguration === true) return;
    const same = this.#epochs.find((e) => e.start === fromHeight);
    let epochs = this.#epochs;
    if (same !== undefined) {
      // After a restart the driver may repeat a change this replica already persisted.
      const known = same.members.map((m) => hex(this.#roster.keys[m]!)).join();
      if (known === keys.map(hex).join()) return;
      // Two changes decided in one checkpoint interval take effect at the same height; each event
      // carries the full set from there, so the later one replaces the earlier (not yet in force).
      if (same !== epochs[epochs.length - 1] || fromHeight <= this.#knownThrough())
        throw new PbftConfigError(`a different validator set for the epoch starting at ${fromHeight}`);
      epochs = epochs.slice(0, -1);
    }
    checkNewEpoch(epochs, fromHeight, keys, this.#ctx.checkpointInterval);
    // The lagging-replica rule: this replica never voted above knownThrough, so a change starting above
    // it cannot contradict anything it signed. A change at or below it means the driver broke the order
    // (reconfigure before the deciding block's `executed`).
    if (fromHeight <= this.#knownThrough()) {
      throw new PbftConfigError(
        `epoch start ${fromHeight} is within heights this replica may already have voted on (<= ${this.#knownThrough()})`,
      );
    }
    const members = keys.map((k) => this.#roster.add(k));
    if (this.#rosterSelf < 0 && this.#selfKey !== undefined)
      this.#rosterSelf = this.#roster.idOf(this.#selfKey) ?? -1;
    this.#epochs = [...epochs, { start: fromHeight, members }];
    this.#persist(
      RecordKey.epochs,
      encodeEpochsRecord(this.#epochs, this.#roster, this.#cfg.validators.length),
    );
    this.#rebuildContexts();
    this.#setEpoch(this.#epochIdx);
    // Nothing was accepted above the new boundary (knownThrough), but votes may be stored there.
    const high = this.#high();
    for (const h of [...this.#slots.keys()]) {
      if (h <= high) continue;
      // A NEW-VIEW may have installed a block there (no vote was cast: knownThrough); its transactions
      // must become proposable again.
      if (h > this.#lastCommitted) this.#unindexTxs(h);
      this.#slots.delete(h);
      this.#deleteHeightRecords(h);
    }
    for (const h of [...this.#held.keys()]) if (h > high) this.#held.delete(h);
    for (const h of [...this.#checkpointVotes.keys()]) if (h > high) this.#checkpointVotes.delete(h);
    this.#rereadFarVotes();
    this.#syncEpoch();
  }

  /** Far checkpoint votes were checked against the epochs known then: check them again. */
  #rereadFarVotes() {
    const far = [...this.#farCheckpointVotes.values()];
    this.#farCheckpointVotes.clear();
    for (const v of far) {
      try {
        this.#onCheckpoint(v.message, v.raw);
      } catch (err) {
        const reason = rejectionReason(err);
        if (reason === undefined) throw err;
        this.#drop(reason);
      }
    }
  }

  /** Moves to the epoch above the stable checkpoint if that changed (boundary checkpoint stable). */
  #syncEpoch() {
    const i = epochIndexAt(this.#epochs, this.#stable.height + 1);
    if (i === this.#epochIdx) return;
    this.#switchEpoch(i);
  }

  /**
   * The new membership takes over at its boundary checkpoint, now stable (certified by the old set).
   * Views restart at 0 under the new membership: nothing above the boundary was prepared by anyone
   * (the window ended there and correct replicas never vote past knownThrough), so view 0 needs no
   * NEW-VIEW, and every member, including one that just joined, starts in the same view.
   */
  #switchEpoch(i: number) {
    this.#setEpoch(i);
    this.#epochSwitches++;
    for (const h of [...this.#slots.keys()]) {
      if (h <= this.#stable.height) continue;
      if (this.#slots.get(h)!.pp !== undefined && h > this.#lastCommitted) this.#unindexTxs(h);
      this.#slots.delete(h);
      this.#deleteHeightRecords(h);
    }
    this.#held.clear();
    this.#future.clear();
    this.#laterViews.clear();
    this.#viewChanges.clear();
    // Indices name other validators in the new epoch: suspicions of the old one mean nothing there.
    this.#suspicions.clear();
    this.#checkpointVotes.clear();
    this.#view = 0;
    this.#active = true;
    this.#backoff = 0;
    this.#ownViewChange = undefined;
    this.#forgetNewView();
    this.#newViewServedAt.clear();
    this.#lastProposed = this.#stable.height;
    this.#persist(RecordKey.view, encodeViewRecord({ view: 0, active: true, backoff: 0 }));
    this.#persist(RecordKey.viewChange, null);
    if (this.#viewChangeTimerArmed) {
      this.#out.timers.push({ type: 'cancel', timer: Timers.viewChange });
      this.#viewChangeTimerArmed = false;
    }
  }

  // -------------------------------------------------------------------------------------------------
  // Restore (§4.4 / §5.3: never contradict what was sent before the crash)

  /**
   * Re-creates this replica's own PREPARE/COMMIT for a restored slot (ed25519 signatures are
   * deterministic, so these are the very messages sent before the crash) and re-sends them on the first
   * step: peers that missed them can still complete their certificates.
   */
  #restoreOwnVotes(slot: Slot, sentPrepare: boolean, sentCommit: boolean) {
    const pp = slot.pp!;
    const fields = { view: this.#view, height: slot.height, blockHash: pp.hash, replica: this.id };
    if (sentPrepare) {
      const p = createMessage<Prepare>(this.#ctx.chainId, this.#deps.signer, {
        type: MessageType.prepare,
        ...fields,
      });
      slot.sentPrepare = true;
      slot.prepares.set(this.id, { hashHex: pp.hashHex, raw: p.bytes });
      this.#restoreActions.push(() => this.#broadcast(p.bytes));
    }
    if (sentCommit) {
      const c = createMessage<Commit>(this.#ctx.chainId, this.#deps.signer, {
        type: MessageType.commit,
        ...fields,
      });
      slot.sentCommit = true;
      slot.preparedLocal = true;
      slot.commits.set(this.id, { hashHex: pp.hashHex, signature: c.message.signature });
      this.#restoreActions.push(() => this.#broadcast(c.bytes));
    }
  }

  /**
   * The stored stable checkpoint, checked as it was when adopted: a checkpoint beyond the heights whose
   * epoch was certain then was checked against the latest epoch known then, which may be an earlier one
   * than the epoch known now (ADR 0015). So it must hold under its epoch or an earlier one.
   */
  #restoreCheckpoint(height: number, proof: readonly Uint8Array[]) {
    let first: unknown;
    for (let i = epochIndexAt(this.#epochs, height); i >= 0; i--) {
      try {
        return checkCheckpointProof({ ...this.#ctxs[i]!, contextAt: undefined }, proof);
      } catch (err) {
        first ??= err;
      }
    }
    throw first;
  }

  #restoreFrom(records: ReadonlyMap<string, Uint8Array>) {
    const get = (k: string) => records.get(k);
    // Recovery first: it decides this replica's index in every epoch set below. A recorded recovery
    // continues; otherwise the config's (the constructor's) stands.
    const rec = get(RecordKey.recovery);
    if (rec !== undefined) this.#recovery = decodeRecoveryRecord(rec);
    this.#setEpoch(this.#epochIdx);
    // Epochs first: the checkpoint proof and every per-height record are read under their epoch.
    const ep = get(RecordKey.epochs);
    if (ep !== undefined) {
      const rec = decodeEpochsRecord(RecordKey.epochs, ep);
      for (const k of rec.roster) this.#roster.add(k);
      for (const e of rec.epochs) {
        try {
          checkNewEpoch(this.#epochs, e.start, e.keys, this.#cfg.checkpointInterval);
        } catch (err) {
          throw new PbftRestoreError(`record ${RecordKey.epochs}: ${(err as Error).message}`);
        }
        this.#epochs = [...this.#epochs, { start: e.start, members: e.keys.map((k) => this.#roster.add(k)) }];
      }
      if (this.#rosterSelf < 0 && this.#selfKey !== undefined)
        this.#rosterSelf = this.#roster.idOf(this.#selfKey) ?? -1;
      this.#rebuildContexts();
      this.#setEpoch(0);
    }
    const cp = get(RecordKey.checkpoint);
    if (cp !== undefined) {
      const c = decodeCheckpointRecord(cp);
      if (c.height > 0) this.#stable = this.#restoreCheckpoint(c.height, c.proof);
      this.#lastBlock = { hash: this.#stable.blockHash, timestamp: this.#stable.timestamp };
      this.#setEpoch(epochIndexAt(this.#epochs, this.#stable.height + 1));
    }
    const ex = get(RecordKey.executed);
    if (ex !== undefined) {
      const e = decodeExecutedRecord(ex);
      this.#lastCommitted = e.height;
      this.#lastExecuted = e.height;
      this.#lastBlock = { hash: e.blockHash, timestamp: e.timestamp };
      this.#executedRoots.set(e.height, e.stateRoot);
    }
    const vr = get(RecordKey.view);
    if (vr !== undefined) {
      const v = decodeViewRecord(vr);
      this.#view = v.view;
      this.#active = v.active;
      this.#backoff = v.backoff;
    }
    const byHeight = new Map<number, Partial<Record<HeightRecordKind, Uint8Array>>>();
    for (const [key, value] of records) {
      const p = parseHeightKey(key);
      if (p === undefined) continue;
      if (p.kind === 'root') {
        if (value.length !== 32) throw new PbftRestoreError(`record ${key}: not a 32-byte root`);
        this.#executedRoots.set(p.height, value);
        continue;
      }
      if (p.height <= this.#stable.height) continue;
      let e = byHeight.get(p.height);
      if (e === undefined) {
        e = {};
        byHeight.set(p.height, e);
      }
      e[p.kind] = value;
    }
    const heights = [...byHeight.keys()].sort((a, b) => a - b);
    let maxRecorded = 0;
    for (const h of heights) {
      const e = byHeight.get(h)!;
      const slot = this.#slot(h);
      maxRecorded = h;
      let ppBlock: { block: Block; blockBytes: Uint8Array; hash: Uint8Array } | undefined;
      if (e.pp !== undefined) {
        const pp = decodeStoredBlock(this.#ctx, RecordKey.prePrepare(h), e.pp);
        ppBlock = pp;
        if (pp.message !== undefined && pp.message.view === this.#view && this.#active) {
          slot.pp = {
            view: pp.message.view,
            hash: pp.hash,
            hashHex: hex(pp.hash),
            block: pp.block,
            blockBytes: pp.blockBytes,
            raw: e.pp,
          };
          this.#indexTxs(h, pp.block.txs);
          if (this.isPrimary) this.#lastProposed = Math.max(this.#lastProposed, h);
        }
      }
      if (e.prepared !== undefined) {
        const proof = decodePreparedRecord(RecordKey.prepared(h), e.prepared);
        try {
          const entry = checkPreparedProof(this.#ctx, proof);
          slot.cert = { view: entry.view, hashHex: hex(entry.blockHash), proof };
          ppBlock ??= { block: entry.block, blockBytes: entry.blockBytes, hash: entry.blockHash };
        } catch (err) {
          throw new PbftRestoreError(`prepared certificate at ${h}: ${(err as Error).message}`);
        }
      }
      if (e.votes !== undefined && slot.pp !== undefined) {
        const v = decodeVotesRecord(RecordKey.votes(h), e.votes);
        if (v.view === this.#view) {
          this.#restoreOwnVotes(slot, v.sentPrepare, v.sentCommit && slot.cert?.view === this.#view);
        }
      }
      if (e.committed !== undefined && ppBlock !== undefined) {
        const certificate = decodeCertificateRecord(RecordKey.committed(h), e.committed);
        if (bytesEqual(certificate.blockHash, ppBlock.hash)) {
          // Retained for FETCH replies and chaining, as before the crash.
          this.#committed.set(h, {
            height: h,
            hash: ppBlock.hash,
            header: ppBlock.block.header,
            block: ppBlock.block,
            blockBytes: ppBlock.blockBytes,
            certificate,
          });
          this.#indexTxs(h, ppBlock.block.txs);
          if (h === this.#lastCommitted + 1) {
            // Committed before the crash but never reported executed: deliver again (see restore()).
            this.#lastCommitted = h;
            this.#lastBlock = { hash: ppBlock.hash, timestamp: ppBlock.block.header.timestamp };
            this.#redeliver.push({ block: ppBlock.block, certificate });
          }
        }
      }
    }
    if (!this.#active) {
      const own = get(RecordKey.viewChange);
      if (own !== undefined) {
        const checked = checkViewChange(this.#ctx, own);
        this.#viewChanges.set(this.id, checked);
        this.#ownViewChange = own;
      }
    }
    const sentNewView = get(RecordKey.newView);
    if (sentNewView !== undefined) this.#sentNewView = this.#restoredNewView(sentNewView);
    // Actions for the first step: re-deliver, re-announce, re-arm timers lost in the crash, catch up.
    this.#restoreActions.push(() => {
      for (const c of this.#redeliver) this.#out.commit.push(c);
      this.#redeliver = [];
      if (!this.#active) {
        if (this.#ownViewChange !== undefined) this.#broadcast(this.#ownViewChange);
        this.#viewChangeTimeout =
          this.#cfg.viewChangeTimeoutMs * 2 ** Math.min(Math.max(this.#backoff - 1, 0), MAX_BACKOFF);
        this.#armViewChangeTimer();
      }
      // Backups that missed the NEW-VIEW while this primary was down get it now.
      if (this.#active && this.#sentNewView !== undefined) this.#broadcast(this.#sentNewView);
      // A stable checkpoint above the last commit is certified work left undone before the crash.
      if (this.#stable.height > this.#lastCommitted) this.#catchUp(this.#stable);
      if (maxRecorded > this.#lastCommitted) {
        this.#fetchGoal = Math.max(this.#fetchGoal, maxRecorded);
        this.#sendFetch();
      }
    });
  }
}

// -------------------------------------------------------------------------------------------------
// Helpers

/**
 * The drop reason for an error raised while handling a peer's message: protocol rejections, and any
 * wire-format or decode error from nested content (hostile input must never crash the replica).
 * Anything else is a bug and propagates.
 */
function rejectionReason(e: unknown): DropReason | undefined {
  if (e instanceof PbftRejectError) return e.code;
  if (e instanceof PbftDecodeError || e instanceof WireError) return DropReason.malformed;
  return undefined;
}

/** Transaction hashes, memoised per byte array: the node passes the same mempool arrays repeatedly. */
const txKeys = new WeakMap<Uint8Array, string>();
function txKey(tx: Uint8Array): string {
  let k = txKeys.get(tx);
  if (k === undefined) {
    k = hex(sha256(tx));
    txKeys.set(tx, k);
  }
  return k;
}

function encodeCertificateRecord(c: CommitCertificate): Uint8Array {
  return encodeCommitCertificate(c);
}

function decodeCertificateRecord(key: string, v: Uint8Array): CommitCertificate {
  try {
    return decodeCommitCertificate(v);
  } catch (e) {
    throw new PbftRestoreError(`record ${key}: ${(e as Error).message}`);
  }
}

/** A committed block fetched from a peer has no PRE-PREPARE: it is stored as [0, blockBytes]. */
function blockOnlyRecord(blockBytes: Uint8Array): Uint8Array {
  return encodeCanonical([0, blockBytes]);
}

function decodeStoredBlock(
  ctx: ProtocolContext,
  key: string,
  raw: Uint8Array,
): { message: PrePrepare | undefined; block: Block; blockBytes: Uint8Array; hash: Uint8Array } {
  let v: CborValue;
  try {
    v = decodeCanonical(raw, { maxBytes: raw.length });
  } catch (e) {
    throw new PbftRestoreError(`record ${key}: ${(e as Error).message}`);
  }
  try {
    if (Array.isArray(v) && v.length === 2 && v[0] === 0 && v[1] instanceof Uint8Array) {
      const block = decodeBlock(v[1]);
      return { message: undefined, block, blockBytes: v[1], hash: blockHash(block.header) };
    }
    const m = decodeMessage(raw, ctx.limits);
    if (m.type === MessageType.prePrepare)
      return { message: m, block: m.block, blockBytes: m.blockBytes, hash: m.blockHash };
  } catch (e) {
    throw new PbftRestoreError(`record ${key}: ${(e as Error).message}`);
  }
  throw new PbftRestoreError(`record ${key}: neither a PRE-PREPARE nor a stored block`);
}
