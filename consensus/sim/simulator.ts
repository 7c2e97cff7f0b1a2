// The deterministic simulator: n replicas of the pure PBFT core (consensus/src/pbft) driven through
// virtual time by one event queue and one seeded PRNG. It plays the driver's part of the Ready contract
// (types.ts): persist, then send, then apply commits, then arm timers, and serves state transfers, while
// the network model, the fault schedule and the Byzantine adversaries decide what actually happens.
// Every commit a correct replica makes goes through the InvariantChecker as it happens, so a violation is
// reported at the exact delivery that caused it. See docs/simulator.md.

import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import {
  decodeMessage,
  type MessageLimits,
  MessageType,
  maxFaulty,
  messageLimits,
  Replica,
} from '../src/pbft/index.ts';
import type { Event, Outbound, Ready, ReplicaConfig, ReplicaDeps, TimerId } from '../src/pbft/types.ts';
import {
  blockHash,
  decodeTransaction,
  referenceVerifier,
  type Signer,
  signerFromSeed,
  type Verifier,
  verifyTransactionSignature,
} from '../src/wire/index.ts';
import { type Adversary, createAdversary, messageTypeName, peekMessageType } from './byzantine.ts';
import { type LocalClock, localTime, trueDuration } from './clock.ts';
import { CryptoMeter, FakeKeyRegistry, hex, meteredSigner, meteredVerifier } from './crypto.ts';
import { describeMessage } from './describe.ts';
import { EventQueue } from './event-queue.ts';
import { InvariantChecker, type Violation } from './invariants.ts';
import { Network } from './network.ts';
import { Prng } from './prng.ts';
import { CITATION_BOUND_MS, type MessageStats, type RunResult, type ScenarioSpec } from './scenario.ts';
import { generateWorkload, type WorkloadTx } from './workload.ts';
import { StateCitation } from '../src/pbft/state-citation.ts';

const enc = new TextEncoder();
const ZERO32 = new Uint8Array(32);

/** Delay of a state transfer (fetching a checkpoint's state from peers), ms. */
const STATE_TRANSFER_MS = 50;
/** Client-to-replica latency bounds (clients retransmit, so submissions are never lost), ms. */
const CLIENT_LATENCY: readonly [number, number] = [1, 5];
/** Most transactions handed to a replica in one `propose` event. */
const PROPOSE_LIMIT = 256;
/** After everything settled, keep running this long so late commits are checked too, ms. */
const SETTLE_MS = 500;
/**
 * Most events one run may process. A correct cluster needs a few thousand per run; a run that exceeds
 * this is in a message storm (unbounded amplification), which is reported as a violation.
 */
const MAX_STEPS = 400_000;
/** How often (virtual ms) the run looks for a missed liveness deadline, to stop a stuck run early. */
const LIVENESS_CHECK_MS = 100;

type SimEvent =
  | {
      kind: 'deliver';
      from: number;
      fromTwin: number;
      fromIncarnation: number;
      departAt: number;
      to: number;
      message: Uint8Array;
    }
  | { kind: 'timer'; node: number; twin: number; incarnation: number; timer: TimerId; gen: number }
  | { kind: 'tick'; node: number; twin: number; incarnation: number }
  | { kind: 'submit'; tx: number }
  | { kind: 'clientTx'; node: number; twin: number; tx: number }
  | { kind: 'crash'; node: number }
  | { kind: 'restart'; node: number; loseRecords: boolean }
  | { kind: 'partition'; groups: readonly (readonly number[])[] }
  | { kind: 'heal' }
  | { kind: 'gst' }
  | {
      kind: 'stateTransferred';
      node: number;
      twin: number;
      incarnation: number;
      height: number;
    };

/** One running copy of a replica (a twins replica has two). */
interface Instance {
  node: number;
  twin: number;
  name: string;
  replica: Replica | undefined;
  /** The replica's durable records (what survives a crash). */
  store: Map<string, Uint8Array>;
  incarnation: number;
  /** incarnation -> time it crashed: messages it had not sent by then are lost. */
  crashedAt: Map<number, number>;
  busyUntil: number;
  meter: CryptoMeter;
  timers: Map<TimerId, number>;
  timerGen: number;
  clock: LocalClock;
  /** Transactions known and not yet committed, in arrival order (key -> workload index). */
  mempool: Map<string, number>;
  /** The application's durable state: what it executed. Survives crashes like a block store. */
  committedTxs: Set<string>;
  appliedHeight: number;
  roots: Map<number, Uint8Array>;
  transferPending: boolean;
  lastView: number;
  /** When this node asks its replica to cite a quiet chain's state (ADR 0125); reset by a restart. */
  citation: StateCitation;
}

interface NodeState {
  index: number;
  correct: boolean;
  adversary: Adversary | undefined;
  instances: Instance[];
  /** For twins: the replicas instance 0 talks to. */
  twinGroup: Set<number> | undefined;
}

export interface RunOptions {
  /** Keep the trace lines in the result (the hash is always computed). */
  trace?: boolean;
  /** Called with each trace line as it happens (the CLI's --trace streams them). */
  onTrace?: (line: string) => void;
  /** Stop at the first violation (default true); false runs to the end to collect every violation. */
  stopOnViolation?: boolean;
}

export function reproduceCommand(spec: ScenarioSpec, seed: number): string {
  const flags = [
    spec.mutant ? ` --mutant ${spec.mutant}` : '',
    spec.realCrypto ? ' --real-crypto' : '',
    spec.cpu ? ` --cpu ${spec.cpu.signMs},${spec.cpu.verifyMs}` : '',
  ].join('');
  return `npm run sim -- --scenario ${spec.name} --n ${spec.n} --seed ${seed}${flags} --trace`;
}

export function runScenario(spec: ScenarioSpec, seed: number, options: RunOptions = {}): RunResult {
  return new Simulation(spec, seed, options).run();
}

class Simulation {
  readonly #spec: ScenarioSpec;
  readonly #seed: number;
  readonly #opts: RunOptions;
  readonly #prng: Prng;
  readonly #queue = new EventQueue<SimEvent>();
  readonly #network: Network;
  readonly #nodes: NodeState[] = [];
  readonly #validators: Uint8Array[] = [];
  readonly #signers: Signer[] = [];
  readonly #verifier: Verifier;
  readonly #checker: InvariantChecker;
  readonly #txs: WorkloadTx[];
  readonly #txIndex = new Map<string, number>();
  readonly #verifiedTxs = new Set<string>();
  readonly #config: Omit<ReplicaConfig, 'self'>;
  readonly #limits: MessageLimits;
  /** Height -> tx keys of the agreed block (for state transfer and restart). */
  readonly #agreedTxs = new Map<number, string[]>();
  /** Height -> agreed state root (the hash chain over agreed block hashes). */
  readonly #agreedRoots = new Map<number, Uint8Array>([[0, ZERO32]]);
  readonly #hasher = nobleSha256.create();
  readonly #trace: string[] = [];
  readonly #messages: Record<string, MessageStats> = {};
  readonly #viewChangeDurations: number[] = [];
  #openViewChange: { view: number; start: number } | undefined;
  #maxView = 0;
  #maxEpoch = 0;
  /** The application's validator-set changes, in decision order (ADR 0015). */
  readonly #changes: { decidedAt: number; fromHeight: number; validators: Uint8Array[] }[] = [];
  #genesisSize = 0;
  #now = 0;
  #steps = 0;
  #submitted = 0;
  /** citeState events stepped (ADR 0125). */
  #citeRequests = 0;
  /** The highest height with transactions, and the highest stateHeight cited, committed by a correct replica. */
  #lastTxHeight = 0;
  #maxCited = 0;
  #stopAt: number | undefined;
  #lastFaultAt = 0;

  constructor(spec: ScenarioSpec, seed: number, opts: RunOptions) {
    this.#spec = spec;
    this.#seed = seed;
    this.#opts = opts;
    this.#prng = new Prng(seed);
    this.#network = new Network(spec.network, this.#prng.fork());

    const registry = new FakeKeyRegistry();
    for (let i = 0; i < spec.n; i++) {
      const s = spec.realCrypto
        ? signerFromSeed(nobleSha256(enc.encode(`vigil-sim/validator/${i}`)))
        : registry.signer(`validator/${i}`);
      this.#signers.push(s);
      this.#validators.push(s.publicKey);
    }
    this.#verifier = spec.realCrypto ? referenceVerifier : registry;
    this.#genesisSize = spec.genesisSize ?? spec.n;
    const k = spec.replica.checkpointInterval;
    for (const c of [...(spec.reconfigurations ?? [])].sort((a, b) => a.decidedAt - b.decidedAt))
      this.#changes.push({
        decidedAt: c.decidedAt,
        fromHeight: (Math.floor(c.decidedAt / k) + 2) * k + 1,
        validators: c.validators.map((i) => this.#validators[i]!),
      });
    const genesisSet = this.#validators.slice(0, this.#genesisSize);
    this.#checker = new InvariantChecker({
      chainId: spec.chainId,
      validators: genesisSet,
      // "Every certificate is valid for its height's epoch": checked against the set of that epoch.
      validatorsAt: (h) => {
        let set = genesisSet;
        for (const c of this.#changes) if (h >= c.fromHeight) set = c.validators;
        return set;
      },
      verifier: this.#verifier,
      settleQuorum: maxFaulty(spec.n) + 1,
    });
    this.#txs = generateWorkload(spec, this.#prng.fork(), (label) =>
      spec.realCrypto
        ? signerFromSeed(nobleSha256(enc.encode(`vigil-sim/${label}`)))
        : registry.signer(label),
    );
    for (const [i, tx] of this.#txs.entries()) this.#txIndex.set(tx.key, i);
    this.#config = {
      chainId: spec.chainId,
      validators: genesisSet,
      checkpointInterval: spec.replica.checkpointInterval,
      windowSize: spec.replica.windowSize,
      maxBlockTxs: spec.replica.maxBlockTxs,
      maxBlockBytes: spec.replica.maxBlockBytes,
      viewChangeTimeoutMs: spec.replica.viewChangeTimeoutMs,
      maxClockSkewMs: spec.replica.maxClockSkewMs,
    };

    this.#limits = messageLimits({ ...this.#config, validators: this.#validators });
    const adversaryPrng = this.#prng.fork();
    for (let i = 0; i < spec.n; i++) {
      const byz = spec.byzantine.find((b) => b.replica === i);
      const twins = byz?.behaviour === 'twins';
      const node: NodeState = {
        index: i,
        correct: byz === undefined,
        adversary:
          byz === undefined || twins
            ? undefined
            : createAdversary(byz.behaviour, {
                self: i,
                n: spec.n,
                chainId: spec.chainId,
                signer: this.#signers[i]!,
                prng: adversaryPrng.fork(),
                config: this.#replicaConfig(i),
              }),
        instances: [],
        twinGroup: twins ? new Set(byz.twinGroup ?? []) : undefined,
      };
      const clock: LocalClock = { rate: spec.clockRates?.[i] ?? 1, offsetMs: spec.clockOffsetsMs?.[i] ?? 0 };
      for (let t = 0; t < (twins ? 2 : 1); t++) node.instances.push(this.#newInstance(i, t, twins, clock));
      this.#nodes.push(node);
    }
  }

  /** Genesis validators by index; the others by key (they join through a reconfiguration). */
  #replicaConfig(i: number): ReplicaConfig {
    return i < this.#genesisSize
      ? { ...this.#config, self: i }
      : { ...this.#config, self: 0, selfKey: this.#validators[i]! };
  }

  /** The changes decided by blocks in (after, upTo], as the driver hands them in (types.ts). */
  #changesIn(after: number, upTo: number): Event[] {
    return this.#changes
      .filter((c) => c.decidedAt > after && c.decidedAt <= upTo)
      .map((c) => ({ type: 'reconfigure', fromHeight: c.fromHeight, validators: c.validators }));
  }

  #newInstance(node: number, twin: number, twins: boolean, clock: LocalClock): Instance {
    return {
      node,
      twin,
      name: twins ? `${node}${twin === 0 ? 'a' : 'b'}` : `${node}`,
      replica: undefined,
      store: new Map(),
      incarnation: 0,
      crashedAt: new Map(),
      busyUntil: 0,
      meter: new CryptoMeter(),
      timers: new Map(),
      timerGen: 0,
      clock,
      mempool: new Map(),
      committedTxs: new Set(),
      appliedHeight: 0,
      roots: new Map([[0, ZERO32]]),
      transferPending: false,
      lastView: 0,
      citation: this.#newCitation(),
    };
  }

  /** The node's policy (ADR 0125), with two ticks of quiet; k = 1 (the simulator's state is per block). */
  #newCitation(): StateCitation {
    return new StateCitation({ quietMs: 2 * this.#spec.tickIntervalMs, stateRootInterval: 1 });
  }

  /** On a tick: an idle primary asks its replica for a block citing the quiet chain's state. */
  #citeQuietState(inst: Instance): void {
    const r = inst.replica;
    if (r === undefined) return;
    const now = localTime(inst.clock, this.#now);
    const through = inst.citation.due(now, {
      isPrimary: r.isPrimary,
      pending: inst.mempool.size,
      inFlight: Math.max(0, r.lastProposed - r.lastCommitted),
      executedAll: inst.appliedHeight >= r.lastCommitted,
    });
    if (through === undefined) return;
    this.#citeRequests++;
    this.#step(inst, (t) => ({ type: 'citeState', through, now: t }));
  }

  #deps(inst: Instance): ReplicaDeps {
    const deps: ReplicaDeps & { mutations?: ScenarioSpec['mutations'] } = {
      signer: meteredSigner(this.#signers[inst.node]!, inst.meter),
      verifier: meteredVerifier(this.#verifier, inst.meter),
      validateTransactions: (txs) => this.#validateTransactions(inst, txs),
    };
    // Mutations weaken correct replicas only: they exist to show that the checker can fail.
    if (this.#spec.mutations !== undefined && this.#nodes[inst.node]?.correct !== false)
      deps.mutations = this.#spec.mutations;
    return deps;
  }

  #validateTransactions(inst: Instance, txs: readonly Uint8Array[]): string | undefined {
    const seen = new Set<string>();
    for (const bytes of txs) {
      const key = txKey(bytes);
      if (seen.has(key)) return 'DUPLICATE_IN_BLOCK';
      seen.add(key);
      if (inst.committedTxs.has(key)) return 'ALREADY_COMMITTED';
      if (this.#verifiedTxs.has(key)) continue;
      try {
        const tx = decodeTransaction(bytes, { chainId: this.#spec.chainId });
        if (!verifyTransactionSignature(tx, this.#verifier)) return 'BAD_TX_SIGNATURE';
      } catch {
        return 'MALFORMED_TX';
      }
      // A real node verifies a transaction once, when it enters the mempool; so does the simulation.
      this.#verifiedTxs.add(key);
    }
    return undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Setup and main loop

  run(): RunResult {
    const spec = this.#spec;
    for (const node of this.#nodes) {
      if (node.adversary?.silent) continue;
      for (const inst of node.instances) {
        inst.replica = Replica.create(this.#replicaConfig(node.index), this.#deps(inst));
        this.#scheduleTick(inst, this.#prng.range(0, spec.tickIntervalMs));
      }
    }
    let lastSubmit = 0;
    for (let i = 0; i < this.#txs.length; i++) {
      this.#queue.push(this.#txs[i]!.submitAt, { kind: 'submit', tx: i });
      lastSubmit = Math.max(lastSubmit, this.#txs[i]!.submitAt);
    }
    for (const c of spec.crashes) {
      const base = c.afterLastSubmit === true ? lastSubmit : 0;
      this.#queue.push(base + c.atMs, { kind: 'crash', node: c.replica });
      this.#lastFaultAt = Math.max(this.#lastFaultAt, base + c.atMs);
      if (c.restartAtMs !== undefined) {
        this.#queue.push(base + c.restartAtMs, {
          kind: 'restart',
          node: c.replica,
          loseRecords: c.loseRecords === true,
        });
        this.#lastFaultAt = Math.max(this.#lastFaultAt, base + c.restartAtMs);
      }
    }
    for (const p of spec.partitions) {
      this.#queue.push(p.atMs, { kind: 'partition', groups: p.groups });
      this.#queue.push(p.healAtMs, { kind: 'heal' });
      this.#lastFaultAt = Math.max(this.#lastFaultAt, p.healAtMs);
    }
    this.#queue.push(spec.gstMs, { kind: 'gst' });
    const quietAfter = Math.max(this.#lastFaultAt, spec.gstMs, lastSubmit);

    let endTime = spec.maxTimeMs;
    let nextLivenessCheck = 0;
    let settledAt: number | undefined;
    for (;;) {
      const next = this.#queue.peekTime();
      if (next === undefined || next > spec.maxTimeMs) break;
      if (this.#stopAt !== undefined && next > this.#stopAt) {
        endTime = this.#stopAt;
        break;
      }
      const item = this.#queue.pop()!;
      this.#now = item.time;
      if (++this.#steps > MAX_STEPS) {
        this.#violation({
          kind: 'storm',
          time: this.#now,
          detail: `more than ${MAX_STEPS} events: messages are being amplified without bound`,
        });
        endTime = this.#now;
        break;
      }
      this.#handle(item.event);
      // A run that already failed stops: the first violation is the one worth reproducing.
      if (this.#opts.stopOnViolation !== false && this.#checker.violations.length > 0) {
        endTime = this.#now;
        break;
      }
      if (this.#now >= nextLivenessCheck) {
        nextLivenessCheck = this.#now + LIVENESS_CHECK_MS;
        if (this.#checker.deadlineMissed(spec.gstMs, spec.livenessBoundMs, this.#now)) {
          endTime = this.#now;
          break;
        }
      }
      if (
        this.#stopAt === undefined &&
        this.#now >= quietAfter &&
        this.#submitted === this.#txs.length &&
        this.#checker.allSettled()
      ) {
        // ADR 0125/0128: a run is over once the last transactions' state is certified as well; a primary
        // that crashed or went silent in the final quiet period must be replaced and the state cited.
        settledAt ??= this.#now;
        if (this.#maxCited >= this.#lastTxHeight) this.#stopAt = this.#now + SETTLE_MS;
        else if (this.#now > settledAt + CITATION_BOUND_MS) {
          this.#violation({
            kind: 'liveness',
            time: this.#now,
            detail: `the last transactions' state (height ${this.#lastTxHeight}) is not cited by a committed header ${CITATION_BOUND_MS} ms after everything settled (cited through ${this.#maxCited}; ADR 0128)`,
          });
          endTime = this.#now;
          break;
        }
      }
    }
    this.#checker.checkLiveness(spec.gstMs, spec.livenessBoundMs, endTime);
    return this.#result(endTime);
  }

  #result(endTime: number): RunResult {
    const commits = this.#checker.committedHeights;
    const perBlock: Record<string, MessageStats> = {};
    for (const [type, s] of Object.entries(this.#messages))
      perBlock[type] = { count: commits ? s.count / commits : 0, bytes: commits ? s.bytes / commits : 0 };
    const drops: Record<string, number> = {};
    for (const node of this.#nodes)
      for (const inst of node.instances) {
        const stats = inst.replica?.stats();
        for (const [reason, count] of Object.entries(stats?.dropped ?? {}))
          drops[reason] = (drops[reason] ?? 0) + count;
      }
    return {
      scenario: this.#spec.name,
      n: this.#spec.n,
      seed: this.#seed,
      violations: this.#checker.violations,
      commits,
      txsSubmitted: this.#submitted,
      txsCommitted: this.#checker.settledCount,
      stateCitations: this.#citeRequests,
      quietStateCited: this.#maxCited >= this.#lastTxHeight,
      viewChanges: this.#maxView,
      epochs: this.#maxEpoch,
      messages: this.#messages,
      perBlock,
      commitLatencies: this.#checker.commitLatencies,
      viewChangeDurations: this.#viewChangeDurations,
      drops,
      endTimeMs: endTime,
      steps: this.#steps,
      traceHash: hex(this.#hasher.digest()),
      ...(this.#opts.trace ? { trace: this.#trace } : {}),
      reproduce: reproduceCommand(this.#spec, this.#seed),
    };
  }

  /**
   * Appends to the trace. `detail` (a decoded summary of a message) is only computed when someone reads
   * the trace, and is not hashed, so the trace hash is the same with and without --trace.
   */
  #log(line: string, detail?: () => string): void {
    const l = `${this.#now.toFixed(3)} ${line}`;
    this.#hasher.update(enc.encode(l + '\n'));
    if (!this.#opts.trace && this.#opts.onTrace === undefined) return;
    const full = detail === undefined ? l : `${l} ${detail()}`;
    if (this.#opts.trace) this.#trace.push(full);
    this.#opts.onTrace?.(full);
  }

  #handle(ev: SimEvent): void {
    switch (ev.kind) {
      case 'deliver':
        this.#deliver(ev);
        return;
      case 'timer': {
        const inst = this.#nodes[ev.node]!.instances[ev.twin]!;
        if (inst.replica === undefined || inst.incarnation !== ev.incarnation) return;
        if (inst.timers.get(ev.timer) !== ev.gen) return;
        inst.timers.delete(ev.timer);
        this.#log(`timeout ${inst.name} ${ev.timer}`);
        this.#step(inst, (now) => ({ type: 'timeout', timer: ev.timer, now }));
        return;
      }
      case 'tick': {
        const inst = this.#nodes[ev.node]!.instances[ev.twin]!;
        if (inst.replica === undefined || inst.incarnation !== ev.incarnation) return;
        this.#step(inst, (now) => ({ type: 'tick', now }));
        this.#citeQuietState(inst);
        this.#scheduleTick(inst, trueDuration(inst.clock, this.#spec.tickIntervalMs));
        return;
      }
      case 'submit': {
        const tx = this.#txs[ev.tx]!;
        this.#submitted++;
        this.#checker.submitted(tx.key, this.#now);
        this.#log(`submit tx${ev.tx}`);
        // Clients send to every replica and retransmit until they see f+1 replies, so a submission
        // is never lost; the network only delays it.
        for (const node of this.#nodes)
          for (const inst of node.instances)
            this.#queue.push(this.#now + this.#prng.range(CLIENT_LATENCY[0], CLIENT_LATENCY[1]), {
              kind: 'clientTx',
              node: node.index,
              twin: inst.twin,
              tx: ev.tx,
            });
        return;
      }
      case 'clientTx': {
        const inst = this.#nodes[ev.node]!.instances[ev.twin]!;
        const tx = this.#txs[ev.tx]!;
        if (inst.replica === undefined || inst.committedTxs.has(tx.key) || inst.mempool.has(tx.key)) return;
        inst.mempool.set(tx.key, ev.tx);
        this.#propose(inst);
        return;
      }
      case 'crash':
        this.#crash(ev.node);
        return;
      case 'restart':
        this.#restart(ev.node, ev.loseRecords);
        return;
      case 'partition':
        this.#log(`partition ${ev.groups.map((g) => `{${g.join(',')}}`).join(' ')}`);
        this.#network.partition(ev.groups);
        return;
      case 'heal':
        this.#log('heal');
        this.#network.heal();
        return;
      case 'gst':
        this.#log('gst');
        this.#network.stabilise();
        return;
      case 'stateTransferred':
        this.#finishStateTransfer(ev);
        return;
    }
  }

  #scheduleTick(inst: Instance, after: number): void {
    this.#queue.push(this.#now + after, {
      kind: 'tick',
      node: inst.node,
      twin: inst.twin,
      incarnation: inst.incarnation,
    });
  }

  #deliver(ev: Extract<SimEvent, { kind: 'deliver' }>): void {
    const sender = this.#nodes[ev.from]!.instances[ev.fromTwin]!;
    const crashedAt = sender.crashedAt.get(ev.fromIncarnation);
    // "Unsynced records lost": the sender crashed before this message left it (it was still computing).
    if (crashedAt !== undefined && ev.departAt > crashedAt) return;
    // A partition that started while the message was in flight drops it too.
    if (!this.#network.connected(ev.from, ev.to)) return;
    if (this.#starved(ev.to, ev.message)) return;
    const node = this.#nodes[ev.to]!;
    const inst = node.instances[this.#twinFor(node, ev.from)]!;
    if (inst.replica === undefined) return;
    this.#log(
      `deliver ${sender.name}>${inst.name} ${messageTypeName(peekMessageType(ev.message))} ${ev.message.length}`,
      () => describeMessage(ev.message, this.#limits),
    );
    node.adversary?.observe(ev.from, ev.message);
    this.#step(inst, () => ({ type: 'receive', from: ev.from, message: ev.message }));
  }

  /** The scenario's targeted adversary (ScenarioSpec.starveCommits) loses this message. */
  #starved(to: number, message: Uint8Array): boolean {
    const rule = this.#spec.starveCommits;
    if (rule === undefined || to === rule.exceptTo || peekMessageType(message) !== MessageType.commit)
      return false;
    try {
      const m = decodeMessage(message, this.#limits);
      return m.type === MessageType.commit && m.view === rule.view;
    } catch {
      return false;
    }
  }

  /** Which instance of `node` hears from replica `from` (always 0 unless `node` is a twins replica). */
  #twinFor(node: NodeState, from: number): number {
    if (node.twinGroup === undefined) return 0;
    return node.twinGroup.has(from) ? 0 : 1;
  }

  #propose(inst: Instance): void {
    this.#step(inst, (now) => ({ type: 'propose', txs: this.#pending(inst), now }));
  }

  // ---------------------------------------------------------------------------------------------
  // Stepping a replica and carrying out its Ready

  /**
   * Feeds one event to an instance and carries out the Ready, then any follow-up events the driver owes
   * the replica (`executed` after each applied block, `propose` after the mempool changed), in order.
   */
  #step(inst: Instance, makeEvent: (now: number) => Event): void {
    const work: ((now: number) => Event)[] = [makeEvent];
    const node = this.#nodes[inst.node]!;
    let mempoolChanged = false;
    while (work.length > 0) {
      const replica = inst.replica;
      if (replica === undefined) return;
      // A replica is a single CPU: an event waits until the previous one's modelled crypto is done.
      const start = Math.max(this.#now, inst.busyUntil);
      const event = work.shift()!(localTime(inst.clock, start));
      let ready: Ready;
      try {
        ready = replica.step(event);
      } catch (e) {
        this.#violation({
          kind: 'replica-threw',
          time: this.#now,
          replica: inst.node,
          detail: `${event.type}: ${e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : String(e)}`,
        });
        return;
      }
      const cost = inst.meter.take();
      const cpu = this.#spec.cpu;
      const end = start + (cpu ? cost.signs * cpu.signMs + cost.verifies * cpu.verifyMs : 0);
      inst.busyUntil = end;

      // 1. persist (durable before anything leaves the replica).
      for (const r of ready.persist) {
        if (r.value === null) inst.store.delete(r.key);
        else inst.store.set(r.key, r.value);
      }
      // 2. send (through the adversary if the replica is Byzantine).
      let sends: Outbound[] = ready.send;
      if (node.adversary !== undefined) sends = node.adversary.outbound(sends, replica.view, end);
      for (const s of sends) this.#send(inst, s, end);
      // 3. apply commits in height order.
      for (const c of ready.commit) {
        const before = inst.appliedHeight;
        const applied = this.#apply(inst, node, c.block, c.certificate);
        if (applied === undefined) continue;
        mempoolChanged = true;
        // A change decided by this block goes in before the block's `executed` (ADR 0015).
        for (const e of this.#changesIn(before, inst.appliedHeight)) work.push(() => e);
        work.push(() => ({ type: 'executed', height: c.block.header.height, stateRoot: applied }));
      }
      // 4. timers, then state transfer.
      for (const t of ready.timers) {
        if (t.type === 'set') {
          const gen = ++inst.timerGen;
          inst.timers.set(t.timer, gen);
          this.#queue.push(end + trueDuration(inst.clock, t.afterMs), {
            kind: 'timer',
            node: inst.node,
            twin: inst.twin,
            incarnation: inst.incarnation,
            timer: t.timer,
            gen,
          });
        } else inst.timers.delete(t.timer);
      }
      if (ready.stateTransfer !== undefined) this.#startStateTransfer(inst, ready.stateTransfer.height);

      if (node.correct) {
        this.#observeView(inst, replica.view);
        if (replica.epochIndex > this.#maxEpoch) this.#maxEpoch = replica.epochIndex;
      }
      if (replica.view !== inst.lastView) {
        // A new view may have a new primary: remind the replica what is pending.
        inst.lastView = replica.view;
        mempoolChanged = true;
      }
      // Only once the follow-up events are done: the flag outlives the iteration that set it (after a
      // commit the `executed` events come first, and the refreshed mempool must still be handed in).
      if (mempoolChanged && work.length === 0) {
        mempoolChanged = false;
        work.push((now) => ({ type: 'propose', txs: this.#pending(inst), now }));
      }
    }
  }

  #pending(inst: Instance): Uint8Array[] {
    const txs: Uint8Array[] = [];
    for (const idx of inst.mempool.values()) {
      if (txs.length >= PROPOSE_LIMIT) break;
      txs.push(this.#txs[idx]!.bytes);
    }
    return txs;
  }

  #send(inst: Instance, out: Outbound, departAt: number): void {
    const node = this.#nodes[inst.node]!;
    const targets: number[] = [];
    if (out.to === 'all') {
      for (let j = 0; j < this.#spec.n; j++) if (j !== inst.node) targets.push(j);
    } else if (out.to !== inst.node && out.to >= 0 && out.to < this.#spec.n) targets.push(out.to);
    const type = messageTypeName(peekMessageType(out.message));
    for (const to of targets) {
      // A twins instance only reaches its own half of the network (Bano et al. 2021, §3).
      if (node.twinGroup !== undefined && this.#twinFor(node, to) !== inst.twin) continue;
      this.#messages[type] ??= { count: 0, bytes: 0 };
      const stats = this.#messages[type];
      stats.count++;
      stats.bytes += out.message.length;
      for (const delay of this.#network.transmit(inst.node, to))
        this.#queue.push(departAt + delay, {
          kind: 'deliver',
          from: inst.node,
          fromTwin: inst.twin,
          fromIncarnation: inst.incarnation,
          departAt,
          to,
          message: out.message,
        });
    }
  }

  /** Applies a committed block; returns the new state root, or undefined when not applied. */
  #apply(
    inst: Instance,
    node: NodeState,
    block: Parameters<InvariantChecker['commit']>[1],
    certificate: Parameters<InvariantChecker['commit']>[2],
  ): Uint8Array | undefined {
    const h = block.header.height;
    const keys = block.txs.map(txKey);
    const hash = blockHash(block.header);
    this.#log(`commit ${inst.name} h${h} v${certificate.view} ${hex(hash).slice(0, 12)} txs${keys.length}`);
    if (node.correct) {
      if (h <= inst.appliedHeight) {
        // Re-committed after a restart: the application already has it; check it is the same block.
        const agreed = this.#checker.agreedHash(h);
        if (agreed !== undefined && hex(agreed) !== hex(hash))
          this.#violation({
            kind: 'agreement',
            time: this.#now,
            replica: inst.node,
            height: h,
            detail: 'after restart, re-committed a different block than it had applied',
          });
        return inst.roots.get(h);
      }
      if (!this.#checker.commit(inst.node, block, certificate, keys, this.#now)) return undefined;
      if (this.#openViewChange !== undefined && certificate.view >= this.#openViewChange.view) {
        this.#viewChangeDurations.push(this.#now - this.#openViewChange.start);
        this.#openViewChange = undefined;
      }
    } else if (h <= inst.appliedHeight) return inst.roots.get(h);
    if (h !== inst.appliedHeight + 1) return undefined;
    const root = nobleSha256(concat2(inst.roots.get(h - 1)!, hash));
    inst.appliedHeight = h;
    inst.citation.applied(h, block.txs.length, block.header.stateHeight, localTime(inst.clock, this.#now));
    inst.roots.set(h, root);
    if (node.correct) {
      if (keys.length > 0 && h > this.#lastTxHeight) this.#lastTxHeight = h;
      if (block.header.stateHeight > this.#maxCited) this.#maxCited = block.header.stateHeight;
    }
    if (node.correct && !this.#agreedRoots.has(h)) {
      this.#agreedRoots.set(h, root);
      this.#agreedTxs.set(h, keys);
    }
    for (const k of keys) {
      inst.committedTxs.add(k);
      inst.mempool.delete(k);
    }
    return root;
  }

  #observeView(inst: Instance, view: number): void {
    if (view <= this.#maxView) return;
    this.#maxView = view;
    this.#log(`view ${inst.name} ${view}`);
    if (this.#openViewChange === undefined) this.#openViewChange = { view, start: this.#now };
    else this.#openViewChange.view = view;
  }

  #violation(v: Violation): void {
    this.#checker.violations.push(v);
    this.#log(`VIOLATION ${v.kind} ${v.detail}`);
  }

  // ---------------------------------------------------------------------------------------------
  // State transfer: the simulation plays the peers that serve a stable checkpoint's state.

  #startStateTransfer(inst: Instance, height: number): void {
    if (inst.transferPending) return;
    inst.transferPending = true;
    this.#log(`state-transfer ${inst.name} to h${height}`);
    this.#queue.push(this.#now + STATE_TRANSFER_MS, {
      kind: 'stateTransferred',
      node: inst.node,
      twin: inst.twin,
      incarnation: inst.incarnation,
      height,
    });
  }

  #finishStateTransfer(ev: Extract<SimEvent, { kind: 'stateTransferred' }>): void {
    const node = this.#nodes[ev.node]!;
    const inst = node.instances[ev.twin]!;
    if (inst.incarnation !== ev.incarnation || inst.replica === undefined) return;
    inst.transferPending = false;
    const root = this.#agreedRoots.get(ev.height);
    const hash = this.#checker.agreedHash(ev.height);
    // The checkpoint must be one correct replicas agreed on; otherwise no honest peer could serve it.
    if (root === undefined || hash === undefined) return;
    for (let h = 1; h <= ev.height; h++) {
      for (const k of this.#agreedTxs.get(h) ?? []) {
        inst.committedTxs.add(k);
        inst.mempool.delete(k);
      }
      const r = this.#agreedRoots.get(h);
      if (r !== undefined) inst.roots.set(h, r);
    }
    const before = inst.appliedHeight;
    if (ev.height > inst.appliedHeight) inst.appliedHeight = ev.height;
    if (node.correct) this.#checker.stateTransferred(inst.node, ev.height);
    this.#log(`state-transferred ${inst.name} h${ev.height}`);
    // The transferred state includes the changes its blocks decided: hand them in first (types.ts).
    for (const e of this.#changesIn(before, inst.appliedHeight)) this.#step(inst, () => e);
    this.#step(inst, () => ({
      type: 'stateTransferred',
      height: ev.height,
      stateRoot: root,
      blockHash: hash,
    }));
  }

  // ---------------------------------------------------------------------------------------------
  // Crash and restart

  #crash(index: number): void {
    const node = this.#nodes[index]!;
    this.#log(`crash ${index}`);
    for (const inst of node.instances) {
      if (inst.replica === undefined) continue;
      inst.replica = undefined;
      inst.crashedAt.set(inst.incarnation, this.#now);
      inst.timers.clear();
      inst.mempool.clear();
      inst.transferPending = false;
    }
  }

  #restart(index: number, loseRecords: boolean): void {
    const node = this.#nodes[index]!;
    if (node.adversary?.silent) return;
    this.#log(`restart ${index}${loseRecords ? ' without its records' : ''}`);
    for (const inst of node.instances) {
      if (inst.replica !== undefined) continue;
      inst.incarnation++;
      inst.busyUntil = this.#now;
      try {
        if (loseRecords) {
          // As the node does (ADR 0121): its clock now plus twice the skew proposals may have.
          inst.store.clear();
          const recoverAfter = localTime(inst.clock, this.#now) + 2 * this.#config.maxClockSkewMs;
          inst.replica = Replica.create({ ...this.#replicaConfig(index), recoverAfter }, this.#deps(inst));
        } else
          inst.replica = Replica.restore(this.#replicaConfig(index), this.#deps(inst), new Map(inst.store));
      } catch (e) {
        this.#violation({
          kind: 'replica-threw',
          time: this.#now,
          replica: index,
          detail: `restore: ${e instanceof Error ? e.message : String(e)}`,
        });
        continue;
      }
      if (node.correct) this.#checker.restarted(index);
      inst.lastView = inst.replica.view;
      inst.citation = this.#newCitation();
      // The driver repeats the changes its applied blocks decided (a crash may have come in between).
      for (const e of this.#changesIn(0, inst.appliedHeight)) this.#step(inst, () => e);
      // Clients retransmit what has not committed, so the fresh mempool refills.
      for (let i = 0; i < this.#submitted; i++) {
        const tx = this.#txs[i]!;
        if (!inst.committedTxs.has(tx.key)) inst.mempool.set(tx.key, i);
      }
      this.#scheduleTick(inst, 0);
      this.#step(inst, (now) => ({ type: 'tick', now }));
      if (inst.mempool.size > 0) this.#propose(inst);
    }
  }
}

function txKey(bytes: Uint8Array): string {
  return hex(nobleSha256(bytes));
}

function concat2(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

export { txKey };
