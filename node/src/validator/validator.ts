// One hospital's validator: the chain store, the PBFT replica and its driver, the mempool and its
// verification pool, the libp2p network and the HTTP API, wired together. `Validator.start` is what
// `vigil start --home DIR` runs.
import { EventEmitter } from 'node:events';
import { type CommittedBlock, primaryOf, Replica, type ReplicaConfig } from '@vigil/consensus/pbft';
import { blockHash, type Signer } from '@vigil/consensus/wire';
import { type FaultLayer, keyHex, type P2PLogger, VigilNetwork } from '@vigil/p2p';
import type { Logger } from 'pino';
import { ConsensusRecordStore } from '../consensus-store/store.ts';
import { fastSignerFromSeed } from '../crypto/fast-signer.ts';
import { fastVerifier } from '../crypto/fast-verifier.ts';
import { createRememberingVerifier, rememberingSigner } from '../crypto/remembering-verifier.ts';
import { eitherVerified, VerifiedTransactions } from '../crypto/verified-transactions.ts';
import {
  type ProposalBatchOptions,
  ProposalBatcher,
  proposalBatchFromEnv,
} from '../driver/proposal-batcher.ts';
import { StateCitation } from '@vigil/consensus/pbft/state-citation.ts';
import { citeQuietMsFromEnv } from '../driver/cite-quiet-env.ts';
import { ReplicaDriver } from '../driver/replica-driver.ts';
import { decodeNonce, nonceKey } from '../exec/accounts.ts';
import {
  type BlockOutcome,
  type BlockResult,
  BlockExecutor,
  type EffectsRangeStats,
} from '../exec/executor.ts';
import { type DecodedTx, decodeTx } from '../exec/tx-envelope.ts';
import { Mempool, MempoolRejected } from '../mempool/mempool.ts';
import { createHandlers, DERIVED_INDEX_PREFIXES, derivedIndexRecords } from '../state-machine/index.ts';
import { writeBufferBytesFor } from '../store/write-buffer.ts';
import { ChainStore, genesisHash, rootedHeight, treeIntervalFromEnv } from '../store/chain-store.ts';
import { txRoot } from '../crypto/tx-root.ts';
import { VerifyPool } from '../verify-pool/pool.ts';
import { BlockSync, serveBlockRange, type SyncStats } from './block-sync.ts';
import { faultLayerFromEnv, startFaultControl } from './fault-control.ts';
import { type GenesisFile, loadGenesis, toChainGenesis, validatorKeys } from './genesis-file.ts';
import { homePaths, loadConfig, loadValidatorKey, type NodeConfig, requireGenesisFile } from './home.ts';
import { ValidatorGate } from './validator-gate.ts';
import { reconfigurationsInState, reconfigurationsOf } from './validator-set.ts';

export class ValidatorError extends Error {
  readonly code: 'NOT_A_VALIDATOR' | 'ALREADY_STOPPED';
  constructor(code: ValidatorError['code'], message: string) {
    super(message);
    this.name = 'ValidatorError';
    this.code = code;
  }
}

export interface ValidatorOptions {
  home: string;
  log: Logger;
  /** A shared in-process fault layer (tests, benchmarks). */
  fault?: FaultLayer;
  /** How often the driver gets a clock tick (ms). */
  tickMs?: number;
  /**
   * Quiet time before an idle primary asks for blocks citing the newest state (ADR 0125; default
   * VIGIL_CITE_QUIET_MS or 5 s).
   */
  citeQuietMs?: number;
  /** When pending transactions go to the replica (default: the VIGIL_PROPOSAL_* environment, ADR 0091). */
  proposal?: ProposalBatchOptions;
  /**
   * Most transactions pending in the mempool (default VIGIL_MEMPOOL_MAX_TXS or 5,000): beyond it
   * clients get MEMPOOL_FULL at once. A few seconds of capacity, so that overload sheds load instead of
   * queueing minutes of it and starving consensus of CPU (ADR 0091).
   */
  mempoolMaxTxs?: number;
  /**
   * Compact PRE-PREPAREs with peers that support them (ADR 0129). Default: on, unless the environment
   * says VIGIL_P2P_COMPACT=0 (an A/B of the encoding, or a node that must speak only the 1.0.0 protocol).
   */
  compactPrePrepare?: boolean;
  /**
   * This validator lost its data directory (it runs on a new disk, `vigil start --recover`): follow as
   * an observer until it cannot contradict a vote it cast before (ADR 0121). A node whose chain is
   * there but whose consensus records are missing does this on its own.
   */
  recover?: boolean;
}

const DEFAULT_MEMPOOL_MAX_TXS = 5_000;
/** Most pending transactions re-offered to peers per round (every quarter request timeout). */
const REOFFER_MAX = 256;

/**
 * What the node times for operators (the 'timing' event, vigil_*_seconds histograms): applying a
 * committed block (executor, including its write), applying a range of synced blocks (ADR 0115), a
 * batch's atomic fsynced write alone (a block's or a range's), and the
 * fsync of PBFT records that must precede the messages depending on them. A request timer expiring
 * on a healthy network points at one of these (issue 9: view changes with no fault).
 */
export type TimedStep = 'blockApply' | 'rangeApply' | 'blockWrite' | 'consensusPersist';

/** Everything about a committed block the API and metrics care about. */
export interface AppliedBlock {
  height: number;
  blockHash: Uint8Array;
  /** stateRoot is undefined for a block synced inside a range but not last (ADR 0115). */
  result: BlockOutcome;
  committed: CommittedBlock;
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

export class Validator {
  readonly config: NodeConfig;
  readonly genesis: GenesisFile;
  readonly store: ChainStore;
  readonly mempool: Mempool;
  readonly network: VigilNetwork;
  readonly driver: ReplicaDriver;
  readonly replica: Replica;
  readonly signer: Signer;
  /** Index among the genesis validators; -1 for a node that joins later by governance (ADR 0015). */
  readonly index: number;
  /** The genesis validators (epoch 0). The current set: `replica.epoch.validators`. */
  readonly validators: readonly Uint8Array[];
  /** 'block' (AppliedBlock), 'timing' (TimedStep, ms) and 'fatal' (error) events. */
  readonly events = new EventEmitter();
  readonly #records: ConsensusRecordStore;
  readonly #pool: VerifyPool;
  readonly #sync: BlockSync;
  readonly #executor: BlockExecutor;
  readonly #gate: ValidatorGate;
  readonly #log: Logger;
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  #batcher: ProposalBatcher | undefined;
  /** When the idle primary asks for a block citing the quiet chain's state (ADR 0125). */
  #citation: StateCitation | undefined;
  #stopped = false;
  /** Results of applied blocks not yet handed to onApplied, by height (one, or a synced range's). */
  readonly #applied = new Map<number, BlockOutcome>();
  /** Since this process started: what the operator's status line and metrics show. */
  readonly counters = {
    committedTxs: 0,
    acceptedTxs: 0,
    rejectedTxs: 0,
    alertsRaised: 0,
    alertsAcknowledged: 0,
  };
  /**
   * Transactions gossiped by peers and what admission made of them (`refused` by MempoolRejected code),
   * and how many this validator re-offered: under overload and after it, duplicate copies and re-offers
   * are traffic, decoding and checks that commit nothing (issue 9), so operators can see them.
   */
  readonly gossip = { received: 0, admitted: 0, refused: {} as Record<string, number>, reoffered: 0 };

  private constructor(parts: {
    config: NodeConfig;
    genesis: GenesisFile;
    store: ChainStore;
    records: ConsensusRecordStore;
    pool: VerifyPool;
    mempool: Mempool;
    network: VigilNetwork;
    replica: Replica;
    signer: Signer;
    index: number;
    validators: Uint8Array[];
    executor: BlockExecutor;
    log: Logger;
  }) {
    this.config = parts.config;
    this.genesis = parts.genesis;
    this.store = parts.store;
    this.store.onBlockWrite = (ms) => this.events.emit('timing', 'blockWrite', ms);
    this.#records = parts.records;
    this.#pool = parts.pool;
    this.mempool = parts.mempool;
    this.network = parts.network;
    this.replica = parts.replica;
    this.signer = parts.signer;
    this.index = parts.index;
    this.validators = parts.validators;
    this.#log = parts.log;
    const executor = parts.executor;
    this.#executor = executor;
    this.#gate = new ValidatorGate(parts.replica, parts.network, parts.config, parts.log);
    this.driver = new ReplicaDriver({
      replica: parts.replica,
      records: {
        persist: async (records) => {
          const t0 = performance.now();
          await parts.records.persist(records);
          this.events.emit('timing', 'consensusPersist', performance.now() - t0);
        },
      },
      outbox: {
        // `to` is a roster id (ADR 0015): genesis validators first, then validators added later.
        send: (to, message) => {
          const key = parts.replica.roster[to];
          if (key !== undefined) this.network.sendConsensus(keyHex(key), message);
        },
        broadcast: (message) => this.network.broadcastConsensus(message),
      },
      commits: {
        appliedHeight: () => this.store.requireHead().height,
        apply: async (c, certified) => {
          const t0 = performance.now();
          const result = await executor.applyBlock(c.block, c.certificate, { trustCertified: certified });
          const ms = performance.now() - t0;
          if (!certified) this.#batcher?.recordExecution(c.block.txs.length, ms);
          this.events.emit('timing', 'blockApply', ms);
          this.#applied.set(result.height, result);
          return {
            height: result.height,
            stateRoot: result.stateRoot,
            reconfigurations: reconfigurationsOf(result.events),
          };
        },
        // Block sync: certified blocks in ranges with one state-tree update each (ADR 0115).
        applyCertifiedRange: async (blocks) => {
          const t0 = performance.now();
          const range = await executor.applyCertifiedRange(blocks, {
            endAfter: (events) => reconfigurationsOf(events).length > 0,
          });
          this.events.emit('timing', 'rangeApply', performance.now() - t0);
          for (const b of range.blocks) this.#applied.set(b.height, b);
          return {
            height: range.height,
            stateRoot: range.stateRoot,
            blocks: range.blocks.map((b) => ({
              height: b.height,
              reconfigurations: reconfigurationsOf(b.events),
            })),
          };
        },
      },
      stateTransfer: { transfer: (req) => this.#sync.transfer(req) },
      clock: Date.now,
      log: parts.log,
      onApplied: async (committed) => {
        await this.mempool.onBlockCommitted(committed.block.txs);
        const result = this.#applied.get(committed.block.header.height)!;
        this.#applied.delete(result.height);
        const h = committed.block.header;
        this.#citation?.applied(h.height, h.txCount, h.stateHeight, Date.now());
        this.#count(result);
        this.events.emit('block', {
          height: result.height,
          blockHash: result.blockHash,
          result,
          committed,
        } satisfies AppliedBlock);
        this.#schedulePropose();
      },
    });
    this.#sync = new BlockSync({
      peers: {
        connected: () =>
          this.network
            .peers()
            .filter((p) => p.connected && p.role === 'validator')
            .map((p) => p.key),
        requestStatus: (p) => this.network.requestStatus(p),
        requestBlocks: (p, from, count) => this.network.requestBlocks(p, from, count),
      },
      appliedHeight: () => this.store.requireHead().height,
      apply: (blocks) => this.driver.syncBlocks(blocks),
      // ADR 0133: on a chain with effects records, a range can be applied from them only up to a root a
      // later header cites; blocks after the last one cited wait for the next fetched batch.
      citedThrough: (blocks) => {
        if (!this.store.blockEffects) return undefined;
        const k = this.store.stateRootInterval;
        let cited = 0;
        for (const b of blocks) {
          const s = rootedHeight(b.block.header.stateHeight, k);
          if (s > cited) cited = s;
        }
        return cited;
      },
      log: parts.log,
    });
  }

  static async start(options: ValidatorOptions): Promise<Validator> {
    const { home, log } = options;
    const paths = homePaths(home);
    const config = loadConfig(home);
    const genesis = loadGenesis(requireGenesisFile(home));
    const key = loadValidatorKey(home);
    const validators = validatorKeys(genesis);
    const index = validators.findIndex((v) => hex(v) === hex(key.publicKey));
    const chainGenesis = toChainGenesis(genesis);
    const treeInterval = treeIntervalFromEnv();
    // Each validator its own LevelDB write buffer, so validators sharing a machine do not all flush
    // and compact at the same moments (ADR 0118).
    const writeBufferBytes = writeBufferBytesFor(index, validators.length, key.publicKey);
    const store = await ChainStore.open(paths.chainDb, {
      expectChainId: genesis.chainId,
      expectGenesisHash: genesisHash(chainGenesis),
      ...(treeInterval !== undefined ? { treeInterval } : {}),
      writeBufferBytes,
      effectsPath: paths.effectsDb,
    });
    // A key outside the genesis set may still run: it follows the chain and becomes a validator when
    // governance adds it (ADR 0015, 0041). Said only once the store took this genesis: with another
    // network's genesis.json in the home, the warning came first and read as the cause of the
    // GENESIS_MISMATCH that followed.
    if (index < 0)
      log.warn(
        { key: paths.key },
        'not a genesis validator: following until a validator-set change adds this key',
      );
    const cleanup: (() => Promise<unknown>)[] = [() => store.close()];
    try {
      if (!store.head) await store.initChain(chainGenesis);
      // A database written before schema 7 (ADR 0130) takes the access index the state implies, once,
      // before any block is applied; the alerts it raised before are not in the alert index, which the
      // events route then says (a `gap` for blocks before indexedFrom).
      if (store.indexedFrom === undefined) {
        const records = await store.adoptIndexes(
          derivedIndexRecords((p) => store.state.scanState(p)),
          DERIVED_INDEX_PREFIXES,
        );
        log.warn(
          { code: 'INDEXES_ADOPTED', records, indexedFrom: store.indexedFrom },
          'chain database upgraded to schema 7: older node versions can no longer open it',
        );
      }
      const records = await ConsensusRecordStore.open(paths.consensusDb, { writeBufferBytes });
      cleanup.push(() => records.close());
      const loaded = await records.loadAll();
      const pool = new VerifyPool();
      cleanup.push(() => pool.close());
      // Transactions a proposal check verified before their gossip copy was admitted: neither the
      // mempool nor the executor verifies them again (verified-transactions.ts).
      const provenTxs = new VerifiedTransactions();
      const mempool = new Mempool(
        {
          chainId: genesis.chainId,
          now: Date.now,
          committedNonce: async (sender) => decodeNonce(await store.state.get(nonceKey(sender))),
          isCommitted: (txId) => store.txs.has(txId),
          verifier: pool,
          verified: provenTxs,
        },
        {
          maxTxs:
            options.mempoolMaxTxs ?? (Number(process.env.VIGIL_MEMPOOL_MAX_TXS) || DEFAULT_MEMPOOL_MAX_TXS),
        },
      );
      const genesisRoot = (await store.blocks.stateRootAt(0)) ?? store.requireHead().stateRoot;
      // ADR 0121: a validator that may have lost what it persisted must not vote until it cannot
      // contradict what it signed before. Blocks on disk with no consensus records means the records
      // were lost (they are written before any block is); an empty home is a first start unless the
      // operator says it is a lost disk. Twice the skew: this clock may trail the proposers' by one.
      const lostRecords = loaded.length === 0 && store.requireHead().height > 0;
      const recoverAfter =
        lostRecords || options.recover === true
          ? Date.now() + 2 * genesis.consensus.maxClockSkewMs
          : undefined;
      if (recoverAfter !== undefined)
        log.warn(
          { code: 'RECOVERING_LOST_RECORDS', height: store.requireHead().height, after: recoverAfter },
          lostRecords
            ? 'consensus records are missing although blocks are on disk: following as an observer until this validator cannot contradict its earlier votes'
            : 'started with --recover: following as an observer until this validator cannot contradict its earlier votes',
        );
      const replicaConfig: ReplicaConfig = {
        chainId: genesis.chainId,
        validators,
        self: Math.max(index, 0),
        selfKey: key.publicKey,
        ...genesis.consensus,
        genesisStateRoot: genesisRoot,
        genesisTimestamp: genesis.genesisTime,
        ...(recoverAfter !== undefined ? { recoverAfter } : {}),
      };
      // The replica and the executor share one verifier that remembers accepted signatures: a block
      // committed here carries a certificate of COMMIT signatures the replica already verified, and
      // the executor's re-check of it then costs lookups, not 2f + 1 verifications per block.
      // (Its own COMMIT is one of those votes: the signer remembers what it signs.)
      const consensusVerifier = createRememberingVerifier(fastVerifier);
      // node:crypto: byte-identical signatures to @noble's (RFC 8032 is deterministic), far cheaper.
      const signer = rememberingSigner(fastSignerFromSeed(key.seed), consensusVerifier);
      const deps = {
        signer,
        verifier: consensusVerifier,
        // Block transaction roots with node:crypto's SHA-256 (the core's default is pure JS): checked
        // on every PRE-PREPARE decode and shape check, and computed for every block proposed.
        txRoot,
        // A backup prepares only blocks whose every transaction decodes for this chain and carries a
        // valid signature; that is what lets certified blocks skip signature checks later (ADR 0031).
        validateTransactions: (txs: readonly Uint8Array[]) => {
          for (const bytes of txs) {
            let decoded: DecodedTx;
            try {
              decoded = decodeTx(bytes, genesis.chainId);
            } catch {
              return 'MALFORMED_TX';
            }
            const { tx, txId, signingBytes } = decoded;
            if (mempool.isVerified(txId, tx.signature) || provenTxs.isVerified(txId, tx.signature)) continue;
            if (!fastVerifier.verify(tx.signature, signingBytes, tx.sender)) return 'BAD_SIGNATURE';
            provenTxs.remember(txId, tx.signature);
          }
          return undefined;
        },
      };
      const replica =
        loaded.length > 0
          ? Replica.restore(
              replicaConfig,
              deps,
              new Map(loaded.filter((r) => r.value !== null).map((r) => [r.key, r.value as Uint8Array])),
            )
          : Replica.create(replicaConfig, deps);
      const executor = new BlockExecutor({
        store,
        handlers: createHandlers(),
        verifier: pool,
        certificateVerifier: consensusVerifier,
        verifiedCache: eitherVerified(mempool, provenTxs),
        // Certificates are checked against the set of the block's epoch (ADR 0015). The driver hands a
        // change to the replica right after the deciding block, before any block it applies to.
        validatorsAt: (h) => replica.validatorsAt(h),
      });
      const p2pLog: P2PLogger = {
        info: (m, f) => log.info(f ?? {}, m),
        warn: (m, f) => log.warn(f ?? {}, m),
      };
      // Benchmarks and fault campaigns inject latency, loss and partitions through p2p's fault layer.
      const fault = options.fault ?? faultLayerFromEnv();
      const peerAddrs = new Map(config.p2p.peers.map((p) => [p.publicKey, p.addrs]));
      const network = await VigilNetwork.create({
        seed: key.seed,
        listen: config.p2p.listen,
        peers: {
          validators: ValidatorGate.admitted(replica)
            .filter((v) => hex(v) !== hex(key.publicKey))
            .map((v) => ({ publicKey: v, addrs: peerAddrs.get(hex(v)) ?? [] })),
          observers: config.p2p.observers.map((o) => ({
            publicKey: new Uint8Array(Buffer.from(o.publicKey, 'hex')),
            addrs: o.addrs,
          })),
        },
        logger: p2pLog,
        ...(fault ? { fault } : {}),
        ...((options.compactPrePrepare ?? process.env.VIGIL_P2P_COMPACT !== '0')
          ? {}
          : { limits: { compact: false as const } }),
      });
      if (fault && process.env.VIGIL_FAULT_CONTROL) {
        const port = Number(process.env.VIGIL_FAULT_CONTROL);
        const control = await startFaultControl(fault, port);
        cleanup.push(() => new Promise((r) => control.close(r)));
        log.warn({ port }, 'fault control endpoint enabled (tests and benchmarks only)');
      }
      const v = new Validator({
        config,
        genesis,
        store,
        records,
        pool,
        mempool,
        network,
        replica,
        signer,
        index,
        validators,
        executor,
        log,
      });
      const fromEnv = proposalBatchFromEnv();
      const proposal = options.proposal ?? {
        ...fromEnv,
        // A block should execute well within the request timer, on this machine as loaded as it is.
        blockBudgetMs: process.env.VIGIL_PROPOSAL_BLOCK_BUDGET_MS
          ? fromEnv.blockBudgetMs
          : genesis.consensus.viewChangeTimeoutMs / 4,
      };
      await v.#start(options.tickMs ?? 100, proposal, options.citeQuietMs ?? citeQuietMsFromEnv());
      return v;
    } catch (e) {
      for (const c of cleanup.reverse()) await c().catch(() => undefined);
      throw e;
    }
  }

  async #start(tickMs: number, proposal: ProposalBatchOptions, citeQuietMs: number): Promise<void> {
    const c = this.genesis.consensus;
    this.#citation = new StateCitation({
      quietMs: citeQuietMs,
      stateRootInterval: this.store.stateRootInterval,
    });
    this.#batcher = new ProposalBatcher(proposal, {
      timers: { set: (cb, ms) => setTimeout(cb, ms), clear: (h) => clearTimeout(h as NodeJS.Timeout) },
      clock: Date.now,
      pending: () => this.mempool.size,
      isPrimary: () => this.replica.isPrimary,
      inFlightBlocks: () =>
        this.replica.isPrimary ? Math.max(0, this.replica.lastProposed - this.replica.lastCommitted) : 0,
      propose: (maxTxs) =>
        this.driver.enqueue({
          type: 'propose',
          txs: maxTxs === 0 ? [] : this.mempool.nextBatch(Math.min(maxTxs, c.maxBlockTxs), c.maxBlockBytes),
          now: Date.now(),
        }),
    });
    this.network.onConsensus((from, message) => {
      const i = this.#gate.rosterId(from);
      if (i !== undefined) this.driver.enqueue({ type: 'receive', from: i, message });
    });
    this.network.onTransactions((_from, txs) => {
      const g = this.gossip;
      g.received += txs.length;
      for (const tx of txs)
        this.mempool.add(tx, { from: 'peer' }).then(
          () => {
            g.admitted++;
            this.#schedulePropose();
          },
          (e: unknown) => {
            const code = e instanceof MempoolRejected ? e.code : 'ERROR';
            g.refused[code] = (g.refused[code] ?? 0) + 1;
          },
        );
    });
    this.network.serveBlocks((_from, req) => serveBlockRange(this.store, req));
    this.network.serveStatus(() => ({
      height: this.store.requireHead().height,
      view: this.replica.view,
      checkpoint: { height: this.replica.lowWatermark, digest: this.store.requireHead().stateRoot },
    }));
    this.network.onPeer((event, peer) => {
      this.#log.info({ peer: peer.key.slice(0, 16), role: peer.role }, `peer ${event}`);
      if (event === 'connect') {
        this.#catchUp();
        // Transactions admitted while this peer was unreachable never reached it; the gossip layer
        // remembers per peer what it sent, so this re-sends only what the peer has not seen.
        const pending = this.mempool.nextBatch(10_000, 16 * 1024 * 1024);
        if (pending.length > 0) this.network.gossipTransactions(pending);
      }
    });
    await this.network.start();
    this.driver.start(this.store.requireHead().stateRoot, await reconfigurationsInState(this.store.state));
    // Pending transactions older than half a request timeout are offered to the primary again (at most
    // REOFFER_MAX per round, each backing off: Mempool.takeStale): one whose gossip copy never reached
    // the primary is then proposed before a backup's request timer gives up on the view. Only the
    // primary proposes, so only it needs the copy; the other backups got theirs, or get it in the
    // PRE-PREPARE.
    const reofferAfterMs = Math.max(1, Math.floor(c.viewChangeTimeoutMs / 2));
    let lastReofferAt = Date.now();
    this.#timers.push(
      setInterval(() => {
        this.driver.enqueue({ type: 'tick', now: Date.now() });
        // Not as primary: it proposes what it holds itself; its old transactions are queued, not lost.
        if (!this.replica.isPrimary && Date.now() - lastReofferAt >= reofferAfterMs / 2) {
          lastReofferAt = Date.now();
          const stale = this.mempool.takeStale(reofferAfterMs, REOFFER_MAX);
          if (stale.length > 0) {
            this.gossip.reoffered += stale.length;
            const { validators } = this.replica.epoch;
            const primary = validators[primaryOf(this.replica.view, validators.length)];
            if (primary !== undefined) this.network.reofferTransactions(stale, keyHex(primary));
          }
        }
        // A validator-set change decided or taking effect updates who may connect (ADR 0015).
        this.#gate.update();
        if (this.mempool.size > 0) this.#schedulePropose();
        this.#citeQuietState();
        if (this.driver.fatal && !this.#stopped) this.events.emit('fatal', this.driver.fatal);
      }, tickMs),
      // A node that is behind while the others are idle sees no CHECKPOINT that would tell it so:
      // ask peers' status now and then.
      setInterval(() => this.#catchUp(), 5_000),
    );
    this.#log.info(
      {
        index: this.index,
        chainId: this.genesis.chainId,
        height: this.store.requireHead().height,
        listen: this.network.listenAddrs(),
      },
      'validator started',
    );
  }

  #count(result: BlockOutcome): void {
    const c = this.counters;
    c.committedTxs += result.receipts.length;
    for (const r of result.receipts) {
      if (r.status === 'accepted') c.acceptedTxs++;
      else c.rejectedTxs++;
    }
    for (const e of result.events) {
      if (e.event.kind === 'alertRaised') c.alertsRaised++;
      else if (e.event.kind === 'alertAcknowledged') c.alertsAcknowledged++;
    }
  }

  /** What block sync applied and how long it ran (vigil_sync_* in /metrics). */
  syncStats(): SyncStats {
    return this.#sync.stats();
  }

  /** Certified ranges applied from peers' effects records, and those executed instead (ADR 0133). */
  effectsStats(): EffectsRangeStats {
    return this.#executor.effectsRangeStats();
  }

  #catchUp(): void {
    this.#sync.catchUp().catch((err) => this.#log.debug({ err: String(err) }, 'catch-up did not finish'));
  }

  /** Admits a transaction from a client and gossips it to the other validators. Returns the tx id. */
  async submit(bytes: Uint8Array): Promise<Uint8Array> {
    const id = await this.mempool.add(bytes);
    this.network.gossipTransactions([bytes]);
    this.#schedulePropose();
    return id;
  }

  /** ADR 0125: an idle primary asks for a block that certifies the quiet chain's newest state. */
  #citeQuietState(): void {
    if (this.#stopped || this.#citation === undefined) return;
    const now = Date.now();
    const through = this.#citation.due(now, {
      isPrimary: this.replica.isPrimary,
      pending: this.mempool.size,
      inFlight: Math.max(0, this.replica.lastProposed - this.replica.lastCommitted),
      executedAll: this.store.requireHead().height >= this.replica.lastCommitted,
    });
    if (through !== undefined) this.driver.enqueue({ type: 'citeState', through, now });
  }

  #schedulePropose(): void {
    if (!this.#stopped) this.#batcher?.notify();
  }

  status() {
    const head = this.store.requireHead();
    return {
      chainId: head.chainId,
      // Two chains may share a chain id (every `vigil genesis` and `npm start` network is vigil-devnet);
      // the genesis hash tells them apart, so a device can refuse a data directory made for another one.
      genesisHash: hex(head.genesisHash),
      height: head.height,
      headHash: hex(head.headHash),
      stateRoot: hex(head.stateRoot),
      view: this.replica.view,
      // False while this replica is changing view (it sent VIEW-CHANGE and awaits NEW-VIEW, §4.4).
      viewActive: this.replica.active,
      primary: primaryOf(this.replica.view, this.replica.epoch.validators.length),
      validatorIndex: this.replica.id,
      // ADR 0121: set while this validator, having lost its records, follows without voting: the height
      // its stable checkpoint must reach first (null until a late enough checkpoint is stable).
      ...(this.replica.recoveringUntil !== undefined
        ? { recoveringUntil: this.replica.recoveringUntil }
        : {}),
      validatorSet: this.#gate.describe(),
      lowWatermark: this.replica.lowWatermark,
      mempool: { size: this.mempool.size, bytes: this.mempool.bytes, ready: this.mempool.readyCount() },
      sinceStart: { ...this.counters },
      // Drop counters, so operators and the security tests can see hostile input being refused: the
      // replica's per-reason drops (DropReason) and p2p's invalid frames, bans and per-reason drops.
      consensus: { dropped: this.replica.stats().dropped },
      // And the compact PRE-PREPAREs' counters (ADR 0129): how many were rebuilt, fetched or refused.
      p2p: (({ invalidFrames, connections, dropped, compact }) => ({
        invalidFrames,
        connections,
        dropped,
        compact,
      }))(this.network.metrics()),
      peers: this.network
        .peers()
        .map((p) => ({ key: p.key, role: p.role, connected: p.connected, score: p.score })),
      time: Date.now(),
    };
  }

  blockHashAt(result: BlockResult): string {
    return hex(result.blockHash);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#batcher?.stop();
    for (const t of this.#timers) clearInterval(t);
    await this.driver.stop();
    await this.network.stop().catch(() => undefined);
    await this.#pool.close().catch(() => undefined);
    await this.#records.close().catch(() => undefined);
    await this.store.close().catch(() => undefined);
  }
}

export { blockHash };
