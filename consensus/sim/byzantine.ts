// Byzantine replicas, built as transforms around a correct replica's output: the adversary runs the
// real PBFT code (so it knows views, heights and genuine messages) and rewrites what it sends with the
// message codec and ITS OWN key only. It cannot sign for anyone else: a "forged" signature is its own
// signature over another replica's message, which correct replicas must reject.
//
// The behaviours follow the attacks PBFT's proofs must survive (Castro & Liskov, TOCS 2002, §4):
// equivocation by a primary (§4.2), bad authenticators, replays, VIEW-CHANGE messages with forged or
// stale prepared certificates and a NEW-VIEW whose O set drops prepared requests (§4.4, §4.5.2), or
// names them by their hashes while carrying other blocks.
// Twins (Bano et al., "Twins: BFT Systems Made Robust", 2021) are handled by the simulator, which runs
// two correct instances under one key, each connected to half of the other replicas.

import { type Block, blockHash, encodeBlock, makeBlock, type Signer } from '../src/wire/index.ts';
import {
  createMessage,
  decodeMessage,
  encodeMessage,
  type MessageLimits,
  MessageType,
  messageLimits,
  type NewView,
  type PbftMessage,
  type PreparedProof,
  type Prepare,
  type PrePrepare,
  type Commit,
  type ViewChange,
} from '../src/pbft/messages.ts';
import { primaryOf, quorumSize } from '../src/pbft/quorum.ts';
import type { Outbound, ReplicaConfig } from '../src/pbft/types.ts';
import { hex } from './crypto.ts';
import type { Prng } from './prng.ts';
import type { Behaviour } from './scenario.ts';

export const MESSAGE_TYPE_NAMES: Readonly<Record<number, string>> = {
  [MessageType.prePrepare]: 'PRE-PREPARE',
  [MessageType.prepare]: 'PREPARE',
  [MessageType.commit]: 'COMMIT',
  [MessageType.checkpoint]: 'CHECKPOINT',
  [MessageType.viewChange]: 'VIEW-CHANGE',
  [MessageType.newView]: 'NEW-VIEW',
  [MessageType.fetch]: 'FETCH',
  [MessageType.blockReply]: 'BLOCK',
  [MessageType.suspect]: 'SUSPECT',
};

/**
 * The type code of an encoded message without decoding it: every message is a canonical CBOR array of
 * fewer than 24 items whose first item is a small unsigned integer, so it is byte 1.
 */
export function peekMessageType(raw: Uint8Array): number {
  if (raw.length < 2 || (raw[0]! & 0xe0) !== 0x80 || raw[1]! > 23) return -1;
  return raw[1]!;
}

export function messageTypeName(type: number): string {
  return MESSAGE_TYPE_NAMES[type] ?? 'UNKNOWN';
}

export interface AdversaryContext {
  self: number;
  n: number;
  chainId: string;
  /** The adversary's own key: the only one it holds. */
  signer: Signer;
  prng: Prng;
  config: ReplicaConfig;
}

export interface Adversary {
  /** A silent replica runs no code at all. */
  readonly silent: boolean;
  /**
   * Rewrites what the wrapped correct replica wants to send; `view` is its current view and `now` the
   * virtual time (ms).
   */
  outbound(sends: readonly Outbound[], view: number, now: number): Outbound[];
  /** Sees every message delivered to it (replays and stale certificates come from here). */
  observe(from: number, message: Uint8Array): void;
}

export function createAdversary(behaviour: Behaviour, ctx: AdversaryContext): Adversary {
  switch (behaviour) {
    case 'silent':
      return { silent: true, outbound: () => [], observe: () => {} };
    case 'equivocate':
      return new EquivocatingPrimary(ctx);
    case 'bad-signatures':
      return new BadSignatures(ctx);
    case 'replay':
      return new Replayer(ctx);
    case 'forge-view-change':
      return new ViewChangeForger(ctx);
    case 'new-view-omits-prepared':
      return new NewViewOmitter(ctx);
    case 'new-view-swaps-blocks':
      return new NewViewBlockSwapper(ctx);
    case 'twins':
      throw new RangeError('twins are run by the simulator as two instances, not as a transform');
  }
}

abstract class Transform implements Adversary {
  readonly silent = false;
  protected readonly ctx: AdversaryContext;
  protected readonly limits: MessageLimits;

  constructor(ctx: AdversaryContext) {
    this.ctx = ctx;
    this.limits = messageLimits(ctx.config);
  }

  abstract outbound(sends: readonly Outbound[], view: number, now: number): Outbound[];

  observe(_from: number, _message: Uint8Array): void {}

  protected decode(raw: Uint8Array): PbftMessage | undefined {
    try {
      return decodeMessage(raw, this.limits);
    } catch {
      return undefined;
    }
  }

  protected others(): number[] {
    const out: number[] = [];
    for (let j = 0; j < this.ctx.n; j++) if (j !== this.ctx.self) out.push(j);
    return out;
  }
}

/** Flips one bit of the signature of everything it sends (nested messages keep theirs). */
class BadSignatures extends Transform {
  outbound(sends: readonly Outbound[]): Outbound[] {
    return sends.map((s) => {
      const m = this.decode(s.message);
      if (m === undefined) return s;
      const signature = Uint8Array.from(m.signature);
      signature[this.ctx.prng.int(64)]! ^= 1 << this.ctx.prng.int(8);
      return { to: s.to, message: encodeMessage({ ...m, signature }) };
    });
  }
}

/**
 * Behaves correctly, and also re-sends old messages (its own and others') to random peers: 1-3 of them
 * whenever its replica sends something, at most once per REPLAY_INTERVAL_MS. The rate limit matters:
 * replaying on every step, f replayers would replay each other's replays without bound.
 */
class Replayer extends Transform {
  readonly #history: Uint8Array[] = [];
  static readonly CAPACITY = 256;
  static readonly REPLAY_INTERVAL_MS = 5;
  #lastReplay = Number.NEGATIVE_INFINITY;

  override observe(_from: number, message: Uint8Array): void {
    this.#remember(message);
  }

  #remember(m: Uint8Array): void {
    if (this.#history.length < Replayer.CAPACITY) this.#history.push(m);
    else this.#history[this.ctx.prng.int(Replayer.CAPACITY)] = m;
  }

  outbound(sends: readonly Outbound[], _view: number, now: number): Outbound[] {
    const out = [...sends];
    if (
      sends.length > 0 &&
      this.#history.length > 0 &&
      now - this.#lastReplay >= Replayer.REPLAY_INTERVAL_MS &&
      this.ctx.prng.chance(0.5)
    ) {
      this.#lastReplay = now;
      const k = 1 + this.ctx.prng.int(3);
      for (let i = 0; i < k; i++) {
        const to = this.ctx.prng.chance(0.5) ? ('all' as const) : this.ctx.prng.pick(this.others());
        out.push({ to, message: this.ctx.prng.pick(this.#history) });
      }
    }
    for (const s of sends) this.#remember(s.message);
    return out;
  }
}

/**
 * As primary, sends its genuine PRE-PREPARE to one random half of the backups and a conflicting one (a
 * different block for the same view and height) to the other half, and backs each half with matching
 * COMMITs. With a correct quorum neither block can gather a certificate at a correct replica that
 * contradicts another correct replica's.
 */
class EquivocatingPrimary extends Transform {
  /** `${view}/${height}` -> the conflicting block's hash, and which backups got it. */
  readonly #forks = new Map<string, { hash: Uint8Array; group: Set<number> }>();

  outbound(sends: readonly Outbound[]): Outbound[] {
    const out: Outbound[] = [];
    for (const s of sends) {
      const m = this.decode(s.message);
      if (m?.type === MessageType.prePrepare && m.replica === this.ctx.self) {
        out.push(...this.#equivocate(m, s));
        continue;
      }
      if (
        (m?.type === MessageType.commit || m?.type === MessageType.prepare) &&
        m.replica === this.ctx.self
      ) {
        const fork = this.#forks.get(`${m.view}/${m.height}`);
        if (fork !== undefined) {
          const twin = createMessage<Commit | Prepare>(this.ctx.chainId, this.ctx.signer, {
            type: m.type,
            view: m.view,
            height: m.height,
            blockHash: fork.hash,
            replica: this.ctx.self,
          });
          for (const j of this.#targets(s.to))
            out.push({ to: j, message: fork.group.has(j) ? twin.bytes : s.message });
          continue;
        }
      }
      out.push(s);
    }
    return out;
  }

  #targets(to: number | 'all'): number[] {
    return to === 'all' ? this.others() : [to];
  }

  #equivocate(m: PrePrepare, s: Outbound): Outbound[] {
    const alt = conflictingBlock(m.block);
    const hash = blockHash(alt.header);
    const forged = createMessage<PrePrepare>(this.ctx.chainId, this.ctx.signer, {
      type: MessageType.prePrepare,
      view: m.view,
      height: m.height,
      blockHash: hash,
      replica: this.ctx.self,
      block: alt,
      blockBytes: encodeBlock(alt),
    });
    const group = new Set(this.ctx.prng.shuffled(this.others()).slice(0, Math.floor((this.ctx.n - 1) / 2)));
    this.#forks.set(`${m.view}/${m.height}`, { hash, group });
    return this.#targets(s.to).map((j) => ({ to: j, message: group.has(j) ? forged.bytes : s.message }));
  }
}

/** A block that differs from `b` at the same height: one transaction fewer, or a later timestamp. */
function conflictingBlock(b: Block): Block {
  const { txRoot: _r, txCount: _c, ...header } = b.header;
  if (b.txs.length > 0) return makeBlock(header, b.txs.slice(0, -1));
  return makeBlock({ ...header, timestamp: header.timestamp + 1 }, []);
}

/** Collects genuine prepared certificates from the traffic it sees (for stale ones). */
class CertificateCollector {
  readonly #prePrepares = new Map<string, Uint8Array>();
  readonly #prepares = new Map<string, Map<number, Uint8Array>>();
  readonly #order: string[] = [];

  add(m: PbftMessage, raw: Uint8Array): void {
    if (m.type !== MessageType.prePrepare && m.type !== MessageType.prepare) return;
    const key = `${m.view}/${m.height}/${hex(m.blockHash)}`;
    if (!this.#prepares.has(key)) {
      this.#prepares.set(key, new Map());
      this.#order.push(key);
      if (this.#order.length > 128) {
        const old = this.#order.shift()!;
        this.#prepares.delete(old);
        this.#prePrepares.delete(old);
      }
    }
    if (m.type === MessageType.prePrepare) this.#prePrepares.set(key, raw);
    else this.#prepares.get(key)!.set(m.replica, raw);
  }

  /** Complete genuine certificates (PRE-PREPARE + q-1 PREPAREs from non-primaries), oldest first. */
  certificates(n: number): { view: number; height: number; proof: PreparedProof }[] {
    const q = quorumSize(n);
    const out: { view: number; height: number; proof: PreparedProof }[] = [];
    for (const key of this.#order) {
      const pp = this.#prePrepares.get(key);
      if (pp === undefined) continue;
      const [view, height] = key.split('/').map(Number) as [number, number];
      const primary = primaryOf(view, n);
      const prepares = [...this.#prepares.get(key)!.entries()]
        .filter(([r]) => r !== primary)
        .map(([, b]) => b);
      if (prepares.length >= q - 1)
        out.push({ view, height, proof: { prePrepare: pp, prepares: prepares.slice(0, q - 1) } });
    }
    return out;
  }
}

/**
 * Runs correct code, but every VIEW-CHANGE it sends is re-signed (with its own, valid key) after its P set
 * was tampered with: either a FORGED certificate (a made-up block, "signed" for the primary and the
 * preparers with the adversary's key) at the next height, or STALE ones (genuine certificates from older
 * views substituted for its newer ones, or for heights already below the checkpoint).
 */
class ViewChangeForger extends Transform {
  readonly #certs = new CertificateCollector();

  override observe(_from: number, message: Uint8Array): void {
    const m = this.decode(message);
    if (m !== undefined) this.#certs.add(m, message);
  }

  outbound(sends: readonly Outbound[]): Outbound[] {
    return sends.map((s) => {
      const m = this.decode(s.message);
      if (m === undefined) return s;
      this.#certs.add(m, s.message);
      if (m.type !== MessageType.viewChange || m.replica !== this.ctx.self) return s;
      const prepared = this.ctx.prng.chance(0.5) ? this.#forged(m) : this.#stale(m);
      const { signature: _s, ...rest } = m;
      const vc = createMessage<ViewChange>(this.ctx.chainId, this.ctx.signer, { ...rest, prepared });
      return { to: s.to, message: vc.bytes };
    });
  }

  #forged(m: ViewChange): PreparedProof[] {
    const heights = m.prepared.map((p) => (this.decode(p.prePrepare) as PrePrepare | undefined)?.height ?? 0);
    const height = Math.max(this.#checkpointHeight(m), ...heights) + 1;
    const view = Math.max(0, m.newView - 1);
    const primary = primaryOf(view, this.ctx.n);
    const prng = this.ctx.prng;
    const block = makeBlock(
      {
        version: 1,
        chainId: this.ctx.chainId,
        height,
        view,
        // Height 1 must chain onto the zero hash (wire rejects anything else before a replica could).
        prevHash: height === 1 ? new Uint8Array(32) : Uint8Array.from({ length: 32 }, () => prng.int(256)),
        stateRoot: new Uint8Array(32),
        stateHeight: 0,
        proposer: primary,
        timestamp: 1 + prng.int(1_000_000),
      },
      [],
    );
    const hash = blockHash(block.header);
    const sign = <M extends PbftMessage>(msg: Parameters<typeof createMessage<M>>[2]) =>
      createMessage<M>(this.ctx.chainId, this.ctx.signer, msg).bytes;
    const prePrepare = sign<PrePrepare>({
      type: MessageType.prePrepare,
      view,
      height,
      blockHash: hash,
      replica: primary,
      block,
      blockBytes: encodeBlock(block),
    });
    const prepares: Uint8Array[] = [];
    for (let r = 0; r < this.ctx.n && prepares.length < quorumSize(this.ctx.n) - 1; r++) {
      if (r === primary) continue;
      prepares.push(sign<Prepare>({ type: MessageType.prepare, view, height, blockHash: hash, replica: r }));
    }
    return [...m.prepared, { prePrepare, prepares }];
  }

  #stale(m: ViewChange): PreparedProof[] {
    const certs = this.#certs.certificates(this.ctx.n).filter((c) => c.view < m.newView - 1);
    if (certs.length === 0) return m.prepared;
    const byHeight = new Map<number, PreparedProof>();
    for (const p of m.prepared) {
      const pp = this.decode(p.prePrepare) as PrePrepare | undefined;
      if (pp !== undefined) byHeight.set(pp.height, p);
    }
    let replaced = false;
    for (const c of certs) {
      // Replace a newer certificate at the same height by the older (genuine, but superseded) one.
      if (byHeight.has(c.height)) {
        byHeight.set(c.height, c.proof);
        replaced = true;
      }
    }
    if (!replaced) {
      // Or claim an old certificate for a height the checkpoint already covers.
      const c = certs[0]!;
      if (!byHeight.has(c.height)) byHeight.set(c.height, c.proof);
    }
    return [...byHeight.entries()].sort((a, b) => a[0] - b[0]).map(([, p]) => p);
  }

  #checkpointHeight(m: ViewChange): number {
    const first = m.checkpointProof[0];
    if (first === undefined) return 0;
    const cp = this.decode(first);
    return cp?.type === MessageType.checkpoint ? cp.height : 0;
  }
}

/**
 * Runs correct code, but as the new primary its NEW-VIEW replaces every block in O that carries
 * transactions with an empty (null) block chained the same way: the prepared requests are omitted.
 * Correct backups recompute O from V (§4.5.2) and must reject it.
 */
class NewViewOmitter extends Transform {
  outbound(sends: readonly Outbound[]): Outbound[] {
    return sends.map((s) => {
      const m = this.decode(s.message);
      if (m?.type !== MessageType.newView || m.replica !== this.ctx.self) return s;
      const rewritten = this.#omit(m);
      return rewritten === undefined ? s : { to: s.to, message: rewritten };
    });
  }

  #omit(m: NewView): Uint8Array | undefined {
    const pps = m.prePrepares.map((raw) => this.decode(raw) as PrePrepare | undefined);
    if (pps.some((p) => p === undefined) || !pps.some((p) => p!.block.txs.length > 0)) return undefined;
    let parentHash: Uint8Array | undefined;
    let parentTs = 0;
    const rebuilt = pps.map((p) => {
      const h = p!.block.header;
      const block = makeBlock(
        {
          version: 1,
          chainId: h.chainId,
          height: h.height,
          view: m.view,
          prevHash: parentHash ?? h.prevHash,
          stateRoot: h.stateRoot,
          stateHeight: h.stateHeight,
          proposer: this.ctx.self,
          timestamp: Math.max(h.timestamp, parentTs + 1),
        },
        [],
      );
      parentHash = blockHash(block.header);
      parentTs = block.header.timestamp;
      return createMessage<PrePrepare>(this.ctx.chainId, this.ctx.signer, {
        type: MessageType.prePrepare,
        view: m.view,
        height: h.height,
        blockHash: parentHash,
        replica: this.ctx.self,
        block,
        blockBytes: encodeBlock(block),
      }).bytes;
    });
    const { signature: _s, ...rest } = m;
    return createMessage<NewView>(this.ctx.chainId, this.ctx.signer, { ...rest, prePrepares: rebuilt }).bytes;
  }
}

/**
 * As new primary, keeps O's signed fields (each PRE-PREPARE names the right block hash, under its genuine
 * signature: the signature covers the hash, not the block bytes carried beside it) but attaches an
 * empty block of the same height instead of every block with transactions. A backup that checked only
 * the hashes would prepare, persist and later cite a PRE-PREPARE whose block is not the one it names:
 * its next VIEW-CHANGE would be invalid to every peer, and its records unrestorable.
 */
class NewViewBlockSwapper extends Transform {
  outbound(sends: readonly Outbound[]): Outbound[] {
    return sends.map((s) => {
      const m = this.decode(s.message);
      if (m?.type !== MessageType.newView || m.replica !== this.ctx.self) return s;
      const pps = m.prePrepares.map((raw) => this.decode(raw) as PrePrepare | undefined);
      if (pps.some((p) => p === undefined) || !pps.some((p) => p!.block.txs.length > 0)) return s;
      const swapped = pps.map((p) => {
        if (p!.block.txs.length === 0) return encodeMessage(p!);
        const block = makeBlock({ ...p!.block.header }, []);
        return encodeMessage({ ...p!, block, blockBytes: encodeBlock(block) });
      });
      const { signature: _s, ...rest } = m;
      const message = createMessage<NewView>(this.ctx.chainId, this.ctx.signer, {
        ...rest,
        prePrepares: swapped,
      });
      return { to: s.to, message: message.bytes };
    });
  }
}
