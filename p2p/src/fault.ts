// In-process fault injection between the user of the network (consensus, gossip) and the transport.
// This machine has no `tc netem`, so delay, loss, partitions and one-way cuts are applied here, per
// directed link (from peer key -> to peer key). One FaultLayer may be shared by every node of an
// in-process test network; each node consults it for its own links.
//
// What is applied where (docs/p2p.md "Fault layer"):
// - outbound (self -> peer), streaming protocols: cut/partition drop, then loss drop, then latency;
// - inbound (peer -> self): cut/partition only, so a fault configured on just one side still isolates
//   the link, and loss/latency are never applied twice;
// - request/response (sync, status): cut/partition make the request fail with P2P_FAULT_INJECTED.
// Ordering: a link is FIFO unless `reorder: true`: a message's release time is max(its own
// now + latency + jitter, the previous message's release time), and one timer releases due messages in
// order. With `reorder: true` every message gets its own independent delay.

import { type Rng, seededRng } from './random.ts';

export interface LinkFault {
  /** Added one-way delay in ms. */
  latencyMs?: number;
  /** Extra uniformly random delay in [0, jitterMs). */
  jitterMs?: number;
  /** Probability in [0, 1] that a message is dropped. */
  loss?: number;
  /** Let jitter reorder messages on this link (default false: FIFO). */
  reorder?: boolean;
}

export type FaultDrop = 'fault-cut' | 'fault-partition' | 'fault-loss';

interface Pending {
  at: number;
  deliver: () => void;
}

interface LinkState {
  queue: Pending[];
  timer: ReturnType<typeof setTimeout> | undefined;
  lastAt: number;
  /** Independent timers of `reorder: true` messages. */
  loose: Set<ReturnType<typeof setTimeout>>;
}

export interface FaultLayerOptions {
  /** Seed of the PRNG that decides loss and jitter (default 1). */
  seed?: number;
  now?: () => number;
}

export class FaultLayer {
  #rng: Rng;
  readonly #now: () => number;
  #default: LinkFault = {};
  readonly #links = new Map<string, LinkFault>();
  readonly #cuts = new Set<string>();
  /** peer key -> partition group index; peers absent from the map are unaffected. */
  #groups = new Map<string, number>();
  readonly #state = new Map<string, LinkState>();

  constructor(opts: FaultLayerOptions = {}) {
    this.#rng = seededRng(opts.seed ?? 1);
    this.#now = opts.now ?? (() => performance.now());
  }

  /** Re-seed the PRNG (loss and jitter decisions become reproducible from here). */
  seed(seed: number): void {
    this.#rng = seededRng(seed);
  }

  /** Fault applied to every link without its own setting. */
  setDefault(fault: LinkFault): void {
    this.#default = validate(fault);
  }

  /** Fault for the directed link from -> to (undefined removes it). */
  setLink(from: string, to: string, fault: LinkFault | undefined): void {
    if (fault === undefined) this.#links.delete(linkKey(from, to));
    else this.#links.set(linkKey(from, to), validate(fault));
  }

  /** Split the listed peers into groups that cannot reach each other (both directions). */
  partition(groups: readonly (readonly string[])[]): void {
    this.#groups = new Map();
    groups.forEach((g, i) => {
      for (const k of g) this.#groups.set(k, i);
    });
  }

  /** Remove the partition. */
  heal(): void {
    this.#groups = new Map();
  }

  /** Cut the directed link from -> to only (one-way). */
  cut(from: string, to: string): void {
    this.#cuts.add(linkKey(from, to));
  }

  restore(from: string, to: string): void {
    this.#cuts.delete(linkKey(from, to));
  }

  /** Clear every fault (pending delayed messages are still delivered). */
  reset(): void {
    this.#default = {};
    this.#links.clear();
    this.#cuts.clear();
    this.#groups = new Map();
  }

  /** Why the link from -> to is blocked by a cut or partition, if it is. */
  blocked(from: string, to: string): 'fault-cut' | 'fault-partition' | undefined {
    if (this.#cuts.has(linkKey(from, to))) return 'fault-cut';
    const a = this.#groups.get(from);
    const b = this.#groups.get(to);
    if (a !== undefined && b !== undefined && a !== b) return 'fault-partition';
    return undefined;
  }

  /**
   * Route one outbound message on link from -> to: returns the drop reason, or undefined after
   * arranging for `deliver` to run (synchronously when the link has no delay and nothing pending).
   */
  submit(from: string, to: string, deliver: () => void): FaultDrop | undefined {
    const blocked = this.blocked(from, to);
    if (blocked !== undefined) return blocked;
    const key = linkKey(from, to);
    const f = this.#links.get(key) ?? this.#default;
    if (f.loss !== undefined && f.loss > 0 && this.#rng() < f.loss) return 'fault-loss';
    const delay = (f.latencyMs ?? 0) + (f.jitterMs ? this.#rng() * f.jitterMs : 0);
    let st = this.#state.get(key);
    if (delay <= 0 && (st === undefined || st.queue.length === 0)) {
      deliver();
      return undefined;
    }
    const now = this.#now();
    if (st === undefined) {
      st = { queue: [], timer: undefined, lastAt: 0, loose: new Set() };
      this.#state.set(key, st);
    }
    if (f.reorder) {
      const loose = st.loose;
      const timer = setTimeout(() => {
        loose.delete(timer);
        deliver();
      }, delay);
      loose.add(timer);
      return undefined;
    }
    const at = Math.max(now + delay, st.lastAt);
    st.lastAt = at;
    st.queue.push({ at, deliver });
    if (st.timer === undefined) this.#arm(key, st);
    return undefined;
  }

  /** Drop every delayed message not yet released on links from `from` (a node stopping). */
  cancelFrom(from: string): void {
    for (const [key, st] of this.#state) {
      if (!key.startsWith(`${from}>`)) continue;
      if (st.timer !== undefined) clearTimeout(st.timer);
      for (const timer of st.loose) clearTimeout(timer);
      this.#state.delete(key);
    }
  }

  /** Messages waiting in delay lines (for metrics and tests). */
  pending(): number {
    let n = 0;
    for (const st of this.#state.values()) n += st.queue.length + st.loose.size;
    return n;
  }

  #arm(key: string, st: LinkState): void {
    const head = st.queue[0];
    if (head === undefined) {
      st.timer = undefined;
      return;
    }
    st.timer = setTimeout(
      () => {
        const now = this.#now();
        // Release every due message in order, then re-arm for the next one.
        while (st.queue.length > 0 && st.queue[0]!.at <= now) st.queue.shift()!.deliver();
        this.#arm(key, st);
      },
      Math.max(0, head.at - this.#now()),
    );
  }
}

function linkKey(from: string, to: string): string {
  return `${from}>${to}`;
}

function validate(f: LinkFault): LinkFault {
  const bad = (x: number | undefined) => x !== undefined && !(Number.isFinite(x) && x >= 0);
  if (bad(f.latencyMs) || bad(f.jitterMs) || bad(f.loss) || (f.loss !== undefined && f.loss > 1)) {
    throw new RangeError('latencyMs, jitterMs must be >= 0 and loss in [0, 1]');
  }
  return { ...f };
}
