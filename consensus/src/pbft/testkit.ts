// Test support for the PBFT core (imported by *.test.ts only; not exported from index.ts):
// a fast fake signature scheme, message builders for hand-made certificates, and a tiny synchronous
// cluster driver with a message queue and a fake clock.

import {
  type Block,
  type BlockHeader,
  blockHash,
  merkleRoot,
  type Signer,
  sha256,
  type Verifier,
} from '../wire/index.ts';
import { Authenticator } from './auth.ts';
import { bytesEqual, hex } from './bytes.ts';
import type { ProtocolContext } from './context.ts';
import {
  blockBytesOf,
  type Checkpoint,
  type Commit,
  createMessage,
  MessageType,
  messageLimits,
  type NewView,
  type PrePrepare,
  type Prepare,
  type PreparedProof,
  type Suspect,
  type ViewChange,
} from './messages.ts';
import { primaryOf, quorumSize } from './quorum.ts';
import { Replica } from './replica.ts';
import type { CommittedBlock, Event, Ready, ReplicaConfig, ReplicaDeps, ReplicaMutations } from './types.ts';

export const CHAIN = 'vigil-test';

/**
 * A fast stand-in for ed25519: sig = SHA-256(secret || msg) || SHA-256(msg || secret), where the public
 * key is SHA-256(secret). The verifier knows the secrets of the test keys (it plays the role of the
 * math), so a party without the secret cannot forge, and any change to the message or key fails.
 */
export class FakeCrypto implements Verifier {
  readonly #secrets = new Map<string, Uint8Array>();

  signer(seed: number): Signer {
    const secret = sha256(new TextEncoder().encode(`fake-secret-${seed}`));
    const publicKey = sha256(secret);
    this.#secrets.set(hex(publicKey), secret);
    return {
      publicKey,
      sign: (message: Uint8Array) => FakeCrypto.#sig(secret, message),
    };
  }

  static #sig(secret: Uint8Array, message: Uint8Array): Uint8Array {
    const out = new Uint8Array(64);
    out.set(sha256(secret, message), 0);
    out.set(sha256(message, secret), 32);
    return out;
  }

  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    const secret = this.#secrets.get(hex(publicKey));
    if (secret === undefined || signature.length !== 64) return false;
    return bytesEqual(signature, FakeCrypto.#sig(secret, message));
  }
}

export interface TestGroup {
  crypto: Verifier;
  signers: Signer[];
  validators: Uint8Array[];
  config(self: number, overrides?: Partial<ReplicaConfig>): ReplicaConfig;
  deps(self: number, overrides?: Partial<ReplicaDeps>): ReplicaDeps;
}

export function testGroup(n: number, opts: { verifier?: Verifier; signers?: Signer[] } = {}): TestGroup {
  const fake = new FakeCrypto();
  const signers = opts.signers ?? Array.from({ length: n }, (_, i) => fake.signer(i));
  const crypto = opts.verifier ?? fake;
  const validators = signers.map((s) => s.publicKey);
  return {
    crypto,
    signers,
    validators,
    config: (self, overrides = {}) => ({
      chainId: CHAIN,
      validators,
      self,
      checkpointInterval: 4,
      windowSize: 8,
      maxBlockTxs: 16,
      maxBlockBytes: 64 * 1024,
      viewChangeTimeoutMs: 1000,
      maxClockSkewMs: 5000,
      ...overrides,
    }),
    deps: (self, overrides = {}) => ({ signer: signers[self]!, verifier: crypto, ...overrides }),
  };
}

export function tx(i: number): Uint8Array {
  return new TextEncoder().encode(`tx-${i}`);
}

export const GENESIS_ROOT = new Uint8Array(32);

/** A block at `height` on top of `parent` (undefined = genesis), as a primary of `view` would build it. */
export function makeTestBlock(
  n: number,
  view: number,
  height: number,
  parent: { hash: Uint8Array; timestamp: number } | undefined,
  txs: Uint8Array[],
  opts: Partial<BlockHeader> = {},
): { block: Block; hash: Uint8Array; bytes: Uint8Array } {
  const header: BlockHeader = {
    version: 1,
    chainId: CHAIN,
    height,
    view,
    prevHash: parent?.hash ?? new Uint8Array(32),
    txRoot: merkleRoot(txs),
    txCount: txs.length,
    stateRoot: GENESIS_ROOT,
    stateHeight: 0,
    proposer: primaryOf(view, n),
    timestamp: (parent?.timestamp ?? 0) + 1,
    ...opts,
  };
  const block = { header, txs };
  return { block, hash: blockHash(header), bytes: blockBytesOf(block) };
}

export function prePrepare(
  g: TestGroup,
  from: number,
  view: number,
  b: { block: Block; hash: Uint8Array; bytes: Uint8Array },
) {
  return createMessage<PrePrepare>(CHAIN, g.signers[from]!, {
    type: MessageType.prePrepare,
    view,
    height: b.block.header.height,
    blockHash: b.hash,
    replica: from,
    block: b.block,
    blockBytes: b.bytes,
  });
}

export function prepare(g: TestGroup, from: number, view: number, height: number, hash: Uint8Array) {
  return createMessage<Prepare>(CHAIN, g.signers[from]!, {
    type: MessageType.prepare,
    view,
    height,
    blockHash: hash,
    replica: from,
  });
}

/** `from` suspects the primary of `view` (its request timer expired there, ADR 0112). */
export function suspect(g: TestGroup, from: number, view: number) {
  return createMessage<Suspect>(CHAIN, g.signers[from]!, { type: MessageType.suspect, view, replica: from });
}

export function commit(g: TestGroup, from: number, view: number, height: number, hash: Uint8Array) {
  return createMessage<Commit>(CHAIN, g.signers[from]!, {
    type: MessageType.commit,
    view,
    height,
    blockHash: hash,
    replica: from,
  });
}

export function checkpoint(
  g: TestGroup,
  from: number,
  height: number,
  hash: Uint8Array,
  stateRoot: Uint8Array,
  timestamp: number,
) {
  return createMessage<Checkpoint>(CHAIN, g.signers[from]!, {
    type: MessageType.checkpoint,
    height,
    blockHash: hash,
    stateRoot,
    timestamp,
    replica: from,
  });
}

/** A prepared certificate for block `b` in `view`: the primary's PRE-PREPARE and q-1 backups' PREPAREs. */
export function preparedProof(
  g: TestGroup,
  view: number,
  b: { block: Block; hash: Uint8Array; bytes: Uint8Array },
  preparers?: number[],
): PreparedProof {
  const n = g.validators.length;
  const primary = primaryOf(view, n);
  const backups = preparers ?? [...Array(n).keys()].filter((i) => i !== primary).slice(0, quorumSize(n) - 1);
  return {
    prePrepare: prePrepare(g, primary, view, b).bytes,
    prepares: backups.map((i) => prepare(g, i, view, b.block.header.height, b.hash).bytes),
  };
}

export function viewChange(
  g: TestGroup,
  from: number,
  newView: number,
  prepared: PreparedProof[],
  checkpointProof: Uint8Array[] = [],
) {
  return createMessage<ViewChange>(CHAIN, g.signers[from]!, {
    type: MessageType.viewChange,
    newView,
    checkpointProof,
    prepared,
    replica: from,
  });
}

export function newView(
  g: TestGroup,
  from: number,
  view: number,
  viewChanges: Uint8Array[],
  prePrepares: Uint8Array[],
) {
  return createMessage<NewView>(CHAIN, g.signers[from]!, {
    type: MessageType.newView,
    view,
    viewChanges,
    prePrepares,
    replica: from,
  });
}

export function emptyReady(r: Ready): boolean {
  return r.persist.length === 0 && r.send.length === 0 && r.commit.length === 0 && r.timers.length === 0;
}

// ---------------------------------------------------------------------------------------------------
// A tiny synchronous cluster: FIFO message queue, fake clock, timers, in-memory persistence.

export interface Queued {
  from: number;
  to: number;
  message: Uint8Array;
}

export class Cluster {
  readonly g: TestGroup;
  readonly n: number;
  readonly replicas: Replica[];
  readonly records: Map<string, Uint8Array>[];
  /** Per replica: the blocks applied, by height. */
  readonly applied: Map<number, CommittedBlock>[];
  readonly roots: Map<number, Uint8Array>[];
  readonly timers: Map<string, number>[];
  readonly lastApplied: number[];
  /** Replicas whose messages (in and out) are dropped: crashed or partitioned. */
  readonly silenced = new Set<number>();
  /** Replicas that are down (receive no events at all). */
  readonly down = new Set<number>();
  queue: Queued[] = [];
  /** Period of the driver's ticks, in fake ms. */
  tickMs = 250;
  now = 1000;
  mempool: Uint8Array[] = [];
  readonly committedTx = new Set<string>();
  /**
   * The application's validator-set changes: executing block h decides the change at h (as governance
   * does, ADR 0041); the cluster hands it to the replica before the block's `executed` (ADR 0015).
   */
  readonly decisions = new Map<number, { fromHeight: number; validators: Uint8Array[] }>();
  readonly #configOverrides: Partial<ReplicaConfig>;

  constructor(n: number, configOverrides: Partial<ReplicaConfig> = {}, group?: TestGroup) {
    this.g = group ?? testGroup(n);
    this.n = n;
    this.#configOverrides = configOverrides;
    this.replicas = [];
    this.records = [];
    this.applied = [];
    this.roots = [];
    this.timers = [];
    this.lastApplied = [];
    for (let i = 0; i < n; i++) {
      this.replicas.push(Replica.create(this.g.config(i, configOverrides), this.g.deps(i)));
      this.records.push(new Map());
      this.applied.push(new Map());
      this.roots.push(new Map([[0, GENESIS_ROOT]]));
      this.timers.push(new Map());
      this.lastApplied.push(0);
    }
  }

  step(i: number, e: Event): void {
    if (this.down.has(i)) return;
    this.handle(i, this.replicas[i]!.step(e));
  }

  handle(i: number, r: Ready): void {
    for (const p of r.persist) {
      if (p.value === null) this.records[i]!.delete(p.key);
      else this.records[i]!.set(p.key, p.value);
    }
    for (const s of r.send) {
      if (this.silenced.has(i)) continue;
      const targets = s.to === 'all' ? [...Array(this.n).keys()].filter((j) => j !== i) : [s.to];
      for (const to of targets) this.queue.push({ from: i, to, message: s.message });
    }
    for (const t of r.timers) {
      if (t.type === 'set') this.timers[i]!.set(t.timer, this.now + t.afterMs);
      else this.timers[i]!.delete(t.timer);
    }
    const executed: Event[] = [];
    for (const c of r.commit) {
      const h = c.block.header.height;
      const applied = this.applied[i]!;
      if (h <= this.lastApplied[i]!) continue; // re-delivery after restore
      if (h !== this.lastApplied[i]! + 1) throw new Error(`replica ${i} applied ${h} out of order`);
      this.lastApplied[i] = h;
      applied.set(h, c);
      for (const t of c.block.txs) this.committedTx.add(hex(t));
      const prev = this.roots[i]!.get(h - 1) ?? GENESIS_ROOT;
      const root = sha256(prev, c.certificate.blockHash);
      this.roots[i]!.set(h, root);
      const d = this.decisions.get(h);
      if (d !== undefined) executed.push({ type: 'reconfigure', ...d });
      executed.push({ type: 'executed', height: h, stateRoot: root });
    }
    if (r.stateTransfer !== undefined) {
      const st = r.stateTransfer;
      const donor = [...Array(this.n).keys()].find((j) => j !== i && this.roots[j]!.has(st.height));
      if (donor !== undefined) {
        const c = this.applied[donor]!.get(st.height)!;
        for (const [h, d] of this.decisions)
          if (h > this.lastApplied[i]! && h <= st.height) executed.push({ type: 'reconfigure', ...d });
        this.lastApplied[i] = st.height;
        for (const [h, root] of this.roots[donor]!) if (h <= st.height) this.roots[i]!.set(h, root);
        executed.push({
          type: 'stateTransferred',
          height: st.height,
          stateRoot: this.roots[donor]!.get(st.height)!,
          blockHash: c.certificate.blockHash,
        });
      }
    }
    for (const e of executed) this.step(i, e);
  }

  /** Feeds the mempool (minus committed txs) to every replica, as a node would after each block. */
  propose(): void {
    this.mempool = this.mempool.filter((t) => !this.committedTx.has(hex(t)));
    for (let i = 0; i < this.n; i++) this.step(i, { type: 'propose', txs: this.mempool, now: this.now });
  }

  submit(...txs: Uint8Array[]): void {
    this.mempool.push(...txs);
    this.propose();
  }

  /** Optional schedule perturbation: pick which queued message goes next, and whether it is lost. */
  chaos: { next(): number; dropRate: number } | undefined;

  #take(): Queued | undefined {
    if (this.queue.length === 0) return undefined;
    if (this.chaos === undefined) return this.queue.shift();
    // Mostly FIFO with random overtaking inside a small window: reordering without starvation.
    const i = Math.floor(this.chaos.next() * Math.min(this.queue.length, 8));
    const [m] = this.queue.splice(i, 1);
    if (this.chaos.next() < this.chaos.dropRate) return { ...m!, to: -1 };
    return m;
  }

  /** Optional targeted network adversary: a queued message for which it returns false is lost. */
  deliverIf: ((m: Queued) => boolean) | undefined;

  /** Delivers queued messages; when idle, advances the clock to the next timer and fires it. */
  run(until: () => boolean, maxEvents = 20_000): boolean {
    for (let k = 0; k < maxEvents; k++) {
      if (until()) return true;
      const m = this.#take();
      if (m !== undefined && m.to === -1) continue;
      if (m !== undefined) {
        if (this.silenced.has(m.to) || this.silenced.has(m.from)) continue;
        if (this.deliverIf !== undefined && !this.deliverIf(m)) continue;
        this.step(m.to, { type: 'receive', from: m.from, message: m.message });
        continue;
      }
      let next: { i: number; timer: string; at: number } | undefined;
      for (let i = 0; i < this.n; i++) {
        if (this.down.has(i)) continue;
        for (const [timer, at] of this.timers[i]!)
          if (next === undefined || at < next.at) next = { i, timer, at };
      }
      // A node ticks its replica periodically; between ticks the clock jumps to the next timer.
      if (next === undefined || next.at > this.now + this.tickMs) {
        this.now += this.tickMs;
        for (let i = 0; i < this.n; i++) this.step(i, { type: 'tick', now: this.now });
        continue;
      }
      this.now = Math.max(this.now, next.at);
      this.timers[next.i]!.delete(next.timer);
      for (let i = 0; i < this.n; i++) this.step(i, { type: 'tick', now: this.now });
      this.step(next.i, { type: 'timeout', timer: next.timer, now: this.now });
      this.propose();
    }
    return until();
  }

  committedHeight(i: number): number {
    return this.replicas[i]!.lastCommitted;
  }

  /** Safety: no two replicas applied different blocks at one height. */
  agreement(): boolean {
    const byHeight = new Map<number, string>();
    for (const a of this.applied) {
      for (const [h, c] of a) {
        const k = hex(c.certificate.blockHash);
        const prior = byHeight.get(h);
        if (prior !== undefined && prior !== k) return false;
        byHeight.set(h, k);
      }
    }
    return true;
  }

  /**
   * Replica i comes back on a new disk: no consensus records, nothing applied; it is created with
   * `recoverAfter` (ADR 0121) unless that is undefined.
   */
  loseEverything(i: number, recoverAfter: number | undefined): void {
    this.records[i] = new Map();
    this.applied[i] = new Map();
    this.roots[i] = new Map([[0, GENESIS_ROOT]]);
    this.lastApplied[i] = 0;
    this.timers[i]!.clear();
    this.queue = this.queue.filter((m) => m.to !== i && m.from !== i);
    this.replicas[i] = Replica.create(
      this.g.config(i, { ...this.#configOverrides, ...(recoverAfter !== undefined ? { recoverAfter } : {}) }),
      this.g.deps(i),
    );
    this.down.delete(i);
    this.step(i, { type: 'tick', now: this.now });
  }

  restart(i: number): void {
    this.replicas[i] = Replica.restore(
      this.g.config(i, this.#configOverrides),
      this.g.deps(i),
      this.records[i]!,
    );
    this.timers[i]!.clear();
    this.down.delete(i);
    // The driver repeats the changes its applied blocks decided (a crash may have come between
    // applying a block and handing its change in), then reports what it applied (types.ts).
    for (const [dh, d] of [...this.decisions].sort((a, b) => a[0] - b[0]))
      if (dh <= this.lastApplied[i]!) this.step(i, { type: 'reconfigure', ...d });
    const h = this.lastApplied[i]!;
    this.step(i, { type: 'executed', height: h, stateRoot: this.roots[i]!.get(h) ?? GENESIS_ROOT });
  }
}

/** The ProtocolContext a replica of `g` would use (for testing proofs and NEW-VIEW functions directly). */
export function contextFor(g: TestGroup, mutations: ReplicaMutations = {}): ProtocolContext {
  const cfg = g.config(0);
  const n = g.validators.length;
  return {
    chainId: CHAIN,
    validators: g.validators,
    n,
    f: Math.floor((n - 1) / 3),
    q: mutations.quorumOverride ?? quorumSize(n),
    checkpointInterval: cfg.checkpointInterval,
    windowSize: cfg.windowSize,
    maxBlockTxs: cfg.maxBlockTxs,
    maxBlockBytes: cfg.maxBlockBytes,
    limits: messageLimits(cfg),
    auth: new Authenticator(CHAIN, g.validators, g.crypto),
    genesisStateRoot: GENESIS_ROOT,
    genesisTimestamp: 0,
    mutations,
  };
}

/** mulberry32: a tiny seeded PRNG for reproducible test schedules (no Math.random in consensus/). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
